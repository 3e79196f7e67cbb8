"""Reading the calendar, SLA policies and routing rules out of the database into the
pure domain objects that do the arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ...domain.calendar import CalendarOverride as DomainOverride
from ...domain.calendar import OverrideKind, WorkingCalendar
from ...domain.deadlines import CountFrom, DayType, Deadlines, compute_deadlines
from ...domain.deadlines import SlaPolicy as DomainPolicy
from ...domain.routing import Route, route_case
from ...extensions import db
from ...models import Area, CalendarOverride, Category, SlaPolicy
from ..errors import ValidationError

if TYPE_CHECKING:
    from .cache import Reference

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
    """Both due times of a new case; from ``ref`` (feedback.services.reference.cache)
    when the caller has it, else read from the database."""
    if ref is None:
        return compute_deadlines(received_at, to_domain_policy(load_policy(kind)), load_calendar())
    policy = ref.policies.get(kind)
    if policy is None:
        raise _no_policy()
    return compute_deadlines(received_at, policy, ref.calendar)


def route(category: Category | None, area: Area | None, ref: Reference) -> Route:
    """Who handles and who leads, from one reading of the reference data."""
    return route_case(
        category.code if category else None,
        area.code if area else None,
        ref.rules.get(category.id, ()) if category else [],
        {area.code: ref.area_units.get(area.id, {})} if area else {},
        triage_unit_code=ref.setting("triage_unit", "VP"),
    )
