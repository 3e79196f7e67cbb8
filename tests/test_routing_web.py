"""A case submitted on the web form is routed exactly as the routing table says, for every
category, with and without an area, and appears in that unit's inbox and nowhere else.

The expected table below is written out by hand from DESIGN.md ("Routing (the seed's
appendix)" and "Reference codes"); it is deliberately NOT read from the TOML data file, so a
wrong row in the data file fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import select

AREAS = ("00688", "00691", "00692", "00694", "00697", "00700", "00946", "00949")

UBND = "UBND"  # the People's Committee of the case's area: UBND-<area code>
CA = "CA"  # the police of the case's area: CA-<area code>
TRIAGE = "TRIAGE"  # "the unit concerned": the coordinator's office (VP) picks

# category → (lead unit, handling rule), from DESIGN.md's routing table.
EXPECTED: dict[str, tuple[str, str]] = {
    "1.1": ("VHTT", UBND),
    "1.2": ("NV", UBND),
    "1.3": ("NV", UBND),
    "1.4": ("TCKH", UBND),
    "2.1": ("TP", UBND),
    "2.2": ("LDTBXH", UBND),
    "2.3": ("TCKH", UBND),
    "2.4": ("TNMT", UBND),
    "3.1": ("NV", UBND),
    # "UBND xã/phường or the unit concerned": the ward's committee when the area is known.
    "3.2": ("TTR", UBND),
    "3.3": ("TP", "TAND"),
    "4.1": ("TTR", TRIAGE),
    "4.2": ("VP", "TTYT"),
    "4.3": ("GDDT", UBND),
    "4.4": ("NV", TRIAGE),
    "4.5": ("TTR", TRIAGE),
    # "the unit concerned, UBND xã/phường": the ward's committee when the area is known.
    "5.1": ("VP", UBND),
    "5.2": ("QLDT", UBND),
    "5.3": ("TNMT", "TNMT"),
    "6.1": ("VP", "TTYT"),
    "6.2": ("GDDT", UBND),
    "6.3a": ("KT", "DL"),
    "6.3b": ("QLDT", UBND),
    "6.3c": ("TNMT", "MTDT"),
    "6.3d": ("KT", "CTN"),
    "6.4": ("CA", CA),
    "7.1": ("TNMT", UBND),
    "7.2": ("KT", "KT"),
    "7.3": ("TNMT", "TNMT"),
    "8.1": ("VP", "VHTT"),
    "8.2": ("VHTT", UBND),
    "8.3": ("VP", TRIAGE),
}
CATEGORIES = list(EXPECTED)
TRIAGE_UNIT = "VP"


def expected_route(category: str, area: str | None) -> tuple[str, str, bool]:
    """(handling unit, lead unit, needs_triage) for a case of ``category`` in ``area``."""
    lead, rule = EXPECTED[category]
    if rule == TRIAGE or (rule in (UBND, CA) and area is None):
        return TRIAGE_UNIT, lead, True
    if rule == UBND:
        return f"UBND-{area}", lead, False
    if rule == CA:
        return f"CA-{area}", lead, False
    return rule, lead, False


def submit_web(client: FlaskClient, **fields: Any) -> str:
    """Submit the public form like a browser (GET for the token, then POST); the case code."""
    page = client.get("/gui")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "",
        "area_code": "",
        "address": "Tổ 5",
        "subject": "Phản ánh thử nghiệm định tuyến",
        "body": "Nội dung phản ánh đủ dài để được tiếp nhận và định tuyến.",
        "reporter_name": "Nguyễn Văn An",
        "reporter_phone": "0912345678",
        "reporter_email": "",
    }
    data.update({k: ("" if v is None else v) for k, v in fields.items()})
    response = client.post("/gui", data=data)
    assert response.status_code == 302, response.text
    match = re.search(r"/gui/da-nhan/([A-Z0-9-]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def stored_route(app: Flask, code: str) -> dict[str, Any]:
    from feedback.extensions import db
    from feedback.models import Case

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None, code
        return {
            "handling": case.handling_unit.code,
            "lead": case.lead_unit.code if case.lead_unit else None,
            "needs_triage": case.needs_triage,
            "category": case.category.code if case.category else None,
            "area": case.area.code if case.area else None,
            "channel": case.channel,
        }


def inbox_codes(client: FlaskClient) -> set[str]:
    response = client.get("/can-bo/")
    assert response.status_code == 200
    return set(re.findall(r'data-code="([^"]+)"', response.text))


def test_expected_table_covers_every_seeded_category(app: Flask) -> None:
    from feedback.extensions import db
    from feedback.models import Category

    assert len(EXPECTED) == 32
    with app.app_context():
        seeded = set(db.session.scalars(select(Category.code)))
    assert seeded == set(EXPECTED)


def test_web_form_offers_every_category_and_area(client: FlaskClient) -> None:
    page = client.get("/gui").text
    offered = set(re.findall(r'<option[^>]*value="([^"]*)"', page))
    assert set(EXPECTED) <= offered
    assert set(AREAS) <= offered


@pytest.mark.parametrize("category", CATEGORIES)
def test_web_case_is_routed_by_the_table(app: Flask, client: FlaskClient, category: str) -> None:
    area = AREAS[CATEGORIES.index(category) % len(AREAS)]  # 4 categories per area
    for where in (area, None):
        code = submit_web(client, category_code=category, area_code=where)
        handling, lead, triage = expected_route(category, where)
        got = stored_route(app, code)
        assert got == {
            "handling": handling,
            "lead": lead,
            "needs_triage": triage,
            "category": category,
            "area": where,
            "channel": "web",
        }, f"category {category}, area {where}"


def test_case_without_category_goes_to_triage(app: Flask, client: FlaskClient) -> None:
    code = submit_web(client, category_code="", area_code="00688")
    got = stored_route(app, code)
    assert (got["handling"], got["needs_triage"], got["category"]) == ("VP", True, None)


SAMPLES = {
    # handling unit: (category, area)
    "UBND-00688": ("6.3b", "00688"),
    "CA-00697": ("6.4", "00697"),
    "DL": ("6.3a", "00694"),
    "VP": ("4.1", "00691"),  # triage
}


def test_case_is_in_its_units_inbox_and_nowhere_else(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    codes: dict[str, str] = {}
    for unit, (category, area) in SAMPLES.items():
        codes[unit] = submit_web(client, category_code=category, area_code=area)
        assert stored_route(app, codes[unit])["handling"] == unit

    officers = {unit: client_for(app, make_user("officer", unit_code=unit)[1]) for unit in SAMPLES}
    # Same area as CA-00697 but another unit: sharing an area must not share cases.
    officers["UBND-00697"] = client_for(app, make_user("officer", unit_code="UBND-00697")[1])

    for unit, officer in officers.items():
        seen = inbox_codes(officer)
        mine = {codes[unit]} if unit in codes else set()
        assert seen & set(codes.values()) == mine, f"officer of {unit} sees {seen}"
        for owner, code in codes.items():
            page = officer.get(f"/can-bo/ho-so/{code}")
            if owner == unit:
                assert page.status_code == 200
                assert code in page.text
            else:
                assert page.status_code == 404, f"officer of {unit} opened {owner}'s {code}"
                assert "Nguyễn Văn An" not in page.text

    for role in ("coordinator", "inspector"):
        staff = client_for(app, make_user(role)[1])
        assert set(codes.values()) <= inbox_codes(staff), role
        for code in codes.values():
            assert staff.get(f"/can-bo/ho-so/{code}").status_code == 200, (role, code)


def test_unit_head_sees_only_own_unit(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    mine = submit_web(client, category_code="6.3b", area_code="00688")
    other = submit_web(client, category_code="6.3b", area_code="00691")
    head = client_for(app, make_user("unit_head", unit_code="UBND-00688")[1])
    seen = inbox_codes(head)
    assert mine in seen
    assert other not in seen
    assert head.get(f"/can-bo/ho-so/{other}").status_code == 404


def test_area_specific_rule_beats_the_general_one(app: Flask, client: FlaskClient) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Area, Category, RoutingRule, Unit

    with app.app_context(), unit_of_work():
        db.session.add(
            RoutingRule(
                category_id=db.session.scalar(select(Category.id).where(Category.code == "6.3c")),
                area_id=db.session.scalar(select(Area.id).where(Area.code == "00949")),
                handling="area:people_committee",
                handling_unit_id=None,
                lead_unit_id=db.session.scalar(select(Unit.id).where(Unit.code == "TNMT")),
                note="Xã Phương Thiện tự thu gom rác",
            )
        )

    narrowed = stored_route(app, submit_web(client, category_code="6.3c", area_code="00949"))
    assert (narrowed["handling"], narrowed["lead"], narrowed["needs_triage"]) == (
        "UBND-00949",
        "TNMT",
        False,
    )
    general = stored_route(app, submit_web(client, category_code="6.3c", area_code="00688"))
    assert (general["handling"], general["lead"], general["needs_triage"]) == (
        "MTDT",
        "TNMT",
        False,
    )
    anywhere = stored_route(app, submit_web(client, category_code="6.3c", area_code=None))
    assert anywhere["handling"] == "MTDT"
