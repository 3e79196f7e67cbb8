"""The breach monitor (Thanh tra): every open case (not closed, rejected or merged) that
is overdue or at risk, most late first. The page (``/thanh-tra/``) and the JSON API
(``GET /api/v1/oversight/breaches``) both show one page of it and its counts.

Each case carries two promises: the acknowledgement (``ack``: 24 hours, or the statutory
acceptance time for complaints and denunciations) until ``acknowledged_at`` is set, and the
answer (``response``) until ``answered_at`` is set. A promise is **overdue** when its due
time has passed (``due < now``, the rule of ``feedback.services.metrics``: the dashboard's
``overdue_open`` is the number of rows here whose answer is overdue) and **at risk** when
its warning milestone has come (``feedback.domain.sla.milestones`` with the kind's policy
thresholds). While a case waits for the citizen under a policy that stops the clock, its
answer is neither overdue nor at risk (``feedback.services.sla.overdue_condition``, the
sweep and the dashboard agree).

The rules are exact in SQL (``rules``): the acknowledgement warning is a per-kind number of
hours before the due time; the answer warning (the morning of the N-th working day counted
back from the due day) only moves forward with the due date, so for each N it becomes a
cutoff computed once per request (``response_cutoff``). One aggregate query counts, one
query picks the page's cases in order (the due time of the earliest flagged promise, then
the code), both on the partial index of open cases; only the page's rows go through the
Python arithmetic (``_flag``) for their promise details. Nothing about the reporter is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from ..domain.calendar import LOCAL_TZ, WorkingCalendar
from ..domain.deadlines import end_of_local_day, local_date
from ..domain.sla import (
    Clock,
    Milestone,
    Thresholds,
    milestones,
    response_warning_at,
    start_of_local_day,
)
from ..domain.states import Status
from ..extensions import db
from ..models import CASE_KINDS, CHANNELS, Area, Case, Category, SlaPolicy, Unit
from ..models.case import OPEN_STATUS_VALUES
from .api_input import CODE
from .errors import ValidationError
from .policies import load_calendar
from .sla import pausing_kinds, thresholds

OVERDUE, AT_RISK, ALL = "overdue", "at_risk", "all"
STATES = (OVERDUE, AT_RISK, ALL)
STATE_LABELS = {OVERDUE: "Quá hạn", AT_RISK: "Sắp đến hạn", ALL: "Tất cả"}
FILTERS = ("unit", "kind", "channel", "area", "category", "state")
RESPONSE_LABEL = "trả lời"
NO_THRESHOLDS = Thresholds(None, None)
PAGING = ("page", "per_page")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000
_DIGITS = re.compile(r"[0-9]{1,7}")

_REFERENCES: tuple[tuple[str, type[Unit] | type[Area] | type[Category], str], ...] = (
    ("unit", Unit, "Không có đơn vị mã này."),
    ("area", Area, "Không có xã, phường mã này."),
    ("category", Category, "Không có lĩnh vực mã này."),
)


@dataclass(frozen=True)
class Filters:
    """A checked set of filters; the same ones narrow the dashboard's figures."""

    unit: Unit | None = None
    kind: str | None = None
    channel: str | None = None
    area: Area | None = None
    category: Category | None = None
    state: str = ALL

    def conditions(self) -> list[ColumnElement[bool]]:
        """On ``Case`` columns only, so ``metrics.load_rows(where=...)`` can take them."""
        found: list[ColumnElement[bool]] = []
        for column, row in (
            (Case.handling_unit_id, self.unit),
            (Case.area_id, self.area),
            (Case.category_id, self.category),
        ):
            if row is not None:
                found.append(column == row.id)
        if self.kind is not None:
            found.append(Case.kind == self.kind)
        if self.channel is not None:
            found.append(Case.channel == self.channel)
        return found

    def params(self, *, state: bool = True) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        found = {
            name: row.code
            for name, row in (("unit", self.unit), ("area", self.area), ("category", self.category))
            if row is not None
        }
        found.update({k: v for k, v in (("kind", self.kind), ("channel", self.channel)) if v})
        if state and self.state != ALL:
            found["state"] = self.state
        return found


