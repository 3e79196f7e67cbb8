"""The breach monitor's flags as exact SQL conditions on ``Case`` (see
``feedback.services.oversight.monitor`` for what a flag means).

Besides the two promises of the policy, a case is flagged when the day its unit committed
to (``cases.committed_due_at``, the newest progress update's) has passed without an
answer: written as the partial index ``ix_cases_committed_due`` is (answered_at IS NULL,
the open statuses), so a query on it alone can use that index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, literal_column, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from ...domain.calendar import WorkingCalendar
from ...domain.deadlines import end_of_local_day, local_date
from ...domain.sla import response_warning_at, start_of_local_day
from ...domain.states import Status
from ...models import Case, SlaPolicy
from ...models.case import OPEN_STATUS_VALUES
from ..sla.sweep import pausing_kinds, thresholds

# Literal values, written as the partial index ``ix_cases_open_response_due`` is, so that
# SQLite (which matches a partial index's predicate term by term) and PostgreSQL use it.
OPEN_CONDITION: ColumnElement[bool] = Case.status.in_(
    [literal_column(f"'{value}'") for value in OPEN_STATUS_VALUES]
)


def response_cutoff(working_days: int, calendar: WorkingCalendar, now: datetime) -> datetime:
    """The answers due before this time (and not yet due) are at risk now.

    ``response_warning_at`` depends only on the local date of the due time and never
    decreases with it, so the due dates whose warning has come are the days up to the last
    one, D, whose warning start is at or before ``now``; the cutoff is 00:00 local of the
    day after D. Every day up to today qualifies (its warning is at or before its own start).
    """
    day = local_date(now)
    for _ in range(400):
        following = day + timedelta(days=1)
        if response_warning_at(end_of_local_day(following), working_days, calendar) > now:
            break
        day = following
    return start_of_local_day(day + timedelta(days=1))


@dataclass(frozen=True)
class Rules:
    """The monitor's flags as SQL conditions on ``Case``, for one ``now``."""

    ack_overdue: ColumnElement[bool]
    response_overdue: ColumnElement[bool]
    ack_flagged: ColumnElement[bool]
    response_flagged: ColumnElement[bool]
    # The committed day passed, still unanswered ("Trễ ngày đã hẹn").
    missed: ColumnElement[bool]

    @property
    def warned(self) -> ColumnElement[bool]:
        """Flagged by a promise of the policy: overdue or at risk."""
        return or_(self.ack_flagged, self.response_flagged)

    @property
    def flagged(self) -> ColumnElement[bool]:
        return or_(self.ack_flagged, self.response_flagged, self.missed)

    @property
    def overdue(self) -> ColumnElement[bool]:
        return or_(self.ack_overdue, self.response_overdue)

    @property
    def due(self) -> ColumnElement[datetime]:
        """The due time of the case's earliest flagged promise of the policy (the sort
        key); the committed day for a case flagged only by it."""
        return case(
            (
                and_(
                    self.ack_flagged,
                    or_(not_(self.response_flagged), Case.ack_due_at <= Case.response_due_at),
                ),
                Case.ack_due_at,
            ),
            (self.response_flagged, Case.response_due_at),
            else_=Case.committed_due_at,
        )


def rules(now: datetime, policies: Mapping[str, SlaPolicy], calendar: WorkingCalendar) -> Rules:
    """The exact rules of ``_flag``: a promise pending and past due (``due < now``), or
    pending, not yet due and past its kind's warning (``thresholds(policy)``; none when the
    threshold is empty or 0, nor for a kind without a policy)."""
    ack_pending = Case.acknowledged_at.is_(None)
    # A suspended complaint's clock stands still (as in sla.overdue_condition).
    response_pending: ColumnElement[bool] = and_(
        Case.answered_at.is_(None), Case.suspended_since.is_(None)
    )
    paused_kinds = pausing_kinds()  # as in sla.overdue_condition
    if paused_kinds:
        paused = and_(Case.status == Status.WAITING_CITIZEN.value, Case.kind.in_(paused_kinds))
        response_pending = and_(response_pending, not_(paused))
    ack_kinds: dict[datetime, list[str]] = {}
    response_kinds: dict[datetime, list[str]] = {}
    cutoffs: dict[int, datetime] = {}
    for kind, policy in sorted(policies.items()):
        limits = thresholds(policy)
        if limits.warn_before_ack_hours:
            until = now + timedelta(hours=limits.warn_before_ack_hours)
            ack_kinds.setdefault(until, []).append(kind)
        days = limits.warn_before_response_working_days
        if days:
            if days not in cutoffs:
                cutoffs[days] = response_cutoff(days, calendar, now)
            response_kinds.setdefault(cutoffs[days], []).append(kind)
    # ack: warned from due - hours, i.e. due <= now + hours (the due second is on time).
    ack_soon = [
        and_(Case.kind.in_(kinds), Case.ack_due_at <= until) for until, kinds in ack_kinds.items()
    ]
    response_soon = [
        and_(Case.kind.in_(kinds), Case.response_due_at < cutoff)
        for cutoff, kinds in response_kinds.items()
    ]
    return Rules(
        missed=missed_condition(now),
        ack_overdue=and_(ack_pending, Case.ack_due_at < now),
        response_overdue=and_(response_pending, Case.response_due_at < now),
        ack_flagged=and_(ack_pending, or_(Case.ack_due_at < now, *ack_soon)),
        response_flagged=and_(response_pending, or_(Case.response_due_at < now, *response_soon)),
    )


def missed_condition(now: datetime) -> ColumnElement[bool]:
    """Unanswered past the committed day (with ``OPEN_CONDITION``, the terms of the partial
    index ``ix_cases_committed_due``). Not paused by waiting for the citizen: the unit
    gave the day itself, knowing what it waited for."""
    return and_(
        Case.committed_due_at.is_not(None),
        Case.answered_at.is_(None),
        Case.committed_due_at < now,
    )
