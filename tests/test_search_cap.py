"""Staff search and the API's case list at national scale (issue 17): the total is exact up
to SEARCH_TOTAL_CAP and "more than" past it, on the page and in the API (``total_capped``);
few and many matches take different plans and give the same answers.

The cap is set small through the app's config, so that a handful of cases crosses it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from helpers import staff_client
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, User
from feedback.services import fulltext
from feedback.services.accounts.users import issue_token
from feedback.services.oversight import search

WASTE = {
    "subject": "Rác thải không được thu gom",
    "body": "Rác thải tồn đọng ở đầu ngõ 12 đường Trần Phú mấy ngày nay.",
    "category_code": "6.3c",
    "area_code": "00688",
}


@pytest.fixture
def waste(make_case: Callable[..., str]) -> list[str]:
    """Five cases about rubbish, newest first, and one about a street light (not rubbish)."""
    now = datetime.now(UTC)
    codes = [make_case(**WASTE, now=now - timedelta(hours=h)) for h in (1, 2, 3, 4, 5)]
    make_case(now=now - timedelta(hours=6))
    return codes


def _search(app: Flask, user_id: int, args: dict[str, list[str]]) -> search.Results:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return search.search(user, args, datetime.now(UTC))


@pytest.mark.parametrize("walk_from", [0, 10_000])
def test_the_total_is_exact_up_to_the_cap_then_more_than(
    app: Flask,
    make_user: Callable[..., Any],
    waste: list[str],
    monkeypatch: pytest.MonkeyPatch,
    walk_from: int,
) -> None:
    """Five matches: a cap of 5 counts them exactly, a cap of 3 says "more than 3" and
    still lists every case of the page, newest first, with either plan; the same for a
    unit's officer (counted through the cases, not the word index) and without words."""
    monkeypatch.setattr(fulltext, "WALK_FROM", walk_from)
    monkeypatch.setattr(fulltext, "WALK_FROM_POSTGRESQL", walk_from)
    inspector_id, _ = make_user("inspector")
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == waste[0]))
        assert case is not None
        unit = case.handling_unit.code
    officer_id, _ = make_user("officer", unit_code=unit)
    for user_id in (inspector_id, officer_id):
        app.config["SEARCH_TOTAL_CAP"] = 5
        exact = _search(app, user_id, {"q": ["rac thai"]})
        assert (exact.total, exact.capped) == (5, False)
        assert [c.code for c in exact.cases] == waste
        app.config["SEARCH_TOTAL_CAP"] = 3
        capped = _search(app, user_id, {"q": ["rác thải"]})
        assert (capped.total, capped.capped) == (3, True)
        assert [c.code for c in capped.cases] == waste
        second = _search(app, user_id, {"q": ["rac thai"], "per_page": ["2"], "page": ["2"]})
        assert [c.code for c in second.cases] == waste[2:4]
        assert (second.total, second.capped, second.pages) == (3, True, 2)
    everything = _search(app, inspector_id, {})
    assert (everything.total, everything.capped) == (3, True)
    assert len(everything.cases) == 6
    app.config["SEARCH_TOTAL_CAP"] = 6
    everything = _search(app, inspector_id, {})
    assert (everything.total, everything.capped) == (6, False)


def test_the_api_and_the_page_say_more_than(
    app: Flask, make_user: Callable[..., Any], waste: list[str]
) -> None:
    app.config["SEARCH_TOTAL_CAP"] = 3
    user_id, _ = make_user("inspector")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for query, total, capped in (("?q=rac+thai", 3, True), ("", 3, True), ("?q=den", 1, False)):
        body = client.get(f"/api/v1/cases{query}", headers=headers).get_json()
        assert (body["total"], body["total_capped"]) == (total, capped), query
    listed = client.get("/api/v1/cases?q=rac", headers=headers).get_json()["items"]
    assert [item["code"] for item in listed] == waste
    browser = staff_client(app, make_user, "inspector", None)
    page = browser.get("/can-bo/tim-kiem/?q=rac+thai")
    assert page.status_code == 200
    assert "Tìm thấy hơn 3 hồ sơ" in page.text
    app.config["SEARCH_TOTAL_CAP"] = 10_000
    page = browser.get("/can-bo/tim-kiem/?q=rac+thai")
    assert "Tìm thấy 5 hồ sơ." in page.text and "hơn" not in page.text.split("Tìm thấy")[1][:20]


def test_plans_of_postgresql_are_those_intended(app: Flask, waste: list[str]) -> None:
    """Few matches are sorted (an order no index gives), many are walked (a word test no
    index answers): the statements say so, whatever the planner would have preferred."""
    with app.app_context():
        dialect = db.session.get_bind().dialect
        few = (
            select(Case.id)
            .where(fulltext.matches(["rac"]))
            .order_by(*fulltext.newest_first(sort_matches=True))
        )
        many = (
            select(Case.id)
            .where(fulltext.matches(["rac"], newest_first_walk=True))
            .order_by(*fulltext.newest_first(sort_matches=False))
        )
        few_sql = str(few.compile(dialect=dialect))
        many_sql = str(many.compile(dialect=dialect))
        assert db.session.scalars(few).all() == db.session.scalars(many).all()
        assert len(db.session.scalars(few).all()) == 5
        if dialect.name == "postgresql":
            assert "interval '0'" in few_sql and "IS true" in many_sql
        else:
            assert "cases.id + " in many_sql and "interval" not in few_sql
