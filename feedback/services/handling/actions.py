"""Working a case: triage, acknowledgement, the unit's workflow, answer and closure.

Every function is one unit of work for one actor at one ``now``: it checks the permission
table (feedback.domain.permissions) and the state machine (feedback.domain.states), moves
the case with a conditional UPDATE (so two officers acting at once cannot both win),
appends one event, and queues the citizen's message in the same transaction. The caller
commits. Refusals are ServiceErrors with a Vietnamese message marked with N_ (the page
translates it); nothing is half-done. Timeline notes are stored in Vietnamese; those the
service writes are marked with their values (``events.record`` keeps them), so the case
and status pages show them in the reader's language; a note typed by staff stays as typed.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import LazyString, lazy_gettext
from sqlalchemy import select, update

from ...domain.marks import N_
from ...domain.permissions import UNIT_ROLES, Op
from ...domain.states import Action
from ...extensions import db
from ...i18n import format_local_long
from ...models import Case, CaseEvent, Unit, User
from ..errors import Conflict, NotFound, ValidationError
from ..reference.areas import unit_in_force
from ..reference.policies import case_policy, load_policy
from ..reference.settings import get_setting
from ..sla.notify import joined, tell_citizen
from .apology import owe_if_late
from .approvers import require_approver
from .deadlines import recompute
from .events import record
from .followup import reopen_deadline
from .moves import OPEN, InvalidMove, checked_text, move, require


def _unit(code: str | None, now: datetime) -> Unit:
    """A unit in force at ``now``: a unit a reference pack retired takes no new case."""
    unit = unit_in_force((code or "").strip(), now)
    if unit is None:
        raise ValidationError(
            N_("Đơn vị không tồn tại."), {"unit_code": N_("Chọn một đơn vị trong danh sách.")}
        )
    return unit


# --- triage and acknowledgement -----------------------------------------------------------


def acknowledge(case: Case, user: User, now: datetime, note: str = "") -> CaseEvent:
    """The first acknowledgement keeps the 24-hour promise and tells the citizen; a unit
    taking over a transferred case that was already acknowledged only records it."""
    require(user, case, Op.ACKNOWLEDGE)
    first = case.acknowledged_at is None
    default = (
        N_("Đã xác nhận tiếp nhận; hồ sơ đang được xem xét, giải quyết.")
        if first
        else N_("%(unit)s tiếp nhận hồ sơ được chuyển đến.", unit=case.handling_unit.name)
    )
    event = move(
        case,
        Action.ACKNOWLEDGE,
        user=user,
        now=now,
        public=first,
        note=note.strip() or default,
        values={"acknowledged_at": case.acknowledged_at or now},
    )
    recompute(case, now, N_("thụ lý"))
    if first:
        tell_citizen(
            case,
            kind="acknowledged",
            reason=str(event.id),
            now=now,
            text=lazy_gettext(
                "Hồ sơ %(code)s đã được xác nhận tiếp nhận và giao %(unit)s xử lý.",
                code=case.code,
                unit=case.handling_unit.name,
            ),
        )
    return event


def confirm_routing(case: Case, user: User, now: datetime) -> CaseEvent:
    """The coordinator agrees with the routing table's choice: the case leaves triage."""
    require(user, case, Op.ROUTE)
    if not case.needs_triage:
        raise Conflict(N_("Hồ sơ không ở hàng chờ phân loại."))
    if case.handling_unit.code == get_setting("triage_unit", "VP"):
        raise ValidationError(
            N_("Hồ sơ chưa có đơn vị xử lý: hãy chuyển cho đơn vị phụ trách."),
            {"unit_code": N_("Chọn đơn vị xử lý.")},
        )
    case.needs_triage = False
    # The note is stored in Vietnamese; marked, the desk's confirmation reads it translated.
    note = N_("Xác nhận đơn vị xử lý: %(unit)s.", unit=case.handling_unit.name)
    return record(case, "route", user=user, now=now, note=note)


