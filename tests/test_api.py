"""The JSON API v1 for cases (DESIGN.md, "Public contract of the JSON API (v1)"; issue 3).

Every refusal is checked for the error shape and for writing nothing (rows counted before
and after). Expected routes and due dates are written out by hand from DESIGN.md, and
cross-checked against the deadline service for the same received_at.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.api import cases as api_cases
from feedback.api import inputs
from feedback.api.outputs import iso
from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, CaseEvent, IdempotencyKey, Notification, User
from feedback.services.accounts.users import issue_token
from feedback.services.reference.policies import deadlines_for

URL = "/api/v1/cases"
ERROR_KEYS = {"error", "message", "fields"}

BODY: dict[str, Any] = {
    "kind": "feedback",
    "subject": "Mất điện kéo dài ở tổ 5",
    "body": "Khu tổ 5 phường Minh Khai mất điện từ sáng đến giờ vẫn chưa có lại.",
    "category_code": "6.3a",
    "area_code": "00697",
    "address": "Tổ 5, phường Minh Khai",
    "lat": 22.8233,
    "lon": 104.9836,
    "reporter": {
        "name": "Nguyễn Văn An",
        "phone": "0912345678",
        "email": "an@example.vn",
        "anonymous": False,
    },
}


def body(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(BODY))
    for name, value in changes.items():
        if value is _DROP:
            data.pop(name, None)
        else:
            data[name] = value
    return data


_DROP = object()


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, CaseEvent, IdempotencyKey, Notification)
        }


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert set(data) == ERROR_KEYS, data
    assert isinstance(data["message"], str) and data["message"]
    assert isinstance(data["fields"], dict)
    if code is not None:
        assert data["error"] == code, data
    return data


@pytest.fixture
def token_for(app: Flask, make_user: Callable[..., Any]) -> Callable[..., str]:
    """An API token for a new account of ``role``: token_for("officer", "DL")."""

    def factory(role: str, unit_code: str | None = None) -> str:
        if unit_code is None and role in {"officer", "unit_head", "clerk"}:
            unit_code = "UBND-00688"
        user_id, _ = make_user(role, unit_code=unit_code)
        with app.app_context(), unit_of_work():
            return issue_token(db.session.get(User, user_id), datetime.now(UTC))

    return factory


def stored_case(app: Flask, code: str) -> dict[str, Any]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        due = deadlines_for(case.kind, case.received_at)
        return {
            "channel": case.channel,
            "received_at": case.received_at,
            "external_ref": case.external_ref,
            "created_by_id": case.created_by_id,
            "reporter_name": case.reporter_name,
            "handling_unit": case.handling_unit.code,
            "ack_due_at": iso(due.ack_due_at),
            "response_due_at": iso(due.response_due_at),
        }


# --- creating -----------------------------------------------------------------------------


def test_citizen_post_creates_a_routed_case_with_the_domain_deadlines(
    app: Flask, client: FlaskClient
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = client.post(URL, json=BODY)
    after = datetime.now(UTC)

    assert response.status_code == 201, response.text
    data = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/cases/{data['code']}")
    assert set(data) == {
        "code",
        "access_key",
        "status",
        "kind",
        "channel",
        "received_at",
        "ack_due_at",
        "response_due_at",
        "category",
        "area",
        "handling_unit",
        "lead_unit",
    }
    assert data["status"] == "received" and data["kind"] == "feedback"
    assert data["channel"] == "api"
    assert len(data["access_key"].replace("-", "")) == 16
    # 6.3a electricity: handled by Điện lực thành phố, monitored by Phòng Kinh tế.
    assert data["handling_unit"]["code"] == "DL"
    assert data["lead_unit"]["code"] == "KT"
    assert data["category"]["code"] == "6.3a" and data["category"]["name"]
    assert data["area"] == {"code": "00697", "name": "Phường Minh Khai"}
    for name in ("received_at", "ack_due_at", "response_due_at"):
        assert data[name].endswith("+07:00"), data[name]
    received = datetime.fromisoformat(data["received_at"])
    assert before <= received <= after
    stored = stored_case(app, data["code"])
    assert data["ack_due_at"] == stored["ack_due_at"]
    assert data["response_due_at"] == stored["response_due_at"]
    assert datetime.fromisoformat(data["ack_due_at"]) == received + timedelta(hours=24)
    assert stored["channel"] == "api" and stored["created_by_id"] is None
    assert stored["reporter_name"] == "Nguyễn Văn An"


@pytest.mark.parametrize(
    ("category", "area", "handling", "lead"),
    [
        ("6.3a", None, "DL", "KT"),
        ("6.4", "00697", "CA-00697", "CA"),
        ("6.3b", "00688", "UBND-00688", "QLDT"),
        ("6.3c", "00691", "MTDT", "TNMT"),
        ("6.4", None, "VP", "CA"),  # ward police, but no ward given: triage
    ],
)
def test_routing_follows_the_table(
    client: FlaskClient, category: str, area: str | None, handling: str, lead: str
) -> None:
    response = client.post(URL, json=body(category_code=category, area_code=area))
    assert response.status_code == 201, response.text
    data = response.get_json()
    assert data["handling_unit"]["code"] == handling
    assert data["lead_unit"]["code"] == lead


def test_case_without_category_or_area_goes_to_triage(client: FlaskClient) -> None:
    response = client.post(URL, json=body(category_code=_DROP, area_code=None))
    assert response.status_code == 201, response.text
    data = response.get_json()
    assert data["category"] is None and data["area"] is None
    assert data["handling_unit"]["code"] == "VP"


def test_anonymous_case_needs_no_identity(app: Flask, client: FlaskClient) -> None:
    response = client.post(URL, json=body(reporter={"anonymous": True, "name": "Ẩn"}))
    assert response.status_code == 201, response.text
    assert stored_case(app, response.get_json()["code"])["reporter_name"] is None


def test_operator_enters_a_hotline_call_with_its_start_time(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    token = token_for("operator")
    response = client.post(
        URL,
        json=body(
            channel="hotline",
            received_at="2024-02-02T10:00:00+07:00",
            external_ref="1022-000001",
        ),
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    data = response.get_json()
    assert data["channel"] == "hotline"
    assert data["received_at"] == "2024-02-02T10:00:00+07:00"
    # DESIGN.md's worked example: Friday 2 Feb 2024, Tết 8-14 Feb → Monday 19 Feb.
    assert data["ack_due_at"] == "2024-02-03T10:00:00+07:00"
    assert data["response_due_at"] == "2024-02-19T23:59:59+07:00"
    stored = stored_case(app, data["code"])
    assert (stored["ack_due_at"], stored["response_due_at"]) == (
        data["ack_due_at"],
        data["response_due_at"],
    )
    assert stored["external_ref"] == "1022-000001"
    assert stored["created_by_id"] is not None


def test_received_at_in_utc_is_answered_in_local_time(
    client: FlaskClient, token_for: Callable[..., str]
) -> None:
    response = client.post(
        URL,
        json=body(channel="box", received_at="2024-02-01T20:30:00Z"),
        headers=auth(token_for("clerk")),
    )
    assert response.status_code == 201, response.text
    data = response.get_json()
    assert data["channel"] == "box"
    assert data["received_at"] == "2024-02-02T03:30:00+07:00"
    # Received on Friday 2 Feb local time, so the same answer day as above.
    assert data["response_due_at"] == "2024-02-19T23:59:59+07:00"


def test_staff_token_without_channel_defaults_to_api(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    response = client.post(URL, json=BODY, headers=auth(token_for("coordinator")))
    assert response.status_code == 201, response.text
    assert response.get_json()["channel"] == "api"


def test_same_external_ref_twice_is_one_case(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    token = token_for("operator")
    sent = body(channel="hotline", received_at="2024-03-04T09:00:00+07:00", external_ref="T-77")
    first = client.post(URL, json=sent, headers=auth(token))
    assert first.status_code == 201, first.text
    middle = counts(app)

    second = client.post(URL, json=sent, headers=auth(token))
    assert second.status_code == 200, second.text
    data = second.get_json()
    assert data["code"] == first.get_json()["code"]
    assert "access_key" not in data
    assert second.headers["Location"] == first.headers["Location"]
    assert counts(app) == middle

    # The same ticket number on another channel is another case.
    other = client.post(URL, json={**sent, "channel": "box"}, headers=auth(token))
    assert other.status_code == 201
    assert other.get_json()["code"] != data["code"]


# --- idempotency --------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_answer_byte_for_byte(
    app: Flask, client: FlaskClient
) -> None:
    headers = {"Idempotency-Key": "req-6f1c2a"}
    first = client.post(URL, json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    after_first = counts(app)
    assert after_first["idempotency_keys"] == 1

    # The same JSON with other key order and spacing is the same request.
    same = json.dumps(dict(reversed(list(BODY.items()))), indent=2, ensure_ascii=True)
    retry = client.post(URL, data=same, content_type="application/json", headers=headers)
    assert retry.status_code == 201
    assert retry.data == first.data
    assert retry.headers["Location"] == first.headers["Location"]
    assert counts(app) == after_first


def test_idempotency_keys_are_scoped_per_caller(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    headers = {"Idempotency-Key": "same-key"}
    citizen = client.post(URL, json=BODY, headers=headers)
    staff = client.post(URL, json=BODY, headers={**headers, **auth(token_for("operator"))})
    other = client.post(URL, json=BODY, headers={**headers, **auth(token_for("operator"))})
    codes = {r.get_json()["code"] for r in (citizen, staff, other)}
    assert [r.status_code for r in (citizen, staff, other)] == [201, 201, 201]
    assert len(codes) == 3


def test_idempotency_key_reused_for_another_body_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert client.post(URL, json=BODY, headers=headers).status_code == 201
    before = counts(app)
    response = client.post(URL, json=body(subject="Một tiêu đề khác hẳn"), headers=headers)
    assert_error(response, 422, "idempotency_key_reused")
    assert counts(app) == before


@pytest.mark.parametrize("key", ["", "x" * 201, "khóa-một", "has space", "tab\tkey"])
def test_malformed_idempotency_key_is_a_400(app: Flask, client: FlaskClient, key: str) -> None:
    before = counts(app)
    response = client.post(URL, json=BODY, headers={"Idempotency-Key": key})
    assert_error(response, 400, "invalid_idempotency_key")
    assert counts(app) == before


def test_refused_request_stores_no_key_and_may_be_retried(app: Flask, client: FlaskClient) -> None:
    headers = {"Idempotency-Key": "fix-and-retry"}
    bad = client.post(URL, json=body(subject="ngắn"), headers=headers)
    assert_error(bad, 422, "validation_failed")
    assert counts(app)["idempotency_keys"] == 0
    assert client.post(URL, json=BODY, headers=headers).status_code == 201


def test_lost_race_on_the_key_replays_the_winner(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin checked for the key before the winner committed: its insert hits the
    unique (scope, key) constraint, it rolls back its case and replays the stored answer."""
    headers = {"Idempotency-Key": "race-1"}
    first = client.post(URL, json=BODY, headers=headers)
    assert first.status_code == 201
    before = counts(app)

    real = api_cases._stored
    calls = []

    def stale_then_real(scope: str, key: str) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else real(scope, key)

    monkeypatch.setattr(api_cases, "_stored", stale_then_real)
    twin = client.post(URL, json=BODY, headers=headers)
    assert len(calls) == 2  # the stale look-up, then the one after the IntegrityError
    assert twin.status_code == 201
    assert twin.data == first.data
    assert counts(app) == before

    calls.clear()
    other = client.post(URL, json=body(subject="Nội dung khác hẳn"), headers=headers)
    assert_error(other, 422, "idempotency_key_reused")
    assert counts(app) == before


