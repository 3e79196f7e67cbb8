"""The admin's calendar: overrides (days off and make-up working days the government
announces each year), confirmation of the days the package alone lists, the yearly
readiness check, and the re-timing of open cases that follows an edit.

Decisions this module takes (see also ``feedback.domain.calendar``):

- **Unconfirmed package days do not change deadlines.** A day the ``holidays`` package
  lists that no law or document confirms (24 November, "Ngày Văn hóa Việt Nam", from
  2026) counts by the week rule until an admin confirms it (an ``off`` override citing
  the document that makes it a day off) or rejects it (a ``work`` override citing why it
  is worked). The calendar page lists such days as "chưa xác nhận" and the morning digest
  reminds admins and coordinators of those still ahead.
- **Readiness of the coming year.** From the day of the year in the setting
  ``calendar_readiness_from`` (``MM-DD``, default ``09-01``), the next year is "not
  ready" until it has an override citing a document for a day of that year, or an
  explicit "year decided" record (:class:`~feedback.models.CalendarYear`);
  :func:`calendar_readiness` says which of its days rest only on package rules, for the
  page, the digest and ``flask check``.
- **Edits change only forward.** Every edit re-times open cases with
  ``recompute(calendar_edit=True)``: the same obligation (no second warning or breach), a
  due time already passed never moves, and an edit never makes a running due time pass.
  Removing an override just added therefore restores every due time exactly. Before
  saving, the page shows how many open cases the change re-times (:func:`preview`), and
  the change and that number are audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from ...domain.calendar import (
    CalendarOverride as DomainOverride,
)
from ...domain.calendar import (
    DayInfo,
    OverrideKind,
    OverrideOrigin,
    WorkingCalendar,
)
from ...domain.deadlines import local_date
from ...domain.marks import N_
from ...extensions import db
from ...models import CalendarOverride, CalendarYear, User
from ..accounts import audit
from ..errors import NotFound, ValidationError
from ..handling.deadlines import derive, open_cases_query, recompute
from .policies import load_calendar
from .settings import get_setting

READINESS_SETTING = "calendar_readiness_from"
READINESS_DEFAULT = "09-01"
KIND_LABELS = {"off": N_("ngày nghỉ"), "work": N_("ngày làm việc")}


def _actor(actor: User | None) -> tuple[int | None, str] | None:
    return (actor.id, actor.full_name or actor.username) if actor is not None else None


# -- what a change would do --------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What saving a change would do: the sentence to confirm and the open cases it
    re-times (and how many keep a due time already passed)."""

    description: str
    retimed: int
    kept: int


def _current_rows() -> list[CalendarOverride]:
    return list(db.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)))


def _calendar_of(rows: list[tuple[date, str, str, str, str]]) -> WorkingCalendar:
    return WorkingCalendar(
        DomainOverride(d, OverrideKind(k), s, n, OverrideOrigin(o)) for d, k, s, n, o in rows
    )


def _count(calendar: WorkingCalendar, now: datetime) -> tuple[int, int]:
    """(cases whose stored due times the calendar would move, cases that keep a passed
    due time instead), by the rule ``recompute(calendar_edit=True)`` applies."""
    retimed = kept = 0
    for case in db.session.scalars(open_cases_query()):
        derived = derive(case, calendar)
        moved = held = False
        for before, after in (
            (case.ack_due_at, derived.ack_due_at),
            (case.response_due_at, derived.response_due_at),
        ):
            if after == before:
                continue
            if before <= now or after <= now:
                held = True
            else:
                moved = True
        retimed += moved
        kept += held and not moved
    return retimed, kept


def _check(day: date, kind: str, source: str) -> str:
    errors: dict[str, str] = {}
    if kind not in KIND_LABELS:
        errors["kind"] = N_("Chọn «nghỉ» hoặc «làm bù».")
    source = (source or "").strip()
    if len(source) < 5:
        errors["source"] = N_("Ghi số, ngày và cơ quan ban hành văn bản thông báo.")
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        errors["day"] = N_("Ngày không hợp lệ.")
    if errors:
        raise ValidationError(N_("Chưa lưu được điều chỉnh lịch."), errors)
    return source


