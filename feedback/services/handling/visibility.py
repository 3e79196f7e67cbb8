"""Who may see which cases: the SQL filter for lists and searches, and the per-case check
from the domain's permission table. A test holds the two in agreement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, false, select, true
from sqlalchemy.sql.elements import ColumnElement

from ...domain.permissions import (
    CITYWIDE_ROLES,
    INTAKE_ROLES,
    UNIT_ROLES,
    CaseFacts,
    Op,
    Subject,
    granted,
)
from ...models import Case, User
from .approvers import approval_for


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


def ops_for(user: User, case: Case) -> frozenset[Op]:
    """What ``user`` may do to ``case`` (feedback.domain.permissions decides)."""
    subject = Subject(
        role=user.role, unit_code=user.unit.code if user.unit else None, user_id=user.id
    )
    # Who approves in a unit without a head (issue 16) is a fact of the case's unit.
    approval = approval_for(case.handling_unit)
    facts = CaseFacts(
        handling_unit_code=case.handling_unit.code,
        kind=case.kind,
        created_by_id=case.created_by_id,
        head_absent=approval.head_absent,
        approver_id=approval.approver_id,
    )
    return granted(subject, facts)


def can_view(user: User, case: Case) -> bool:
    return Op.VIEW in ops_for(user, case)


def inbox_query(user: User, now: datetime, *, overdue_only: bool = False) -> Select[tuple[Case]]:
    stmt = visible_cases(user).order_by(Case.response_due_at, Case.id)
    if overdue_only:
        from ..sla.sweep import overdue_condition

        stmt = stmt.where(overdue_condition(now))
    return stmt