def test_concurrent_requests_with_one_key_create_one_case(app: Flask) -> None:
    workers = 4
    barrier = threading.Barrier(workers)
    answers: list[tuple[int, bytes]] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
            local_client = app.test_client()
            barrier.wait(timeout=10)
            response = local_client.post(URL, json=BODY, headers={"Idempotency-Key": "thread"})
            answers.append((response.status_code, response.data))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert len(answers) == workers
    assert {status for status, _ in answers} == {201}, answers
    assert len({data for _, data in answers}) == 1
    assert counts(app)["cases"] == 1
    assert counts(app)["idempotency_keys"] == 1


# --- refusals that write nothing ----------------------------------------------------------


def test_future_received_at_is_refused(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    token = token_for("operator")
    before = counts(app)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = client.post(
        URL,
        json=body(channel="hotline", received_at=future, external_ref="F-1"),
        headers={**auth(token), "Idempotency-Key": "future"},
    )
    data = assert_error(response, 422, "validation_failed")
    assert "received_at" in data["fields"]
    assert counts(app) == before


@pytest.mark.parametrize(
    "value", ["2024-02-02T10:00:00", "2024-02-02", "hôm qua", "2024-13-40T10:00:00+07:00"]
)
def test_received_at_without_offset_or_unparseable_is_refused(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], value: str
) -> None:
    token = token_for("operator")
    before = counts(app)
    response = client.post(
        URL, json=body(channel="hotline", received_at=value), headers=auth(token)
    )
    data = assert_error(response, 422, "validation_failed")
    assert "received_at" in data["fields"]
    assert counts(app) == before


