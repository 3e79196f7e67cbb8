"""Reading the calendar and the SLA policies out of the database into the pure domain
objects that do the arithmetic.

``cache`` builds its per-process reading with the same conversions (``calendar_from``,
``to_domain_policy``), so this module imports nothing of ``cache``: routing and the due
times of a new case from that reading are ``cache.Reference``'s methods."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from ...domain.calendar import CalendarOverride as DomainOverride
from ...domain.calendar import OverrideKind, WorkingCalendar
from ...domain.deadlines import CountFrom, DayType, Deadlines, compute_deadlines, local_date
from ...domain.deadlines import SlaPolicy as DomainPolicy
from ...domain.marks import N_
from ...extensions import db
from ...models import CalendarOverride, Case, SlaPolicy
from ..errors import ValidationError

_calendars: dict[tuple[tuple[Any, ...], ...], WorkingCalendar] = {}


def load_calendar() -> WorkingCalendar:
    """The working calendar with the overrides now in the database."""
    rows = db.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)).all()
    return calendar_from((r.day, r.kind, r.source, r.note, r.origin) for r in rows)


def calendar_from(rows: Iterable[tuple[Any, ...]]) -> WorkingCalendar:
    """The calendar for override rows (day, kind, source, note[, origin]), in day order.

    Building the holiday tables costs far more than reading the few override rows, so a
    calendar is reused for as long as the overrides are exactly the same rows."""
    key = tuple(rows)
    calendar = _calendars.get(key)
    if calendar is None:
        calendar = WorkingCalendar(
            DomainOverride(day, OverrideKind(kind), source, note, *origin)
            for day, kind, source, note, *origin in key
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


def policy_on(kind: str, day: date, round_: int = 1) -> SlaPolicy | None:
    """The policy row of ``kind`` (and complaint round) in force on local day ``day``."""
    return db.session.scalar(
        select(SlaPolicy)
        .where(
            SlaPolicy.kind == kind,
            SlaPolicy.round == round_,
            SlaPolicy.valid_from <= day,
            (SlaPolicy.valid_to.is_(None)) | (SlaPolicy.valid_to > day),
        )
        .order_by(SlaPolicy.valid_from.desc())
        .limit(1)
    )


def load_policy(kind: str, at: datetime | None = None, round_: int = 1) -> SlaPolicy:
    """The policy in force at ``at`` (now when not given); a ValidationError when none."""
    row = policy_on(kind, local_date(at or datetime.now(UTC)), round_)
    if row is None:
        raise no_policy()
    return row


def case_policy(case: Case, at: datetime | None = None) -> SlaPolicy:
    """The policy governing ``case``: the one in force at its receipt, for its kind and
    round, unless a later event that starts a clock (``at``) asks for that day's. A policy
    changed after the receipt never touches the case."""
    return load_policy(case.kind, at or case.received_at, case.round or 1)


def current_by_kind(now: datetime) -> dict[str, SlaPolicy]:
    """The first-round policy of every kind in force at ``now``: the warning thresholds
    and waiting pauses the sweep and the monitor apply to open cases (the limits
    themselves are each case's own, already in its stored due times)."""
    day = local_date(now)
    rows = db.session.scalars(select(SlaPolicy).where(SlaPolicy.round == 1)).all()
    return {r.kind: r for r in sorted(rows, key=lambda r: r.valid_from) if r.valid_on(day)}


def no_policy() -> ValidationError:
    """What a caller hears when the kind has no SLA policy (the reference data is not seeded)."""
    return ValidationError(
        N_("Chưa có quy định thời hạn cho loại hồ sơ này; hãy chạy lệnh seed."),
        {"kind": N_("Loại hồ sơ chưa được cấu hình thời hạn.")},
    )


def deadlines_for(kind: str, received_at: datetime, round_: int = 1) -> Deadlines:
    """Both due times of a new case, policy and calendar read from the database (intake
    reads them from the per-process reading instead: ``cache.Reference.deadlines_for``)."""
    policy = to_domain_policy(load_policy(kind, received_at, round_))
    return compute_deadlines(received_at, policy, load_calendar())
