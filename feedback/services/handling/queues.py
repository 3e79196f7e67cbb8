"""What waits on whom: each role's queues, as SQL conditions on ``Case`` (issue 16).

A unit head could not see which drafts awaited approval; an officer had to open cases one
by one to find a citizen's reply. Each queue here is one condition, used both as a filter
of the inbox (``?cho=<key>``) and for the count in the navigation (one ``COUNT`` each,
never a Python loop), so the number and the list cannot disagree. Which queues a role
has is the permission module's ``QUEUES_OF_ROLE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, literal_column, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ...domain.marks import N_
from ...domain.permissions import QUEUES_OF_ROLE
from ...domain.states import Action, Status, allowed_actions
from ...extensions import db
from ...models import Case, CaseEvent, Unit, User
from ...models.case import OPEN_STATUS_VALUES
from ...models.user import UnitApprover
from ..oversight.metrics import apology_owed
from ..reference.areas import units_in_force
from ..reference.settings import get_setting
from .approvers import approves_for, head_exists
from .visibility import visible_condition

ANSWERABLE = tuple(s.value for s in Status if Action.ANSWER in allowed_actions(s))
"""Statuses from which a draft can become the answer."""

_DRAFT_STEPS = ("draft_answer", "return_draft", "reopen")


def _last_of(actions: tuple[str, ...], *, staff_or: str | None = None) -> ColumnElement[str]:
    """SQL: the action of the case's latest event among ``actions`` (or, with
    ``staff_or``, among staff actions and that citizen action)."""
    among = (
        or_(CaseEvent.actor_id.is_not(None), CaseEvent.action == staff_or)
        if staff_or
        else CaseEvent.action.in_(actions)
    )
    return (
        select(CaseEvent.action)
        .where(CaseEvent.case_id == Case.id, among)
        .order_by(CaseEvent.id.desc())
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )


def open_cases() -> ColumnElement[bool]:
    """Open cases, in the words of the partial indexes' predicate (OPEN_CASES_SQL), the
    values written into the statement: SQLite uses a partial index only when the query
    says what the index's WHERE says, and a list of bound parameters does not (every
    queue count and the inbox read the million cases: 0.4-0.6 s against milliseconds)."""
    return Case.status.in_([literal_column(f"'{value}'") for value in OPEN_STATUS_VALUES])


_open = open_cases


def draft_pending() -> ColumnElement[bool]:
    """A saved draft that nobody has approved or returned since."""
    return and_(
        Case.answer_draft.is_not(None),
        Case.answered_at.is_(None),
        Case.status.in_(ANSWERABLE),
        _last_of(_DRAFT_STEPS) == "draft_answer",
    )


def _awaiting_approval(user: User) -> ColumnElement[bool]:
    return and_(draft_pending(), approves_for(user))


def _letters(user: User) -> ColumnElement[bool]:
    return apology_owed()  # the one definition, as the letters page and the figures


def _assigned(user: User) -> ColumnElement[bool]:
    return and_(Case.assigned_to_id == user.id, _open(), Case.answered_at.is_(None))


def _replied(user: User) -> ColumnElement[bool]:
    """The citizen's reply is the case's latest word: no staff action since."""
    return and_(_open(), _last_of((), staff_or="citizen_reply") == "citizen_reply")


def _returned(user: User) -> ColumnElement[bool]:
    return and_(
        _open(),
        Case.answered_at.is_(None),
        or_(Case.answer_drafted_by_id == user.id, Case.assigned_to_id == user.id),
        _last_of(_DRAFT_STEPS) == "return_draft",
    )


def triage_waiting() -> ColumnElement[bool]:
    """The triage list: open cases not yet routed or not yet acknowledged (a closed case
    has nothing left to triage)."""
    return and_(_open(), or_(Case.needs_triage.is_(True), Case.status == "received"))


def _triage(user: User) -> ColumnElement[bool]:
    return triage_waiting()


def _sent_back(user: User) -> ColumnElement[bool]:
    """Transferred back to triage by a unit (an open case: said, so that the open-case
    index on status answers it)."""
    return and_(_open(), Case.status == "transferred", Case.needs_triage.is_(True))


@dataclass(frozen=True)
class Queue:
    key: str  # the inbox's ?cho= value
    label: str
    condition: Callable[[User], ColumnElement[bool]]


# Labels marked for the catalogue (N_); the pages show them with gettext.
QUEUES: dict[str, Queue] = {
    q.key: q
    for q in (
        Queue("duyet", N_("Dự thảo chờ duyệt"), _awaiting_approval),
        Queue("thu-xin-loi", N_("Thư xin lỗi chưa ban hành"), _letters),
        Queue("giao-toi", N_("Giao cho tôi"), _assigned),
        Queue("dan-bo-sung", N_("Người dân đã bổ sung"), _replied),
        Queue("tra-lai", N_("Dự thảo bị trả lại"), _returned),
        Queue("phan-loai", N_("Chờ phân loại"), _triage),
        Queue("chuyen-ve", N_("Đơn vị chuyển trả"), _sent_back),
    )
}


def queues_of(user: User) -> list[Queue]:
    return [QUEUES[k] for k in QUEUES_OF_ROLE.get(user.role, ())]


def queue_condition(user: User, key: str) -> ColumnElement[bool] | None:
    """The inbox filter of queue ``key`` for ``user`` (None: not one of the user's)."""
    if key not in QUEUES_OF_ROLE.get(user.role, ()):
        return None
    return and_(visible_condition(user), QUEUES[key].condition(user))


def count(user: User, key: str) -> int:
    condition = queue_condition(user, key)
    if condition is None:
        return 0
    return int(db.session.scalar(select(func.count(Case.id)).where(condition)) or 0)


@dataclass(frozen=True)
class Waiting:
    key: str
    label: str
    count: int


def waiting_on(user: User, now: datetime) -> list[Waiting]:
    """Every queue of ``user`` with its count (one COUNT each, each answered by an index
    of open cases: migration f7a3c9e1d2b4), for the navigation. An officer's approval
    queue is shown only when he is some unit's named approver."""
    found = [Waiting(q.key, q.label, count(user, q.key)) for q in queues_of(user)]
    found = [w for w in found if w.count or not (w.key == "duyet" and user.role == "officer")]
    if user.role == "coordinator":
        found.append(Waiting("don-vi", N_("Đơn vị chưa có lãnh đạo"), headless_count(now)))
    return found


def _headless(now: datetime) -> list[ColumnElement[bool]] | None:
    """Units in force, other than the triage unit, with no active head and either an open
    case or an account (None: no unit to consider)."""
    triage = get_setting("triage_unit", "VP")
    ids = [u.id for u in units_in_force(now) if u.code != triage]
    if not ids:
        return None
    # EXISTS stops at a unit's first open case; the count of them is shown only on the
    # list (at a million cases the navigation counted 95,000 open cases twice: 1.5 s).
    has_open = exists(select(Case.id).where(Case.handling_unit_id == Unit.id, _open()))
    staffed = exists(select(User.id).where(User.unit_id == Unit.id, User.active.is_(True)))
    return [Unit.id.in_(ids), not_(head_exists(Unit.id)), or_(has_open, staffed)]


def headless_count(now: datetime) -> int:
    """How many units headless_units lists (the coordinator's navigation)."""
    conditions = _headless(now)
    if conditions is None:
        return 0
    return int(db.session.scalar(select(func.count(Unit.id)).where(*conditions)) or 0)


def headless_units(now: datetime) -> list[tuple[Unit, User | None, int]]:
    """Units in force that work cases (open cases or accounts) but have no active head:
    (unit, named approver or None, open cases), the coordinator's list. Counted in SQL."""
    conditions = _headless(now)
    if conditions is None:
        return []
    open_cases = (
        select(func.count(Case.id))
        .where(Case.handling_unit_id == Unit.id, _open())
        .correlate(Unit)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Unit, UnitApprover, open_cases)
        .outerjoin(UnitApprover, UnitApprover.unit_code == Unit.code)
        .where(*conditions)
        .order_by(Unit.name)
    ).all()
    return [(unit, row.user if row else None, n) for unit, row, n in rows]