def test_ancient_received_at_is_refused(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    response = client.post(
        URL,
        json=body(channel="hotline", received_at="0001-01-01T00:00:00+07:00"),
        headers=auth(token_for("operator")),
    )
    assert "received_at" in assert_error(response, 422)["fields"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("channel", "hotline"), ("received_at", "2024-02-02T10:00:00+07:00"), ("external_ref", "X")],
)
def test_citizen_may_not_send_staff_fields(
    app: Flask, client: FlaskClient, field: str, value: str
) -> None:
    before = counts(app)
    response = client.post(URL, json=body(**{field: value}))
    data = assert_error(response, 403, "forbidden")
    assert field in data["fields"]
    assert counts(app) == before


def test_staff_fields_sent_as_null_are_not_sent(client: FlaskClient) -> None:
    response = client.post(URL, json=body(channel=None, received_at=None, external_ref=None))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("role", ["officer", "unit_head", "inspector", "admin"])
def test_only_intake_roles_may_send_staff_fields(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], role: str
) -> None:
    token = token_for(role)
    before = counts(app)
    response = client.post(URL, json=body(channel="hotline"), headers=auth(token))
    assert "channel" in assert_error(response, 403, "forbidden")["fields"]
    assert counts(app) == before


@pytest.mark.parametrize("channel", ["web", "email", "fax", ""])
def test_staff_channel_must_be_hotline_box_or_api(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], channel: str
) -> None:
    response = client.post(URL, json=body(channel=channel), headers=auth(token_for("operator")))
    if channel == "":  # empty means not sent: the default channel
        assert response.status_code == 201
        return
    assert "channel" in assert_error(response, 422, "validation_failed")["fields"]


