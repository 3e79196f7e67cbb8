"""The working-day calendar against the days off announced for state offices, 2023–2027.

Expected values are written from the official announcements (and the Labour Code where
the year is not announced yet), not read back from the ``holidays`` package, so a wrong
package release shows up here.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from feedback.domain.calendar import (
    CalendarOverride,
    DaySource,
    OverrideKind,
    OverrideOrigin,
    WorkingCalendar,
    package_name_status,
    weekday_name,
)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        pytest.param(date(2024, 6, 12), True, id="ordinary-wednesday"),
        pytest.param(date(2024, 6, 15), False, id="ordinary-saturday"),
        pytest.param(date(2024, 6, 16), False, id="ordinary-sunday"),
        pytest.param(date(2023, 1, 2), False, id="2023-new-year-observed-mon"),
        pytest.param(date(2023, 1, 19), True, id="2023-tet-eve-of-break-thu"),
        pytest.param(date(2023, 1, 20), False, id="2023-tet-first-day-fri-20"),
        pytest.param(date(2023, 1, 26), False, id="2023-tet-last-day-thu-26"),
        pytest.param(date(2023, 1, 27), True, id="2023-tet-back-fri-27"),
        pytest.param(date(2024, 2, 7), True, id="2024-tet-before-wed-7"),
        pytest.param(date(2024, 2, 8), False, id="2024-tet-thu-8"),
        pytest.param(date(2024, 2, 14), False, id="2024-tet-wed-14"),
        pytest.param(date(2024, 2, 15), True, id="2024-tet-back-thu-15"),
        pytest.param(date(2025, 1, 24), True, id="2025-tet-before-fri-24"),
        pytest.param(date(2025, 1, 27), False, id="2025-tet-mon-27"),
        pytest.param(date(2025, 1, 31), False, id="2025-tet-fri-31"),
        pytest.param(date(2025, 2, 3), True, id="2025-tet-back-mon-3-feb"),
        pytest.param(date(2026, 2, 13), True, id="2026-tet-before-fri-13"),
        pytest.param(date(2026, 2, 16), False, id="2026-tet-mon-16"),
        pytest.param(date(2026, 2, 20), False, id="2026-tet-fri-20"),
        pytest.param(date(2026, 2, 23), True, id="2026-tet-back-mon-23"),
        pytest.param(date(2027, 2, 3), True, id="2027-tet-before-wed-3"),
        pytest.param(date(2027, 2, 4), False, id="2027-tet-thu-4"),
        pytest.param(date(2027, 2, 10), False, id="2027-tet-wed-10"),
        pytest.param(date(2027, 2, 11), True, id="2027-tet-back-thu-11"),
        pytest.param(date(2023, 5, 2), False, id="2023-hung-kings-observed-tue-2-may"),
        pytest.param(date(2023, 5, 3), False, id="2023-liberation-observed-wed-3-may"),
        pytest.param(date(2023, 5, 4), True, id="2023-back-thu-4-may"),
        pytest.param(date(2024, 4, 18), False, id="2024-hung-kings-thu"),
        pytest.param(date(2025, 4, 7), False, id="2025-hung-kings-mon"),
        pytest.param(date(2024, 4, 29), False, id="2024-swap-mon-29-apr-off"),
        pytest.param(date(2024, 5, 4), True, id="2024-swap-sat-4-may-worked"),
        pytest.param(date(2025, 4, 26), True, id="2025-swap-sat-26-apr-worked"),
        pytest.param(date(2025, 5, 2), False, id="2025-swap-fri-2-may-off"),
        pytest.param(date(2023, 9, 1), False, id="2023-national-day-fri-1"),
        pytest.param(date(2023, 9, 4), False, id="2023-national-day-observed-mon-4"),
        pytest.param(date(2023, 9, 5), True, id="2023-back-tue-5-sep"),
        pytest.param(date(2024, 9, 2), False, id="2024-national-day-mon-2"),
        pytest.param(date(2024, 9, 3), False, id="2024-national-day-tue-3"),
        pytest.param(date(2025, 9, 1), False, id="2025-national-day-mon-1"),
        pytest.param(date(2025, 9, 2), False, id="2025-national-day-tue-2"),
        pytest.param(date(2025, 9, 3), True, id="2025-back-wed-3-sep"),
    ],
)
def test_is_working_day(cal: WorkingCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


def test_weekend_workday_recorded_in_a_neighbouring_year(cal: WorkingCalendar) -> None:
    # Sat 27 Dec 2014 was worked for the 2 Jan 2015 bridge day: the package files the swap
    # under 2015, so the calendar must look at the next year to know the Saturday counts.
    assert cal.is_working_day(date(2014, 12, 27))
    assert not cal.is_working_day(date(2015, 1, 2))


@pytest.mark.parametrize(
    ("day", "fragment"),
    [
        pytest.param(date(2024, 2, 10), "Tết", id="tet"),
        pytest.param(date(2024, 4, 18), "Hùng Vương", id="hung-kings"),
        pytest.param(date(2024, 4, 29), "04/05/2024", id="swap-names-the-saturday"),
        pytest.param(date(2024, 9, 2), "Quốc khánh", id="national-day"),
    ],
)
def test_holiday_name_in_vietnamese(cal: WorkingCalendar, day: date, fragment: str) -> None:
    name = cal.holiday_name(day)
    assert name is not None
    assert fragment in name


def test_holiday_name_none_on_ordinary_days(cal: WorkingCalendar) -> None:
    assert cal.holiday_name(date(2024, 6, 12)) is None
    assert cal.holiday_name(date(2024, 5, 4)) is None  # a make-up Saturday is no holiday


def test_off_override_makes_a_weekday_off() -> None:
    wed = date(2024, 6, 12)
    cal = WorkingCalendar([CalendarOverride(wed, OverrideKind.OFF, "Quyết định 1/QĐ-UBND")])
    assert not cal.is_working_day(wed)
    assert "Quyết định 1/QĐ-UBND" in cal.describe_day(wed)


def test_work_override_makes_a_sunday_working() -> None:
    sun = date(2024, 6, 16)
    cal = WorkingCalendar([CalendarOverride(sun, OverrideKind.WORK, "Công văn 2/UBND")])
    assert cal.is_working_day(sun)


@pytest.mark.parametrize(
    ("day", "kind", "working"),
    [
        pytest.param(date(2024, 4, 18), OverrideKind.WORK, True, id="work-on-package-holiday"),
        pytest.param(date(2024, 5, 4), OverrideKind.OFF, False, id="off-on-package-makeup-sat"),
    ],
)
def test_override_beats_the_package(day: date, kind: OverrideKind, working: bool) -> None:
    cal = WorkingCalendar([CalendarOverride(day, kind, "văn bản thử")])
    assert cal.is_working_day(day) is working
    assert cal.holiday_name(day) == WorkingCalendar().holiday_name(day)  # still reported


def test_override_kind_accepts_plain_strings_and_rejects_typos() -> None:
    assert CalendarOverride(date(2024, 1, 6), "work", "x").kind is OverrideKind.WORK  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="OverrideKind"):
        CalendarOverride(date(2024, 1, 6), "holiday", "x")  # type: ignore[arg-type]


def test_conflicting_overrides_for_one_day_are_refused() -> None:
    day = date(2024, 6, 12)
    with pytest.raises(ValueError, match="mâu thuẫn"):
        WorkingCalendar(
            [
                CalendarOverride(day, OverrideKind.OFF, "A"),
                CalendarOverride(day, OverrideKind.WORK, "B"),
            ]
        )


def test_duplicate_agreeing_overrides_keep_the_first() -> None:
    day = date(2024, 6, 12)
    cal = WorkingCalendar(
        [CalendarOverride(day, OverrideKind.OFF, "A"), CalendarOverride(day, OverrideKind.OFF, "B")]
    )
    override = cal.override_for(day)
    assert override is not None
    assert override.source == "A"
    assert cal.overrides == (override,)


def test_unknown_country_fails_at_construction() -> None:
    with pytest.raises(NotImplementedError):
        WorkingCalendar(country="XX")


def test_holiday_years_are_loaded_lazily() -> None:
    cal = WorkingCalendar()
    assert cal._years == {}
    cal.is_working_day(date(2024, 6, 12))  # a weekday: only its own year is needed
    assert set(cal._years) == {2024}


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Fri 2 Feb 2024: Mon 5, Tue 6, Wed 7, (Tết 8–14), Thu 15, Fri 16, Mon 19.
        pytest.param(date(2024, 2, 2), 1, date(2024, 2, 5), id="next-after-friday"),
        pytest.param(date(2024, 2, 2), 4, date(2024, 2, 15), id="across-tet-2024"),
        pytest.param(date(2024, 2, 2), 6, date(2024, 2, 19), id="design-example"),
        # Fri 3 May 2024 → Sat 4 May is a make-up working day.
        pytest.param(date(2024, 5, 3), 1, date(2024, 5, 4), id="make-up-saturday-counts"),
        # Fri 29 Dec 2023 → (Mon 1 Jan) Tue 2 Jan.
        pytest.param(date(2023, 12, 29), 1, date(2024, 1, 2), id="across-new-year"),
    ],
)
def test_nth_working_day_after(cal: WorkingCalendar, start: date, n: int, expected: date) -> None:
    assert cal.nth_working_day_after(start, n) == expected


@pytest.mark.parametrize("n", [0, -1])
def test_nth_working_day_after_rejects_n_below_one(cal: WorkingCalendar, n: int) -> None:
    with pytest.raises(ValueError, match="n phải"):
        cal.nth_working_day_after(date(2024, 2, 2), n)


def test_nth_working_day_after_gives_up_on_a_calendar_without_working_days() -> None:
    start = date(2030, 1, 1)
    off = [
        CalendarOverride(start + timedelta(days=i), OverrideKind.OFF, "lỗi dữ liệu")
        for i in range(1, 500)
    ]
    with pytest.raises(ValueError, match="Không tìm thấy ngày làm việc"):
        WorkingCalendar(off).nth_working_day_after(start, 1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(date(2024, 2, 2), date(2024, 2, 19), 6, id="design-example"),
        pytest.param(date(2024, 2, 2), date(2024, 2, 2), 0, id="same-day"),
        pytest.param(date(2024, 2, 19), date(2024, 2, 2), 0, id="end-before-start"),
        pytest.param(date(2024, 2, 7), date(2024, 2, 14), 0, id="all-of-tet"),
        pytest.param(date(2024, 5, 3), date(2024, 5, 6), 2, id="make-up-saturday"),
    ],
)
def test_working_days_between(cal: WorkingCalendar, start: date, end: date, expected: int) -> None:
    assert cal.working_days_between(start, end) == expected


def test_describe_day(cal: WorkingCalendar) -> None:
    assert cal.describe_day(date(2024, 6, 15)) == "nghỉ cuối tuần"
    assert cal.describe_day(date(2024, 6, 12)) == "ngày làm việc"
    assert "làm việc bù" in cal.describe_day(date(2024, 5, 4))
    assert cal.describe_day(date(2024, 2, 10)).startswith("ngày lễ: ")
    assert weekday_name(date(2024, 2, 2)) == "Thứ Sáu"


# --- provenance: where each day comes from and whether it is confirmed --------------------


@pytest.mark.parametrize(
    ("day", "working", "source", "confirmed"),
    [
        pytest.param(date(2027, 1, 1), False, DaySource.LAW, True, id="new-year-by-law"),
        pytest.param(date(2027, 2, 8), False, DaySource.LAW, True, id="tet-by-law"),
        pytest.param(date(2027, 5, 3), False, DaySource.LAW, True, id="observed-by-law"),
        pytest.param(date(2025, 5, 2), False, DaySource.PACKAGE, True, id="swap-day-off"),
        pytest.param(date(2025, 4, 26), True, DaySource.PACKAGE, True, id="swap-saturday"),
        pytest.param(date(2026, 11, 24), True, DaySource.PACKAGE, False, id="culture-day-2026"),
        pytest.param(date(2027, 11, 24), True, DaySource.PACKAGE, False, id="culture-day-2027"),
        pytest.param(date(2027, 6, 9), True, DaySource.WEEK, True, id="plain-wednesday"),
    ],
)
def test_day_info_says_where_a_day_comes_from(
    cal: WorkingCalendar, day: date, working: bool, source: DaySource, confirmed: bool
) -> None:
    info = cal.day_info(day)
    assert (info.working, info.source, info.confirmed) == (working, source, confirmed)
    assert cal.is_working_day(day) is working


def test_an_unconfirmed_package_day_is_worked_and_said_so(cal: WorkingCalendar) -> None:
    """24/11 is listed by the package from 2026 (holidays ≥ 0.106) without a law found to
    make it a paid day off: counted by the week rule, named "chưa xác nhận"."""
    info = cal.day_info(date(2026, 11, 24))
    assert info.status_vi == "chưa xác nhận" and "chỉ có gói holidays" in info.source_vi
    assert "chưa được xác nhận" in cal.describe_day(date(2026, 11, 24))
    assert package_name_status("Ngày Văn hóa Việt Nam") == "unconfirmed"
    assert package_name_status("Ngày Văn hóa Việt Nam (nghỉ bù)") == "unconfirmed"
    assert package_name_status("Quốc khánh (nghỉ bù)") == "law"
    assert package_name_status("Một ngày lễ mới của gói") == "unconfirmed"
    assert date(2027, 11, 24) in {d.day for d in cal.year_days(2027) if not d.confirmed}


def test_overrides_say_who_entered_them() -> None:
    day = date(2027, 11, 24)
    document = WorkingCalendar([CalendarOverride(day, OverrideKind.OFF, "Nghị quyết X")])
    admin = WorkingCalendar(
        [CalendarOverride(day, OverrideKind.WORK, "Công văn Y", origin=OverrideOrigin.ADMIN)]
    )
    assert document.day_info(day).source is DaySource.DOCUMENT
    assert not document.is_working_day(day) and document.day_info(day).confirmed
    assert admin.day_info(day).source is DaySource.ADMIN and admin.is_working_day(day)
    assert "Công văn Y" in admin.day_info(day).source_vi
    assert admin.describe_day(day).startswith("ngày làm việc theo")  # a weekday: no "bù"
