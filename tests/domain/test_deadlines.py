"""Deadline arithmetic, with every response due date worked out by hand.

Each case lists the working days counted (1…6) after the local day of receipt, with the
skipped days in brackets, as the design's example does. The dates off are those announced
for state offices (Tết, Hùng Kings' day, 30/4–1/5 with the 2024 and 2025 swaps, 2/9).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from feedback.domain.calendar import LOCAL_TZ, CalendarOverride, OverrideKind, WorkingCalendar
from feedback.domain.deadlines import (
    DEFAULT_POLICY,
    CountFrom,
    DayType,
    Deadlines,
    SlaPolicy,
    compute_deadlines,
    end_of_local_day,
    explain_deadlines,
)


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    """A moment in Hà Giang (UTC+7)."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=LOCAL_TZ)


def due(y: int, m: int, d: int) -> datetime:
    """The end of a local day, the form every response deadline takes."""
    return datetime(y, m, d, 23, 59, 59, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar()


RESPONSE_CASES = [
    # DESIGN: Fri 2 Feb 2024 → Mon 5, Tue 6, Wed 7, (Tết Thu 8 – Wed 14), Thu 15, Fri 16,
    # Mon 19.
    pytest.param(local(2024, 2, 2), due(2024, 2, 19), id="design-example-2024-02-02"),
    # 2024-02-01T20:00Z is Fri 2 Feb 03:00 local: the local day decides → as above.
    pytest.param(
        datetime(2024, 2, 1, 20, 0, tzinfo=UTC),
        due(2024, 2, 19),
        id="utc-evening-is-next-local-day",
    ),
    # Thu 1 Feb 2024 23:30 local (16:30Z, same UTC date) → Fri 2, Mon 5, Tue 6, Wed 7,
    # (Tết 8–14), Thu 15, Fri 16.
    pytest.param(local(2024, 2, 1, 23, 30), due(2024, 2, 16), id="late-local-evening-thu"),
    # 17:00Z on 1 Feb is exactly local midnight: already Fri 2 Feb → Mon 19 (design example).
    pytest.param(
        datetime(2024, 2, 1, 17, 0, 0, tzinfo=UTC), due(2024, 2, 19), id="local-midnight-boundary"
    ),
    # Tết 2023 (off Fri 20 – Thu 26 Jan). Wed 18 Jan → Thu 19, (Fri 20 – Thu 26), Fri 27,
    # Mon 30, Tue 31, Wed 1 Feb, Thu 2 Feb.
    pytest.param(local(2023, 1, 18), due(2023, 2, 2), id="tet-2023-before"),
    # Received on Sun 22 Jan 2023, inside Tết → Fri 27, Mon 30, Tue 31, Wed 1, Thu 2, Fri 3 Feb.
    pytest.param(local(2023, 1, 22), due(2023, 2, 3), id="tet-2023-received-on-holiday"),
    # Tết 2024. Wed 7 Feb → (Thu 8 – Wed 14) Thu 15, Fri 16, Mon 19, Tue 20, Wed 21, Thu 22.
    pytest.param(local(2024, 2, 7), due(2024, 2, 22), id="tet-2024-eve-of-break"),
    # Tết 2025 (weekdays Mon 27 – Fri 31 Jan off). Fri 24 Jan → Mon 3 Feb, Tue 4, Wed 5,
    # Thu 6, Fri 7, Mon 10.
    pytest.param(local(2025, 1, 24), due(2025, 2, 10), id="tet-2025"),
    # Tết 2026 (Mon 16 – Fri 20 Feb). Thu 12 Feb → Fri 13, (Mon 16 – Fri 20), Mon 23, Tue 24,
    # Wed 25, Thu 26, Fri 27.
    pytest.param(local(2026, 2, 12), due(2026, 2, 27), id="tet-2026"),
    # Received Wed 18 Feb 2026, a Tết weekday → Mon 23, Tue 24, Wed 25, Thu 26, Fri 27, Mon 2 Mar.
    pytest.param(local(2026, 2, 18), due(2026, 3, 2), id="tet-2026-received-on-holiday"),
    # Tết 2027 (Thu 4 – Wed 10 Feb). Wed 3 Feb → Thu 11, Fri 12, Mon 15, Tue 16, Wed 17, Thu 18.
    pytest.param(local(2027, 2, 3), due(2027, 2, 18), id="tet-2027"),
    # Hùng Kings 2024, Thu 18 Apr. Tue 16 Apr → Wed 17, (Thu 18), Fri 19, Mon 22, Tue 23,
    # Wed 24, Thu 25.
    pytest.param(local(2024, 4, 16), due(2024, 4, 25), id="hung-kings-2024"),
    # Hùng Kings 2025, Mon 7 Apr. Fri 4 Apr → (Mon 7) Tue 8, Wed 9, Thu 10, Fri 11, Mon 14,
    # Tue 15.
    pytest.param(local(2025, 4, 4), due(2025, 4, 15), id="hung-kings-2025"),
    # 2023: Hùng Kings Sat 29 Apr observed Tue 2 May, 30/4 (Sun) observed Wed 3 May, Mon 1 May.
    # Thu 27 Apr → Fri 28, (Sat 29 – Wed 3 May), Thu 4, Fri 5, Mon 8, Tue 9, Wed 10.
    pytest.param(local(2023, 4, 27), due(2023, 5, 10), id="hung-kings-2023-observed"),
    # 30/4–1/5 2024 with the swap (Mon 29 Apr off, Sat 4 May worked). Fri 26 Apr →
    # (Sat 27 – Wed 1 May) Thu 2, Fri 3, Sat 4, Mon 6, Tue 7, Wed 8.
    pytest.param(local(2024, 4, 26), due(2024, 5, 8), id="swap-2024"),
    # Received on the make-up Saturday 4 May 2024 → Mon 6, Tue 7, Wed 8, Thu 9, Fri 10, Mon 13.
    pytest.param(local(2024, 5, 4), due(2024, 5, 13), id="received-on-make-up-saturday"),
    # 30/4–1/5 2025 with the swap (Sat 26 Apr worked, Fri 2 May off). Thu 24 Apr → Fri 25,
    # Sat 26, Mon 28, Tue 29, (Wed 30 – Sun 4 May), Mon 5, Tue 6.
    pytest.param(local(2025, 4, 24), due(2025, 5, 6), id="swap-2025"),
    # Tue 29 Apr 2025 → (Wed 30 – Sun 4 May) Mon 5, Tue 6, Wed 7, Thu 8, Fri 9, Mon 12.
    pytest.param(local(2025, 4, 29), due(2025, 5, 12), id="swap-2025-eve-of-break"),
    # 2/9 2023 (Fri 1 + Mon 4 Sep). Thu 31 Aug → (Fri 1 – Mon 4) Tue 5, Wed 6, Thu 7, Fri 8,
    # Mon 11, Tue 12.
    pytest.param(local(2023, 8, 31), due(2023, 9, 12), id="national-day-2023"),
    # 2/9 2024 (Mon 2 + Tue 3 Sep). Fri 30 Aug → (Sat 31 – Tue 3) Wed 4, Thu 5, Fri 6, Mon 9,
    # Tue 10, Wed 11.
    pytest.param(local(2024, 8, 30), due(2024, 9, 11), id="national-day-2024"),
    # 2/9 2025 (Mon 1 + Tue 2 Sep). Fri 29 Aug → (Sat 30 – Tue 2) Wed 3, Thu 4, Fri 5, Mon 8,
    # Tue 9, Wed 10.
    pytest.param(local(2025, 8, 29), due(2025, 9, 10), id="national-day-2025"),
    # Received on Saturday 15 Jun 2024 → Mon 17, Tue 18, Wed 19, Thu 20, Fri 21, Mon 24.
    pytest.param(local(2024, 6, 15), due(2024, 6, 24), id="received-on-saturday"),
    # An ordinary week: Mon 10 Jun 2024 → Tue 11, Wed 12, Thu 13, Fri 14, Mon 17, Tue 18.
    pytest.param(local(2024, 6, 10), due(2024, 6, 18), id="ordinary-week"),
    # Across the new year: Fri 29 Dec 2023 → (Mon 1 Jan) Tue 2, Wed 3, Thu 4, Fri 5, Mon 8,
    # Tue 9.
    pytest.param(local(2023, 12, 29), due(2024, 1, 9), id="across-new-year-2024"),
]


@pytest.mark.parametrize(("received_at", "expected"), RESPONSE_CASES)
def test_response_due_default_policy(
    cal: WorkingCalendar, received_at: datetime, expected: datetime
) -> None:
    result = compute_deadlines(received_at, DEFAULT_POLICY, cal)
    assert result.response_due_at == expected
    assert result.response_due_at.tzinfo is UTC


@pytest.mark.parametrize(
    "received_at",
    [
        pytest.param(local(2024, 2, 2, 10), id="friday-morning"),
        pytest.param(local(2024, 2, 9, 23, 30), id="tet-eve-late"),
        pytest.param(local(2024, 5, 4, 8), id="make-up-saturday"),
        pytest.param(datetime(2024, 6, 15, 1, 2, 3, 456789, tzinfo=UTC), id="microseconds"),
    ],
)
def test_ack_due_is_exactly_24_clock_hours(cal: WorkingCalendar, received_at: datetime) -> None:
    result = compute_deadlines(received_at, DEFAULT_POLICY, cal)
    assert result.ack_due_at - received_at == timedelta(hours=24)
    assert result.ack_due_at.tzinfo is UTC


def test_design_example_in_full(cal: WorkingCalendar) -> None:
    received = datetime(2024, 2, 2, 3, 0, tzinfo=UTC)  # 10:00 local
    assert compute_deadlines(received, DEFAULT_POLICY, cal) == Deadlines(
        ack_due_at=datetime(2024, 2, 3, 3, 0, tzinfo=UTC),
        response_due_at=datetime(2024, 2, 19, 16, 59, 59, tzinfo=UTC),
    )


def test_end_of_local_day_is_utc() -> None:
    end = end_of_local_day(date(2024, 2, 19))
    assert end == datetime(2024, 2, 19, 16, 59, 59, tzinfo=UTC)
    assert end.tzinfo is UTC


@pytest.mark.parametrize(
    ("overrides", "received_at", "expected"),
    [
        # OFF on Wed 12 Jun 2024. Mon 10 → Tue 11, (Wed 12), Thu 13, Fri 14, Mon 17, Tue 18,
        # Wed 19.
        pytest.param(
            [CalendarOverride(date(2024, 6, 12), OverrideKind.OFF, "QĐ thử")],
            local(2024, 6, 10),
            due(2024, 6, 19),
            id="off-on-wednesday-pushes",
        ),
        # WORK on Sun 16 Jun 2024. Mon 10 → Tue 11, Wed 12, Thu 13, Fri 14, Sun 16, Mon 17.
        pytest.param(
            [CalendarOverride(date(2024, 6, 16), OverrideKind.WORK, "CV thử")],
            local(2024, 6, 10),
            due(2024, 6, 17),
            id="work-on-sunday-pulls-in",
        ),
        # WORK on Hùng Kings' day Thu 18 Apr 2024. Tue 16 → Wed 17, Thu 18, Fri 19, Mon 22,
        # Tue 23, Wed 24 (one day earlier than without the override).
        pytest.param(
            [CalendarOverride(date(2024, 4, 18), OverrideKind.WORK, "CV thử")],
            local(2024, 4, 16),
            due(2024, 4, 24),
            id="work-beats-package-holiday",
        ),
        # OFF on the package's make-up Saturday 4 May 2024. Fri 26 Apr → (Sat 27 – Wed 1 May)
        # Thu 2, Fri 3, (Sat 4), Mon 6, Tue 7, Wed 8, Thu 9.
        pytest.param(
            [CalendarOverride(date(2024, 5, 4), OverrideKind.OFF, "CV thử")],
            local(2024, 4, 26),
            due(2024, 5, 9),
            id="off-beats-package-make-up-day",
        ),
    ],
)
def test_overrides_change_the_response_due(
    overrides: list[CalendarOverride], received_at: datetime, expected: datetime
) -> None:
    cal = WorkingCalendar(overrides)
    assert compute_deadlines(received_at, DEFAULT_POLICY, cal).response_due_at == expected


def test_calendar_day_counting(cal: WorkingCalendar) -> None:
    # 30 calendar days after Fri 2 Feb 2024 (Tết and weekends count): 2024 is a leap
    # year, so 2 Feb + 30 days = 3 Mar.
    policy = SlaPolicy(kind="c", response_days=30, response_day_type=DayType.CALENDAR)
    assert compute_deadlines(local(2024, 2, 2), policy, cal).response_due_at == due(2024, 3, 3)


def test_ack_days_working(cal: WorkingCalendar) -> None:
    # Ack within 1 working day of Fri 2 Feb 2024 → end of Mon 5 Feb.
    policy = SlaPolicy(kind="c", ack_hours=None, ack_days=1)
    assert compute_deadlines(local(2024, 2, 2), policy, cal).ack_due_at == due(2024, 2, 5)


def test_ack_days_calendar(cal: WorkingCalendar) -> None:
    policy = SlaPolicy(kind="c", ack_hours=None, ack_days=1, ack_day_type=DayType.CALENDAR)
    assert compute_deadlines(local(2024, 2, 2), policy, cal).ack_due_at == due(2024, 2, 3)


def test_response_from_ack_day(cal: WorkingCalendar) -> None:
    # A complaint-like policy: accept within 3 working days, resolve within 30 calendar days
    # of acceptance. Fri 2 Feb 2024 → ack Mon 5, Tue 6, Wed 7 → ack due end of Wed 7 Feb;
    # 7 Feb + 30 days = 8 Mar (leap year).
    policy = SlaPolicy(
        kind="complaint",
        ack_hours=None,
        ack_days=3,
        response_days=30,
        response_day_type=DayType.CALENDAR,
        response_from=CountFrom.ACK,
    )
    result = compute_deadlines(local(2024, 2, 2), policy, cal)
    assert result.ack_due_at == due(2024, 2, 7)
    assert result.response_due_at == due(2024, 3, 8)


def test_response_from_ack_with_clock_hours(cal: WorkingCalendar) -> None:
    # Thu 1 Feb 2024 20:00 local: ack due Fri 2 Feb 20:00 local, whose local day is Fri 2,
    # so response counts from Fri 2 → Mon 19 (counting from the receipt it would be Fri 16).
    from_ack = SlaPolicy(kind="x", response_from=CountFrom.ACK)
    received = local(2024, 2, 1, 20)
    assert compute_deadlines(received, from_ack, cal).response_due_at == due(2024, 2, 19)
    assert compute_deadlines(received, DEFAULT_POLICY, cal).response_due_at == due(2024, 2, 16)


def test_naive_datetime_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="múi giờ"):
        compute_deadlines(datetime(2024, 2, 2, 10, 0), DEFAULT_POLICY, cal)
    with pytest.raises(ValueError, match="múi giờ"):
        explain_deadlines(datetime(2024, 2, 2, 10, 0), DEFAULT_POLICY, cal)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"ack_hours": None, "ack_days": None}, "đúng một", id="neither-ack"),
        pytest.param({"ack_hours": 24, "ack_days": 1}, "đúng một", id="both-ack"),
        pytest.param({"ack_hours": 0}, "ack_hours phải", id="zero-hours"),
        pytest.param({"ack_hours": None, "ack_days": 0}, "ack_days phải", id="zero-days"),
        pytest.param({"response_days": 0}, "response_days phải", id="zero-response-days"),
        pytest.param({"response_day_type": "weekly"}, "DayType", id="unknown-day-type"),
        pytest.param({"response_from": "answer"}, "CountFrom", id="unknown-count-from"),
    ],
)
def test_invalid_policies_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlaPolicy(kind="bad", **kwargs)  # type: ignore[arg-type]