RAW_BAD: list[tuple[str, bytes, str]] = [
    ("not json", b"{kind: feedback", "application/json"),
    ("array", b"[1, 2, 3]", "application/json"),
    ("string", b'"feedback"', "application/json"),
    ("null", b"null", "application/json"),
    ("empty", b"", "application/json"),
    ("wrong content type", json.dumps(BODY).encode(), "text/plain"),
    ("form", b"kind=feedback", "application/x-www-form-urlencoded"),
    ("duplicate key", b'{"kind": "feedback", "kind": "petition"}', "application/json"),
    ("NaN", json.dumps(BODY).replace("22.8233", "NaN").encode(), "application/json"),
    ("not UTF-8", json.dumps(BODY, ensure_ascii=False).encode("utf-16"), "application/json"),
    ("latin-1", '{"subject": "Rác"}'.encode("latin-1"), "application/json"),
    ("deep", b"[" * 30000 + b"]" * 30000, "application/json"),
    ("huge int", b'{"lat": ' + b"9" * 5000 + b"}", "application/json"),
]


@pytest.mark.parametrize(("label", "raw", "content_type"), RAW_BAD, ids=[r[0] for r in RAW_BAD])
def test_unreadable_bodies_are_400(
    app: Flask, client: FlaskClient, label: str, raw: bytes, content_type: str
) -> None:
    before = counts(app)
    response = client.post(URL, data=raw, content_type=content_type)
    assert_error(response, 400, "invalid_json")
    assert counts(app) == before


TYPED_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("kind number", body(kind=5), "kind"),
    ("lat text", body(lat="north"), "lat"),
    ("lat bool", body(lat=True), "lat"),
    ("lon list", body(lon=[104.9]), "lon"),
    ("lat out of range", body(lat=200), "lat"),
    ("lon out of range", body(lon=-181.5), "lon"),
    ("unknown field", body(priority="high"), "priority"),
    ("reporter text", body(reporter="Nguyễn Văn An"), "reporter"),
    ("reporter unknown", body(reporter={**BODY["reporter"], "age": 40}), "reporter.age"),
    (
        "anonymous text",
        body(reporter={**BODY["reporter"], "anonymous": "yes"}),
        "reporter.anonymous",
    ),
    ("phone number", body(reporter={**BODY["reporter"], "phone": 912345678}), "reporter.phone"),
    ("bad phone", body(reporter={**BODY["reporter"], "phone": "gọi tôi"}), "reporter.phone"),
    (
        "long email",
        body(reporter={**BODY["reporter"], "email": "a" * 300 + "@x.vn"}),
        "reporter.email",
    ),
    ("no reporter", body(reporter=_DROP), "reporter.name"),
    ("no kind", body(kind=_DROP), "kind"),
    ("unknown kind", body(kind="praise"), "kind"),
    ("short subject", body(subject="Ồ"), "subject"),
    ("long body", body(body="x" * 10001), "body"),
    ("NUL in subject", body(subject="Đèn\x00 hỏng trên đường"), "subject"),
    ("unknown category", body(category_code="9.9"), "category_code"),
    ("unknown area", body(area_code="99999"), "area_code"),
    ("address number", body(address=12), "address"),
]