def transfer(
    case: Case, user: User, now: datetime, unit_code: str | None, reason: str
) -> CaseEvent:
    """To another unit, or back to triage (``unit_code`` None or the triage unit)."""
    require(user, case, Op.TRANSFER)
    reason = checked_text(reason, "reason", N_("lý do chuyển"), heading=N_("Lý do chuyển"))
    triage_code = get_setting("triage_unit", "VP")
    target = _unit(unit_code or triage_code, now)
    if target.id == case.handling_unit_id:
        raise ValidationError(
            N_("Hồ sơ đang ở đơn vị này."), {"unit_code": N_("Chọn một đơn vị khác.")}
        )
    source = case.handling_unit
    # The coordinator routing out of triage settles it; anyone sending back re-opens it.
    back_to_triage = target.code == triage_code
    event = move(
        case,
        Action.TRANSFER,
        user=user,
        now=now,
        public=False,
        note=N_(
            "Chuyển từ %(source)s đến %(target)s. Lý do: %(reason)s",
            source=source.name,
            target=target.name,
            reason=reason,
        ),
        data={"from_unit": source.code, "to_unit": target.code, "reason": reason},
        values={
            "handling_unit_id": target.id,
            "needs_triage": back_to_triage,
            "assigned_to_id": None,
        },
    )
    # The citizen hears that the case moved (not why: the reason is internal).
    tell_citizen(
        case,
        kind="transferred",
        reason=str(event.id),
        now=now,
        text=lazy_gettext(
            "Hồ sơ %(code)s đã được chuyển đến %(unit)s để giải quyết.",
            code=case.code,
            unit=target.name,
        ),
    )
    return event


def reject(case: Case, user: User, now: datetime, reason: str) -> CaseEvent:
    """Not accepted (outside the city's competence, no content, ...): counts as both
    acknowledged and answered, with the reason as the answer."""
    require(user, case, Op.REJECT)
    reason = checked_text(
        reason, "reason", N_("lý do không tiếp nhận"), heading=N_("Lý do không tiếp nhận")
    )
    answer = N_("Hồ sơ không được tiếp nhận giải quyết. Lý do: %(reason)s", reason=reason)
    event = move(
        case,
        Action.REJECT,
        user=user,
        now=now,
        public=True,
        note=answer,
        values={
            "acknowledged_at": case.acknowledged_at or now,
            "answered_at": now,
            "closed_at": now,
            "answer_body": str(answer),
            "needs_triage": False,
        },
    )
    # The answer on record stays Vietnamese; the citizen reads the frame in their language.
    told = lazy_gettext("Hồ sơ không được tiếp nhận giải quyết. Lý do: %(reason)s", reason=reason)
    tell_citizen(case, kind="rejected", reason=str(event.id), now=now, text=told)
    owe_if_late(case, now)
    return event


def merge(case: Case, user: User, now: datetime, into_code: str) -> CaseEvent:
    """A duplicate: closed into ``into_code``; its citizen follows the other case's answer
    on their own follow-up page."""
    require(user, case, Op.MERGE)
    target = db.session.scalar(select(Case).where(Case.code == (into_code or "").strip().upper()))
    if target is None:
        raise NotFound(N_("Không có hồ sơ để gộp vào."), {"into": N_("Mã hồ sơ không tồn tại.")})
    if target.id == case.id or target.merged_into_id is not None or target.status == "merged":
        raise ValidationError(
            N_("Không gộp được vào hồ sơ này."), {"into": N_("Chọn hồ sơ gốc còn hiệu lực.")}
        )
    event = move(
        case,
        Action.MERGE,
        user=user,
        now=now,
        public=True,
        note=N_(
            "Trùng nội dung với hồ sơ %(code)s; được theo dõi và trả lời chung.", code=target.code
        ),
        data={"into": target.code},
        values={"merged_into_id": target.id, "closed_at": now, "needs_triage": False},
    )
    record(
        target,
        "merge_in",
        user=user,
        now=now,
        note=N_("Gộp hồ sơ trùng %(code)s vào đây.", code=case.code),
        data={"from": case.code},
    )
    tell_citizen(
        case,
        kind="merged",
        reason=str(event.id),
        now=now,
        text=lazy_gettext(
            "Nội dung của ông/bà trùng với hồ sơ %(target)s đang được giải quyết. Kết quả sẽ "
            "hiển thị tại trang tra cứu hồ sơ %(code)s của ông/bà.",
            target=target.code,
            code=case.code,
        ),
    )
    return event


# --- the unit's workflow -------------------------------------------------------------------


