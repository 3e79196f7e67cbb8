"""The working-day calendar of Vietnamese state offices.

The 6-working-day answer deadline is only as right as this calendar. Three sources are
layered, the later winning over the earlier:

1. the week: Monday to Friday are working days, Saturday and Sunday are not;
2. the ``holidays`` package (country ``VN``): Labour Code holidays, the lunar dates of Tết
   and Hùng Kings' day, observed days and the swaps it knows (a bridge day off paid back by
   a Saturday worked, which it reports in ``weekend_workdays``);
3. the project's own overrides, each citing the document that announced it, because the
   government announces days off and make-up days every year and the package may lag or
   err; an admin must be able to correct the calendar without a release. An override is
   either a government document shipped in the data (``document``) or an admin's entry
   (``admin``); both cite their source.

Not everything the package lists is law. Its days are sorted by name
(:data:`STATUTORY_NAMES`): the days of Labour Code 2019 art. 112 (1/1, Tết, Giỗ Tổ Hùng
Vương 10/3 âm lịch, 30/4, 1/5, 2/9 and the day before or after it) and their make-up days
when they fall on a weekend are *confirmed by law*; a swap the package copies from a
government document it cites (a bridge day off and the Saturday worked for it) is
*confirmed by that document*. Any other day the package lists (24 November, "Ngày Văn hóa
Việt Nam", listed from 2026 by holidays ≥ 0.106 although the Labour Code amendment making
it a paid day off had not been found passed; and any name a later release adds) is
**unconfirmed** ("chưa xác nhận"): it does *not* change deadlines — the day counts by the
week rule — until an admin enters an override confirming it (a day off) or rejecting it (a
working day), citing a document. Deciding the other way would let a package upgrade
silently shorten or lengthen every citizen's deadline; a deadline that errs by one day
early until an admin confirms is the smaller harm, and the calendar page and the morning
digest say which days wait. :meth:`WorkingCalendar.day_info` tells, for any day, whether it
is worked, where that comes from and whether it is confirmed.

The calendar is immutable once built and loads holiday years lazily, so one instance can
serve many deadline computations (and threads: the per-year cache is filled idempotently).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

from .marks import N_

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

# Marked for the catalogue (N_): an English page shows them through gettext (feedback.i18n).
WEEKDAY_NAMES_VI = (
    N_("Thứ Hai"),
    N_("Thứ Ba"),
    N_("Thứ Tư"),
    N_("Thứ Năm"),
    N_("Thứ Sáu"),
    N_("Thứ Bảy"),
    N_("Chủ nhật"),
)


class OverrideKind(StrEnum):
    """What an announced override does to a day."""

    OFF = "off"  # an extra day off (e.g. a bridge day), even if it is a weekday
    WORK = "work"  # a make-up working day (e.g. a Saturday worked in exchange)


class OverrideOrigin(StrEnum):
    """Who put an override into the calendar (both cite a document)."""

    DOCUMENT = "document"  # a government document shipped with the reference data
    ADMIN = "admin"  # entered by an admin on the calendar page


class DaySource(StrEnum):
    """Where the status of a day comes from, for the calendar page and explanations."""

    WEEK = "week"  # the week rule alone
    LAW = "law"  # the package, on a day of Labour Code 2019 art. 112 (confirmed by law)
    PACKAGE = "package"  # the package: a swap it copies from a document, or an unconfirmed day
    DOCUMENT = "document"  # an override shipped with the data, citing a government document
    ADMIN = "admin"  # an admin's override


STATUTORY_NAMES = frozenset(
    {
        "Tết Dương lịch",
        "29 Tết",
        "Giao thừa Tết Nguyên Đán",
        "Tết Nguyên Đán",
        "Mùng hai Tết Nguyên Đán",
        "Mùng ba Tết Nguyên Đán",
        "Mùng bốn Tết Nguyên Đán",
        "Mùng năm Tết Nguyên Đán",
        "Mùng sáu Tết Nguyên Đán",
        "Ngày Giỗ Tổ Hùng Vương",
        "Ngày Chiến thắng",
        "Ngày Quốc tế Lao động",
        "Quốc khánh",
    }
)
"""The package's Vietnamese names of the days Labour Code 2019 art. 112 gives off (with
their observed make-up days, named with a suffix). Matched by name so that a day a later
package release adds under a new name is unconfirmed by default, never silently law."""

SWAP_PREFIX = "Ngày nghỉ (thay cho ngày"
"""How the package names a bridge day off that a government document swapped."""

LAW_BASIS = N_("Bộ luật Lao động 2019, Điều 112")
_SUFFIX = re.compile(r"\s*\((?:nghỉ bù|dự kiến|nghỉ bù, dự kiến)\)$")


def package_name_status(name: str) -> str:
    """``law``, ``swap`` or ``unconfirmed`` for one holiday name of the package."""
    if name.startswith(SWAP_PREFIX):
        return "swap"
    return "law" if _SUFFIX.sub("", name) in STATUTORY_NAMES else "unconfirmed"


@dataclass(frozen=True)
class DayInfo:
    """One day of the calendar with its provenance.

    ``working`` is what deadlines use. ``confirmed`` is False only for a day the package
    lists that neither law nor a document confirms (it then counts by the week rule).
    ``name`` is the package's holiday name, ``document`` the cited source."""

    day: date
    working: bool
    source: DaySource
    confirmed: bool
    name: str | None = None
    document: str = ""
    note: str = ""

    @property
    def ordinary(self) -> bool:
        """A plain weekday worked or weekend rested, nothing to show on a calendar page."""
        return self.source is DaySource.WEEK

    @property
    def status_vi(self) -> str:
        """Short Vietnamese status for pages (marked: a page shows it with ``translated``)."""
        if not self.confirmed:
            return N_("chưa xác nhận")
        if self.working:
            return N_("ngày làm việc bù") if self.day.weekday() >= 5 else N_("ngày làm việc")
        return N_("ngày nghỉ")

    @property
    def source_vi(self) -> str:
        """Where it comes from, in Vietnamese (marked; the holiday name and the document
        are data and stay as they are)."""
        if self.source is DaySource.WEEK:
            return N_("quy tắc tuần làm việc")
        if self.source is DaySource.LAW:
            return N_(
                "gói holidays (%(name)s); xác nhận bởi %(basis)s", name=self.name, basis=LAW_BASIS
            )
        if self.source is DaySource.PACKAGE:
            if self.confirmed:
                return N_(
                    "gói holidays (%(name)s), theo văn bản của Chính phủ mà gói dẫn nguồn",
                    name=self.name or N_("hoán đổi ngày làm việc"),
                )
            return N_("chỉ có gói holidays (%(name)s); chưa có văn bản xác nhận", name=self.name)
        if self.source is DaySource.DOCUMENT:
            return N_("văn bản: %(document)s", document=self.document)
        return N_("quản trị viên ghi theo văn bản: %(document)s", document=self.document)


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
    origin: OverrideOrigin = OverrideOrigin.DOCUMENT

    def __post_init__(self) -> None:
        # Accept the plain strings a database row or a TOML file carries, but reject typos
        # at construction rather than silently treating them as "not OFF".
        object.__setattr__(self, "kind", OverrideKind(self.kind))
        object.__setattr__(self, "origin", OverrideOrigin(self.origin))


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
                    N_(
                        "Ngày %(day)s có hai điều chỉnh mâu thuẫn: «%(first)s» và «%(second)s».",
                        day=f"{override.day:%d/%m/%Y}",
                        first=previous.source,
                        second=override.source,
                    )
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

    def package_names(self, d: date) -> list[str]:
        """Every name the package gives ``d`` (a day may carry two)."""
        return [str(n) for n in self._holidays_for(d.year).get_list(d)]

    def day_info(self, d: date) -> DayInfo:
        """Whether state offices work on ``d``, where that comes from, and whether it is
        confirmed (see the module docstring for the order of the sources)."""
        names = self.package_names(d)
        name = "; ".join(names) or None
        override = self._overrides.get(d)
        if override is not None:
            source = (
                DaySource.ADMIN if override.origin is OverrideOrigin.ADMIN else DaySource.DOCUMENT
            )
            return DayInfo(
                d,
                override.kind is OverrideKind.WORK,
                source,
                True,
                name,
                override.source,
                override.note,
            )
        statuses = {package_name_status(n) for n in names}
        law = [n for n in names if package_name_status(n) == "law"]
        if law:
            return DayInfo(d, False, DaySource.LAW, True, "; ".join(law), LAW_BASIS)
        if "swap" in statuses:
            return DayInfo(d, False, DaySource.PACKAGE, True, name)
        weekend = d.weekday() >= 5
        if weekend and self._is_package_weekend_workday(d):
            return DayInfo(d, True, DaySource.PACKAGE, True, name)
        if names:  # only unconfirmed names: the week rule decides until an admin does
            return DayInfo(d, not weekend, DaySource.PACKAGE, False, name)
        return DayInfo(d, not weekend, DaySource.WEEK, True)

    def is_working_day(self, d: date) -> bool:
        """Whether state offices work on ``d``.

        Overrides win; otherwise a weekday, or a weekend day the package knows was worked,
        that is not a confirmed public holiday (an unconfirmed package day is worked).
        """
        override = self._overrides.get(d)
        if override is not None:
            return override.kind is OverrideKind.WORK
        names = self.package_names(d)
        if any(package_name_status(n) != "unconfirmed" for n in names):
            return False
        if d.weekday() >= 5:
            return self._is_package_weekend_workday(d)
        return True

    def year_days(self, year: int) -> list[DayInfo]:
        """The days of ``year`` that are not plain weekdays or weekends: holidays, swaps,
        overrides and unconfirmed package days, in order (for the calendar page)."""
        days = set(self._holidays_for(year)) | {d for d in self._overrides if d.year == year}
        days |= {d for d in self._holidays_for(year).weekend_workdays if d.year == year}
        days |= {d for d in self._holidays_for(year + 1).weekend_workdays if d.year == year}
        infos = (self.day_info(d) for d in sorted(days))
        return [i for i in infos if not i.ordinary]

    def describe_day(self, d: date) -> str:
        """Why ``d`` is or is not a working day, in short Vietnamese (for explanations),
        marked: a page shows it in the reader's language (names and documents stay)."""
        override = self._overrides.get(d)
        if override is not None:
            if override.kind is OverrideKind.OFF:
                what = N_("ngày nghỉ")
            else:
                what = N_("ngày làm việc bù") if d.weekday() >= 5 else N_("ngày làm việc")
            text = N_("%(what)s theo %(source)s", what=what, source=override.source)
            if override.note:
                return N_("%(text)s (%(note)s)", text=text, note=override.note)
            return text
        info = self.day_info(d)
        if not info.confirmed:
            return N_(
                "%(what)s (gói holidays ghi «%(name)s» nhưng chưa được xác nhận: chưa tính là "
                "ngày nghỉ)",
                what=N_("ngày làm việc") if info.working else N_("nghỉ cuối tuần"),
                name=info.name,
            )
        if not info.working and info.name:
            return N_("ngày lễ: %(name)s", name=info.name)
        if d.weekday() >= 5:
            if info.working:
                return N_("ngày làm việc bù (hoán đổi ngày làm việc)")
            return N_("nghỉ cuối tuần")
        return N_("ngày làm việc")

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The ``n``-th working day strictly after ``d`` (n = 1 is the next working day)."""
        if n < 1:
            raise ValueError(N_("n phải ≥ 1 (nhận được %(n)s).", n=n))
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
                        N_(
                            "Không tìm thấy ngày làm việc nào trong %(n)s ngày sau %(day)s: "
                            "kiểm tra lịch.",
                            n=MAX_NON_WORKING_RUN,
                            day=f"{current - timedelta(days=idle):%d/%m/%Y}",
                        )
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
