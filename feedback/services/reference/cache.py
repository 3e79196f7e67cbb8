"""What intake reads of the reference data, kept per process for as long as it is true.

Every submission needs the category, the area, the routing rules, the units, two settings,
the SLA policy of its kind and the calendar overrides: a dozen SELECTs of rows that change
a few times a year. A process keeps them as plain immutable values (never ORM instances),
keyed on the database and on ``reference_version.stamp``, which triggers in the database
set to a fresh random value after every INSERT, UPDATE, DELETE (or TRUNCATE) of a
reference table, in the same transaction, whoever writes (see migration 7b3e91c4d2a8).
Each use reads the stamp once, in the caller's transaction and after flushing the
session, so a change is seen by the very next read, in this process or any other:

- a change committed by anyone: the stamp read afterwards differs, the values are
  read again;
- a change made earlier in the caller's own transaction: the stamp it reads is the
  uncommitted one, so are the values; a rollback leaves that stamp unused forever;
- a restored backup or another database under the same name: its stamp belongs to its
  own history (random, not a counter), and the database URL is part of the key.

Values are only kept when the stamp read after loading them is the one read before (under
PostgreSQL's READ COMMITTED a commit may land between the SELECTs); otherwise they serve
the caller once and are dropped.

Requests get ORM instances made from the cached values (:func:`attach`), exactly as a
SELECT would have made them, put in the session's identity map without a query; an
instance already there wins, as with a SELECT. A new case is routed and timed from one
reading (:meth:`Reference.route`, :meth:`Reference.deadlines_for`).

Areas, units and routing rules are kept with their validity dates and chosen for the
local day of the receipt (:meth:`Reference.area_on`, :meth:`Reference.route`): the stamp
changes when a pack is applied, not when its ``effective_from`` arrives, so the day is
decided per use, never baked into what is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType, SimpleNamespace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import make_transient_to_detached

from ...domain.calendar import LOCAL_TZ, WorkingCalendar
from ...domain.deadlines import Deadlines, compute_deadlines
from ...domain.deadlines import SlaPolicy as DomainPolicy
from ...domain.routing import HandlingTarget, Route, RoutingRule, route_case
from ...extensions import db
from ...models import Area, CalendarOverride, Category, ReferencePack, Setting, SlaPolicy, Unit
from ...models import RoutingRule as RuleRow
from .policies import calendar_from, no_policy, to_domain_policy

REFERENCE_TABLES = (
    "settings",
    "areas",
    "units",
    "dimensions",
    "categories",
    "routing_rules",
    "sla_policies",
    "calendar_overrides",
    "reference_packs",
)
"""The tables whose writes change the stamp (the migrations hold frozen copies)."""

reference_version = db.Table(
    "reference_version",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("stamp", sa.String(32), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

_STAMP = sa.select(reference_version.c.stamp).where(reference_version.c.id == 1)
_MAX_KEPT = 8  # a handful: the suite makes many databases, a deployment has one

Row = Mapping[str, Any]

M = TypeVar("M", Category, Area, Unit)

Dated = tuple[date, date | None]  # (valid_from, valid_to): from inclusive, to exclusive


def local_day(at: datetime) -> date:
    """The calendar day in Hà Giang of ``at``: validity dates are local days."""
    return at.astimezone(LOCAL_TZ).date()


def _valid(period: Dated, day: date) -> bool:
    return period[0] <= day and (period[1] is None or period[1] > day)


def _on(rows: tuple[Row, ...], day: date) -> Row | None:
    return next((r for r in rows if _valid((r["valid_from"], r["valid_to"]), day)), None)


@dataclass(frozen=True)
class Reference:
    """One consistent reading of the reference data intake needs."""

    categories: Mapping[str, Row]  # by code, every column
    areas: Mapping[str, tuple[Row, ...]]  # by code, active rows of every period, newest first
    unit_rows: Mapping[str, tuple[Row, ...]]  # by code, rows of every period, newest first
    rules: Mapping[int, tuple[tuple[Dated, RoutingRule], ...]]  # by category id
    # area id -> (period, function, unit code) of its active units
    area_units: Mapping[int, tuple[tuple[Dated, str, str], ...]]
    settings: Mapping[str, str]
    packs: tuple[tuple[date, Mapping[str, str]], ...]  # (effective_from, settings), newest first
    # (kind, round) -> (period, policy) of every period, newest first
    policies: Mapping[tuple[str, int], tuple[tuple[Dated, DomainPolicy], ...]]
    calendar: WorkingCalendar

    def setting(self, key: str, default: str) -> str:
        return self.settings.get(key, default)

    def pack_settings(self, day: date) -> Mapping[str, str]:
        """The [settings] of the reference pack in force on ``day`` (empty before any)."""
        return next((s for since, s in self.packs if since <= day), MappingProxyType({}))

    def area_on(self, code: str, day: date) -> Row | None:
        """The area with ``code`` in force on ``day`` (codes are reused by later areas)."""
        return _on(self.areas.get(code, ()), day)

    def area_known(self, code: str) -> Row | None:
        """The latest area that ever had ``code``: what to name in a refusal."""
        rows = self.areas.get(code, ())
        return rows[0] if rows else None

    def unit_on(self, code: str, day: date) -> Row | None:
        """The unit with ``code`` in force on ``day``, else its latest row."""
        rows = self.unit_rows.get(code, ())
        return _on(rows, day) or (rows[0] if rows else None)

    def route(self, category: Category | None, area: Area | None, at: datetime) -> Route:
        """Who handles and who leads a case received ``at``: the rules and the area's
        units in force on that local day, from this reading."""
        day = local_day(at)
        rules = self.rules.get(category.id, ()) if category else ()
        units = self.area_units.get(area.id, ()) if area else ()
        return route_case(
            category.code if category else None,
            area.code if area else None,
            [rule for period, rule in rules if _valid(period, day)],
            {area.code: {f: c for period, f, c in units if _valid(period, day)}} if area else {},
            triage_unit_code=self.setting("triage_unit", "VP"),
        )

    def deadlines_for(self, kind: str, received_at: datetime, round_: int = 1) -> Deadlines:
        """Both due times of a new case of ``kind``, from this reading, under the policy
        in force on the local day of receipt."""
        day = local_day(received_at)
        policy = next(
            (p for period, p in self.policies.get((kind, round_), ()) if _valid(period, day)),
            None,
        )
        if policy is None:
            raise no_policy()
        return compute_deadlines(received_at, policy, self.calendar)


_kept: dict[tuple[Any, str], Reference] = {}


def current() -> Reference:
    """The reference data as the caller's transaction sees it now."""
    session = db.session
    if session.autoflush:
        session.flush()  # what a SELECT through the ORM would do first
    conn = session.connection()
    stamp = conn.execute(_STAMP).scalar()
    if stamp is None:  # no stamp row (someone deleted it): never keep anything
        return _load(conn)
    key = (conn.engine.url, stamp)
    found = _kept.get(key)
    if found is not None:
        return found
    loaded = _load(conn)
    if conn.execute(_STAMP).scalar() == stamp:
        if len(_kept) >= _MAX_KEPT:
            _kept.clear()
        _kept[key] = loaded
    return loaded