def preview_add(day: date, kind: str, source: str, note: str, *, now: datetime) -> Preview:
    """What adding (or changing) the override of ``day`` would do; nothing is written."""
    source = _check(day, kind, source)
    rows = [(r.day, r.kind, r.source, r.note, r.origin) for r in _current_rows() if r.day != day]
    rows.append((day, kind, source, note.strip(), "admin"))
    retimed, kept = _count(_calendar_of(sorted(rows)), now)
    description = N_(
        "Ghi ngày %(day)s là %(kind)s theo %(source)s",
        day=f"{day:%d/%m/%Y}",
        kind=KIND_LABELS[kind],
        source=source,
    )
    return Preview(description, retimed, kept)


def preview_remove(override_id: int, *, now: datetime) -> Preview:
    """What removing one override would do; nothing is written."""
    row = db.session.get(CalendarOverride, override_id)
    if row is None:
        raise NotFound(N_("Không có điều chỉnh lịch này."))
    rows = [(r.day, r.kind, r.source, r.note, r.origin) for r in _current_rows() if r.id != row.id]
    retimed, kept = _count(_calendar_of(rows), now)
    description = N_(
        "Bỏ điều chỉnh ngày %(day)s (%(kind)s theo %(source)s)",
        day=f"{row.day:%d/%m/%Y}",
        kind=KIND_LABELS[row.kind],
        source=row.source,
    )
    return Preview(description, retimed, kept)


# -- changes ------------------------------------------------------------------------------


def _retime(now: datetime, reason: str) -> int:
    calendar = load_calendar()
    moved = 0
    for case in db.session.scalars(open_cases_query()):
        moved += recompute(case, now, reason, calendar, calendar_edit=True)
    return moved


def add_override(
    day: date,
    kind: str,
    source: str,
    note: str,
    *,
    now: datetime,
    actor: User | None = None,
    origin: str = "admin",
) -> int:
    """Add or change the override of ``day``; returns how many open cases were re-timed.
    Confirming a package day is an ``off`` override, rejecting it a ``work`` one."""
    source = _check(day, kind, source)
    row = db.session.scalar(select(CalendarOverride).where(CalendarOverride.day == day))
    if row is None:
        row = CalendarOverride(
            day=day, kind=kind, source=source, note=note.strip(), origin=origin, created_at=now
        )
        db.session.add(row)
    else:
        row.kind, row.source, row.note, row.origin = kind, source, note.strip(), origin
    db.session.flush()
    moved = _retime(
        now,
        N_(
            "lịch thay đổi: %(day)s là %(kind)s theo %(source)s",
            day=f"{day:%d/%m/%Y}",
            kind=KIND_LABELS[kind],
            source=source,
        ),
    )
    audit.record(
        "calendar.retime",
        actor=_actor(actor),
        target=day.isoformat(),
        details={"change": "add", "kind": kind, "source": source, "cases_retimed": moved},
    )
    return moved


def remove_override(override_id: int, *, now: datetime, actor: User | None = None) -> int:
    """Remove one override; returns how many open cases were re-timed."""
    row = db.session.get(CalendarOverride, override_id)
    if row is None:
        raise NotFound(N_("Không có điều chỉnh lịch này."))
    day = row.day
    db.session.delete(row)
    db.session.flush()
    moved = _retime(now, N_("bỏ điều chỉnh lịch ngày %(day)s", day=f"{day:%d/%m/%Y}"))
    audit.record(
        "calendar.retime",
        actor=_actor(actor),
        target=day.isoformat(),
        details={"change": "remove", "cases_retimed": moved},
    )
    return moved


def confirm_year(
    year: int, source: str, note: str = "", *, now: datetime, actor: User | None = None
) -> CalendarYear:
    """Record that ``year``'s calendar is decided (the government's notice is entered or
    adds nothing): the autumn reminder for that year stops."""
    source = (source or "").strip()
    errors: dict[str, str] = {}
    if len(source) < 5:
        errors["source"] = N_("Ghi số, ngày và cơ quan ban hành văn bản về lịch nghỉ của năm.")
    if not 2000 <= year <= 2100:
        errors["year"] = N_("Năm phải từ 2000 đến 2100.")
    if errors:
        raise ValidationError(N_("Chưa ghi được xác nhận lịch năm."), errors)
    row = db.session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, source=source, note=note.strip(), confirmed_at=now)
        db.session.add(row)
    row.source, row.note, row.confirmed_at = source, note.strip(), now
    row.confirmed_by_id = actor.id if actor is not None else None
    db.session.flush()
    return row