def test_policy_coerces_strings_from_data() -> None:
    policy = SlaPolicy(
        kind="x",
        ack_day_type="calendar",  # type: ignore[arg-type]
        response_day_type="calendar",  # type: ignore[arg-type]
        response_from="ack",  # type: ignore[arg-type]
    )
    assert policy.ack_day_type is DayType.CALENDAR
    assert policy.response_day_type is DayType.CALENDAR
    assert policy.response_from is CountFrom.ACK


def test_explanation_names_skipped_days_and_reasons(cal: WorkingCalendar) -> None:
    lines = explain_deadlines(local(2024, 2, 2), DEFAULT_POLICY, cal)
    text = "\n".join(lines)
    assert "Thứ Sáu 02/02/2024" in text
    assert "nghỉ cuối tuần" in text
    assert "Tết" in text
    assert "05/02, 06/02, 07/02, 15/02, 16/02, 19/02" in text
    assert lines[-1] == "→ Hạn trả lời: 23:59:59 19/02/2024 (giờ Việt Nam)."


def test_explanation_cites_override_source_and_make_up_day() -> None:
    cal = WorkingCalendar(
        [CalendarOverride(date(2024, 5, 8), OverrideKind.OFF, "Quyết định 99/QĐ-UBND")]
    )
    text = "\n".join(explain_deadlines(local(2024, 4, 26), DEFAULT_POLICY, cal))
    assert "Quyết định 99/QĐ-UBND" in text
    assert "Thứ Bảy 04/05/2024: ngày làm việc bù" in text


def test_explanation_for_calendar_days_and_ack_base(cal: WorkingCalendar) -> None:
    policy = SlaPolicy(
        kind="complaint",
        ack_hours=None,
        ack_days=3,
        response_days=30,
        response_day_type=DayType.CALENDAR,
        response_from=CountFrom.ACK,
    )
    text = "\n".join(explain_deadlines(local(2024, 2, 2), policy, cal))
    assert "tính từ ngày của hạn xác nhận: Thứ Tư 07/02/2024" in text
    assert "30 ngày (ngày lịch)" in text
    assert "08/03/2024" in text
