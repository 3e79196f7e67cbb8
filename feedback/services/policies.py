"""Reading the calendar, SLA policies and routing rules out of the database into the
pure domain objects that do the arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..domain.calendar import CalendarOverride as DomainOverride
from ..domain.calendar import OverrideKind, WorkingCalendar
from ..domain.deadlines import CountFrom, DayType, Deadlines, compute_deadlines
from ..domain.deadlines import SlaPolicy as DomainPolicy
from ..domain.routing import HandlingTarget, Route, RoutingRule, route_case
from ..extensions import db
from ..models import Area, CalendarOverride, Category, SlaPolicy, Unit
from ..models import RoutingRule as RuleRow
from .errors import ValidationError

if TYPE_CHECKING:
    from .reference_cache import Reference

_calendars: dict[tuple[tuple[Any, ...], ...], WorkingCalendar] = {}


def load_calendar() -> WorkingCalendar:
    """The working calendar with the overrides now in the database."""
    rows = db.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)).all()
    return calendar_from((r.day, r.kind, r.source, r.note) for r in rows)


def calendar_from(rows: Iterable[tuple[Any, ...]]) -> WorkingCalendar:
    """The calendar for override rows (day, kind, source, note), in day order.

    Building the holiday tables costs far more than reading the few override rows, so a
    calendar is reused for as long as the overrides are exactly the same rows."""
    key = tuple(rows)
    calendar = _calendars.get(key)
    if calendar is None:
        calendar = WorkingCalendar(
            DomainOverride(day=day, kind=OverrideKind(kind), source=source, note=note)
            for day, kind, source, note in key
        )
        if len(_calendars) > 8:  # a handful of versions at most: admins edit rarely
            _calendars.clear()
        _calendars[key] = calendar
    return calendar


def to_domain_policy(row: SlaPolicy) -> DomainPolicy:
    return DomainPolicy(
        kind=row.kind,
        ack_hours=row.ack_hours,
        ack_days=row.ack_days,
        ack_day_type=DayType(row.ack_day_type),
        response_days=row.response_days,
        response_day_type=DayType(row.response_day_type),
        response_from=CountFrom(row.response_from),
    )


def load_policy(kind: str) -> SlaPolicy:
    row = db.session.scalar(select(SlaPolicy).where(SlaPolicy.kind == kind))
    if row is None:
        raise _no_policy()
    return row


def _no_policy() -> ValidationError:
    return ValidationError(
        "Chưa có quy định thời hạn cho loại hồ sơ này; hãy chạy lệnh seed.",
        {"kind": "Loại hồ sơ chưa được cấu hình thời hạn."},
    )


def deadlines_for(kind: str, received_at: datetime, ref: Reference | None = None) -> Deadlines:
    """Both due times of a new case; from ``ref`` (feedback.services.reference_cache)
    when the caller has it, else read from the database."""
    if ref is None:
        return compute_deadlines(received_at, to_domain_policy(load_policy(kind)), load_calendar())
    policy = ref.policies.get(kind)
    if policy is None:
        raise _no_policy()
    return compute_deadlines(received_at, policy, ref.calendar)


def _domain_rules(category_id: int) -> list[RoutingRule]:
    rows = db.session.scalars(select(RuleRow).where(RuleRow.category_id == category_id)).all()
    return [
        RoutingRule(
            category_code=r.category.code,
            handling=HandlingTarget(r.handling),
            handling_unit_code=r.handling_unit.code if r.handling_unit else None,
            lead_unit_code=r.lead_unit.code if r.lead_unit else None,
            area_code=r.area.code if r.area else None,
        )
        for r in rows
    ]


def _area_units(area: Area | None) -> dict[str, dict[str, str]]:
    if area is None:
        return {}
    units = db.session.scalars(select(Unit).where(Unit.area_id == area.id, Unit.active)).all()
    return {area.code: {u.function: u.code for u in units if u.function}}


def triage_unit_code() -> str:
    from .settings import get_setting

    return get_setting("triage_unit", "VP")


def route(category: Category | None, area: Area | None, ref: Reference | None = None) -> Route:
    """Who handles and who leads; from ``ref`` when the caller has it."""
    if ref is not None:
        return route_case(
            category.code if category else None,
            area.code if area else None,
            ref.rules.get(category.id, ()) if category else [],
            {area.code: ref.area_units.get(area.id, {})} if area else {},
            triage_unit_code=ref.setting("triage_unit", "VP"),
        )
    rules = _domain_rules(category.id) if category else []
    return route_case(
        category.code if category else None,
        area.code if area else None,
        rules,
        _area_units(area),
        triage_unit_code=triage_unit_code(),
    )
