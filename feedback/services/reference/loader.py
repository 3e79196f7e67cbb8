"""Loading a city's reference data file (units, areas, categories, routing, SLA policies,
calendar overrides, the default escalation ladder per kind). Upserts by natural key and
touches only what differs, so a second run of the same file changes nothing and reports
so."""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ...domain.marks import N_
from ...extensions import db
from ...models import (
    Area,
    CalendarOverride,
    Category,
    Dimension,
    ReferencePack,
    RoutingRule,
    Setting,
    SlaPolicy,
    Unit,
)
from ...models.reference import SINCE_ALWAYS
from ..errors import ValidationError
from .ladder import seed_ladders

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "data" / "hagiang-2023.toml"
POLICY_FIELDS = (
    "label",
    "ack_hours",
    "ack_days",
    "ack_day_type",
    "response_days",
    "response_day_type",
    "response_from",
    "pause_when_waiting",
    "suspension_stops_clock",
    "warn_before_ack_hours",
    "warn_before_response_working_days",
    "reopen_window_days",
    "legal_basis",
)

POLICY_KEYS = ("kind", "round", "valid_from", "valid_to")


class Loader:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def upsert(self, model: type[Any], key: dict[str, Any], values: dict[str, Any]) -> Any:
        row = db.session.scalar(select(model).filter_by(**key))
        table = model.__tablename__
        if row is None:
            row = model(**key, **values)
            db.session.add(row)
            db.session.flush()
            self.counts[f"{table}.created"] += 1
            return row
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        self.counts[f"{table}.updated" if changed else f"{table}.unchanged"] += 1
        return row


def read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ValidationError(N_("Không tìm thấy tệp dữ liệu %(path)s.", path=str(path))) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(
            N_("Tệp dữ liệu %(path)s sai cú pháp TOML: %(error)s", path=str(path), error=str(exc))
        ) from exc


def load_reference(path: Path = DEFAULT_FILE) -> dict[str, int]:
    """Load ``path`` in the current transaction; the caller commits.

    Areas, units and routing rules are the rows valid "since always" (the base map): a
    pack with an ``effective_from`` changes the map from its day on and is applied with
    ``reference apply`` (services.reference.packs), never loaded over the base rows, which
    would rename them in place."""
    data = read_file(path)
    if "effective_from" in data.get("pack", {}):
        raise ValidationError(
            N_(
                "%(name)s là gói dữ liệu có ngày hiệu lực: dùng lệnh "
                "`flask --app feedback reference apply` để áp dụng.",
                name=path.name,
            )
        )
    ld = Loader()
    city = data.get("city", {})
    # Once a pack has moved the triage desk or the code prefix on, the base file no longer
    # decides them (a retired triage unit would take every unroutable case).
    applied = db.session.scalar(select(ReferencePack.id).limit(1)) is not None
    for key in ("code", "name", "province", "authority", "timezone", "triage_unit", "source"):
        if key in city:
            setting_key = "city_code" if key == "code" else f"city_{key}"
            if key == "triage_unit":
                setting_key = "triage_unit"
            if applied and setting_key in ("city_code", "triage_unit"):
                continue
            ld.upsert(Setting, {"key": setting_key}, {"value": str(city[key])})
    code_set = str(city.get("area_code_set", ""))

    dims = {
        d["code"]: ld.upsert(
            Dimension, {"code": d["code"]}, {"name": d["name"], "name_en": d["name_en"]}
        )
        for d in data.get("dimensions", [])
    }
    areas = {
        a["code"]: ld.upsert(
            Area,
            {"code": a["code"], "valid_from": SINCE_ALWAYS},
            {"name": a["name"], "kind": a["kind"], "code_set": code_set},
        )
        for a in data.get("areas", [])
    }
    units: dict[str, Unit] = {}
    for u in data.get("units", []):
        area = _ref(areas, u.get("area"), "area", u["code"]) if u.get("area") else None
        units[u["code"]] = ld.upsert(
            Unit,
            {"code": u["code"], "valid_from": SINCE_ALWAYS},
            {
                "name": u["name"],
                "kind": u.get("kind", "department"),
                "area_id": area.id if area else None,
                "function": u.get("function"),
                "email": u.get("email") or None,
            },
        )
    cats: dict[str, Category] = {}
    for order, c in enumerate(data.get("categories", [])):
        dim = _ref(dims, c["dimension"], "dimension", c["code"])
        cats[c["code"]] = ld.upsert(
            Category,
            {"code": c["code"]},
            {
                "dimension_id": dim.id,
                "name": c["name"],
                "citizen_label": c.get("citizen_label") or c["name"],
                "name_en": c.get("name_en", ""),
                "public": bool(c.get("public", True)),
                "sort_order": order,
            },
        )
    for r in data.get("routing", []):
        cat = _ref(cats, r["category"], "category", "routing")
        area = _ref(areas, r["area"], "area", f"routing {r['category']}") if r.get("area") else None
        handling = r["handling"]
        unit = None
        if handling.startswith("unit:"):
            unit = _ref(units, handling.removeprefix("unit:"), "unit", f"routing {r['category']}")
            handling = "unit"
        lead = _ref(units, r["lead"], "unit", f"routing {r['category']}") if r.get("lead") else None
        ld.upsert(
            RoutingRule,
            {
                "category_id": cat.id,
                "area_id": area.id if area else None,
                "valid_from": SINCE_ALWAYS,
            },
            {
                "handling": handling,
                "handling_unit_id": unit.id if unit else None,
                "lead_unit_id": lead.id if lead else None,
                "note": r.get("note", ""),
            },
        )
    for p in data.get("sla_policies", []):
        values = {name: p.get(name) for name in POLICY_FIELDS if name in p}
        values.setdefault("ack_hours", None)
        values.setdefault("ack_days", None)
        values["extra"] = {k: v for k, v in p.items() if k not in POLICY_FIELDS + POLICY_KEYS}
        key = {
            "kind": p["kind"],
            "round": int(p.get("round", 1)),
            "valid_from": p.get("valid_from", SINCE_ALWAYS),
        }
        # A row is (kind, round, valid_from). The file may only end it earlier, never
        # reopen it: an admin's change (services.reference.policy_admin) may have closed
        # it before the file's end, and a database seeded before the row had an end gets it.
        existing = db.session.scalar(select(SlaPolicy).filter_by(**key))
        end = p.get("valid_to")
        if existing is None or (
            end is not None and (existing.valid_to is None or existing.valid_to > end)
        ):
            values["valid_to"] = end
        ld.upsert(SlaPolicy, key, values)
    for o in data.get("calendar_overrides", []):
        day = o["day"] if isinstance(o["day"], date) else date.fromisoformat(str(o["day"]))
        ld.upsert(
            CalendarOverride,
            {"day": day},
            {"kind": o["kind"], "source": o["source"], "note": o.get("note", "")},
        )
    # The ladder is the file's only for kinds never loaded: the admin's page owns it after.
    ld.counts.update(seed_ladders(data.get("escalation_steps", [])))
    db.session.flush()
    return dict(sorted(ld.counts.items()))


def _ref(table: dict[str, Any], code: str, what: str, where: str) -> Any:
    try:
        return table[code]
    except KeyError:
        raise ValidationError(
            N_(
                "%(where)s: mã %(what)s «%(code)s» không có trong tệp dữ liệu.",
                where=where,
                what=what,
                code=code,
            )
        ) from None
