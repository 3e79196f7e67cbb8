"""GET /api/v1/deadlines (public) and GET /api/v1/oversight/breaches (inspectors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from feedback.database import unit_of_work
from feedback.models import User
from feedback.services.accounts.users import issue_token


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


def _inspector_token(app: Flask, make_user: Any) -> dict[str, str]:
    from feedback.extensions import db

    user_id, _ = make_user("inspector", unit_code="TTR")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def test_breaches_page_by_page(
    app: Flask, client: FlaskClient, make_user: Any, make_case: Any
) -> None:
    now = datetime.now(UTC)
    late = [make_case(now=now - timedelta(days=20 + i)) for i in range(5)]
    headers = _inspector_token(app, make_user)
    everything = client.get("/api/v1/oversight/breaches", headers=headers).json
    assert everything["page"] == 1 and everything["per_page"] == 50 and everything["pages"] == 1
    codes = [item["code"] for item in everything["items"]]
    assert set(late) <= set(codes) and everything["total"] == len(codes)
    counts = everything["counts"]
    assert counts["total"] == len(codes) and counts["overdue"] >= 5
    assert counts["overdue"] + counts["at_risk"] == counts["total"]
    assert counts["response_overdue"] + counts["ack_overdue_only"] == counts["overdue"]
    pages = [
        client.get(f"/api/v1/oversight/breaches?per_page=2&page={n}", headers=headers).json
        for n in (1, 2, 3, 4)
    ]
    assert [item["code"] for p in pages for item in p["items"]] == codes
    assert [len(p["items"]) for p in pages][:2] == [2, 2]
    for p in pages:  # the counts do not depend on the page
        assert p["counts"] == counts and p["total"] == len(codes)
        assert p["per_page"] == 2 and p["pages"] == -(-len(codes) // 2)
    assert pages[1]["page"] == 2 and pages[1]["items"][0]["code"] == codes[2]
    overdue = client.get(
        "/api/v1/oversight/breaches?state=overdue&per_page=200", headers=headers
    ).json
    assert overdue["total"] == counts["overdue"] and overdue["counts"] == counts


def test_breaches_refuse_bad_pages(app: Flask, client: FlaskClient, make_user: Any) -> None:
    headers = _inspector_token(app, make_user)
    for query, fields in (
        ("page=0", {"page"}),
        ("page=abc", {"page"}),
        ("page=-2", {"page"}),
        ("page=2.5", {"page"}),
        ("page=12345678", {"page"}),
        ("per_page=201", {"per_page"}),
        ("per_page=0", {"per_page"}),
        ("per_page=ten&state=late", {"per_page", "state"}),
    ):
        response = client.get(f"/api/v1/oversight/breaches?{query}", headers=headers)
        assert response.status_code == 422, query
        body = response.json
        assert body["error"] == "validation_failed" and set(body["fields"]) == fields, query
        assert all("Phải là số nguyên từ 1 đến" in body["fields"][f] for f in fields - {"state"})
    assert client.get("/api/v1/oversight/breaches?page=99", headers=headers).json["items"] == []
    # A NUL byte stops at the input gate, in the API's error shape.
    body = client.get("/api/v1/oversight/breaches?page=%00", headers=headers).json
    assert body["error"] == "validation_failed" and set(body["fields"]) == {"page"}
    assert body["fields"]["page"] == "Có ký tự điều khiển không hợp lệ."