@pytest.mark.parametrize(("label", "sent", "field"), TYPED_BAD, ids=[t[0] for t in TYPED_BAD])
def test_invalid_fields_are_422_naming_the_field(
    app: Flask, client: FlaskClient, label: str, sent: dict[str, Any], field: str
) -> None:
    before = counts(app)
    response = client.post(
        URL, json=sent, headers={"Idempotency-Key": "k-" + label.replace(" ", "-")}
    )
    data = assert_error(response, 422, "validation_failed")
    assert field in data["fields"], data
    assert counts(app) == before


@pytest.mark.parametrize(
    ("field", "literal"),
    [("subject", '"M\\u1ea5t \\ud800 \\u0111i\\u1ec7n"'), ("lat", "1e400"), ("lon", "-1e999")],
)
def test_json_that_python_reads_but_the_database_cannot_hold_is_422(
    app: Flask, client: FlaskClient, field: str, literal: str
) -> None:
    """A lone surrogate cannot be stored as UTF-8; 1e400 parses as infinity."""
    raw = json.dumps(body(**{field: "PLACEHOLDER"})).replace('"PLACEHOLDER"', literal)
    before = counts(app)
    response = client.post(URL, data=raw.encode(), content_type="application/json")
    assert field in assert_error(response, 422, "validation_failed")["fields"]
    assert counts(app) == before


def test_oversized_body_is_413(app: Flask, client: FlaskClient) -> None:
    before = counts(app)
    big = json.dumps(body(body="x" * 70_000)).encode()
    response = client.post(URL, data=big, content_type="application/json")
    assert_error(response, 413, "payload_too_large")
    assert counts(app) == before


def test_oversized_body_without_content_length_is_413(app: Flask, client: FlaskClient) -> None:
    import io

    big = json.dumps(body(body="x" * 70_000)).encode()
    response = client.post(
        URL,
        input_stream=io.BytesIO(big),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "payload_too_large")
    assert counts(app)["cases"] == 0


def test_body_just_under_the_limit_is_read(client: FlaskClient) -> None:
    text = json.dumps(body(body="x" * 60_000)).encode()
    assert len(text) < inputs.MAX_BODY_BYTES
    response = client.post(URL, data=text, content_type="application/json")
    # Read and parsed: refused by the service's own 10,000-character limit, not by size.
    assert "body" in assert_error(response, 422, "validation_failed")["fields"]


def test_invalid_token_on_a_public_route_is_401(app: Flask, client: FlaskClient) -> None:
    before = counts(app)
    response = client.post(URL, json=BODY, headers=auth("fbk_not-a-real-token"))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert counts(app) == before


# --- reading one case ---------------------------------------------------------------------


@pytest.fixture
def submitted(client: FlaskClient) -> dict[str, Any]:
    response = client.post(URL, json=BODY)
    assert response.status_code == 201
    return response.get_json()


PUBLIC_KEYS = {
    "code",
    "status",
    "kind",
    "received_at",
    "ack_due_at",
    "response_due_at",
    "handling_unit",
    "answer",
    "timeline",
}


def test_citizen_reads_the_public_view_with_the_access_key(
    client: FlaskClient, submitted: dict[str, Any]
) -> None:
    response = client.get(
        f"{URL}/{submitted['code']}", headers={"X-Access-Key": submitted["access_key"]}
    )
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert set(data) == PUBLIC_KEYS
    assert data["code"] == submitted["code"] and data["status"] == "received"
    assert data["response_due_at"] == submitted["response_due_at"]
    assert data["handling_unit"]["code"] == "DL"
    assert data["answer"] is None
    assert [e["action"] for e in data["timeline"]] == ["submit"]
    assert "actor_label" not in data["timeline"][0]
    text = response.text
    for secret in ("Nguyễn Văn An", "0912345678", "an@example.vn", "reporter"):
        assert secret not in text


