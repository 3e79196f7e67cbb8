"""Routing by category and area, with the plan's routing table in miniature."""

from __future__ import annotations

import pytest

from feedback.domain.routing import HandlingTarget, Route, RoutingRule, route_case

QUANG_TRUNG = "00688"
NGOC_HA = "00692"
UNMAPPED = "99999"

AREA_UNITS = {
    QUANG_TRUNG: {"people_committee": "UBND-00688", "police": "CA-00688"},
    NGOC_HA: {"people_committee": "UBND-00692"},  # police deliberately missing
}

RULES = [
    RoutingRule("5.3", HandlingTarget.UNIT, handling_unit_code="TNMT", lead_unit_code="TNMT"),
    RoutingRule("2.4", HandlingTarget.AREA_COMMITTEE, lead_unit_code="TNMT"),
    RoutingRule("6.4", HandlingTarget.AREA_POLICE, lead_unit_code="CA"),
    RoutingRule("4.1", HandlingTarget.TRIAGE, lead_unit_code="TTR"),
    # 6.3b roads: the ward's committee in general, but in Ngọc Hà the urban office itself.
    RoutingRule("6.3b", HandlingTarget.AREA_COMMITTEE, lead_unit_code="QLDT"),
    RoutingRule(
        "6.3b",
        HandlingTarget.UNIT,
        handling_unit_code="QLDT",
        lead_unit_code="QLDT",
        area_code=NGOC_HA,
    ),
    RoutingRule("9.9", HandlingTarget.UNIT, lead_unit_code="VP"),  # broken: no unit named
]


def route(category: str | None, area: str | None) -> Route:
    return route_case(category, area, RULES, AREA_UNITS)


@pytest.mark.parametrize(
    ("category", "area", "handling", "lead", "triage"),
    [
        pytest.param("5.3", QUANG_TRUNG, "TNMT", "TNMT", False, id="unit"),
        pytest.param("5.3", None, "TNMT", "TNMT", False, id="unit-needs-no-area"),
        pytest.param("2.4", QUANG_TRUNG, "UBND-00688", "TNMT", False, id="area-committee"),
        pytest.param("6.4", QUANG_TRUNG, "CA-00688", "CA", False, id="area-police"),
        pytest.param("4.1", QUANG_TRUNG, "VP", "TTR", True, id="unit-concerned-is-triage"),
        pytest.param("2.4", None, "VP", "TNMT", True, id="area-committee-without-area"),
        pytest.param("6.4", None, "VP", "CA", True, id="area-police-without-area"),
        pytest.param("6.4", NGOC_HA, "VP", "CA", True, id="area-without-police-unit"),
        pytest.param("2.4", UNMAPPED, "VP", "TNMT", True, id="unknown-area"),
        pytest.param("6.3b", NGOC_HA, "QLDT", "QLDT", False, id="area-rule-beats-general"),
        pytest.param("6.3b", QUANG_TRUNG, "UBND-00688", "QLDT", False, id="general-elsewhere"),
        pytest.param("6.3b", None, "VP", "QLDT", True, id="general-when-no-area"),
        pytest.param("7.7", QUANG_TRUNG, "VP", None, True, id="no-rule"),
        pytest.param(None, QUANG_TRUNG, "VP", None, True, id="no-category"),
        pytest.param("", QUANG_TRUNG, "VP", None, True, id="empty-category"),
        pytest.param("9.9", QUANG_TRUNG, "VP", "VP", True, id="unit-rule-without-unit"),
    ],
)
def test_route_case(
    category: str | None, area: str | None, handling: str, lead: str | None, triage: bool
) -> None:
    result = route(category, area)
    assert result.handling_unit_code == handling
    assert result.lead_unit_code == lead
    assert result.needs_triage is triage
    assert result.reason  # always explained


def test_matched_rule_is_reported() -> None:
    result = route("6.3b", NGOC_HA)
    assert result.rule is not None
    assert result.rule.area_code == NGOC_HA
    assert NGOC_HA in result.reason


def test_no_rule_reports_none_and_says_why() -> None:
    result = route("7.7", QUANG_TRUNG)
    assert result.rule is None
    assert "7.7" in result.reason
    assert route(None, None).rule is None


def test_triage_without_area_keeps_the_rule_and_says_why() -> None:
    result = route("2.4", None)
    assert result.rule is RULES[1]
    assert "chưa có địa bàn" in result.reason


def test_custom_triage_unit() -> None:
    result = route_case("7.7", None, RULES, AREA_UNITS, triage_unit_code="TTR")
    assert result.handling_unit_code == "TTR"
    assert result.needs_triage


def test_area_rule_wins_regardless_of_order() -> None:
    reordered = list(reversed(RULES))
    result = route_case("6.3b", NGOC_HA, reordered, AREA_UNITS)
    assert result.handling_unit_code == "QLDT"
    result = route_case("6.3b", QUANG_TRUNG, reordered, AREA_UNITS)
    assert result.handling_unit_code == "UBND-00688"


def test_first_of_equally_specific_rules_wins() -> None:
    rules = [
        RoutingRule("1.1", HandlingTarget.UNIT, handling_unit_code="VHTT"),
        RoutingRule("1.1", HandlingTarget.UNIT, handling_unit_code="NV"),
    ]
    assert route_case("1.1", None, rules, {}).handling_unit_code == "VHTT"


def test_rule_for_another_area_is_ignored() -> None:
    rules = [RoutingRule("1.1", HandlingTarget.UNIT, handling_unit_code="VHTT", area_code=NGOC_HA)]
    result = route_case("1.1", QUANG_TRUNG, rules, AREA_UNITS)
    assert result.needs_triage
    assert result.rule is None


def test_handling_target_accepts_plain_strings() -> None:
    rule = RoutingRule("2.4", "area:people_committee")  # type: ignore[arg-type]
    assert rule.handling is HandlingTarget.AREA_COMMITTEE
    with pytest.raises(ValueError, match="HandlingTarget"):
        RoutingRule("2.4", "area:court")  # type: ignore[arg-type]
