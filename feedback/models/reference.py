"""Reference data: the city's units, areas, PAPI categories, routing rules, SLA policies
and calendar overrides. Loaded from a data file by ``flask seed``, edited by admins.

Areas, units and routing rules carry the dates they are valid for (``valid_from``
inclusive, ``valid_to`` exclusive, NULL while in force) because the map changes with
reorganisations: a reference pack (``flask reference apply``) retires rows and adds new
ones, never renaming a row in place, so a case keeps pointing at the names of its time.
A code may be reused by a later area or unit: the unique keys are (code, valid_from)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.permissions import CASE_KINDS
from ..extensions import db
from .types import UTCDateTime, utcnow

HANDLING_TARGETS = ("unit", "area:people_committee", "area:police", "triage")
UNIT_FUNCTIONS = ("people_committee", "police")
SUCCESSION_KINDS = ("area", "unit")
OVERRIDE_ORIGINS = ("document", "admin")
SUCCESSION_CERTAINTY = ("certain", "assumed", "ambiguous", "unknown")
SINCE_ALWAYS = date.min
"""``valid_from`` of rows loaded by a pack that declares no ``effective_from`` (the seed's
2023 data): in force for any receipt time the service can meet."""


def in_list(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Setting(db.Model):
    """Key/value facts about the deployment (the city's name, code prefix, ...)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


VALID_PERIOD = "valid_to IS NULL OR valid_to > valid_from"


class Dated:
    """Validity dates shared by areas, units and routing rules (local calendar days)."""

    valid_from: Mapped[date] = mapped_column(default=SINCE_ALWAYS)
    valid_to: Mapped[date | None]

    @classmethod
    def in_force_on(cls, day: date) -> ColumnElement[bool]:
        """SQL: the row is valid on ``day``."""
        return and_(cls.valid_from <= day, or_(cls.valid_to.is_(None), cls.valid_to > day))

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to > day)