# -- what the admin is shown --------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    """How ready ``year``'s calendar is. ``decided``: a document for the year is entered
    (``decisions`` names them); ``remind``: the reminder period has come and the year is
    not decided; ``package_only``: the year's special days that rest only on the package
    while undecided; ``unconfirmed``: package days neither law nor document confirms."""

    year: int
    decided: bool
    remind: bool
    remind_from: date
    decisions: list[str] = field(default_factory=list)
    package_only: list[DayInfo] = field(default_factory=list)
    unconfirmed: list[DayInfo] = field(default_factory=list)

    @property
    def message(self) -> str:
        """The reminder sentence (Vietnamese, marked: a page shows it with ``translated``)
        for the page and the digest."""
        if self.decided:
            return N_(
                "Lịch làm việc năm %(year)s đã có văn bản: %(documents)s.",
                year=self.year,
                documents="; ".join(self.decisions),
            )
        return N_(
            "Chưa nhập văn bản của Chính phủ về lịch nghỉ năm %(year)s: "
            "%(count)s ngày của năm %(year)s đang chỉ dựa vào quy tắc của "
            "gói holidays. Khi có thông báo nghỉ lễ, Tết của năm, xin ghi các ngày nghỉ, "
            "ngày làm bù kèm văn bản, hoặc xác nhận lịch năm nếu văn bản không thay đổi gì.",
            year=self.year,
            count=len(self.package_only),
        )


def _remind_from(year: int) -> date:
    text = get_setting(READINESS_SETTING, READINESS_DEFAULT)
    try:
        month, day = (int(part) for part in text.split("-"))
        return date(year - 1, month, day)
    except ValueError:
        return date(year - 1, 9, 1)


def calendar_readiness(year: int, now: datetime) -> Readiness:
    """Whether ``year``'s calendar is decided, and whether to remind now (``flask check``,
    the calendar page and the morning digest call this)."""
    calendar = load_calendar()
    decisions = sorted(
        {
            r.source
            for r in _current_rows()
            if r.day.year == year and r.source  # every override cites its document
        }
    )
    marked = db.session.get(CalendarYear, year)
    if marked is not None:
        decisions.insert(0, marked.source)
    days = calendar.year_days(year)
    decided = bool(decisions)
    package_only = [] if decided else [d for d in days if d.source.value in {"law", "package"}]
    since = _remind_from(year)
    return Readiness(
        year=year,
        decided=decided,
        remind=not decided and local_date(now) >= since,
        remind_from=since,
        decisions=decisions,
        package_only=package_only,
        unconfirmed=[d for d in days if not d.confirmed],
    )


def pending_reminders(now: datetime) -> list[str]:
    """The calendar's open questions for admins and coordinators, in Vietnamese: the
    coming year when its reminder is due, and unconfirmed package days still ahead (this
    year and next). Empty when there is nothing to decide."""
    today = local_date(now)
    lines: list[str] = []
    for year in (today.year, today.year + 1):
        readiness = calendar_readiness(year, now)
        if readiness.remind:
            lines.append(readiness.message)
        for info in readiness.unconfirmed:
            if info.day >= today:
                counted = N_("ngày làm việc") if info.working else N_("ngày nghỉ cuối tuần")
                lines.append(
                    N_(
                        "Ngày %(day)s («%(name)s»): chưa xác nhận — chỉ gói holidays ghi là "
                        "ngày nghỉ, chưa có văn bản; hệ thống đang tính là %(counted)s cho "
                        "đến khi quản trị viên xác nhận hoặc bác bỏ.",
                        day=f"{info.day:%d/%m/%Y}",
                        name=info.name,
                        counted=counted,
                    )
                )
    return lines


def year_overview(year: int) -> list[DayInfo]:
    """Every special day of ``year`` with where it comes from and whether it is confirmed."""
    return load_calendar().year_days(year)
