"""The breach monitor (Thanh tra): every open case (not closed, rejected or merged) that
is overdue or at risk, most late first. One query for the page (``/thanh-tra/``) and the
JSON API (``GET /api/v1/oversight/breaches``).

Each case carries two promises: the acknowledgement (``ack``: 24 hours, or the statutory
acceptance time for complaints and denunciations) until ``acknowledged_at`` is set, and the
answer (``response``) until ``answered_at`` is set. A promise is **overdue** when its due
time has passed (``due < now``, the rule of ``feedback.services.metrics``: the dashboard's
``overdue_open`` is the number of rows here whose answer is overdue) and **at risk** when
its warning milestone has come (``feedback.domain.sla.milestones`` with the kind's policy
thresholds). While a case waits for the citizen under a policy that stops the clock, its
answer is neither overdue nor at risk (``feedback.services.sla.overdue_condition``, the
sweep and the dashboard agree).

SQL keeps the cases whose due times fall within the largest warning window of any policy
(indexed, generous); exact milestones are computed in Python for those rows only. One row
per case, ordered by its earliest flagged promise (``promises``, earliest due first): most
overdue first, then the at-risk ones by time left. Nothing about the reporter is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ..domain.calendar import LOCAL_TZ, WorkingCalendar
from ..domain.deadlines import end_of_local_day, local_date
from ..domain.sla import Clock, Milestone, Thresholds, milestones
from ..domain.states import OPEN_STATUSES, Status
from ..extensions import db
from ..models import CASE_KINDS, CHANNELS, Area, Case, Category, SlaPolicy, Unit
from .api_input import CODE
from .errors import ValidationError
from .policies import load_calendar
from .sla import thresholds

OVERDUE, AT_RISK, ALL = "overdue", "at_risk", "all"
STATES = (OVERDUE, AT_RISK, ALL)
STATE_LABELS = {OVERDUE: "Quá hạn", AT_RISK: "Sắp đến hạn", ALL: "Tất cả"}
FILTERS = ("unit", "kind", "channel", "area", "category", "state")
RESPONSE_LABEL = "trả lời"
NO_THRESHOLDS = Thresholds(None, None)

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


def _windows(
    policies: dict[str, SlaPolicy], calendar: WorkingCalendar, now: datetime, state: str
) -> tuple[datetime, datetime]:
    """The latest acknowledgement and answer due times that can be flagged now: the
    largest warning lead of any policy, rounded up to the end of a day (generous; the
    exact milestones are computed afterwards)."""
    if state == OVERDUE:
        return now, now
    ack_hours = max((p.warn_before_ack_hours or 0 for p in policies.values()), default=0)
    days = max((p.warn_before_response_working_days or 0 for p in policies.values()), default=0)
    response_until = now
    if days:
        last = calendar.nth_working_day_after(local_date(now), days)
        response_until = end_of_local_day(last) + timedelta(days=1)
    return now + timedelta(hours=ack_hours), response_until


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


def flagged(now: datetime, filters: Filters | None = None) -> list[dict[str, Any]]:
    """Every open case overdue or at risk under ``filters`` (its ``state`` ignored)."""
    filters = filters or Filters()
    policies = {p.kind: p for p in db.session.scalars(select(SlaPolicy))}
    calendar = load_calendar()
    ack_until, response_until = _windows(policies, calendar, now, filters.state)
    stmt = (
        select(
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
        .where(
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            *filters.conditions(),
            or_(
                and_(Case.acknowledged_at.is_(None), Case.ack_due_at <= ack_until),
                and_(Case.answered_at.is_(None), Case.response_due_at <= response_until),
            ),
        )
    )
    rows = []
    for r in db.session.execute(stmt):
        policy = policies.get(r.kind)
        promises = _flag(r, policy, calendar, now)
        if not promises:
            continue
        first = promises[0]
        rows.append(
            {
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
        )
    rows.sort(key=lambda row: (row["due_at"], row["code"]))
    return rows


def select_state(rows: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
    return rows if state == ALL else [r for r in rows if r["state"] == state]


def breaches(
    now: datetime, filters: Filters | Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The monitor's rows. ``filters`` may be raw parameters (``unit``, ``kind``,
    ``channel``, ``area``, ``category`` codes, ``state`` = overdue | at_risk | all): bad
    ones raise ValidationError naming each."""
    if filters is None or isinstance(filters, Filters):
        checked = filters or Filters()
    else:
        checked = parse_filters(filters)
    return select_state(flagged(now, checked), checked.state)


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
