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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from .marks import N_, Said


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
    HandlingTarget.AREA_COMMITTEE: N_("UBND xã/phường"),
    HandlingTarget.AREA_POLICE: N_("Công an xã/phường"),
}


# Why a case went where it went: stored on the case (``routing_reason``) in Vietnamese, and
# read back (``reason_message``) to be shown in the reader's language.
TO_TRIAGE = N_("%(reason)s Chuyển %(unit)s phân loại.")
NO_CATEGORY = N_("Hồ sơ chưa có lĩnh vực.")
NO_RULE = N_("Không có quy tắc định tuyến cho lĩnh vực %(category)s.")
WHERE = N_("Lĩnh vực %(category)s")
WHERE_IN_AREA = N_("Lĩnh vực %(category)s (quy tắc riêng cho địa bàn %(area)s)")
UNIT_CONCERNED = N_("%(where)s do đơn vị liên quan xử lý: cần chọn đơn vị.")
NO_UNIT_IN_RULE = N_("%(where)s: quy tắc không ghi đơn vị xử lý.")
TO_UNIT = N_("%(where)s do đơn vị %(unit)s xử lý.")
NO_AREA = N_("%(where)s do %(label)s xử lý nhưng hồ sơ chưa có địa bàn.")
NO_AREA_UNIT = N_(
    "%(where)s do %(label)s xử lý nhưng danh mục không có đơn vị này cho địa bàn %(area)s."
)
TO_AREA_UNIT = N_("%(where)s do %(label)s nơi xảy ra xử lý: %(unit)s (địa bàn %(area)s).")


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
            reason=N_(TO_TRIAGE, reason=reason, unit=triage_unit_code),
            rule=rule,
        )

    if not category_code:
        return triage(N_(NO_CATEGORY), None)
    rule = _select_rule(category_code, area_code, rules)
    if rule is None:
        return triage(N_(NO_RULE, category=category_code), None)
    where = (
        N_(WHERE_IN_AREA, category=category_code, area=rule.area_code)
        if rule.area_code
        else N_(WHERE, category=category_code)
    )

    if rule.handling is HandlingTarget.TRIAGE:
        return triage(N_(UNIT_CONCERNED, where=where), rule)

    if rule.handling is HandlingTarget.UNIT:
        if not rule.handling_unit_code:
            return triage(N_(NO_UNIT_IN_RULE, where=where), rule)
        return Route(
            handling_unit_code=rule.handling_unit_code,
            lead_unit_code=rule.lead_unit_code,
            needs_triage=False,
            reason=N_(TO_UNIT, where=where, unit=rule.handling_unit_code),
            rule=rule,
        )

    label = AREA_UNIT_LABELS[rule.handling]
    if not area_code:
        return triage(N_(NO_AREA, where=where, label=label), rule)
    unit_code = area_units.get(area_code, {}).get(AREA_UNIT_FUNCTIONS[rule.handling])
    if not unit_code:
        return triage(N_(NO_AREA_UNIT, where=where, label=label, area=area_code), rule)
    return Route(
        handling_unit_code=unit_code,
        lead_unit_code=rule.lead_unit_code,
        needs_triage=False,
        reason=N_(TO_AREA_UNIT, where=where, label=label, unit=unit_code, area=area_code),
        rule=rule,
    )


# -- reading a stored reason back ------------------------------------------------------------

_PARTS: dict[str, tuple[str, ...]] = {
    "where": (WHERE_IN_AREA, WHERE),
    "reason": (
        NO_CATEGORY,
        NO_RULE,
        UNIT_CONCERNED,
        NO_UNIT_IN_RULE,
        NO_AREA_UNIT,
        NO_AREA,
    ),
}
"""The templates a value of each name was filled from (most specific first)."""

_FIELD = {
    "label": "|".join(re.escape(label) for label in AREA_UNIT_LABELS.values()),
    "category": r"\S+",
    "area": r"[^\s)]+",
    "unit": r"\S+?",
}


@cache  # a handful of templates, read back for every row of the triage list
def _pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"%\((\w+)\)s", template)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(f"(?P<{piece}>{_FIELD.get(piece, '.+?')})")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


def _reread(text: str, templates: tuple[str, ...]) -> str:
    for template in templates:
        found = _pattern(template).fullmatch(text)
        if found is None:
            continue
        values = {
            name: _reread(value, _PARTS[name]) if name in _PARTS else value
            for name, value in found.groupdict().items()
        }
        said = Said(template, values)
        if said == text:
            return said
    return text


def reason_message(stored: str) -> str:
    """A routing reason as stored on a case (plain Vietnamese), read back into the marked
    message it was made from, so a page can show it in the reader's language
    (``translated``); a text no template matches (written by hand, or by an older version)
    comes back as it is."""
    return _reread(stored, (TO_TRIAGE, TO_UNIT, TO_AREA_UNIT))