def test_access_key_is_forgiving_about_case_and_dashes(
    client: FlaskClient, submitted: dict[str, Any]
) -> None:
    key = submitted["access_key"].replace("-", "").lower()
    response = client.get(f"{URL}/{submitted['code'].lower()}", headers={"X-Access-Key": key})
    assert response.status_code == 200


def test_wrong_key_missing_key_and_unknown_code_look_the_same(
    client: FlaskClient, submitted: dict[str, Any]
) -> None:
    wrong = client.get(
        f"{URL}/{submitted['code']}", headers={"X-Access-Key": "AAAA-BBBB-CCCC-DDDD"}
    )
    missing = client.get(f"{URL}/{submitted['code']}")
    unknown = client.get(f"{URL}/HG-1999-999999", headers={"X-Access-Key": submitted["access_key"]})
    for response in (wrong, missing, unknown):
        assert_error(response, 404, "not_found")
    assert wrong.data == missing.data == unknown.data


def test_public_view_shows_the_answer_once_answered(
    app: Flask, client: FlaskClient, submitted: dict[str, Any]
) -> None:
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == submitted["code"]))
        case.answer_body = "Điện lực đã khắc phục sự cố lúc 15:00."
        case.status = "in_progress"
    url = f"{URL}/{submitted['code']}"
    headers = {"X-Access-Key": submitted["access_key"]}
    assert client.get(url, headers=headers).get_json()["answer"] is None  # a draft stays hidden
    with app.app_context(), unit_of_work():
        db.session.scalar(select(Case).where(Case.code == submitted["code"])).status = "answered"
    assert client.get(url, headers=headers).get_json()["answer"].startswith("Điện lực")


def test_staff_see_only_the_cases_their_role_allows(
    client: FlaskClient, token_for: Callable[..., str], submitted: dict[str, Any]
) -> None:
    url = f"{URL}/{submitted['code']}"
    other_unit = client.get(url, headers=auth(token_for("officer", "UBND-00688")))
    assert_error(other_unit, 404, "not_found")
    assert_error(client.get(url, headers=auth(token_for("admin"))), 404, "not_found")
    # An operator follows only what he or she entered.
    assert_error(client.get(url, headers=auth(token_for("operator"))), 404, "not_found")

    for token in (token_for("officer", "DL"), token_for("inspector"), token_for("coordinator")):
        response = client.get(url, headers=auth(token))
        assert response.status_code == 200, response.text
        data = response.get_json()
        assert data["code"] == submitted["code"]
        assert data["reporter"]["name"] == "Nguyễn Văn An"
        assert data["subject"] == BODY["subject"]
        event = data["timeline"][0]
        assert set(event) == {
            "at",
            "actor_label",
            "action",
            "from_status",
            "to_status",
            "public",
            "note",
        }
        assert event["action"] == "submit" and event["to_status"] == "received"
        assert event["public"] is True and event["from_status"] is None


def test_operator_reads_back_the_case_he_entered(
    client: FlaskClient, token_for: Callable[..., str]
) -> None:
    token = token_for("operator")
    created = client.post(URL, json=body(channel="hotline"), headers=auth(token)).get_json()
    response = client.get(f"{URL}/{created['code']}", headers=auth(token))
    assert response.status_code == 200
    assert response.get_json()["channel"] == "hotline"


def test_denunciation_reporter_is_shown_to_inspectors_only(
    client: FlaskClient, token_for: Callable[..., str]
) -> None:
    sent = body(kind="denunciation", category_code="3.2", area_code="00688")
    created = client.post(URL, json=sent).get_json()
    url = f"{URL}/{created['code']}"
    for role, unit in (
        ("officer", "UBND-00688"),
        ("unit_head", "UBND-00688"),
        ("coordinator", None),
    ):
        response = client.get(url, headers=auth(token_for(role, unit)))
        assert response.status_code == 200, (role, response.text)
        assert "reporter" not in response.get_json()
        assert "Nguyễn Văn An" not in response.text and "0912345678" not in response.text
    inspector = client.get(url, headers=auth(token_for("inspector")))
    assert inspector.get_json()["reporter"]["phone"] == "0912345678"