def assign(case: Case, user: User, now: datetime, officer_username: str) -> CaseEvent:
    require(user, case, Op.ASSIGN)
    if case.status not in OPEN:
        raise InvalidMove(N_("Hồ sơ đã kết thúc, không giao xử lý được nữa."))
    officer = db.session.scalar(
        select(User).where(User.username == (officer_username or "").strip().lower())
    )
    if (
        officer is None
        or not officer.active
        or officer.unit_id != case.handling_unit_id
        or officer.role not in UNIT_ROLES
    ):
        raise ValidationError(
            N_("Chỉ giao cho cán bộ của đơn vị xử lý."), {"officer": N_("Chọn cán bộ của đơn vị.")}
        )
    case.assigned_to_id = officer.id
    return record(
        case,
        "assign",
        user=user,
        now=now,
        note=N_("Giao cán bộ %(officer)s xử lý.", officer=officer.display_name),
        data={"officer": officer.username},
    )


def start(case: Case, user: User, now: datetime) -> CaseEvent:
    """Taking the case up; from a transfer that nobody acknowledged yet, this is also the
    acknowledgement (the citizen is told, the 24-hour promise is kept)."""
    require(user, case, Op.START)
    first_ack = case.acknowledged_at is None
    event = move(
        case,
        Action.START,
        user=user,
        now=now,
        public=first_ack,
        note=N_("Đã tiếp nhận và bắt đầu xử lý.") if first_ack else N_("Bắt đầu xử lý."),
        values={
            "assigned_to_id": case.assigned_to_id or user.id,
            "acknowledged_at": case.acknowledged_at or now,
        },
    )
    if first_ack:
        tell_citizen(
            case,
            kind="acknowledged",
            reason=str(event.id),
            now=now,
            text=lazy_gettext(
                "Hồ sơ %(code)s đã được tiếp nhận và đang được %(unit)s giải quyết.",
                code=case.code,
                unit=case.handling_unit.name,
            ),
        )
    return event


def add_note(case: Case, user: User, now: datetime, text: str) -> CaseEvent:
    require(user, case, Op.NOTE)
    return record(
        case,
        "note",
        user=user,
        now=now,
        note=checked_text(text, "note", N_("nội dung ghi chú"), 2, heading=N_("Nội dung ghi chú")),
    )


def ask_citizen(case: Case, user: User, now: datetime, question: str) -> CaseEvent:
    require(user, case, Op.ASK_CITIZEN)
    question = checked_text(
        question,
        "question",
        N_("nội dung cần người dân bổ sung"),
        heading=N_("Nội dung cần người dân bổ sung"),
    )
    event = move(
        case,
        Action.ASK_CITIZEN,
        user=user,
        now=now,
        public=True,
        note=N_("Đề nghị bổ sung thông tin: %(question)s", question=question),
        values={"waiting_since": now},
    )
    tell_citizen(
        case,
        kind="ask_citizen",
        reason=str(event.id),
        now=now,
        text=lazy_gettext(
            "Để giải quyết hồ sơ %(code)s, cơ quan đề nghị ông/bà bổ sung: %(question)s\n"
            "Ông/bà trả lời tại trang tra cứu hồ sơ.",
            code=case.code,
            question=question,
        ),
    )
    return event


def draft_answer(case: Case, user: User, now: datetime, body: str) -> CaseEvent:
    require(user, case, Op.DRAFT_ANSWER)
    if Action.ANSWER not in _allowed(case):
        raise InvalidMove(
            N_("Hồ sơ ở trạng thái này chưa thể trả lời (%(status)s).", status=case.status)
        )
    body = checked_text(body, "body", N_("nội dung trả lời"), 10, heading=N_("Nội dung trả lời"))
    # A draft nobody can approve would wait for ever (issue 16): refuse it, saying why.
    approval = require_approver(case)
    case.answer_draft, case.answer_drafted_by_id, case.answer_drafted_at = body, user.id, now
    return record(
        case,
        "draft_answer",
        user=user,
        now=now,
        note=N_("Soạn dự thảo trả lời, trình %(approver)s duyệt.", approver=approval.role_label),
        data={"approver": approval.role_label},
    )


def return_draft(case: Case, user: User, now: datetime, reason: str) -> CaseEvent:
    """The approver sends a draft back to its author with what to change; the draft
    appears on the officer's "returned drafts" queue until it is saved again."""
    require(user, case, Op.APPROVE_ANSWER)
    if case.answer_draft is None or case.answered_at is not None or case.status not in OPEN:
        raise InvalidMove(N_("Hồ sơ không có dự thảo đang chờ duyệt."))
    reason = checked_text(reason, "reason", N_("nội dung cần sửa"), heading=N_("Nội dung cần sửa"))
    return record(
        case,
        "return_draft",
        user=user,
        now=now,
        note=N_("Trả lại dự thảo để sửa: %(reason)s", reason=reason),
        data={"reason": reason},
    )


