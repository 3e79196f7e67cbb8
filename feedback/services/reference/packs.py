"""Applying a reference pack: the map as it stands from a given day.

A pack (``flask --app feedback reference apply FILE``) declares its ``effective_from`` and
holds the areas, units and routing rules in force from that local day, the successions
from what it no longer holds, and the settings that brand pages, letters and reports.
Applying it:

- adds what is new (valid from ``effective_from``), keeps what is unchanged, and retires
  (``valid_to = effective_from``) what it no longer holds or holds changed. A row is never
  renamed in place: an old case keeps pointing at the area and units of its time, whose
  names it goes on showing. Area codes may be reused (00694 was Phường Nguyễn Trãi and is
  Phường Hà Giang 1); a unit code may not, because permissions compare unit codes and an
  account of the old unit would see the new unit's cases;
- records the successions (old area → new area(s), old unit → new unit(s)) with how sure
  they are: ``certain``, ``assumed`` (the pack's note says why), ``ambiguous`` (several
  successors: old Quang Trung went to two wards) or ``unknown`` (no successor known);
- moves every open case of a retired unit to its successor, with a timeline event, or to
  triage where no single successor fits (the case's own area picks among several, e.g.
  the city's Phòng Kinh tế → the Phòng Kinh tế of the ward the case's area went to); the
  coordinators get one message listing them. The case's area, received time and due
  times are never touched. A pack applied ahead of its day moves nothing yet (the old
  units work until the eve): running it again on or after that day does;
- lists the accounts still attached to retired units: they keep working (and seeing what
  they handled or entered) until an admin moves them.

Idempotent: the second run of a pack finds nothing to add, retire or move and writes
nothing (``changed`` 0). Applying it is one transaction with its audit record.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from ...domain.marks import N_
from ...domain.states import OPEN_STATUSES
from ...extensions import db
from ...models import (
    Area,
    Case,
    Category,
    Dimension,
    ReferencePack,
    RoutingRule,
    Setting,
    Succession,
    Unit,
    User,
)
from ...models.reference import SUCCESSION_CERTAINTY
from ..accounts.audit import record as audit
from ..errors import ValidationError
from ..handling.events import record
from ..sla.notify import queue
from .cache import local_day
from .loader import Loader, read_file

OPEN = tuple(s.value for s in OPEN_STATUSES)
BRANDING_KEYS = ("site_name", "authority", "place", "issuer", "province", "tagline")
"""[settings] keys kept with the pack, read by :mod:`.branding` for the day asked about."""
CURRENT_SETTINGS = {"triage_unit": "triage_unit", "code": "city_code"}
"""[settings] keys that set the deployment's current value (not dated)."""
SECTIONS = frozenset(
    ("pack", "settings", "areas", "units", "routing", "successions", "dimensions", "categories")
)
"""What this command applies; any other section (SLA policies, the calendar) is named in
the output as not applied, never silently taken for done."""