def attach(model: type[M], row: Row) -> M:
    """The session's instance of ``model`` for ``row``, made without a query if needed."""
    session = db.session
    identity = session.identity_key(model, row["id"])
    existing = session.identity_map.get(identity)
    if existing is not None:
        return existing  # type: ignore[return-value]
    obj = model(**row)
    make_transient_to_detached(obj)  # clean, with its identity: as if loaded
    session.add(obj)
    return obj


def _rows(conn: Connection, table: sa.Table, *order: Any) -> list[dict[str, Any]]:
    stmt = sa.select(table).order_by(*(order or table.primary_key.columns))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


def _newest_first(rows: list[Row]) -> tuple[Row, ...]:
    return tuple(sorted(rows, key=lambda r: r["valid_from"], reverse=True))


def _policies(rows: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[Any, ...]]:
    by_key: dict[tuple[str, int], list[tuple[Dated, DomainPolicy]]] = {}
    for p in sorted(rows, key=lambda p: p["valid_from"], reverse=True):
        policy = to_domain_policy(SimpleNamespace(**p))
        by_key.setdefault((p["kind"], p["round"]), []).append(
            ((p["valid_from"], p["valid_to"]), policy)
        )
    return {k: tuple(v) for k, v in by_key.items()}


def _load(conn: Connection) -> Reference:
    settings = {r["key"]: r["value"] for r in _rows(conn, Setting.__table__)}
    packs = _rows(conn, ReferencePack.__table__)
    areas = _rows(conn, Area.__table__)
    units = _rows(conn, Unit.__table__)
    categories = _rows(conn, Category.__table__)
    rules = _rows(conn, RuleRow.__table__)
    policies = _rows(conn, SlaPolicy.__table__)
    overrides = _rows(conn, CalendarOverride.__table__, CalendarOverride.__table__.c.day)

    area_code = {a["id"]: a["code"] for a in areas}
    unit_code = {u["id"]: u["code"] for u in units}
    category_code = {c["id"]: c["code"] for c in categories}
    by_category: dict[int, list[tuple[Dated, RoutingRule]]] = {}
    for r in rules:
        rule = RoutingRule(
            category_code=category_code[r["category_id"]],
            handling=HandlingTarget(r["handling"]),
            handling_unit_code=unit_code[r["handling_unit_id"]]
            if r["handling_unit_id"] is not None
            else None,
            lead_unit_code=unit_code[r["lead_unit_id"]] if r["lead_unit_id"] is not None else None,
            area_code=area_code[r["area_id"]] if r["area_id"] is not None else None,
        )
        by_category.setdefault(r["category_id"], []).append(
            ((r["valid_from"], r["valid_to"]), rule)
        )
    area_units: dict[int, list[tuple[Dated, str, str]]] = {}
    unit_rows: dict[str, list[Row]] = {}
    for u in units:
        unit_rows.setdefault(u["code"], []).append(_frozen(u))
        if u["area_id"] is not None and u["active"] and u["function"]:
            period = (u["valid_from"], u["valid_to"])
            area_units.setdefault(u["area_id"], []).append((period, u["function"], u["code"]))
    area_rows: dict[str, list[Row]] = {}
    for a in areas:
        if a["active"]:
            area_rows.setdefault(a["code"], []).append(_frozen(a))
    return Reference(
        categories=_frozen({c["code"]: _frozen(c) for c in categories}),
        areas=_frozen({k: _newest_first(v) for k, v in area_rows.items()}),
        unit_rows=_frozen({k: _newest_first(v) for k, v in unit_rows.items()}),
        rules=_frozen({k: tuple(v) for k, v in by_category.items()}),
        area_units=_frozen({k: tuple(v) for k, v in area_units.items()}),
        settings=_frozen(settings),
        packs=tuple(
            (p["effective_from"], _frozen(p["settings"] or {}))
            for p in sorted(packs, key=lambda p: p["effective_from"], reverse=True)
        ),
        policies=_frozen(_policies(policies)),
        calendar=calendar_from(
            (o["day"], o["kind"], o["source"], o["note"], o["origin"]) for o in overrides
        ),
    )