def approve_answer(case: Case, user: User, now: datetime, body: str | None = None) -> CaseEvent:
    """The unit head approves (and may edit) the draft, or writes the answer directly:
    the answer is sent to the citizen and published on the follow-up page."""
    require(user, case, Op.APPROVE_ANSWER)
    text = checked_text(
        body if body and body.strip() else case.answer_draft,
        "body",
        N_("nội dung trả lời"),
        10,
        heading=N_("Nội dung trả lời"),
    )
    event = move(
        case,
        Action.ANSWER,
        user=user,
        now=now,
        public=True,
        note=N_("Đã trả lời người dân."),
        values={
            "answer_body": text,
            "answered_at": now,
            "answer_approved_by_id": user.id,
            "acknowledged_at": case.acknowledged_at or now,
            "waiting_since": None,
        },
    )
    tell_citizen(
        case,
        kind="answered",
        reason=str(event.id),
        now=now,
        text=joined(
            lazy_gettext(
                "Trả lời của %(unit)s về hồ sơ %(code)s:",
                unit=case.handling_unit.name,
                code=case.code,
            ),
            text,
            _reopen_window(case),
        ),
    )
    owe_if_late(case, now)
    return event


def _reopen_window(case: Case) -> str | LazyString:
    """The answer's message says until when it may be contested (the reopening window), so
    the citizen does not learn it only once it has passed (lazy: in the citizen's language)."""
    until = reopen_deadline(case)
    if until is None:
        return ""
    return lazy_gettext(
        "Nếu chưa đồng ý với trả lời, ông/bà có thể đề nghị mở lại hồ sơ tại trang tra cứu "
        "đến %(until)s.",
        until=LazyString(format_local_long, until),
    )


def close(case: Case, user: User, now: datetime, note: str = "") -> CaseEvent:
    require(user, case, Op.CLOSE)
    return move(
        case,
        Action.CLOSE,
        user=user,
        now=now,
        public=True,
        note=note.strip() or N_("Kết thúc hồ sơ."),
        values={"closed_at": now, "waiting_since": None},
    )


COMPLEXITY_LABELS = {
    "normal": N_("thông thường"),
    "complex": N_("phức tạp"),
    "especially_complex": N_("đặc biệt phức tạp"),
}
EXTENSION_KEYS = {
    "normal": ("max_extensions",),
    "complex": ("max_extensions_complex",),
    "especially_complex": ("max_extensions_especially_complex", "max_extensions_complex"),
}


def extensions_allowed(case: Case) -> int:
    """How many extensions the case's policy allows for its complexity class (Law on
    Denunciations 2018, art. 30: normal none, complex once, especially complex twice)."""
    extra = case_policy(case).extra or {}
    for key in EXTENSION_KEYS.get(case.complexity, ("max_extensions",)):
        if key in extra:
            return int(extra[key] or 0)
    return 0


def extend(case: Case, user: User, now: datetime, reason: str, decision: str) -> CaseEvent:
    """Extend a statutory limit by a recorded decision (Law on Denunciations 2018, art. 30:
    never for a normal case, once if complex, twice if especially complex); the policy in
    force at the case's receipt says how often and how long."""
    require(user, case, Op.EXTEND)
    if case.answered_at is not None or case.status not in OPEN:
        raise InvalidMove(N_("Chỉ gia hạn được hồ sơ đang giải quyết."))
    allowed = extensions_allowed(case)
    label = COMPLEXITY_LABELS.get(case.complexity, case.complexity)
    if allowed == 0:
        raise Conflict(
            N_(
                "Vụ việc %(label)s không được gia hạn thời hạn giải quyết theo quy định áp dụng "
                "cho hồ sơ này. Nếu vụ việc phức tạp, hãy phân loại lại trước khi gia hạn.",
                label=label,
            )
        )
    if case.extensions >= allowed:
        raise Conflict(
            N_(
                "Vụ việc %(label)s được gia hạn tối đa %(allowed)s lần; "
                "hồ sơ đã gia hạn %(done)s lần, không thể gia hạn thêm.",
                label=label,
                allowed=allowed,
                done=case.extensions,
            )
        )
    reason = checked_text(reason, "reason", N_("lý do gia hạn"), heading=N_("Lý do gia hạn"))
    decision = checked_text(
        decision,
        "decision",
        N_("số, ngày quyết định gia hạn"),
        3,
        heading=N_("Số, ngày quyết định gia hạn"),
    )
    days = int((case_policy(case).extra or {}).get("extension_days") or 0)
    case.extensions += 1
    event = record(
        case,
        "extend",
        user=user,
        now=now,
        public=True,
        note=N_(
            "Gia hạn giải quyết theo %(decision)s. Lý do: %(reason)s",
            decision=decision,
            reason=reason,
        ),
        data={"days": days, "decision": decision, "reason": reason},
    )
    recompute(case, now, N_("gia hạn theo %(decision)s", decision=decision))
    return event


