"""Who may see which cases. One place, used by every page, export and API call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from ..domain.states import OPEN_STATUSES
from ..models import Case, User

CITYWIDE_ROLES = frozenset({"coordinator", "inspector"})
UNIT_ROLES = frozenset({"officer", "unit_head"})
INTAKE_ROLES = frozenset({"operator", "clerk"})


def visible_condition(user: User) -> ColumnElement[bool]:
    if user.role in CITYWIDE_ROLES:
        return true()
    if user.role in UNIT_ROLES and user.unit_id is not None:
        return Case.handling_unit_id == user.unit_id
    if user.role in INTAKE_ROLES:
        # Intake staff follow what they entered themselves (to read the code back, fix a
        # typo), nothing more.
        return Case.created_by_id == user.id
    return false()


def visible_cases(user: User) -> Select[tuple[Case]]:
    return select(Case).where(visible_condition(user))


def can_view(user: User, case: Case) -> bool:
    if user.role in CITYWIDE_ROLES:
        return True
    if user.role in UNIT_ROLES:
        return user.unit_id is not None and case.handling_unit_id == user.unit_id
    if user.role in INTAKE_ROLES:
        return case.created_by_id == user.id
    return False


def inbox_query(user: User, now: datetime, *, overdue_only: bool = False) -> Select[tuple[Case]]:
    stmt = visible_cases(user).order_by(Case.response_due_at, Case.id)
    if overdue_only:
        stmt = stmt.where(
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            or_(
                Case.response_due_at < now, Case.acknowledged_at.is_(None) & (Case.ack_due_at < now)
            ),
        )
    return stmt
