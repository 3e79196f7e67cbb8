"""The escalation ladder's arithmetic (feedback.domain.escalation) with the clock passed in:
the step at the breach, a step N working days later across a weekend and Tết, answered and
paused cases, and what makes a list of steps a ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedback.domain.calendar import LOCAL_TZ, WorkingCalendar
from feedback.domain.escalation import (
    Step,
    arrived_steps,
    ladder_problems,
    next_step_at,
    schedule,
    step_due_at,
)
from feedback.domain.sla import Clock

CAL = WorkingCalendar()
SECOND = timedelta(seconds=1)
LADDER = [Step(2, 5), Step(1, 0)]  # given out of order on purpose


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)


def clock(due: datetime, *, answered: bool = False, paused: bool = False) -> Clock:
    return Clock(due - timedelta(days=5), due, True, answered, paused)


# Response due at the end of Fri 2 Feb 2024; Tết 2024 is Thu 8 – Wed 14 Feb.
DUE = local(2024, 2, 2, 23, 59, 59)


def test_the_step_at_the_breach_is_the_breach() -> None:
    assert step_due_at(DUE, Step(1, 0), CAL) == DUE + SECOND


@pytest.mark.parametrize(
    ("days", "day"),
    [
        (1, local(2024, 2, 5, 23, 59, 59)),  # Mon 5 Feb (the weekend skipped)
        (3, local(2024, 2, 7, 23, 59, 59)),  # Wed 7 Feb, the last day before Tết
        (4, local(2024, 2, 15, 23, 59, 59)),  # Thu 15 Feb, Tết skipped
        (5, local(2024, 2, 16, 23, 59, 59)),  # Fri 16 Feb
    ],
)
def test_a_later_step_falls_due_after_n_full_working_days(days: int, day: datetime) -> None:
    assert step_due_at(DUE, Step(2, days), CAL) == day + SECOND


def test_arrived_and_next_steps_follow_the_clock() -> None:
    c = clock(DUE)
    assert [s.level for s, _ in schedule(c, LADDER, CAL)] == [1, 2]
    assert arrived_steps(c, LADDER, CAL, DUE) == []  # the due second itself is on time
    assert next_step_at(c, LADDER, CAL, DUE) == DUE + SECOND
    after_breach = DUE + SECOND
    assert [s.level for s, _ in arrived_steps(c, LADDER, CAL, after_breach)] == [1]
    level_2 = local(2024, 2, 16, 23, 59, 59) + SECOND
    assert next_step_at(c, LADDER, CAL, after_breach) == level_2
    assert [s.level for s, _ in arrived_steps(c, LADDER, CAL, level_2 - SECOND)] == [1]
    # A sweep after downtime gets every step it missed, each with its own time.
    assert arrived_steps(c, LADDER, CAL, level_2 + timedelta(days=30)) == [
        (Step(1, 0), DUE + SECOND),
        (Step(2, 5), level_2),
    ]
    assert next_step_at(c, LADDER, CAL, level_2) is None


@pytest.mark.parametrize("state", ["answered", "paused"])
def test_an_answered_or_paused_case_reaches_no_step(state: str) -> None:
    c = clock(DUE, **{state: True})
    late = DUE + timedelta(days=60)
    assert schedule(c, LADDER, CAL) == []
    assert arrived_steps(c, LADDER, CAL, late) == []
    assert next_step_at(c, LADDER, CAL, DUE) is None


@pytest.mark.parametrize(
    ("steps", "problems"),
    [
        ([Step(1, 0), Step(2, 5)], 0),
        ([Step(1, 3)], 0),
        ([], 0),
        ([Step(2, 5)], 1),  # no level 1
        ([Step(1, 0), Step(3, 5)], 1),  # a gap
        ([Step(1, 5), Step(2, 5)], 1),  # not later than the one before
        ([Step(1, 5), Step(2, 3)], 1),  # earlier than the one before
        ([Step(1, -1)], 1),
    ],
)
def test_ladder_problems(steps: list[Step], problems: int) -> None:
    found = ladder_problems(steps)
    assert len(found) == problems, found
    assert all(any(c in p for c in "ạđốộớ") for p in found)  # Vietnamese messages
