"""SLA milestones with the clock passed in: weekends, Tết, a make-up Saturday."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feedback.domain.calendar import LOCAL_TZ, CalendarOverride, OverrideKind, WorkingCalendar
from feedback.domain.deadlines import DayType, SlaPolicy, compute_deadlines
from feedback.domain.sla import (
    Clock,
    Milestone,
    Thresholds,
    arrived,
    extend_for_pause,
    milestones,
    next_check_at,
    response_warning_at,
)

CAL = WorkingCalendar(
    [CalendarOverride(datetime(2024, 5, 4).date(), OverrideKind.WORK, "Công văn 2450/VPCP-KGVX")]
)
DEFAULT = SlaPolicy(kind="feedback")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def clock_for(received: datetime, **kw: bool) -> Clock:
    d = compute_deadlines(received, DEFAULT, CAL)
    return Clock(
        d.ack_due_at,
        d.response_due_at,
        kw.get("ack", False),
        kw.get("ans", False),
        kw.get("paused", False),
    )


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # Fri 2 Feb 2024 10:00: ack due Sat 3 Feb 10:00 (warn 06:00); response due Mon 19 Feb
        # (Tết 8–14 Feb); response warning 00:00 Mon 19 Feb.
        (
            local(2024, 2, 2, 10),
            [
                (Milestone.ACK_WARNING, local(2024, 2, 3, 6)),
                (Milestone.ACK_BREACH, local(2024, 2, 3, 10, 0, 1)),
                (Milestone.RESPONSE_WARNING, local(2024, 2, 19, 0)),
                (Milestone.RESPONSE_BREACH, local(2024, 2, 20, 0, 0, 0)),
            ],
        ),
        # Thu 25 Apr 2024 15:00: working days Fri 26 Apr (1), [Mon 29 swapped off, 30/4 and
        # 1/5 holidays], Thu 2 May (2), Fri 3 (3), Sat 4 make-up (4), Mon 6 (5), Tue 7 (6).
        (
            local(2024, 4, 25, 15),
            [
                (Milestone.ACK_WARNING, local(2024, 4, 26, 11)),
                (Milestone.ACK_BREACH, local(2024, 4, 26, 15, 0, 1)),
                (Milestone.RESPONSE_WARNING, local(2024, 5, 7, 0)),
                (Milestone.RESPONSE_BREACH, local(2024, 5, 8, 0, 0, 0)),
            ],
        ),
    ],
    ids=["tet-2024", "make-up-saturday-2024"],
)
def test_milestones(received: datetime, expected: list[tuple[Milestone, datetime]]) -> None:
    got = milestones(clock_for(received), Thresholds(), CAL)
    assert got == [(m, at.astimezone(UTC)) for m, at in expected]


def test_two_working_days_warning_skips_the_weekend() -> None:
    due = local(2024, 3, 11, 23, 59, 59)  # Monday
    assert response_warning_at(due, 2, CAL) == local(2024, 3, 8, 0).astimezone(UTC)  # Friday
    # a make-up Saturday is a working day
    assert response_warning_at(local(2024, 5, 6, 23, 59, 59), 2, CAL) == local(2024, 5, 4, 0)


def test_arrived_and_next_check() -> None:
    clock = clock_for(local(2024, 2, 2, 10))
    assert arrived(clock, Thresholds(), CAL, local(2024, 2, 3, 5)) == []
    assert next_check_at(clock, Thresholds(), CAL, local(2024, 2, 3, 5)) == local(2024, 2, 3, 6)
    # after a long downtime every missed milestone arrives at once, in order
    assert arrived(clock, Thresholds(), CAL, local(2024, 3, 1)) == list(Milestone)
    assert next_check_at(clock, Thresholds(), CAL, local(2024, 3, 1)) is None


def test_done_promises_have_no_milestones() -> None:
    clock = clock_for(local(2024, 2, 2, 10), ack=True)
    assert [m for m, _ in milestones(clock, Thresholds(), CAL)] == [
        Milestone.RESPONSE_WARNING,
        Milestone.RESPONSE_BREACH,
    ]
    assert milestones(clock_for(local(2024, 2, 2, 10), ack=True, ans=True), Thresholds(), CAL) == []
    paused = clock_for(local(2024, 2, 2, 10), ack=True, paused=True)
    assert milestones(paused, Thresholds(), CAL) == []
    assert [
        m for m, _ in milestones(clock_for(local(2024, 2, 2, 10)), Thresholds(None, None), CAL)
    ] == [Milestone.ACK_BREACH, Milestone.RESPONSE_BREACH]


def test_pause_pushes_the_response_due_by_working_days_lost() -> None:
    due = local(2024, 2, 19, 23, 59, 59)
    # asked Mon 5 Feb, answered Wed 7 Feb: lost Mon 5 and Tue 6 → two working days later
    assert extend_for_pause(due, local(2024, 2, 5, 9), local(2024, 2, 7, 8), CAL) == local(
        2024, 2, 21, 23, 59, 59
    )
    # asked Wed 7 Feb, answered Thu 15 Feb after Tết: only Wed 7 is lost
    assert extend_for_pause(due, local(2024, 2, 7, 9), local(2024, 2, 15, 8), CAL) == local(
        2024, 2, 20, 23, 59, 59
    )
    # same day: nothing lost
    assert extend_for_pause(due, local(2024, 2, 5, 9), local(2024, 2, 5, 16), CAL) == due
    # calendar-day policies count every day
    assert extend_for_pause(
        due, local(2024, 2, 5, 9), local(2024, 2, 7, 8), CAL, DayType.CALENDAR
    ) == local(2024, 2, 21, 23, 59, 59)
