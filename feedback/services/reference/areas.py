"""Areas and units in force: what forms offer and what a case may still be sent to.

A reference pack retires areas and units from its ``effective_from`` (they keep their rows,
so old cases keep their names); from that local day they are no longer offered on any form
and no case can be routed or transferred to them. The day is Hà Giang's calendar day of
the moment asked about, the same rule intake applies through the reference cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...models import Area, Unit
from .cache import local_day


def areas_in_force(at: datetime) -> list[Area]:
    """Active areas valid on ``at``'s local day, by name (one row per code)."""
    stmt = select(Area).where(Area.active, Area.in_force_on(local_day(at))).order_by(Area.name)
    return list(db.session.scalars(stmt))


def area_in_force(code: str, at: datetime) -> Area | None:
    stmt = select(Area).where(Area.code == code, Area.active, Area.in_force_on(local_day(at)))
    return db.session.scalar(stmt)


def units_in_force(at: datetime) -> list[Unit]:
    """Active units valid on ``at``'s local day, by name."""
    stmt = select(Unit).where(Unit.active, Unit.in_force_on(local_day(at))).order_by(Unit.name)
    return list(db.session.scalars(stmt))


def unit_in_force(code: str, at: datetime) -> Unit | None:
    stmt = select(Unit).where(Unit.code == code, Unit.active, Unit.in_force_on(local_day(at)))
    return db.session.scalar(stmt)
