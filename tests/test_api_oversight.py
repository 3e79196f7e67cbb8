"""GET /api/v1/deadlines (public) and GET /api/v1/oversight/breaches (inspectors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from feedback.database import unit_of_work
from feedback.models import User
from feedback.services.users import issue_token


def test_deadlines_follow_the_calendar(client: FlaskClient) -> None:
    # DESIGN's example: received Fri 2 Feb 2024 → due Mon 19 Feb 23:59:59 +07:00
    response = client.get("/api/v1/deadlines?received_at=2024-02-02T10:00:00%2B07:00&kind=petition")
    assert response.status_code == 200, response.text
    body = response.json
    assert body["ack_due_at"] == "2024-02-03T10:00:00+07:00"
    assert body["response_due_at"] == "2024-02-19T23:59:59+07:00"
    assert any("Tết" in line or "Nguyên đán" in line for line in body["explanation"])
    complaint = client.get(
        "/api/v1/deadlines?received_at=2024-02-02T10:00:00%2B07:00&kind=complaint"
    )
    assert complaint.json["response_due_at"] > body["response_due_at"]


def test_deadlines_refuse_bad_input(client: FlaskClient) -> None:
    for query, field in (
        ("received_at=yesterday", "received_at"),
        ("received_at=2024-02-02T10:00:00", "received_at"),
        ("kind=gossip", "kind"),
        ("received_at=0001-01-01T00:00:00%2B07:00", "received_at"),
    ):
        response = client.get(f"/api/v1/deadlines?{query}")
        assert response.status_code == 422, query
        assert response.json["error"] == "validation_failed" and field in response.json["fields"]


def test_breaches_for_inspectors_only(
    app: Flask, client: FlaskClient, make_user: Any, make_case: Any
) -> None:
    late = make_case(now=datetime.now(UTC) - timedelta(days=20))
    fresh = make_case()
    tokens = {}
    for role, unit in (("inspector", "TTR"), ("officer", "UBND-00694")):
        user_id, _ = make_user(role, unit_code=unit)
        from feedback.extensions import db

        with app.app_context(), unit_of_work():
            tokens[role] = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    assert client.get("/api/v1/oversight/breaches").status_code == 401
    officer = client.get(
        "/api/v1/oversight/breaches", headers={"Authorization": f"Bearer {tokens['officer']}"}
    )
    assert officer.status_code == 403
    response = client.get(
        "/api/v1/oversight/breaches", headers={"Authorization": f"Bearer {tokens['inspector']}"}
    )
    assert response.status_code == 200, response.text
    codes = [item["code"] for item in response.json["items"]]
    assert late in codes and fresh not in codes
    assert "reporter" not in response.text and "Trần Thị Bình" not in response.text
    bad = client.get(
        "/api/v1/oversight/breaches?state=whenever",
        headers={"Authorization": f"Bearer {tokens['inspector']}"},
    )
    assert bad.status_code == 422
