"""Who answers a case: the routing table of the city's plan, as data.

Each category names a lead unit (monitors) and a handling unit (answers). The handling
unit is either a named unit, the People's Committee or the police of the ward or commune
where the problem is, or "the unit concerned", which a coordinator must pick. Rules may be
narrowed to an area; the most specific rule wins.

Routing never fails: a case that cannot be routed automatically (no category, no rule,
no location, an area without such a unit) goes to triage at the coordinator's office with
a reason, because a citizen's case must always land on somebody's desk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class HandlingTarget(StrEnum):
    """Where a rule sends a case."""

    UNIT = "unit"  # a named unit
    AREA_COMMITTEE = "area:people_committee"  # the People's Committee of the case's area
    AREA_POLICE = "area:police"  # the police of the case's area
    TRIAGE = "triage"  # "the unit concerned": the coordinator picks


AREA_UNIT_FUNCTIONS: dict[HandlingTarget, str] = {
    HandlingTarget.AREA_COMMITTEE: "people_committee",
    HandlingTarget.AREA_POLICE: "police",
}
"""The key in an area's unit mapping for each area-bound target."""

AREA_UNIT_LABELS: dict[HandlingTarget, str] = {
    HandlingTarget.AREA_COMMITTEE: "UBND xã/phường",
    HandlingTarget.AREA_POLICE: "Công an xã/phường",
}


@dataclass(frozen=True)
class RoutingRule:
    """One row of the routing table, optionally narrowed to an area."""

    category_code: str
    handling: HandlingTarget
    handling_unit_code: str | None = None
    lead_unit_code: str | None = None
    area_code: str | None = None

    def __post_init__(self) -> None:
        # Rules come from a data file or the database as strings; a typo must fail at load.
        object.__setattr__(self, "handling", HandlingTarget(self.handling))


@dataclass(frozen=True)
class Route:
    """The outcome of routing: who handles, who leads, and why (shown in the timeline)."""

    handling_unit_code: str
    lead_unit_code: str | None
    needs_triage: bool
    reason: str
    rule: RoutingRule | None


def _select_rule(
    category_code: str, area_code: str | None, rules: Sequence[RoutingRule]
) -> RoutingRule | None:
    """The most specific rule for the category: one for the case's area beats a general one.

    Among equally specific rules the first in ``rules`` wins, so the caller's ordering is
    the tie-breaker and the result is deterministic.
    """
    general: RoutingRule | None = None
    for rule in rules:
        if rule.category_code != category_code:
            continue
        if rule.area_code is None:
            if general is None:
                general = rule
        elif area_code and rule.area_code == area_code:
            return rule
    return general


def route_case(
    category_code: str | None,
    area_code: str | None,
    rules: Sequence[RoutingRule],
    area_units: Mapping[str, Mapping[str, str]],
    triage_unit_code: str = "VP",
) -> Route:
    """Route a case by its category and area; anything unroutable goes to triage."""

    def triage(reason: str, rule: RoutingRule | None) -> Route:
        return Route(
            handling_unit_code=triage_unit_code,
            lead_unit_code=rule.lead_unit_code if rule else None,
            needs_triage=True,
            reason=f"{reason} Chuyển {triage_unit_code} phân loại.",
            rule=rule,
        )

    if not category_code:
        return triage("Hồ sơ chưa có lĩnh vực.", None)
    rule = _select_rule(category_code, area_code, rules)
    if rule is None:
        return triage(f"Không có quy tắc định tuyến cho lĩnh vực {category_code}.", None)
    scope = f" (quy tắc riêng cho địa bàn {rule.area_code})" if rule.area_code else ""
    where = f"Lĩnh vực {category_code}{scope}"

    if rule.handling is HandlingTarget.TRIAGE:
        return triage(f"{where} do đơn vị liên quan xử lý: cần chọn đơn vị.", rule)

    if rule.handling is HandlingTarget.UNIT:
        if not rule.handling_unit_code:
            return triage(f"{where}: quy tắc không ghi đơn vị xử lý.", rule)
        return Route(
            handling_unit_code=rule.handling_unit_code,
            lead_unit_code=rule.lead_unit_code,
            needs_triage=False,
            reason=f"{where} do đơn vị {rule.handling_unit_code} xử lý.",
            rule=rule,
        )

    label = AREA_UNIT_LABELS[rule.handling]
    if not area_code:
        return triage(f"{where} do {label} xử lý nhưng hồ sơ chưa có địa bàn.", rule)
    unit_code = area_units.get(area_code, {}).get(AREA_UNIT_FUNCTIONS[rule.handling])
    if not unit_code:
        return triage(
            f"{where} do {label} xử lý nhưng danh mục không có đơn vị này cho địa bàn {area_code}.",
            rule,
        )
    return Route(
        handling_unit_code=unit_code,
        lead_unit_code=rule.lead_unit_code,
        needs_triage=False,
        reason=f"{where} do {label} nơi xảy ra xử lý: {unit_code} (địa bàn {area_code}).",
        rule=rule,
    )
