"""Working a case: triage, acknowledgement, the unit's workflow, answer and closure.

Every function is one unit of work for one actor at one ``now``: it checks the permission
table (feedback.domain.permissions) and the state machine (feedback.domain.states), moves
the case with a conditional UPDATE (so two officers acting at once cannot both win),
appends one event, and queues the citizen's message in the same transaction. The caller
commits. Refusals are ServiceErrors with a Vietnamese message; nothing is half-done.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ...domain.permissions import UNIT_ROLES, Op
from ...domain.states import Action
from ...extensions import db
from ...models import Case, CaseEvent, Unit, User
from ..errors import Conflict, NotFound, ValidationError
from ..reference.areas import unit_in_force
from ..reference.policies import load_policy
from ..reference.settings import get_setting
from ..sla.notify import tell_citizen
from .apology import owe_if_late
from .deadlines import recompute
from .events import record
from .moves import OPEN, InvalidMove, checked_text, move, require


def _unit(code: str | None, now: datetime) -> Unit:
    """A unit in force at ``now``: a unit a reference pack retired takes no new case."""
    unit = unit_in_force((code or "").strip(), now)
    if unit is None:
        raise ValidationError(
            "Đơn vị không tồn tại.", {"unit_code": "Chọn một đơn vị trong danh sách."}
        )
    return unit


# --- triage and acknowledgement -----------------------------------------------------------


def acknowledge(case: Case, user: User, now: datetime, note: str = "") -> CaseEvent:
    """The first acknowledgement keeps the 24-hour promise and tells the citizen; a unit
    taking over a transferred case that was already acknowledged only records it."""
    require(user, case, Op.ACKNOWLEDGE)
    first = case.acknowledged_at is None
    default = (
        "Đã xác nhận tiếp nhận; hồ sơ đang được xem xét, giải quyết."
        if first
        else f"{case.handling_unit.name} tiếp nhận hồ sơ được chuyển đến."
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
    recompute(case, now, "thụ lý")
    if first:
        tell_citizen(
            case,
            kind="acknowledged",
            reason=str(event.id),
            now=now,
            text=f"Hồ sơ {case.code} đã được xác nhận tiếp nhận và giao "
            f"{case.handling_unit.name} xử lý.",
        )
    return event


def confirm_routing(case: Case, user: User, now: datetime) -> CaseEvent:
    """The coordinator agrees with the routing table's choice: the case leaves triage."""
    require(user, case, Op.ROUTE)
    if not case.needs_triage:
        raise Conflict("Hồ sơ không ở hàng chờ phân loại.")
    if case.handling_unit.code == get_setting("triage_unit", "VP"):
        raise ValidationError(
            "Hồ sơ chưa có đơn vị xử lý: hãy chuyển cho đơn vị phụ trách.",
            {"unit_code": "Chọn đơn vị xử lý."},
        )
    case.needs_triage = False
    return record(
        case, "route", user=user, now=now, note=f"Xác nhận đơn vị xử lý: {case.handling_unit.name}."
    )


def transfer(
    case: Case, user: User, now: datetime, unit_code: str | None, reason: str
) -> CaseEvent:
    """To another unit, or back to triage (``unit_code`` None or the triage unit)."""
    require(user, case, Op.TRANSFER)
    reason = checked_text(reason, "reason", "lý do chuyển")
    triage_code = get_setting("triage_unit", "VP")
    target = _unit(unit_code or triage_code, now)
    if target.id == case.handling_unit_id:
        raise ValidationError("Hồ sơ đang ở đơn vị này.", {"unit_code": "Chọn một đơn vị khác."})
    source = case.handling_unit
    # The coordinator routing out of triage settles it; anyone sending back re-opens it.
    back_to_triage = target.code == triage_code
    event = move(
        case,
        Action.TRANSFER,
        user=user,
        now=now,
        public=False,
        note=f"Chuyển từ {source.name} đến {target.name}. Lý do: {reason}",
        data={"from_unit": source.code, "to_unit": target.code, "reason": reason},
        values={
            "handling_unit_id": target.id,
            "needs_triage": back_to_triage,
            "assigned_to_id": None,
        },
    )
    return event


