"""SLA milestones: when a case must be warned about, and when it is in breach.

A case carries two promises, acknowledgement and response. Each has a warning point
(the policy's threshold before the due time) and the due time itself. The sweep records
each milestone once per deadline revision; this module only says which milestones exist
and which have arrived, so that the scheduler can be tested with the clock passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from feedback.domain.calendar import LOCAL_TZ, WorkingCalendar
from feedback.domain.deadlines import DayType, end_of_local_day, local_date

BREACH_AFTER = timedelta(seconds=1)
"""The due second itself is still on time (23:59:59 belongs to the due day): a breach is
recorded from the next second, as every figure and list counts lateness (due < answered)."""


class Milestone(StrEnum):
    ACK_WARNING = "ack_warning"
    ACK_BREACH = "ack_breach"
    RESPONSE_WARNING = "response_warning"
    RESPONSE_BREACH = "response_breach"

    @property
    def is_breach(self) -> bool:
        return self in {Milestone.ACK_BREACH, Milestone.RESPONSE_BREACH}


@dataclass(frozen=True)
class Thresholds:
    warn_before_ack_hours: int | None = 4
    warn_before_response_working_days: int | None = 1


@dataclass(frozen=True)
class Clock:
    """What the sweep needs to know of one case."""

    ack_due_at: datetime
    response_due_at: datetime
    acknowledged: bool
    answered: bool
    paused: bool = False  # waiting for the citizen under a policy that pauses the clock


def start_of_local_day(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=LOCAL_TZ).astimezone(UTC)


def response_warning_at(due_at: datetime, working_days: int, calendar: WorkingCalendar) -> datetime:
    """The start (00:00 local) of the ``working_days``-th working day counted back from the
    due day itself: with 1, the morning of the last working day the unit has."""
    if working_days < 1:
        raise ValueError("working_days must be at least 1")
    day = local_date(due_at)
    counted = 0
    for _ in range(400):
        if calendar.is_working_day(day):
            counted += 1
            if counted == working_days:
                return start_of_local_day(day)
        day -= timedelta(days=1)
    raise ValueError("no working day found before the due date")


def milestones(
    clock: Clock, thresholds: Thresholds, calendar: WorkingCalendar
) -> list[tuple[Milestone, datetime]]:
    """Every milestone still pending for the case, in time order."""
    found: list[tuple[Milestone, datetime]] = []
    if not clock.acknowledged:
        if thresholds.warn_before_ack_hours:
            warn = clock.ack_due_at - timedelta(hours=thresholds.warn_before_ack_hours)
            found.append((Milestone.ACK_WARNING, warn))
        found.append((Milestone.ACK_BREACH, clock.ack_due_at + BREACH_AFTER))
    if not clock.answered and not clock.paused:
        if thresholds.warn_before_response_working_days:
            warn = response_warning_at(
                clock.response_due_at, thresholds.warn_before_response_working_days, calendar
            )
            found.append((Milestone.RESPONSE_WARNING, min(warn, clock.response_due_at)))
        found.append((Milestone.RESPONSE_BREACH, clock.response_due_at + BREACH_AFTER))
    return sorted(found, key=lambda m: (m[1], m[0].is_breach))


def arrived(
    clock: Clock, thresholds: Thresholds, calendar: WorkingCalendar, now: datetime
) -> list[Milestone]:
    """Milestones whose time has come (a sweep after downtime gets all it missed)."""
    return [m for m, at in milestones(clock, thresholds, calendar) if at <= now]


def next_check_at(
    clock: Clock, thresholds: Thresholds, calendar: WorkingCalendar, now: datetime
) -> datetime | None:
    """When the sweep must look at the case again; None when no milestone remains."""
    future = [at for _, at in milestones(clock, thresholds, calendar) if at > now]
    return min(future) if future else None


def extend_for_pause(
    due_at: datetime,
    paused_from: datetime,
    resumed_at: datetime,
    calendar: WorkingCalendar,
    day_type: DayType = DayType.WORKING,
) -> datetime:
    """The response due time after a pause: pushed back by the days (working or calendar,
    as the policy counts) that passed while the case waited for the citizen. A pause
    within one day costs nothing; the day the citizen answers is not counted."""
    start, end = local_date(paused_from), local_date(resumed_at)
    if end <= start:
        return due_at
    if day_type is DayType.WORKING:
        # Working days in [start, end): the day of the request counts, the reply day not.
        lost = calendar.working_days_between(start - timedelta(days=1), end - timedelta(days=1))
        if lost == 0:
            return due_at
        return end_of_local_day(calendar.nth_working_day_after(local_date(due_at), lost))
    lost = (end - start).days
    return end_of_local_day(local_date(due_at) + timedelta(days=lost))
