"""The breach monitor (Thanh tra): every open case (not closed, rejected or merged) that
is overdue or at risk, most late first. The page (``/thanh-tra/``) and the JSON API
(``GET /api/v1/oversight/breaches``) both show one page of it and its counts.

Each case carries two promises: the acknowledgement (``ack``: 24 hours, or the statutory
acceptance time for complaints and denunciations) until ``acknowledged_at`` is set, and the
answer (``response``) until ``answered_at`` is set. A promise is **overdue** when its due
time has passed (``due < now``, the rule of ``feedback.services.oversight.metrics``: the dashboard's
``overdue_open`` is the number of rows here whose answer is overdue) and **at risk** when
its warning milestone has come (``feedback.domain.sla.milestones`` with the kind's policy
thresholds). While a case waits for the citizen under a policy that stops the clock, its
answer is neither overdue nor at risk (``feedback.services.sla.sweep.overdue_condition``, the
sweep and the dashboard agree).

A case is also flagged, **missed** (``Trễ ngày đã hẹn``), when the day its unit committed to
in a progress update (``cases.committed_due_at``) has passed and it is still unanswered; it
is counted apart (``missed_commitment``) and may also be overdue or at risk. Each row shows
the step of the escalation ladder the case reached (``escalation_level``), and the monitor
filters on it (``escalated``: level at least N).

The rules are exact in SQL (``rules``): the acknowledgement warning is a per-kind number of
hours before the due time; the answer warning (the morning of the N-th working day counted
back from the due day) only moves forward with the due date, so for each N it becomes a
cutoff computed once per request (``response_cutoff``). One statement counts and picks the
page's cases in order (the due time of the earliest flagged promise, then the committed
day, then the code), on the partial index of open cases; only the page's rows go through
the Python arithmetic (``_flag``) for their promise details. Nothing about the reporter is
read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, select, true
from sqlalchemy.sql.elements import ColumnElement

from ...domain.calendar import LOCAL_TZ, WorkingCalendar
from ...domain.marks import N_
from ...domain.sla import Clock, Milestone, Thresholds, milestones
from ...domain.states import Status
from ...extensions import db
from ...models import Area, Case, Category, SlaPolicy, Unit
from ..params import pages
from ..reference.policies import current_by_kind, load_calendar
from ..sla.sweep import thresholds
from .metrics import category_label
from .monitor_filters import ALL, AT_RISK, DEFAULT_PER_PAGE, MISSED, OVERDUE, Filters
from .monitor_rules import OPEN_CONDITION, rules

# Marked (N_): the page shows the promise's name and how late it is with |translated; the
# JSON API keeps the Vietnamese text.
RESPONSE_LABEL = N_("trả lời")
COMMITMENT_LABEL = N_("ngày đã hẹn trả lời")
NO_THRESHOLDS = Thresholds(None, None)


def _count(n: int, one: str, many: str) -> str:
    """ "1 giờ" or "3 giờ": English says "1 hour" but "3 hours", so one has its own text."""
    return one if n == 1 else N_(many, n=n)


def duration_text(seconds: float) -> str:
    """A span as staff say it: "2 ngày 3 giờ", "5 giờ", "40 phút" (rounded down). Marked
    (N_): the page shows it in the reader's language."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    hours_text = _count(hours, N_("1 giờ"), N_("%(n)s giờ"))
    if days:
        days_text = _count(days, N_("1 ngày"), N_("%(n)s ngày"))
        return N_("%(days)s %(hours)s", days=days_text, hours=hours_text) if hours else days_text
    if hours:
        return hours_text
    minutes = rest // 60
    return _count(minutes, N_("1 phút"), N_("%(n)s phút")) if minutes else N_("dưới 1 phút")


def ack_label(policy: SlaPolicy | None) -> str:
    if policy is None or policy.ack_hours:
        return N_("phản hồi %(hours)s giờ", hours=policy.ack_hours if policy else 24)
    if policy.ack_day_type == "working":
        return N_("thụ lý %(days)s ngày làm việc", days=policy.ack_days)
    return N_("thụ lý %(days)s ngày", days=policy.ack_days)


def _promise(name: str, label: str, due: datetime, state: str, now: datetime) -> dict[str, Any]:
    late = (now - due).total_seconds()
    text = duration_text(late)
    return {
        "promise": name,
        "label": label,
        "due_at": due,
        "state": state,
        "late_seconds": int(late),
        "text": (
            N_("quá hạn %(span)s", span=text)
            if state == OVERDUE
            else N_("trễ %(span)s", span=text)
            if state == MISSED
            else N_("còn %(span)s", span=text)
        ),
    }