def reject(case: Case, user: User, now: datetime, reason: str) -> CaseEvent:
    """Not accepted (outside the city's competence, no content, ...): counts as both
    acknowledged and answered, with the reason as the answer."""
    require(user, case, Op.REJECT)
    reason = checked_text(reason, "reason", "lý do không tiếp nhận")
    answer = f"Hồ sơ không được tiếp nhận giải quyết. Lý do: {reason}"
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
            "answer_body": answer,
            "needs_triage": False,
        },
    )
    tell_citizen(case, kind="rejected", reason=str(event.id), now=now, text=answer)
    owe_if_late(case, now)
    return event


def merge(case: Case, user: User, now: datetime, into_code: str) -> CaseEvent:
    """A duplicate: closed into ``into_code``; its citizen follows the other case's answer
    on their own follow-up page."""
    require(user, case, Op.MERGE)
    target = db.session.scalar(select(Case).where(Case.code == (into_code or "").strip().upper()))
    if target is None:
        raise NotFound("Không có hồ sơ để gộp vào.", {"into": "Mã hồ sơ không tồn tại."})
    if target.id == case.id or target.merged_into_id is not None or target.status == "merged":
        raise ValidationError(
            "Không gộp được vào hồ sơ này.", {"into": "Chọn hồ sơ gốc còn hiệu lực."}
        )
    event = move(
        case,
        Action.MERGE,
        user=user,
        now=now,
        public=True,
        note=f"Trùng nội dung với hồ sơ {target.code}; được theo dõi và trả lời chung.",
        data={"into": target.code},
        values={"merged_into_id": target.id, "closed_at": now, "needs_triage": False},
    )
    record(
        target,
        "merge_in",
        user=user,
        now=now,
        note=f"Gộp hồ sơ trùng {case.code} vào đây.",
        data={"from": case.code},
    )
    tell_citizen(
        case,
        kind="merged",
        reason=str(event.id),
        now=now,
        text=f"Nội dung của ông/bà trùng với hồ sơ {target.code} đang được giải quyết. "
        f"Kết quả sẽ hiển thị tại trang tra cứu hồ sơ {case.code} của ông/bà.",
    )
    return event


# --- the unit's workflow -------------------------------------------------------------------


def assign(case: Case, user: User, now: datetime, officer_username: str) -> CaseEvent:
    require(user, case, Op.ASSIGN)
    if case.status not in OPEN:
        raise InvalidMove("Hồ sơ đã kết thúc, không giao xử lý được nữa.")
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
            "Chỉ giao cho cán bộ của đơn vị xử lý.", {"officer": "Chọn cán bộ của đơn vị."}
        )
    case.assigned_to_id = officer.id
    return record(
        case,
        "assign",
        user=user,
        now=now,
        note=f"Giao cán bộ {officer.display_name} xử lý.",
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
        note="Đã tiếp nhận và bắt đầu xử lý." if first_ack else "Bắt đầu xử lý.",
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
            text=(
                f"Hồ sơ {case.code} đã được tiếp nhận và đang được "
                f"{case.handling_unit.name} giải quyết."
            ),
        )
    return event


def add_note(case: Case, user: User, now: datetime, text: str) -> CaseEvent:
    require(user, case, Op.NOTE)
    return record(
        case, "note", user=user, now=now, note=checked_text(text, "note", "nội dung ghi chú", 2)
    )


def ask_citizen(case: Case, user: User, now: datetime, question: str) -> CaseEvent:
    require(user, case, Op.ASK_CITIZEN)
    question = checked_text(question, "question", "nội dung cần người dân bổ sung")
    event = move(
        case,
        Action.ASK_CITIZEN,
        user=user,
        now=now,
        public=True,
        note=f"Đề nghị bổ sung thông tin: {question}",
        values={"waiting_since": now},
    )
    tell_citizen(
        case,
        kind="ask_citizen",
        reason=str(event.id),
        now=now,
        text=f"Để giải quyết hồ sơ {case.code}, cơ quan đề nghị ông/bà bổ sung: "
        f"{question}\nÔng/bà trả lời tại trang tra cứu hồ sơ.",
    )
    return event