class Area(Dated, db.Model):
    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint(in_list("kind", ("ward", "commune")), name="kind"),
        CheckConstraint(VALID_PERIOD, name="valid_period"),
        UniqueConstraint("code", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    code_set: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class Unit(Dated, db.Model):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("area_id", "function", "valid_from"),
        UniqueConstraint("code", "valid_from"),
        CheckConstraint(
            f"function IS NULL OR ({in_list('function', UNIT_FUNCTIONS)} AND area_id IS NOT NULL)",
            name="function_needs_area",
        ),
        CheckConstraint(VALID_PERIOD, name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    function: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    area: Mapped[Area | None] = relationship()


class Dimension(db.Model):
    """One of the eight PAPI content indexes."""

    __tablename__ = "dimensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class Category(db.Model):
    """A PAPI sub-criterion, the unit of routing."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    dimension_id: Mapped[int] = mapped_column(ForeignKey("dimensions.id"))
    name: Mapped[str] = mapped_column(String(200))
    citizen_label: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    public: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    dimension: Mapped[Dimension] = relationship()


class RoutingRule(Dated, db.Model):
    __tablename__ = "routing_rules"
    __table_args__ = (
        UniqueConstraint("category_id", "area_id", "valid_from"),
        # NULLs are distinct in unique constraints: a partial index keeps one general rule
        # per category and period.
        Index(
            "uq_routing_rules_general",
            "category_id",
            "valid_from",
            unique=True,
            sqlite_where=db.text("area_id IS NULL"),
            postgresql_where=db.text("area_id IS NULL"),
        ),
        CheckConstraint(in_list("handling", HANDLING_TARGETS), name="handling"),
        CheckConstraint(
            "(handling = 'unit') = (handling_unit_id IS NOT NULL)", name="unit_iff_handling_unit"
        ),
        CheckConstraint(VALID_PERIOD, name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    handling: Mapped[str] = mapped_column(String(32))
    handling_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    note: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category] = relationship()
    area: Mapped[Area | None] = relationship()
    handling_unit: Mapped[Unit | None] = relationship(foreign_keys=[handling_unit_id])
    lead_unit: Mapped[Unit | None] = relationship(foreign_keys=[lead_unit_id])


class Succession(db.Model):
    """Who took over a retired area or unit, recorded by ``flask reference apply``.

    An area split in two has two rows (and ``certainty`` "ambiguous"); a unit whose
    successor is not known has one row with no successor ("unknown"). Open cases of a
    retired unit move to its successor when exactly one fits, else to triage."""

    __tablename__ = "reference_successions"
    __table_args__ = (
        CheckConstraint(in_list("kind", SUCCESSION_KINDS), name="kind"),
        CheckConstraint(in_list("certainty", SUCCESSION_CERTAINTY), name="certainty"),
        CheckConstraint(
            "(kind = 'area' AND from_unit_id IS NULL AND to_unit_id IS NULL"
            " AND from_area_id IS NOT NULL)"
            " OR (kind = 'unit' AND from_area_id IS NULL AND to_area_id IS NULL"
            " AND from_unit_id IS NOT NULL)",
            name="one_kind",
        ),
        UniqueConstraint("from_area_id", "to_area_id"),
        UniqueConstraint("from_unit_id", "to_unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    effective_from: Mapped[date]
    from_area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    to_area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    from_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    certainty: Mapped[str] = mapped_column(String(16), default="certain")
    note: Mapped[str] = mapped_column(Text, default="")
    pack_id: Mapped[int] = mapped_column(ForeignKey("reference_packs.id"))

    from_area: Mapped[Area | None] = relationship(foreign_keys=[from_area_id])
    to_area: Mapped[Area | None] = relationship(foreign_keys=[to_area_id])
    from_unit: Mapped[Unit | None] = relationship(foreign_keys=[from_unit_id])
    to_unit: Mapped[Unit | None] = relationship(foreign_keys=[to_unit_id])


class ReferencePack(db.Model):
    """A reference pack applied by ``flask reference apply``: its name, the day it takes
    effect, its digest (a second run of the same file is recognised) and its settings
    (site name, authority, place), which brand pages, letters and reports from that day."""

    __tablename__ = "reference_packs"
    __table_args__ = (UniqueConstraint("name", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    effective_from: Mapped[date]
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlaPolicy(db.Model):
    """Deadlines per case kind (and per complaint round), as data, for the period they are
    in force (see feedback.domain.deadlines.SlaPolicy).

    Laws change the limits on a given day and an admin may change a warning threshold
    from a chosen day: a change is a new row (``valid_from`` inclusive, ``valid_to``
    exclusive, local days) and the old row is closed, never edited, so a case keeps the
    policy in force when its clock started. ``round`` is 2 only for second-time
    complaints (Law on Complaints 2011, art. 37); every other kind has round 1.
    ``suspension_stops_clock``: a complaint may be suspended (tạm đình chỉ) and the time
    suspended does not count (the amending law in force from 1 July 2026)."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        CheckConstraint(in_list("kind", CASE_KINDS), name="kind"),
        CheckConstraint("(ack_hours IS NULL) <> (ack_days IS NULL)", name="one_ack_rule"),
        CheckConstraint(in_list("ack_day_type", ("working", "calendar")), name="ack_day_type"),
        CheckConstraint(
            in_list("response_day_type", ("working", "calendar")), name="response_day_type"
        ),
        CheckConstraint(in_list("response_from", ("receipt", "ack")), name="response_from"),
        CheckConstraint("response_days > 0", name="response_days_positive"),
        CheckConstraint("round = 1 OR (round = 2 AND kind = 'complaint')", name="round"),
        CheckConstraint(VALID_PERIOD, name="valid_period"),
        UniqueConstraint("kind", "round", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(default=1)
    valid_from: Mapped[date] = mapped_column(default=SINCE_ALWAYS)
    valid_to: Mapped[date | None]
    label: Mapped[str] = mapped_column(String(64))
    ack_hours: Mapped[int | None]
    ack_days: Mapped[int | None]
    ack_day_type: Mapped[str] = mapped_column(String(16), default="working")
    response_days: Mapped[int]
    response_day_type: Mapped[str] = mapped_column(String(16), default="working")
    response_from: Mapped[str] = mapped_column(String(16), default="receipt")
    pause_when_waiting: Mapped[bool] = mapped_column(default=True)
    suspension_stops_clock: Mapped[bool] = mapped_column(default=False)
    warn_before_ack_hours: Mapped[int | None]
    warn_before_response_working_days: Mapped[int | None]
    reopen_window_days: Mapped[int] = mapped_column(default=7)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to > day)


class CalendarOverride(db.Model):
    """A day the government moved: an extra day off or a make-up working day."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (
        CheckConstraint(in_list("kind", ("off", "work")), name="kind"),
        CheckConstraint(in_list("origin", OVERRIDE_ORIGINS), name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    # document: shipped with the reference data; admin: entered on the calendar page.
    origin: Mapped[str] = mapped_column(String(16), default="document", server_default="document")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CalendarYear(db.Model):
    """An admin's record that a year's calendar is decided (the government's notice of the
    year's days off is entered, or checked to add nothing): it ends the autumn reminder
    for that year even when the notice needed no override."""

    __tablename__ = "calendar_years"
    __table_args__ = (CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),)

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