def parse_filters(args: Mapping[str, str]) -> Filters:
    """Check the known parameters (others are ignored); every bad one is named at once."""
    given = {name: (args.get(name) or "").strip() for name in FILTERS}
    errors: dict[str, str] = {}
    found: dict[str, Any] = {}
    for name, model, message in _REFERENCES:
        if given[name]:
            # Only a well-formed code is looked up: PostgreSQL refuses NUL bytes outright.
            code = given[name][:32]
            row = (
                db.session.scalar(select(model).where(model.code == code))
                if CODE.fullmatch(code.upper())
                else None
            )
            if row is None:
                errors[name] = message
            found[name] = row
    for name, allowed in (("kind", CASE_KINDS), ("channel", CHANNELS), ("state", STATES)):
        if given[name]:
            if given[name] in allowed:
                found[name] = given[name]
            else:
                errors[name] = f"Giá trị phải là một trong: {', '.join(allowed)}."
    if errors:
        raise ValidationError("Bộ lọc không hợp lệ.", errors)
    return Filters(**found)


def _int_param(
    args: Mapping[str, str], name: str, default: int, high: int, errors: dict[str, str]
) -> int:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= high:
        errors[name] = f"Phải là số nguyên từ 1 đến {high}."
        return default
    return int(text)


def parse_request(
    args: Mapping[str, str], *, default_per_page: int = DEFAULT_PER_PAGE
) -> tuple[Filters, int, int]:
    """The filters, ``page`` and ``per_page`` (1 to ``MAX_PER_PAGE``); every bad parameter
    is named at once."""
    errors: dict[str, str] = {}
    page = _int_param(args, "page", 1, MAX_PAGE, errors)
    per_page = _int_param(args, "per_page", default_per_page, MAX_PER_PAGE, errors)
    try:
        filters = parse_filters(args)
    except ValidationError as exc:
        raise ValidationError(exc.message, exc.fields | errors) from None
    if errors:
        raise ValidationError("Tham số phân trang không hợp lệ.", errors)
    return filters, page, per_page


def duration_text(seconds: float) -> str:
    """A span as staff say it: "2 ngày 3 giờ", "5 giờ", "40 phút" (rounded down)."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    if hours:
        return f"{hours} giờ"
    minutes = rest // 60
    return f"{minutes} phút" if minutes else "dưới 1 phút"


def ack_label(policy: SlaPolicy | None) -> str:
    if policy is None or policy.ack_hours:
        return f"phản hồi {policy.ack_hours if policy else 24} giờ"
    working = " làm việc" if policy.ack_day_type == "working" else ""
    return f"thụ lý {policy.ack_days} ngày{working}"


def _promise(name: str, label: str, due: datetime, state: str, now: datetime) -> dict[str, Any]:
    late = (now - due).total_seconds()
    text = duration_text(late)
    return {
        "promise": name,
        "label": label,
        "due_at": due,
        "state": state,
        "late_seconds": int(late),
        "text": f"quá hạn {text}" if state == OVERDUE else f"còn {text}",
    }


def _flag(
    r: Any, policy: SlaPolicy | None, calendar: WorkingCalendar, now: datetime
) -> list[dict[str, Any]]:
    """The case's promises that are overdue or at risk, the earliest due first."""
    clock = Clock(
        ack_due_at=r.ack_due_at,
        response_due_at=r.response_due_at,
        acknowledged=r.acknowledged_at is not None,
        answered=r.answered_at is not None,
        paused=r.status == Status.WAITING_CITIZEN.value
        and bool(policy is not None and policy.pause_when_waiting),
    )
    limits = thresholds(policy) if policy is not None else NO_THRESHOLDS
    warnings = {m: at for m, at in milestones(clock, limits, calendar) if not m.is_breach}
    flagged = []
    for name, label, pending, due, warning in (
        ("ack", ack_label(policy), not clock.acknowledged, r.ack_due_at, Milestone.ACK_WARNING),
        ("response", RESPONSE_LABEL, not (clock.answered or clock.paused), r.response_due_at,
         Milestone.RESPONSE_WARNING),
    ):  # fmt: skip
        if not pending:
            continue
        if due < now:  # the due second itself is on time, as in metrics
            flagged.append(_promise(name, label, due, OVERDUE, now))
        elif warning in warnings and warnings[warning] <= now:
            flagged.append(_promise(name, label, due, AT_RISK, now))
    return sorted(flagged, key=lambda p: p["due_at"])


