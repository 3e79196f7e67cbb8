"""The escalation ladder beyond the first response breach (issue 16), as pure arithmetic.

A kind's ladder is a list of steps: level 1, 2, ... each ``after_working_days`` after the
response breach (0: at the breach itself). A step with N > 0 falls due when the case is
still unanswered at the end of the N-th working day after its due day: the unit has had
N more full working days. A paused clock (waiting for the citizen, a suspended complaint)
and an answered case reach no step. The sweep records each step once per obligation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from feedback.domain.calendar import WorkingCalendar
from feedback.domain.deadlines import end_of_local_day, local_date
from feedback.domain.marks import N_
from feedback.domain.sla import BREACH_AFTER, Clock


@dataclass(frozen=True)
class Step:
    level: int
    after_working_days: int


def step_due_at(response_due_at: datetime, step: Step, calendar: WorkingCalendar) -> datetime:
    """When ``step`` falls due for a response due at ``response_due_at``."""
    if step.after_working_days == 0:
        return response_due_at + BREACH_AFTER
    day = calendar.nth_working_day_after(local_date(response_due_at), step.after_working_days)
    return end_of_local_day(day) + BREACH_AFTER


def schedule(
    clock: Clock, steps: Iterable[Step], calendar: WorkingCalendar
) -> list[tuple[Step, datetime]]:
    """Every step still possible for the case, in level order; none once it is answered
    or while its clock is paused."""
    if clock.answered or clock.paused:
        return []
    return sorted(
        ((step, step_due_at(clock.response_due_at, step, calendar)) for step in steps),
        key=lambda pair: pair[0].level,
    )


def arrived_steps(
    clock: Clock, steps: Iterable[Step], calendar: WorkingCalendar, now: datetime
) -> list[tuple[Step, datetime]]:
    """Steps whose time has come (a sweep after downtime gets every one it missed)."""
    return [(step, at) for step, at in schedule(clock, steps, calendar) if at <= now]


def next_step_at(
    clock: Clock, steps: Iterable[Step], calendar: WorkingCalendar, now: datetime
) -> datetime | None:
    future = [at for _, at in schedule(clock, steps, calendar) if at > now]
    return min(future) if future else None


def ladder_problems(steps: Sequence[Step]) -> list[str]:
    """Why a kind's ladder is not a ladder (empty when it is): levels 1..n without a gap,
    each later step strictly after the one before. Messages in Vietnamese, marked (``N_``)."""
    problems: list[str] = []
    ordered = sorted(steps, key=lambda s: s.level)
    levels = [s.level for s in ordered]
    if levels != list(range(1, len(levels) + 1)):
        problems.append(N_("Các bậc phải được đánh số liên tiếp từ 1 (1, 2, 3…)."))
    for before, after in pairwise(ordered):
        if after.after_working_days <= before.after_working_days:
            problems.append(
                N_(
                    "Bậc %(level)s phải đến sau bậc %(before)s (nhiều ngày làm việc hơn %(days)s).",
                    level=after.level,
                    before=before.level,
                    days=before.after_working_days,
                )
            )
    if any(s.after_working_days < 0 for s in ordered):
        problems.append(N_("Số ngày làm việc sau khi quá hạn không được âm."))
    return problems
