"""Staff link a case to another about the same matter, from the case page."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import select

from feedback.models import CaseLink


def _link(client: FlaskClient, code: str, other: str) -> Any:
    page = client.get(f"/can-bo/ho-so/{code}")
    assert page.status_code == 200
    return client.post(
        f"/can-bo/ho-so/{code}/lien-ket",
        data={"csrf_token": csrf_from(page.text), "link_to": other.lower()},
    )


def test_officer_links_two_cases_once(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    first = make_case(area_code="00688", category_code="6.3b")
    second = make_case(area_code="00688", category_code="6.3b", subject="Đèn đường lại hỏng")
    login_as("officer", "UBND-00688")
    assert _link(client, second, first).status_code == 303
    assert _link(client, second, first).status_code == 303  # a second time changes nothing
    page = client.get(f"/can-bo/ho-so/{second}")
    assert first in page.text and "Đã liên kết" in page.text
    from feedback.extensions import db

    with app.app_context():
        links = db.session.scalars(select(CaseLink)).all()
        assert [(lk.case.code, lk.linked_case.code) for lk in links] == [(second, first)]
        assert [e.action for e in links[0].linked_case.events][-1] == "link"


def test_unknown_or_self_link_is_refused_with_a_message(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    code = make_case(area_code="00688", category_code="6.3b")
    login_as("officer", "UBND-00688")
    response = _link(client, code, "HG-1999-000001")
    assert response.status_code == 303
    assert "Không có hồ sơ HG-1999-000001" in client.get(f"/can-bo/ho-so/{code}").text
    _link(client, code, code)
    from feedback.extensions import db

    with app.app_context():
        assert db.session.scalars(select(CaseLink)).all() == []


def test_link_needs_the_permission(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    code = make_case(area_code="00688", category_code="6.3b")
    other = make_case(area_code="00691", category_code="6.3b")
    login_as("officer", "UBND-00691")  # sees `other`, not `code`
    page = client.get(f"/can-bo/ho-so/{other}")
    response = client.post(
        f"/can-bo/ho-so/{code}/lien-ket",
        data={"csrf_token": csrf_from(page.text), "link_to": other},
    )
    assert response.status_code == 404