# --- the flag rules in SQL ------------------------------------------------------------------

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

    @property
    def flagged(self) -> ColumnElement[bool]:
        return or_(self.ack_flagged, self.response_flagged)

    @property
    def overdue(self) -> ColumnElement[bool]:
        return or_(self.ack_overdue, self.response_overdue)

    def state(self, state: str) -> ColumnElement[bool]:
        if state == OVERDUE:
            return self.overdue
        if state == AT_RISK:
            return and_(self.flagged, not_(self.overdue))
        return self.flagged

    @property
    def due(self) -> ColumnElement[datetime]:
        """The due time of the case's earliest flagged promise (the sort key)."""
        return case(
            (
                and_(
                    self.ack_flagged,
                    or_(not_(self.response_flagged), Case.ack_due_at <= Case.response_due_at),
                ),
                Case.ack_due_at,
            ),
            else_=Case.response_due_at,
        )


def rules(now: datetime, policies: Mapping[str, SlaPolicy], calendar: WorkingCalendar) -> Rules:
    """The exact rules of ``_flag``: a promise pending and past due (``due < now``), or
    pending, not yet due and past its kind's warning (``thresholds(policy)``; none when the
    threshold is empty or 0, nor for a kind without a policy)."""
    ack_pending = Case.acknowledged_at.is_(None)
    response_pending: ColumnElement[bool] = Case.answered_at.is_(None)
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
        ack_overdue=and_(ack_pending, Case.ack_due_at < now),
        response_overdue=and_(response_pending, Case.response_due_at < now),
        ack_flagged=and_(ack_pending, or_(Case.ack_due_at < now, *ack_soon)),
        response_flagged=and_(response_pending, or_(Case.response_due_at < now, *response_soon)),
    )


# --- reading -------------------------------------------------------------------------------

EMPTY_COUNTS = {"overdue": 0, "response_overdue": 0, "ack_overdue_only": 0, "at_risk": 0,
                "total": 0}  # fmt: skip