@dataclass
class Applied:
    """What applying a pack did (printed as JSON by the command)."""

    pack: str
    effective_from: date
    counts: Counter[str] = field(default_factory=Counter)
    moved: list[dict[str, Any]] = field(default_factory=list)
    retired_accounts: list[dict[str, str]] = field(default_factory=list)
    waiting: int = 0  # open cases to move once effective_from has come (applied ahead)
    not_applied: list[str] = field(default_factory=list)  # sections this command ignores

    @property
    def changed(self) -> int:
        return sum(n for key, n in self.counts.items() if not key.endswith(".unchanged"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "effective_from": self.effective_from.isoformat(),
            "changed": self.changed,
            "counts": dict(sorted(self.counts.items())),
            "moved": self.moved,
            "cases_to_move_on_or_after_effective_from": self.waiting,
            "accounts_of_retired_units": self.retired_accounts,
            "sections_not_applied": self.not_applied,
        }


def _day(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(
            N_("%(where)s: ngày «%(value)s» không đúng dạng YYYY-MM-DD.", where=where, value=value)
        ) from None


def _valid_on(model: type[Any], day: date) -> list[Any]:
    return list(db.session.scalars(select(model).where(model.in_force_on(day))))


def _spanning(model: type[Any], day: date) -> list[Any]:
    """Rows in force on the eve of ``day`` and still open on ``day``: what a pack taking
    effect on ``day`` keeps or retires (rows it added itself start on ``day``)."""
    eve = day - timedelta(days=1)
    return [row for row in _valid_on(model, day) if row.valid_on(eve)]


class _Pack:
    def __init__(self, data: dict[str, Any], digest: str, actor: User | None, now: datetime):
        head = data.get("pack")
        if not isinstance(head, dict) or "effective_from" not in head or "name" not in head:
            raise ValidationError(
                N_("Gói dữ liệu cần mục [pack] với name và effective_from (ngày có hiệu lực).")
            )
        self.data = data
        self.digest = digest
        self.actor = actor
        self.now = now
        self.name = str(head["name"])
        self.eff = _day(head["effective_from"], "[pack] effective_from")
        self.eve = self.eff - timedelta(days=1)
        self.head = head
        self.result = Applied(self.name, self.eff)
        self.counts = self.result.counts
        self.retired_units: list[Unit] = []
        self.pack_row: ReferencePack | None = None

    # -- rows with periods ------------------------------------------------------------------

    def retire(self, row: Any, table: str) -> None:
        row.valid_to = self.eff
        self.counts[f"{table}.retired"] += 1

    def areas(self) -> dict[str, Area]:
        entries = {a["code"]: a for a in self.data.get("areas", [])}
        sources = {s["from"] for s in self.data.get("successions", {}).get("areas", [])}
        for row in _spanning(Area, self.eff):
            entry = entries.get(row.code)
            same = entry is not None and (entry["name"], entry["kind"]) == (row.name, row.kind)
            if same and row.code not in sources:
                self.counts["areas.unchanged"] += 1
            else:
                self.retire(row, "areas")
        db.session.flush()
        now_in_force = {a.code: a for a in _valid_on(Area, self.eff)}
        code_set = str(self.head.get("area_code_set", ""))
        for code, entry in entries.items():
            if code in now_in_force:
                continue
            row = Area(
                code=code,
                name=entry["name"],
                kind=entry["kind"],
                code_set=code_set,
                valid_from=self.eff,
            )
            db.session.add(row)
            now_in_force[code] = row
            self.counts["areas.created"] += 1
        db.session.flush()
        return {code: now_in_force[code] for code in entries}

    def units(self, areas: dict[str, Area]) -> dict[str, Unit]:
        wanted: dict[str, dict[str, Any]] = {}
        for u in self.data.get("units", []):
            area = _ref(areas, u.get("area"), "area", u["code"]) if u.get("area") else None
            wanted[u["code"]] = {
                "name": u["name"],
                "kind": u.get("kind", "department"),
                "area_id": area.id if area else None,
                "function": u.get("function"),
                "email": u.get("email") or None,
            }
        sources = {s["from"] for s in self.data.get("successions", {}).get("units", [])}
        for row in _spanning(Unit, self.eff):
            values = wanted.get(row.code)
            same = values is not None and all(getattr(row, k) == v for k, v in values.items())
            if same and row.code not in sources:
                self.counts["units.unchanged"] += 1
            else:
                self.retire(row, "units")
                self.retired_units.append(row)
        db.session.flush()
        now_in_force = {u.code: u for u in _valid_on(Unit, self.eff)}
        for code, values in wanted.items():
            if code in now_in_force:
                continue
            used = db.session.scalar(select(Unit.name).where(Unit.code == code).limit(1))
            if used is not None:
                raise ValidationError(
                    N_(
                        "Mã đơn vị %(code)s đã dùng cho «%(used)s»: đơn vị mới cần một mã mới, "
                        "vì quyền của tài khoản được so theo mã đơn vị.",
                        code=code,
                        used=used,
                    )
                )
            row = Unit(code=code, valid_from=self.eff, **values)
            db.session.add(row)
            now_in_force[code] = row
            self.counts["units.created"] += 1
        db.session.flush()
        return {code: now_in_force[code] for code in wanted}

    def categories(self) -> dict[str, Category]:
        """Dimensions and categories are not dated: a pack may add or rename them."""
        ld = Loader()
        dims = {
            d["code"]: ld.upsert(
                Dimension, {"code": d["code"]}, {"name": d["name"], "name_en": d["name_en"]}
            )
            for d in self.data.get("dimensions", [])
        }
        for order, c in enumerate(self.data.get("categories", [])):
            dim = _ref(dims, c["dimension"], "dimension", c["code"])
            ld.upsert(
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
        self.counts.update(ld.counts)
        return {c.code: c for c in db.session.scalars(select(Category))}

    def rules(
        self, cats: dict[str, Category], areas: dict[str, Area], units: dict[str, Unit]
    ) -> None:
        wanted: dict[tuple[int, int | None], dict[str, Any]] = {}
        for r in self.data.get("routing", []):
            where = f"routing {r['category']}"
            cat = _ref(cats, r["category"], "category", where)
            area = _ref(areas, r["area"], "area", where) if r.get("area") else None
            handling, unit = r["handling"], None
            if handling.startswith("unit:"):
                unit = _ref(units, handling.removeprefix("unit:"), "unit", where)
                handling = "unit"
            lead = _ref(units, r["lead"], "unit", where) if r.get("lead") else None
            wanted[(cat.id, area.id if area else None)] = {
                "handling": handling,
                "handling_unit_id": unit.id if unit else None,
                "lead_unit_id": lead.id if lead else None,
                "note": r.get("note", ""),
            }
        for row in _spanning(RoutingRule, self.eff):
            values = wanted.get((row.category_id, row.area_id))
            if values is not None and all(getattr(row, k) == v for k, v in values.items()):
                self.counts["routing_rules.unchanged"] += 1
            else:
                self.retire(row, "routing_rules")
        db.session.flush()
        present = {(r.category_id, r.area_id) for r in _valid_on(RoutingRule, self.eff)}
        for (category_id, area_id), values in wanted.items():
            if (category_id, area_id) not in present:
                db.session.add(
                    RoutingRule(
                        category_id=category_id, area_id=area_id, valid_from=self.eff, **values
                    )
                )
                self.counts["routing_rules.created"] += 1
        db.session.flush()

    # -- successions ------------------------------------------------------------------------

    def successions(self, areas: dict[str, Area], units: dict[str, Unit]) -> None:
        pack = self.pack()
        section = self.data.get("successions", {})
        old_areas = {a.code: a for a in _valid_on(Area, self.eve)}
        old_units = {u.code: u for u in _valid_on(Unit, self.eve)}
        for kind, old, new in (("area", old_areas, areas), ("unit", old_units, units)):
            for s in section.get(f"{kind}s", []):
                where = f"successions.{kind}s {s['from']}"
                source = _ref(old, s["from"], kind, where)
                targets = [_ref(new, code, kind, where) for code in s.get("to", [])]
                certainty = s.get("certainty") or (
                    "unknown" if not targets else "ambiguous" if len(targets) > 1 else "certain"
                )
                if certainty not in SUCCESSION_CERTAINTY:
                    raise ValidationError(
                        N_(
                            "%(where)s: certainty «%(certainty)s» không hợp lệ.",
                            where=where,
                            certainty=certainty,
                        )
                    )
                for target in targets or [None]:
                    self._succession(kind, source, target, certainty, s.get("note", ""), pack)

    def _succession(
        self, kind: str, source: Any, target: Any, certainty: str, note: str, pack: ReferencePack
    ) -> None:
        src, dst = (
            (Succession.from_area_id, Succession.to_area_id)
            if kind == "area"
            else (Succession.from_unit_id, Succession.to_unit_id)
        )
        target_id = target.id if target is not None else None
        found = db.session.scalar(
            select(Succession).where(
                src == source.id, dst.is_(None) if target_id is None else dst == target_id
            )
        )
        values = {"certainty": certainty, "note": note, "effective_from": self.eff}
        if found is None:
            ids = {f"from_{kind}_id": source.id, f"to_{kind}_id": target_id}
            db.session.add(Succession(kind=kind, pack_id=pack.id, **ids, **values))
            self.counts["successions.created"] += 1
        elif any(getattr(found, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(found, k, v)
            self.counts["successions.updated"] += 1
        else:
            self.counts["successions.unchanged"] += 1

    # -- the pack row, settings -------------------------------------------------------------

    def pack(self) -> ReferencePack:
        if self.pack_row is None:
            row = db.session.scalar(
                select(ReferencePack).where(
                    ReferencePack.name == self.name, ReferencePack.effective_from == self.eff
                )
            )
            if row is None:
                row = ReferencePack(
                    name=self.name,
                    effective_from=self.eff,
                    digest="",
                    source=str(self.head.get("source", "")),
                    settings={},
                    summary={},
                    applied_at=self.now,
                )
                db.session.add(row)
                db.session.flush()
                self.counts["reference_packs.created"] += 1
            self.pack_row = row
        return self.pack_row

    def settings(self) -> None:
        settings = self.data.get("settings", {})
        pack = self.pack()
        branding = {k: str(settings[k]) for k in BRANDING_KEYS if k in settings}
        if pack.settings != branding or pack.source != str(self.head.get("source", "")):
            pack.settings = branding
            pack.source = str(self.head.get("source", ""))
            self.counts["reference_packs.updated"] += 1
        for key, setting_key in CURRENT_SETTINGS.items():
            if key not in settings:
                continue
            row = db.session.get(Setting, setting_key)
            if row is None:
                db.session.add(Setting(key=setting_key, value=str(settings[key])))
                self.counts["settings.created"] += 1
            elif row.value != str(settings[key]):
                row.value = str(settings[key])
                self.counts["settings.updated"] += 1

    # -- open cases and accounts ------------------------------------------------------------

    def move_open_cases(self) -> None:
        retired = db.session.scalars(select(Unit).where(Unit.valid_to.is_not(None))).all()
        retired_ids = {u.id for u in retired if u.valid_to is not None and u.valid_to <= self.eff}
        if not retired_ids:
            return
        if local_day(self.now) < self.eff:
            # Applied ahead of its day: the old units still work until the eve, so their
            # cases stay; a run on or after ``effective_from`` moves them.
            waiting = db.session.scalar(
                select(func.count(Case.id)).where(
                    Case.status.in_(OPEN), Case.handling_unit_id.in_(retired_ids)
                )
            )
            self.result.waiting = int(waiting or 0)
            return
        cases = db.session.scalars(
            select(Case)
            .where(Case.status.in_(OPEN), Case.handling_unit_id.in_(retired_ids))
            .order_by(Case.id)
        ).all()
        triage_code = db.session.get(Setting, "triage_unit")
        triage = db.session.scalar(
            select(Unit).where(
                Unit.code == (triage_code.value if triage_code else "VP"),
                Unit.in_force_on(self.eff),
            )
        )
        if triage is None:
            raise ValidationError(
                N_("Gói dữ liệu không có đơn vị phân loại (settings.triage_unit) còn hiệu lực.")
            )
        for case in cases:
            self._move(case, triage)

    def _successor(self, unit_id: int, case: Case) -> tuple[Unit | None, Succession | None]:
        rows = db.session.scalars(
            select(Succession).where(
                Succession.from_unit_id == unit_id, Succession.to_unit_id.is_not(None)
            )
        ).all()
        if len(rows) > 1 and case.area_id is not None:
            areas = _area_successors(case.area_id)
            rows = [r for r in rows if r.to_unit is not None and r.to_unit.area_id in areas]
        if len(rows) == 1 and rows[0].certainty != "ambiguous":
            return rows[0].to_unit, rows[0]
        return None, rows[0] if len(rows) == 1 else None

    def _move(self, case: Case, triage: Unit) -> None:
        source = case.handling_unit
        target, why = self._successor(case.handling_unit_id, case)
        lead = case.lead_unit
        if lead is not None and lead.valid_to is not None and lead.valid_to <= self.eff:
            lead = self._successor(lead.id, case)[0] or lead
        if target is None:
            target, to_triage = triage, True
            note = (
                f"Theo gói dữ liệu {self.name} (hiệu lực từ {self.eff:%d/%m/%Y}), "
                f"{source.name} không còn; chưa xác định được một đơn vị kế thừa duy nhất "
                f"cho hồ sơ này: chuyển {triage.name} phân loại."
            )
        else:
            to_triage = False
            assumed = (
                " (đơn vị kế thừa theo giả định của gói dữ liệu)"
                if why and why.certainty == "assumed"
                else ""
            )
            note = (
                f"Theo gói dữ liệu {self.name} (hiệu lực từ {self.eff:%d/%m/%Y}), "
                f"{source.name} không còn: hồ sơ chuyển đến {target.name}{assumed}."
            )
        if why is not None and why.note:
            note += f" Ghi chú: {why.note}"
        done = db.session.execute(
            update(Case)
            .where(Case.id == case.id, Case.handling_unit_id == source.id)
            .values(
                handling_unit_id=target.id,
                lead_unit_id=lead.id if lead is not None else None,
                needs_triage=to_triage or case.needs_triage,
                assigned_to_id=None,
                updated_at=self.now,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.expire(case)
        if done.rowcount != 1:  # transferred meanwhile by someone else: theirs stands
            return
        record(
            case,
            "reroute",
            user=self.actor,
            now=self.now,
            note=note,
            public=False,
            label=None if self.actor else "Hệ thống (áp dụng dữ liệu tham chiếu)",
            data={
                "pack": self.name,
                "from_unit": source.code,
                "to_unit": target.code,
                "triage": to_triage,
            },
        )
        self.result.moved.append(
            {"case": case.code, "from": source.code, "to": target.code, "triage": to_triage}
        )
        self.counts["cases.moved_to_triage" if to_triage else "cases.moved"] += 1

    def tell_coordinators(self) -> None:
        if not self.result.moved:
            return
        lines = [
            f"Gói dữ liệu tham chiếu {self.name} (hiệu lực từ {self.eff:%d/%m/%Y}) đã được "
            "áp dụng. Các hồ sơ đang mở của đơn vị không còn đã được chuyển:",
            "",
        ]
        for m in self.result.moved:
            where = "hàng chờ phân loại" if m["triage"] else m["to"]
            lines.append(f"- {m['case']}: {m['from']} → {where}")
        lines.append("")
        lines.append("Đề nghị kiểm tra các hồ sơ ở hàng chờ phân loại và giao đơn vị phù hợp.")
        coordinators = db.session.scalars(
            select(User).where(User.role == "coordinator", User.active).order_by(User.id)
        )
        for user in coordinators:
            if user.email:
                queue(
                    dedupe_key=f"reference:{self.name}:{self.eff}:{self.digest[:16]}:{user.id}",
                    recipient=user.email,
                    subject=f"Áp dụng dữ liệu tham chiếu {self.name}: hồ sơ được chuyển"[:300],
                    body="\n".join(lines),
                    kind="reference",
                    now=self.now,
                )

    def accounts(self) -> None:
        self.result.retired_accounts = accounts_of_retired_units(self.now)


def _area_successors(area_id: int) -> set[int]:
    """The case's area if it is still in force, else the areas recorded as its successors."""
    area = db.session.get(Area, area_id)
    if area is not None and area.valid_to is None:
        return {area.id}
    rows = db.session.scalars(
        select(Succession.to_area_id).where(
            Succession.from_area_id == area_id, Succession.to_area_id.is_not(None)
        )
    )
    return set(rows)


def _ref(table: dict[str, Any], code: str, what: str, where: str) -> Any:
    try:
        return table[code]
    except KeyError:
        raise ValidationError(
            N_(
                "%(where)s: mã %(what)s «%(code)s» không có trong gói dữ liệu.",
                where=where,
                what=what,
                code=code,
            )
        ) from None


def accounts_of_retired_units(now: datetime) -> list[dict[str, str]]:
    """Active accounts whose unit was retired by a pack: they keep working (and seeing
    what their unit handled) until an admin moves them to a unit in force."""
    day = local_day(now)
    rows = db.session.execute(
        select(User, Unit)
        .join(Unit, User.unit_id == Unit.id)
        .where(User.active, Unit.valid_to.is_not(None), Unit.valid_to <= day)
        .order_by(Unit.code, User.username)
    ).all()
    return [
        {
            "username": user.username,
            "role": user.role,
            "role_label": user.role_label,
            "unit": unit.code,
            "unit_name": unit.name,
            "retired_on": unit.valid_to.isoformat() if unit.valid_to else "",
        }
        for user, unit in rows
    ]


def apply_pack(path: Path, *, actor: User | None, now: datetime) -> Applied:
    """Apply the pack at ``path`` in the current transaction (the caller commits)."""
    raw = path.read_bytes() if path.exists() else b""
    data = read_file(path)
    job = _Pack(data, hashlib.sha256(raw).hexdigest(), actor, now)
    job.result.not_applied = sorted(set(data) - SECTIONS)
    later = db.session.scalar(
        select(func.max(ReferencePack.effective_from)).where(ReferencePack.effective_from > job.eff)
    )
    if later is not None:
        raise ValidationError(
            N_(
                "Đã áp dụng một gói dữ liệu có hiệu lực từ %(later)s, sau ngày %(day)s của gói "
                "này: không thể áp dụng lùi.",
                later=f"{later:%d/%m/%Y}",
                day=f"{job.eff:%d/%m/%Y}",
            )
        )
    areas = job.areas()
    units = job.units(areas)
    cats = job.categories()
    job.rules(cats, areas, units)
    job.settings()
    job.successions(areas, units)
    job.move_open_cases()
    job.accounts()
    pack = job.pack()
    if job.result.changed:
        job.tell_coordinators()
        pack.digest = job.digest
        pack.applied_at = now
        pack.summary = {k: v for k, v in job.result.as_dict().items() if k != "pack"}
        audit(
            "reference.apply",
            actor=(actor.id, actor.display_name) if actor else None,
            target=f"{job.name}@{job.eff.isoformat()}",
            details={"changed": job.result.changed, "counts": dict(job.counts)},
        )
    db.session.flush()
    return job.result


@dataclass(frozen=True)
class Overview:
    """What the admin's reference page shows."""

    packs: list[ReferencePack]
    areas: list[Area]
    successions: list[Succession]
    retired_accounts: list[dict[str, str]]


def overview(now: datetime) -> Overview:
    """Applied packs, every area with its period, the successions, and the accounts an
    admin still has to move off retired units."""
    return Overview(
        packs=list(
            db.session.scalars(select(ReferencePack).order_by(ReferencePack.effective_from))
        ),
        areas=list(db.session.scalars(select(Area).order_by(Area.code, Area.valid_from))),
        successions=list(
            db.session.scalars(
                select(Succession).order_by(
                    Succession.effective_from, Succession.kind, Succession.id
                )
            )
        ),
        retired_accounts=accounts_of_retired_units(now),
    )