def classify(
    case: Case,
    user: User,
    now: datetime,
    *,
    complex_case: bool | None = None,
    remote: bool,
    reason: str,
    complexity: str | None = None,
    round_: int | None = None,
) -> CaseEvent:
    """Classify a case: its complexity class (normal, complex, especially complex: the
    last for denunciations only), a remote area, and for a complaint its round (1 or 2).
    The statutory limits change with them, so the due times are derived again."""
    require(user, case, Op.CLASSIFY)
    reason = checked_text(reason, "reason", N_("lý do"), heading=N_("Lý do"))
    if complexity is None:
        complexity = "complex" if complex_case else "normal"
    if complexity not in COMPLEXITY_LABELS:
        raise ValidationError(
            N_("Mức độ phức tạp không hợp lệ."),
            {"complexity": N_("Chọn: thông thường, phức tạp hoặc đặc biệt phức tạp.")},
        )
    if complexity == "especially_complex" and case.kind != "denunciation":
        raise ValidationError(
            N_("Chỉ vụ việc tố cáo mới được phân loại «đặc biệt phức tạp»."),
            {"complexity": N_("Chọn thông thường hoặc phức tạp.")},
        )
    new_round = case.round if round_ is None else round_
    if new_round not in (1, 2) or (new_round == 2 and case.kind != "complaint"):
        raise ValidationError(
            N_("Chỉ khiếu nại mới có lần giải quyết (lần đầu hoặc lần hai)."),
            {"round": N_("Chọn lần đầu hoặc lần hai (chỉ với khiếu nại).")},
        )
    if new_round != case.round and case.extensions:
        raise Conflict(N_("Hồ sơ đã được gia hạn: không đổi được lần giải quyết."))
    if new_round != case.round:
        load_policy(case.kind, case.received_at, new_round)  # refuses when none is in force
    case.complexity, case.is_complex, case.is_remote = complexity, complexity != "normal", remote
    case.round = new_round
    labels = [COMPLEXITY_LABELS[complexity]]
    labels += [N_("vùng sâu, vùng xa")] if remote else []
    if case.kind == "complaint":
        labels += [N_("khiếu nại lần hai") if new_round == 2 else N_("khiếu nại lần đầu")]
    event = record(
        case,
        "classify",
        user=user,
        now=now,
        note=_classified(labels, reason),
        data={
            "complex": complexity != "normal",
            "complexity": complexity,
            "remote": remote,
            "round": new_round,
        },
    )
    recompute(case, now, N_("phân loại lại hồ sơ"))
    return event


CLASSIFIED = (
    N_("Phân loại: %(first)s. Lý do: %(reason)s"),
    N_("Phân loại: %(first)s, %(second)s. Lý do: %(reason)s"),
    N_("Phân loại: %(first)s, %(second)s, %(third)s. Lý do: %(reason)s"),
)
"""The classification's timeline note by its number of labels (one to three), so the
desk's confirmation can show each label in the reader's language."""


def _classified(labels: list[str], reason: str) -> str:
    named = dict(zip(("first", "second", "third"), labels, strict=False))
    return N_(CLASSIFIED[len(labels) - 1], reason=reason, **named)


def _open_complaint(case: Case, what: str) -> None:
    if case.kind != "complaint":
        raise ValidationError(N_("Chỉ %(what)s đối với hồ sơ khiếu nại.", what=what))
    if case.answered_at is not None or case.status not in OPEN:
        raise InvalidMove(N_("Chỉ %(what)s khi khiếu nại đang được giải quyết.", what=what))