@dataclass(frozen=True)
class MonitorPage:
    """One page of the monitor and the counts of every flagged case under the filters."""

    rows: list[dict[str, Any]]
    counts: dict[str, int]
    state: str
    page: int
    per_page: int

    @property
    def total(self) -> int:
        """The cases listed under ``state``, on every page."""
        return self.counts["total" if self.state == ALL else self.state]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class _Context:
    """What one request reads once: the policies, the calendar and the SQL rules."""

    def __init__(self, now: datetime, filters: Filters) -> None:
        self.now, self.filters = now, filters
        self.policies = {p.kind: p for p in db.session.scalars(select(SlaPolicy))}
        self.calendar = load_calendar()
        self.rules = rules(now, self.policies, self.calendar)

    def where(self, condition: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        return [OPEN_CONDITION, *self.filters.conditions(), condition]

    def page(self, state: str, limit: int, offset: int) -> tuple[list[int], dict[str, int]]:
        """The ids of one page of the cases under ``state`` (most late first) and the
        counts of every flagged case (``state`` ignored), in one statement: the flagged
        cases are found once (a CTE used twice is materialised by SQLite and PostgreSQL),
        counted by one aggregate and paged; the counts come even past the last page."""
        r = self.rules
        found = (
            select(
                Case.id.label("id"),
                Case.code.label("code"),
                r.due.label("due"),
                r.overdue.label("overdue"),
                r.response_overdue.label("response_overdue"),
            )
            .where(*self.where(r.flagged))
            .cte("flagged")
        )
        totals = select(
            func.count().label("total"),
            func.count(case((found.c.overdue, 1))).label("overdue"),
            func.count(case((found.c.response_overdue, 1))).label("response_overdue"),
        ).subquery("totals")
        if state == OVERDUE:
            wanted: list[ColumnElement[bool]] = [found.c.overdue]
        else:
            wanted = [not_(found.c.overdue)] if state == AT_RISK else []
        rows = (
            select(found.c.id, found.c.due, found.c.code)
            .where(*wanted)
            .order_by(found.c.due, found.c.code)
            .limit(limit)
            .offset(offset or None)
            .subquery("page")
        )
        result = db.session.execute(
            select(totals.c.total, totals.c.overdue, totals.c.response_overdue, rows.c.id)
            .select_from(totals.outerjoin(rows, true()))
            .order_by(rows.c.due, rows.c.code)
        ).all()
        total, overdue, response_overdue = result[0][:3]
        counts = {
            "overdue": overdue,
            "response_overdue": response_overdue,
            "ack_overdue_only": overdue - response_overdue,
            "at_risk": total - overdue,
            "total": total,
        }
        return [row.id for row in result if row.id is not None], counts

    def ids(self, state: str) -> list[int]:
        """Every flagged case under ``state``, most late first."""
        return list(
            db.session.scalars(
                select(Case.id)
                .where(*self.where(self.rules.state(state)))
                .order_by(self.rules.due, Case.code)
            )
        )

    def rows(self, ids: list[int]) -> list[dict[str, Any]]:
        """The cases ``ids`` in that order, with their promises (``_flag``)."""
        found = {}
        for chunk in range(0, len(ids), 500):
            for r in db.session.execute(_DETAILS.where(Case.id.in_(ids[chunk : chunk + 500]))):
                promises = _flag(r, self.policies.get(r.kind), self.calendar, self.now)
                if promises:  # always, as the SQL and _flag apply the same rules
                    found[r.id] = _row(r, promises)
        return [found[i] for i in ids if i in found]


_DETAILS = (
    select(
        Case.id,
        Case.code,
        Case.kind,
        Case.channel,
        Case.status,
        Case.ack_due_at,
        Case.response_due_at,
        Case.acknowledged_at,
        Case.answered_at,
        Unit.code.label("unit_code"),
        Unit.name.label("unit_name"),
        Area.code.label("area_code"),
        Area.name.label("area_name"),
        Category.code.label("category_code"),
        Category.name.label("category_name"),
    )
    .join(Unit, Case.handling_unit_id == Unit.id)
    .outerjoin(Area, Case.area_id == Area.id)
    .outerjoin(Category, Case.category_id == Category.id)
)


def _row(r: Any, promises: list[dict[str, Any]]) -> dict[str, Any]:
    first = promises[0]
    return {
        "code": r.code,
        "kind": r.kind,
        "channel": r.channel,
        "status": r.status,
        "unit": {"code": r.unit_code, "name": r.unit_name},
        "area": {"code": r.area_code, "name": r.area_name} if r.area_code else None,
        "category": (
            {"code": r.category_code, "name": r.category_name} if r.category_code else None
        ),
        "state": OVERDUE if any(p["state"] == OVERDUE for p in promises) else AT_RISK,
        "promise": first["promise"],
        "promise_label": first["label"],
        "due_at": first["due_at"],
        "late_seconds": first["late_seconds"],
        "text": first["text"],
        "promises": promises,
        "response_overdue": any(
            p["promise"] == "response" and p["state"] == OVERDUE for p in promises
        ),
    }


def monitor_page(
    now: datetime,
    filters: Filters | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> MonitorPage:
    """Page ``page`` of the monitor (``per_page`` rows) under ``filters`` and their
    ``state``, and the counts: one statement, however many cases are flagged."""
    filters = filters or Filters()
    context = _Context(now, filters)
    ids, counts = context.page(filters.state, per_page, (page - 1) * per_page)
    return MonitorPage(context.rows(ids), counts, filters.state, page, per_page)


def flagged(now: datetime, filters: Filters | None = None) -> list[dict[str, Any]]:
    """Every open case overdue or at risk under ``filters`` (its ``state`` ignored),
    unpaged: for small sets and checks (the page and the API use ``monitor_page``)."""
    context = _Context(now, filters or Filters())
    return context.rows(context.ids(ALL))


def select_state(rows: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
    return rows if state == ALL else [r for r in rows if r["state"] == state]


def breaches(
    now: datetime, filters: Filters | Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The monitor's rows, unpaged. ``filters`` may be raw parameters (``unit``, ``kind``,
    ``channel``, ``area``, ``category`` codes, ``state`` = overdue | at_risk | all): bad
    ones raise ValidationError naming each."""
    if filters is None or isinstance(filters, Filters):
        checked = filters or Filters()
    else:
        checked = parse_filters(filters)
    context = _Context(now, checked)
    return context.rows(context.ids(checked.state))


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """``response_overdue`` is the dashboard's ``overdue_open`` for the same filters."""
    overdue = [r for r in rows if r["state"] == OVERDUE]
    return {
        "overdue": len(overdue),
        "response_overdue": sum(r["response_overdue"] for r in rows),
        "ack_overdue_only": sum(not r["response_overdue"] for r in overdue),
        "at_risk": len(rows) - len(overdue),
        "total": len(rows),
    }


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row for the JSON API: times in ISO 8601 with the local offset."""

    return {k: _jsonable(v) for k, v in row.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return [_jsonable(v) for v in value] if isinstance(value, list) else value
