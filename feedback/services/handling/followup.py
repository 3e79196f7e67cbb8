"""The citizen's side of a case (holder of the code and access key): answering a request
for information, rating the answer, reopening within the policy's window. Staff may
reopen on a citizen's behalf (a phone call) under the same window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext

from ...domain.marks import N_
from ...domain.permissions import Op
from ...domain.states import Action
from ...extensions import db
from ...models import Case, CaseEvent, CaseRating, User
from ..errors import Conflict, ValidationError
from ..intake.attachments import Upload, store_upload
from ..reference.policies import case_policy
from ..sla.notify import tell_citizen
from .deadlines import recompute
from .events import CITIZEN, record
from .moves import checked_text, move, require


def citizen_reply(
    case: Case, now: datetime, text: str, uploads: Sequence[Upload] = ()
) -> CaseEvent:
    text = checked_text(text, "reply", N_("nội dung bổ sung"), heading=N_("Nội dung bổ sung"))
    stored = [
        store_upload(upload, case=case, purpose="evidence", actor=None, now=now)
        for upload in uploads
    ]
    files = ", ".join(a.original_name for a in stored)
    event = move(
        case,
        Action.CITIZEN_REPLY,
        user=None,
        now=now,
        public=True,
        note=N_("Người dân bổ sung: %(text)s Kèm tệp: %(files)s.", text=text, files=files)
        if stored
        else N_("Người dân bổ sung: %(text)s", text=text),
    )
    return event


def reopen_deadline(case: Case) -> datetime | None:
    """Until when the answer may be contested; None before any answer."""
    if case.answered_at is None:
        return None
    return case.answered_at + timedelta(days=case_policy(case).reopen_window_days)


def reopen(case: Case, now: datetime, reason: str, *, user: User | None = None) -> CaseEvent:
    """The citizen is not satisfied: the case goes back to its unit with a new response
    deadline counted from today."""
    if user is not None:
        require(user, case, Op.REOPEN)
    reason = checked_text(
        reason,
        "reason",
        N_("lý do chưa đồng ý với kết quả"),
        heading=N_("Lý do chưa đồng ý với kết quả"),
    )
    until = reopen_deadline(case)
    if until is None or now > until:
        raise Conflict(
            N_(
                "Đã quá thời hạn mở lại hồ sơ (%(days)s ngày kể từ khi trả lời).",
                days=case_policy(case).reopen_window_days,
            )
            if until is not None
            else N_("Hồ sơ chưa được trả lời nên chưa thể mở lại.")
        )
    event = move(
        case,
        Action.REOPEN,
        user=user,
        now=now,
        public=True,
        note=N_("Mở lại theo đề nghị của người dân. Lý do: %(reason)s", reason=reason),
        data={"reason": reason, "previous_answered_at": case.answered_at.isoformat()},
        values={
            "answered_at": None,
            "closed_at": None,
            "reopen_count": case.reopen_count + 1,
            "rating": None,
            "rating_comment": None,
            "rated_at": None,
            # A progress update's promise ended with the answer it promised; the reopened
            # case has a new due, and a new promise needs a new update (issue 16).
            "committed_due_at": None,
        },
        label=None if user else CITIZEN,
    )
    recompute(case, now, N_("mở lại hồ sơ"))
    tell_citizen(
        case,
        kind="reopened",
        reason=str(event.id),
        now=now,
        text=lazy_gettext(
            "Hồ sơ %(code)s đã được mở lại để xem xét, giải quyết tiếp.", code=case.code
        ),
    )
    return event


def rate(case: Case, now: datetime, rating: int, comment: str = "") -> CaseEvent:
    if case.status not in {"answered", "closed"} or case.answer_body is None:
        raise Conflict(N_("Chỉ đánh giá được sau khi cơ quan đã trả lời."))
    if case.rated_at is not None:
        raise Conflict(N_("Ông/bà đã đánh giá hồ sơ này."))
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError(
            N_("Mức đánh giá từ 1 đến 5."), {"rating": N_("Chọn từ 1 đến 5 sao.")}
        )
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationError(N_("Nhận xét quá dài."), {"comment": N_("Tối đa 2.000 ký tự.")})
    case.rating, case.rating_comment, case.rated_at = rating, comment or None, now
    # Every answer's rating is kept (a reopening clears cases.rating for the next answer).
    db.session.add(
        CaseRating(
            case_id=case.id,
            answer_no=case.reopen_count,
            rating=rating,
            comment=comment or None,
            rated_at=now,
        )
    )
    return record(
        case,
        "rate",
        user=None,
        now=now,
        public=True,
        note=N_(
            "Người dân đánh giá %(rating)s/5. Nhận xét: %(comment)s", rating=rating, comment=comment
        )
        if comment
        else N_("Người dân đánh giá %(rating)s/5.", rating=rating),
        data={"rating": rating},
    )