def draft_answer(case: Case, user: User, now: datetime, body: str) -> CaseEvent:
    require(user, case, Op.DRAFT_ANSWER)
    if Action.ANSWER not in _allowed(case):
        raise InvalidMove(f"Hồ sơ ở trạng thái này chưa thể trả lời ({case.status}).")
    body = checked_text(body, "body", "nội dung trả lời", 10)
    case.answer_draft, case.answer_drafted_by_id, case.answer_drafted_at = body, user.id, now
    return record(
        case,
        "draft_answer",
        user=user,
        now=now,
        note="Soạn dự thảo trả lời, trình lãnh đạo đơn vị duyệt.",
    )


def approve_answer(case: Case, user: User, now: datetime, body: str | None = None) -> CaseEvent:
    """The unit head approves (and may edit) the draft, or writes the answer directly:
    the answer is sent to the citizen and published on the follow-up page."""
    require(user, case, Op.APPROVE_ANSWER)
    text = checked_text(
        body if body and body.strip() else case.answer_draft, "body", "nội dung trả lời", 10
    )
    event = move(
        case,
        Action.ANSWER,
        user=user,
        now=now,
        public=True,
        note="Đã trả lời người dân.",
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
        text=f"Trả lời của {case.handling_unit.name} về hồ sơ {case.code}:\n\n{text}",
    )
    owe_if_late(case, now)
    return event


def close(case: Case, user: User, now: datetime, note: str = "") -> CaseEvent:
    require(user, case, Op.CLOSE)
    return move(
        case,
        Action.CLOSE,
        user=user,
        now=now,
        public=True,
        note=note.strip() or "Kết thúc hồ sơ.",
        values={"closed_at": now, "waiting_since": None},
    )


def extend(case: Case, user: User, now: datetime, reason: str, decision: str) -> CaseEvent:
    """Extend a statutory limit by a recorded decision (Law on Denunciations 2018, art. 30:
    once, twice for especially complex cases); the policy says how often and how long."""
    require(user, case, Op.EXTEND)
    extra = load_policy(case.kind).extra or {}
    allowed = int(extra.get("max_extensions_complex" if case.is_complex else "max_extensions") or 0)
    if case.answered_at is not None or case.status not in OPEN:
        raise InvalidMove("Chỉ gia hạn được hồ sơ đang giải quyết.")
    if case.extensions >= allowed:
        raise Conflict(f"Loại hồ sơ này được gia hạn tối đa {allowed} lần; không thể gia hạn thêm.")
    reason = checked_text(reason, "reason", "lý do gia hạn")
    decision = checked_text(decision, "decision", "số, ngày quyết định gia hạn", 3)
    days = int(extra.get("extension_days") or 0)
    case.extensions += 1
    event = record(
        case,
        "extend",
        user=user,
        now=now,
        public=True,
        note=f"Gia hạn giải quyết theo {decision}. Lý do: {reason}",
        data={"days": days, "decision": decision, "reason": reason},
    )
    recompute(case, now, f"gia hạn theo {decision}")
    return event


def classify(
    case: Case, user: User, now: datetime, *, complex_case: bool, remote: bool, reason: str
) -> CaseEvent:
    """Mark a case complex or in a remote area: the statutory limits of its policy change."""
    require(user, case, Op.CLASSIFY)
    reason = checked_text(reason, "reason", "lý do")
    case.is_complex, case.is_remote = complex_case, remote
    labels = [t for t, on in (("phức tạp", complex_case), ("vùng sâu, vùng xa", remote)) if on]
    event = record(
        case,
        "classify",
        user=user,
        now=now,
        note=f"Phân loại: {', '.join(labels) or 'thông thường'}. Lý do: {reason}",
        data={"complex": complex_case, "remote": remote},
    )
    recompute(case, now, "phân loại lại hồ sơ")
    return event


def _allowed(case: Case) -> frozenset[Action]:
    from ...domain.states import allowed_actions

    return allowed_actions(case.status)