def test_invalid_token_on_get_is_401_not_the_public_view(
    client: FlaskClient, submitted: dict[str, Any]
) -> None:
    response = client.get(
        f"{URL}/{submitted['code']}",
        headers={"X-Access-Key": submitted["access_key"], **auth("fbk_wrong")},
    )
    assert_error(response, 401, "unauthorized")


# --- listing ------------------------------------------------------------------------------


@pytest.fixture
def listed(make_case: Callable[..., str]) -> dict[str, str]:
    """Six cases across units, kinds, channels and times."""
    old = datetime(2024, 2, 2, 3, 0, tzinfo=UTC)
    return {
        "waste": make_case(
            subject="Rác thải không được thu gom",
            body="Rác thải tồn đọng ở đầu ngõ 12 đường Trần Phú mấy ngày nay.",
            category_code="6.3c",
            area_code="00691",
        ),
        "power": make_case(category_code="6.3a", area_code="00697"),
        "road": make_case(),  # 6.3b in 00694 → UBND-00694
        "complaint": make_case(kind="complaint", category_code="3.2", area_code="00688"),
        "hotline": make_case(
            channel="hotline", external_ref="H-1", received_at=old, category_code="6.3a"
        ),
        "road2": make_case(subject="Ổ gà lớn giữa đường Nguyễn Trãi", area_code="00694"),
    }


def codes(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["code"] for item in response.get_json()["items"]}


def test_list_filters(
    client: FlaskClient, token_for: Callable[..., str], listed: dict[str, str]
) -> None:
    headers = auth(token_for("coordinator"))

    def query(**params: str) -> set[str]:
        return codes(client.get(URL, query_string=params, headers=headers))

    assert query() == set(listed.values())
    assert query(unit="DL") == {listed["power"], listed["hotline"]}
    assert query(unit="UBND-00694") == {listed["road"], listed["road2"]}
    assert query(kind="complaint") == {listed["complaint"]}
    assert query(channel="hotline") == {listed["hotline"]}
    assert query(area="00697") == {listed["power"]}
    assert query(category="6.3a") == {listed["power"], listed["hotline"]}
    assert query(category="6.3a", channel="web") == {listed["power"]}
    assert query(status="received") == set(listed.values())
    assert query(status="closed") == set()
    assert query(overdue="1") == {listed["hotline"]}
    assert query(overdue="0") == set(listed.values())


def test_list_search_ignores_diacritics_and_word_order(
    client: FlaskClient, token_for: Callable[..., str], listed: dict[str, str]
) -> None:
    headers = auth(token_for("inspector"))

    def search(q: str) -> set[str]:
        return codes(client.get(URL, query_string={"q": q}, headers=headers))

    assert search("rac thai") == {listed["waste"]}
    assert search("THAI rác") == {listed["waste"]}
    assert search("rac thai tran phu") == {listed["waste"]}
    assert search("rac thai nguyen trai") == set()  # every word must match
    assert search("Nguyễn Trãi") >= {listed["road"], listed["road2"]}
    assert search("o ga") == {listed["road2"]}
    assert search("%") == set(listed.values())  # folds to nothing: no filter