def _flag(
    r: Any, policy: SlaPolicy | None, calendar: WorkingCalendar, now: datetime
) -> list[dict[str, Any]]:
    """The case's promises that are overdue or at risk, the earliest due first; then the
    committed day when it has passed unanswered (state ``missed``)."""
    clock = Clock(
        ack_due_at=r.ack_due_at,
        response_due_at=r.response_due_at,
        acknowledged=r.acknowledged_at is not None,
        answered=r.answered_at is not None,
        paused=(
            r.status == Status.WAITING_CITIZEN.value
            and bool(policy is not None and policy.pause_when_waiting)
        )
        or r.suspended_since is not None,
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
    flagged.sort(key=lambda p: p["due_at"])
    committed = r.committed_due_at
    if committed is not None and r.answered_at is None and committed < now:
        flagged.append(_promise("commitment", COMMITMENT_LABEL, committed, MISSED, now))
    return flagged


# --- reading -------------------------------------------------------------------------------

EMPTY_COUNTS = {"overdue": 0, "response_overdue": 0, "ack_overdue_only": 0, "at_risk": 0,
                "missed_commitment": 0, "total": 0}  # fmt: skip


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
        key = {ALL: "total", MISSED: "missed_commitment"}.get(self.state, self.state)
        return self.counts[key]

    @property
    def pages(self) -> int:
        return pages(self.total, self.per_page)


class _Context:
    """What one request reads once: the policies, the calendar and the SQL rules."""

    def __init__(self, now: datetime, filters: Filters) -> None:
        self.now, self.filters = now, filters
        self.policies = current_by_kind(now)
        self.calendar = load_calendar()
        self.rules = rules(now, self.policies, self.calendar)

    def where(self, condition: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        return [OPEN_CONDITION, *self.filters.monitor_conditions(), condition]

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
                r.warned.label("warned"),
                r.missed.label("missed"),
            )
            .where(*self.where(r.flagged))
            .cte("flagged")
        )
        totals = select(
            func.count().label("total"),
            func.count(case((found.c.overdue, 1))).label("overdue"),
            func.count(case((found.c.response_overdue, 1))).label("response_overdue"),
            func.count(case((and_(found.c.warned, not_(found.c.overdue)), 1))).label("at_risk"),
            func.count(case((found.c.missed, 1))).label("missed"),
        ).subquery("totals")
        wanted: list[ColumnElement[bool]] = {
            OVERDUE: [found.c.overdue],
            AT_RISK: [found.c.warned, not_(found.c.overdue)],
            MISSED: [found.c.missed],
        }.get(state, [])
        rows = (
            select(found.c.id, found.c.due, found.c.code)
            .where(*wanted)
            .order_by(found.c.due, found.c.code)
            .limit(limit)
            .offset(offset or None)
            .subquery("page")
        )
        t = totals.c
        result = db.session.execute(
            select(t.total, t.overdue, t.response_overdue, t.at_risk, t.missed, rows.c.id)
            .select_from(totals.outerjoin(rows, true()))
            .order_by(rows.c.due, rows.c.code)
        ).all()
        total, overdue, response_overdue, at_risk, missed = result[0][:5]
        counts = {
            "overdue": overdue,
            "response_overdue": response_overdue,
            "ack_overdue_only": overdue - response_overdue,
            "at_risk": at_risk,
            "missed_commitment": missed,
            "total": total,
        }
        return [row.id for row in result if row.id is not None], counts

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
        Case.suspended_since,
        Case.committed_due_at,
        Case.escalation_level,
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
    states = {p["state"] for p in promises}
    state = OVERDUE if OVERDUE in states else (AT_RISK if AT_RISK in states else MISSED)
    return {
        "code": r.code,
        "kind": r.kind,
        "channel": r.channel,
        "status": r.status,
        "unit": {"code": r.unit_code, "name": r.unit_name},
        "area": {"code": r.area_code, "name": r.area_name} if r.area_code else None,
        "category": (
            {
                "code": r.category_code,
                "name": r.category_name,
                "label": category_label(r.category_code, r.category_name),
            }
            if r.category_code
            else None
        ),
        "state": state,
        "promise": first["promise"],
        "promise_label": first["label"],
        "due_at": first["due_at"],
        "late_seconds": first["late_seconds"],
        "text": first["text"],
        "promises": promises,
        "response_overdue": any(
            p["promise"] == "response" and p["state"] == OVERDUE for p in promises
        ),
        "missed_commitment": MISSED in states,
        "committed_due_at": r.committed_due_at,
        "escalation_level": r.escalation_level,
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


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """``response_overdue`` is the dashboard's ``overdue_open`` for the same filters."""
    overdue = [r for r in rows if r["state"] == OVERDUE]
    return {
        "overdue": len(overdue),
        "response_overdue": sum(r["response_overdue"] for r in rows),
        "ack_overdue_only": sum(not r["response_overdue"] for r in overdue),
        "at_risk": sum(r["state"] == AT_RISK for r in rows),
        "missed_commitment": sum(r["missed_commitment"] for r in rows),
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
