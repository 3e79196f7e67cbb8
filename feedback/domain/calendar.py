"""The working-day calendar of Vietnamese state offices.

The 6-working-day answer deadline is only as right as this calendar. Three sources are
layered, the later winning over the earlier:

1. the week: Monday to Friday are working days, Saturday and Sunday are not;
2. the ``holidays`` package (country ``VN``): Labour Code holidays, the lunar dates of Tết
   and Hùng Kings' day, observed days and the swaps it knows (a bridge day off paid back by
   a Saturday worked, which it reports in ``weekend_workdays``);
3. the project's own overrides, each citing the document that announced it, because the
   government announces days off and make-up days every year and the package may lag or
   err; an admin must be able to correct the calendar without a release.

The calendar is immutable once built and loads holiday years lazily, so one instance can
serve many deadline computations (and threads: the per-year cache is filled idempotently).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
"""Where deadlines are reasoned about: UTC+7, no daylight saving time."""

HOLIDAY_LANGUAGE = "vi"
"""Holiday names are shown to Vietnamese citizens and officers in deadline explanations."""

MAX_NON_WORKING_RUN = 366
"""Longest run of consecutive non-working days searched before giving up.

No real calendar comes close (Tết with its weekends is nine days), so hitting this bound
means broken data, e.g. overrides that turn a whole year off; failing loudly beats
looping forever inside a web request.
"""

WEEKDAY_NAMES_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


class OverrideKind(StrEnum):
    """What an announced override does to a day."""

    OFF = "off"  # an extra day off (e.g. a bridge day), even if it is a weekday
    WORK = "work"  # a make-up working day (e.g. a Saturday worked in exchange)


@dataclass(frozen=True)
class CalendarOverride:
    """One day the government announced differently from the general rules.

    ``source`` names the announcing document (e.g. "Công văn 2450/VPCP-KGVX") so that every
    deadline that depends on the override can be explained and audited.
    """

    day: date
    kind: OverrideKind
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        # Accept the plain strings a database row or a TOML file carries, but reject typos
        # at construction rather than silently treating them as "not OFF".
        object.__setattr__(self, "kind", OverrideKind(self.kind))


def weekday_name(d: date) -> str:
    """The Vietnamese name of the day of the week, for explanations."""
    return WEEKDAY_NAMES_VI[d.weekday()]


class WorkingCalendar:
    """Answers "is this a working day?" for state offices, and counts working days."""

    def __init__(self, overrides: Iterable[CalendarOverride] = (), country: str = "VN") -> None:
        by_day: dict[date, CalendarOverride] = {}
        for override in overrides:
            previous = by_day.get(override.day)
            if previous is not None and previous.kind != override.kind:
                # Two documents contradicting each other cannot be resolved by picking one
                # silently: the deadline of every case around that day would be a guess.
                raise ValueError(
                    f"Ngày {override.day:%d/%m/%Y} có hai điều chỉnh mâu thuẫn: "
                    f"«{previous.source}» và «{override.source}»."
                )
            by_day.setdefault(override.day, override)
        self._overrides = by_day
        self._country = country
        self._years: dict[int, holidays.HolidayBase] = {}
        # Fail fast on an unknown country code instead of at the first deadline; an empty
        # year list loads nothing, so this stays cheap.
        holidays.country_holidays(country, years=[], language=HOLIDAY_LANGUAGE)

    @property
    def country(self) -> str:
        """The ISO country code whose public holidays apply."""
        return self._country

    @property
    def overrides(self) -> tuple[CalendarOverride, ...]:
        """The project's overrides, sorted by day (for admin pages and explanations)."""
        return tuple(self._overrides[d] for d in sorted(self._overrides))

    def _holidays_for(self, year: int) -> holidays.HolidayBase:
        """The package's holidays of one year, loaded on first use and then cached."""
        cached = self._years.get(year)
        if cached is None:
            cached = holidays.country_holidays(self._country, years=year, language=HOLIDAY_LANGUAGE)
            self._years[year] = cached
        return cached

    def _is_package_weekend_workday(self, d: date) -> bool:
        """Whether the package lists ``d`` as a weekend day worked in exchange for a day off.

        A swap may be recorded under the year of the day off rather than of the Saturday
        worked (e.g. 27 Dec 2014 worked for 2 Jan 2015), so the neighbouring years are
        consulted too.
        """
        return any(
            d in self._holidays_for(year).weekend_workdays
            for year in (d.year - 1, d.year, d.year + 1)
        )

    def override_for(self, d: date) -> CalendarOverride | None:
        """The project's override for ``d``, if any (it decides the day on its own)."""
        return self._overrides.get(d)

    def holiday_name(self, d: date) -> str | None:
        """The name of the public holiday on ``d`` according to the package, or None.

        Returned even when an override makes the day a working day, so that an explanation
        can say what was overridden.
        """
        name = self._holidays_for(d.year).get(d)
        return str(name) if name is not None else None

    def is_working_day(self, d: date) -> bool:
        """Whether state offices work on ``d``.

        Overrides win; otherwise a weekday, or a weekend day the package knows was worked,
        that is not a public holiday.
        """
        override = self._overrides.get(d)
        if override is not None:
            return override.kind is OverrideKind.WORK
        if d.weekday() >= 5 and not self._is_package_weekend_workday(d):
            return False
        return d not in self._holidays_for(d.year)

    def describe_day(self, d: date) -> str:
        """Why ``d`` is or is not a working day, in short Vietnamese (for explanations)."""
        override = self._overrides.get(d)
        if override is not None:
            what = "ngày làm việc bù" if override.kind is OverrideKind.WORK else "ngày nghỉ"
            text = f"{what} theo {override.source}"
            return f"{text} ({override.note})" if override.note else text
        holiday = self.holiday_name(d)
        if holiday is not None:
            return f"ngày lễ: {holiday}"
        if d.weekday() >= 5:
            if self._is_package_weekend_workday(d):
                return "ngày làm việc bù (hoán đổi ngày làm việc)"
            return "nghỉ cuối tuần"
        return "ngày làm việc"

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The ``n``-th working day strictly after ``d`` (n = 1 is the next working day)."""
        if n < 1:
            raise ValueError(f"n phải ≥ 1 (nhận được {n}).")
        current = d
        found = 0
        idle = 0
        while found < n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                found += 1
                idle = 0
            else:
                idle += 1
                if idle > MAX_NON_WORKING_RUN:
                    raise ValueError(
                        f"Không tìm thấy ngày làm việc nào trong {MAX_NON_WORKING_RUN} ngày "
                        f"sau {current - timedelta(days=idle):%d/%m/%Y}: kiểm tra lịch."
                    )
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]: 0 when ``end`` is not after ``start``.

        Half-open on the left so that "received on day D, answered on day E" counts the
        days the unit actually had, matching how the deadline itself is counted.
        """
        count = 0
        current = start + timedelta(days=1)
        while current <= end:
            if self.is_working_day(current):
                count += 1
            current += timedelta(days=1)
        return count


def iso_local(value: datetime | None) -> str | None:
    """ISO 8601 in Hà Giang time with its offset (``2026-03-02T09:00:00+07:00``), as the API
    and every machine-readable output show times."""
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else None