def test_list_items_and_paging(
    client: FlaskClient, token_for: Callable[..., str], listed: dict[str, str]
) -> None:
    headers = auth(token_for("coordinator"))
    first = client.get(URL, query_string={"per_page": "4"}, headers=headers).get_json()
    second = client.get(URL, query_string={"per_page": "4", "page": "2"}, headers=headers)
    second_data = second.get_json()
    assert (first["page"], first["per_page"], first["total"]) == (1, 4, 6)
    assert (second_data["page"], second_data["total"], len(second_data["items"])) == (2, 6, 2)
    all_codes = [i["code"] for i in first["items"]] + [i["code"] for i in second_data["items"]]
    assert sorted(all_codes) == sorted(listed.values())
    assert all_codes[-1] == listed["hotline"]  # newest first; the 2024 call is the oldest
    item = first["items"][0]
    assert "reporter" not in item and "Trần Thị Bình" not in json.dumps(first)
    assert item["received_at"].endswith("+07:00")
    beyond = client.get(URL, query_string={"page": "9"}, headers=headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 6
    default = client.get(URL, headers=headers).get_json()
    assert default["per_page"] == 20


def test_list_shows_only_visible_cases(
    client: FlaskClient, token_for: Callable[..., str], listed: dict[str, str]
) -> None:
    officer = auth(token_for("officer", "UBND-00694"))
    assert codes(client.get(URL, headers=officer)) == {listed["road"], listed["road2"]}
    # Filtering on another unit cannot widen what the officer sees.
    assert codes(client.get(URL, query_string={"unit": "DL"}, headers=officer)) == set()
    operator = token_for("operator")
    assert codes(client.get(URL, headers=auth(operator))) == set()
    mine = client.post(URL, json=body(channel="hotline"), headers=auth(operator)).get_json()
    assert codes(client.get(URL, headers=auth(operator))) == {mine["code"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1_000"}, "page"),
        ({"page": "99999999999999999999"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"status": "lost"}, "status"),
        ({"kind": "praise"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"overdue": "maybe"}, "overdue"),
        ({"unit": "NOPE"}, "unit"),
        ({"area": "99999"}, "area"),
        ({"category": "9.9"}, "category"),
        ({"stauts": "received"}, "stauts"),
        ({"q": "x " * 150}, "q"),
        ([("status", "received"), ("status", "closed")], "status"),
    ],
)
def test_list_bad_parameters_are_422(
    client: FlaskClient, token_for: Callable[..., str], params: Any, field: str
) -> None:
    response = client.get(URL, query_string=params, headers=auth(token_for("coordinator")))
    assert field in assert_error(response, 422, "validation_failed")["fields"]


def test_list_needs_a_token(client: FlaskClient, token_for: Callable[..., str]) -> None:
    assert_error(client.get(URL), 401, "unauthorized")
    assert_error(client.get(URL, headers=auth("fbk_nope")), 401, "unauthorized")
    assert_error(client.get(URL, headers={"Authorization": "Basic eDp5"}), 401)
    assert_error(client.get(URL, headers=auth(token_for("admin"))), 403, "forbidden")


def test_session_cookie_does_not_authenticate_the_api(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("coordinator")
    assert client.get("/can-bo/").status_code in (200, 302)  # logged in for the web pages
    assert_error(client.get(URL), 401, "unauthorized")
    # On the public POST the cookie makes no one staff either.
    before = counts(app)
    response = client.post(URL, json=body(channel="hotline"))
    assert_error(response, 403, "forbidden")
    assert counts(app) == before


def test_revoked_token_is_refused(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    from feedback.models import ApiToken

    token = token_for("coordinator")
    assert client.get(URL, headers=auth(token)).status_code == 200
    with app.app_context(), unit_of_work():
        for row in db.session.scalars(select(ApiToken)):
            row.revoked_at = datetime.now(UTC)
    assert_error(client.get(URL, headers=auth(token)), 401, "unauthorized")


@pytest.fixture(autouse=True)
def _no_leftover_transactions(app: Flask) -> Iterator[None]:
    yield
    with app.app_context():
        db.session.remove()


NASTY_GETS = [
    f"{URL}/HG%00-1",
    f"{URL}/%F0%9F%92%A5",
    f"{URL}/{'X' * 5000}",
    f"{URL}?unit=%00",
    f"{URL}?area=D%C3%A0",
    f"{URL}?category=6.3a%00",
    f"{URL}?q=%00%00",
    f"{URL}?q=%25%5F",
    f"{URL}?page=%00",
    f"{URL}?per_page=%EF%BC%95",  # a full-width digit 5: int() would accept it
]


@pytest.mark.parametrize("url", NASTY_GETS)
def test_nasty_reads_are_answered_with_a_4xx_or_200(
    client: FlaskClient, token_for: Callable[..., str], url: str
) -> None:
    response = client.get(url, headers=auth(token_for("coordinator")))
    assert response.status_code in (200, 404, 422), response.text
    if response.status_code != 200:
        assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "raw",
    [
        '{"lat": ' + "9" * 400 + "}",
        '{"lon": -' + "9" * 4000 + "}",
        '{"kind": "feedback", "reporter": {"anonymous": true, "phone": "\\u0000"}}',
        '{"category_code": "6.3a\\u0000", "area_code": "\\u0000"}',
        '{"external_ref": "\\u0000"}',
        '{"reporter": []}',
        '{"reporter": {"anonymous": null}}',
        '{"": ""}',
    ],
)
def test_nasty_bodies_are_answered_with_a_4xx(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], raw: str
) -> None:
    before = counts(app)
    response = client.post(
        URL, data=raw, content_type="application/json", headers=auth(token_for("operator"))
    )
    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)
    assert counts(app) == before