def suspend(case: Case, user: User, now: datetime, reason: str) -> CaseEvent:
    """Suspend (tạm đình chỉ) the resolution of an accepted complaint, e.g. while waiting
    for the outcome of a related matter. Allowed only when the policy in force today says
    the suspended time does not count (the law amending the Law on Complaints, in force
    from 1 July 2026): before that day the law knows no such pause, and the service will
    not stop a clock the law keeps running."""
    require(user, case, Op.SUSPEND)
    _open_complaint(case, N_("tạm đình chỉ việc giải quyết"))
    if case.acknowledged_at is None:
        raise InvalidMove(N_("Chỉ tạm đình chỉ được khiếu nại đã thụ lý."))
    if case.suspended_since is not None:
        raise Conflict(N_("Việc giải quyết khiếu nại này đang tạm đình chỉ."))
    policy = load_policy(case.kind, now, case.round)
    if not policy.suspension_stops_clock:
        raise Conflict(
            N_(
                "Chính sách thời hạn đang có hiệu lực không cho phép tạm đình chỉ việc giải "
                "quyết khiếu nại (quy định tạm đình chỉ, không tính thời gian tạm đình chỉ vào "
                "thời hạn, áp dụng từ ngày 01/07/2026)."
            )
        )
    reason = checked_text(
        reason, "reason", N_("lý do tạm đình chỉ"), heading=N_("Lý do tạm đình chỉ")
    )
    moved = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.suspended_since.is_(None))
        .values(suspended_since=now, next_sla_check_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("Việc giải quyết khiếu nại này vừa được tạm đình chỉ."))
    db.session.refresh(case, ["suspended_since", "next_sla_check_at"])
    return record(
        case,
        "suspend",
        user=user,
        now=now,
        public=True,
        note=N_("Tạm đình chỉ việc giải quyết khiếu nại. Lý do: %(reason)s", reason=reason),
        data={"reason": reason},
    )


def resume(case: Case, user: User, now: datetime, reason: str) -> CaseEvent:
    """End a suspension: the time it lasted is added to the resolution deadline (by the
    policy's day count), and the due times are derived again."""
    require(user, case, Op.SUSPEND)
    since = case.suspended_since
    if since is None:
        raise Conflict(N_("Việc giải quyết khiếu nại này không ở trạng thái tạm đình chỉ."))
    reason = checked_text(
        reason, "reason", N_("lý do tiếp tục giải quyết"), heading=N_("Lý do tiếp tục giải quyết")
    )
    moved = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.suspended_since == since)
        .values(suspended_since=None, next_sla_check_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("Việc giải quyết khiếu nại này vừa được tiếp tục."))
    db.session.refresh(case, ["suspended_since", "next_sla_check_at"])
    event = record(
        case,
        "resume",
        user=user,
        now=now,
        public=True,
        note=N_("Tiếp tục giải quyết khiếu nại sau tạm đình chỉ. Lý do: %(reason)s", reason=reason),
        data={"suspended_since": since.isoformat(), "reason": reason},
    )
    recompute(case, now, N_("tiếp tục giải quyết sau tạm đình chỉ"))
    return event


def withdraw_part(case: Case, user: User, now: datetime, withdrawn: str) -> CaseEvent:
    """Record that the complainant withdrew part of the complaint: what was withdrawn, on
    the timeline. The deadlines stay as they are (the rest is still to be resolved)."""
    require(user, case, Op.WITHDRAW)
    _open_complaint(case, N_("ghi nhận rút một phần khiếu nại"))
    withdrawn = checked_text(
        withdrawn,
        "withdrawn",
        N_("nội dung người khiếu nại rút"),
        heading=N_("Nội dung người khiếu nại rút"),
    )
    return record(
        case,
        "withdraw_part",
        user=user,
        now=now,
        public=True,
        note=N_(
            "Người khiếu nại rút một phần khiếu nại: %(withdrawn)s. "
            "Các nội dung còn lại tiếp tục được giải quyết.",
            withdrawn=withdrawn,
        ),
        data={"withdrawn": withdrawn},
    )


def _allowed(case: Case) -> frozenset[Action]:
    from ...domain.states import allowed_actions

    return allowed_actions(case.status)
