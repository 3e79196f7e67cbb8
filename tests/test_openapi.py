"""The OpenAPI document of /api/v1 (issue 7): served by the app, a valid OpenAPI 3.1
document, true to the routes (both directions), and true to real answers: the bodies of real
calls (creating, reading as citizen and as staff, listing, deadlines, the staff actions,
attachments, the breach list and the errors) validate against the schema the document gives
for their status. The human-readable page is rendered from the same document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_openapi

from feedback.api.docs import OPENAPI_PATH
from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import User
from feedback.services.accounts.users import issue_token

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

NEW_CASE: dict[str, Any] = {
    "kind": "feedback",
    "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
    "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
    "category_code": "6.3b",
    "area_code": "00688",
    "address": "Số 120 đường Nguyễn Trãi",
    "lat": 22.8233,
    "lon": 104.9836,
    "reporter": {"name": "Trần Thị Bình", "phone": "0912000111", "anonymous": False},
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve in ``doc``."""
    return Draft202012Validator(
        {**schema, "components": doc["components"]}, format_checker=FormatChecker()
    )


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operation(doc: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    """The document's operation for a concrete URL (``/api/v1/cases/HG-2024-000001``)."""
    path = url.split("?", 1)[0].removeprefix(PREFIX)
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {url} is not in the document")


def conforms(doc: dict[str, Any], method: str, url: str, response: Any) -> Any:
    """Assert that the status is documented for the operation and the body fits its schema."""
    operation = _operation(doc, method, url)
    status = str(response.status_code)
    assert status in operation["responses"], (method, url, status, response.text)
    documented = _resolve(doc, operation["responses"][status])
    media = response.mimetype
    assert media in documented["content"], (method, url, media)
    data = response.get_json()
    errors = sorted(
        _validator(doc, documented["content"][media]["schema"]).iter_errors(data), key=str
    )
    assert not errors, (method, url, status, [e.message for e in errors], data)
    return data


# --- the document itself ---------------------------------------------------------------------


def test_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    validate_openapi(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"][0]["url"] == PREFIX
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        **doc["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }


def test_every_schema_in_the_document_is_valid_json_schema(doc: dict[str, Any]) -> None:
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema({**schema, "$id": f"urn:feedback:{name}"})


def test_the_app_serves_the_document(client: FlaskClient, doc: dict[str, Any]) -> None:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == doc


def _app_routes(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix(PREFIX)
        for method in (rule.methods or set()) - IGNORED_METHODS:
            found.add((method, path))
    return found


def _documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in methods
    }


def test_every_route_is_documented_and_every_documented_route_exists(
    app: Flask, doc: dict[str, Any]
) -> None:
    routes, documented = _app_routes(app), _documented_routes(doc)
    assert len(routes) >= 12
    assert routes - documented == set(), "routes of the app missing from the document"
    assert documented - routes == set(), "operations in the document the app does not have"


def test_path_parameters_are_documented(app: Flask, doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            params = [_resolve(doc, p) for p in operation.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == names, (method, path)
            assert operation.get("operationId"), (method, path)
            assert operation.get("security") is not None, (method, path)


def test_staff_routes_require_the_bearer_token_and_public_ones_do_not(
    app: Flask, doc: dict[str, Any]
) -> None:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix(PREFIX)
        for method in (rule.methods or set()) - IGNORED_METHODS:
            security = doc["paths"][path][method.lower()]["security"]
            anonymous_allowed = {} in security
            assert anonymous_allowed == bool(getattr(view, "is_public", False)), (method, path)
            if not anonymous_allowed:
                assert security == [{"bearerAuth": []}], (method, path)
                assert "401" in doc["paths"][path][method.lower()]["responses"]
                assert "403" in doc["paths"][path][method.lower()]["responses"]


def test_error_responses_share_the_error_shape(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = _resolve(doc, response)["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message", "fields"]
    assert error["additionalProperties"] is False


def test_request_examples_of_the_suite_fit_the_request_schemas(doc: dict[str, Any]) -> None:
    new_case = doc["paths"]["/cases"]["post"]["requestBody"]["content"]["application/json"]
    validator = _validator(doc, new_case["schema"])
    validator.validate(NEW_CASE)
    staff = {**NEW_CASE, "channel": "hotline", "received_at": "2024-02-02T08:30:00+07:00",
             "external_ref": "1022-0001"}  # fmt: skip
    validator.validate(staff)
    assert not validator.is_valid({**NEW_CASE, "surprise": 1})  # unknown fields are refused
    assert not validator.is_valid({**NEW_CASE, "kind": "gossip"})
    assert not validator.is_valid({**NEW_CASE, "channel": "web"})
    assert not validator.is_valid({**NEW_CASE, "subject": "Có ký tự\x07 điều khiển"})


def test_examples_in_the_document_fit_their_schemas(doc: dict[str, Any]) -> None:
    found = 0
    for item in doc["paths"].values():
        for operation in item.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if "example" in content:
                    found += 1
                    _validator(doc, content["schema"]).validate(content["example"])
    assert found >= 4


# --- real answers fit the document ------------------------------------------------------------


@pytest.fixture
def token_for(app: Flask, make_user: Callable[..., Any]) -> Callable[..., str]:
    def factory(role: str, unit_code: str | None = None) -> str:
        user_id, _ = make_user(role, unit_code=unit_code)
        with app.app_context(), unit_of_work():
            return issue_token(db.session.get(User, user_id), datetime.now(UTC))

    return factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_creating_and_reading_fit_the_document(
    client: FlaskClient, doc: dict[str, Any], token_for: Callable[..., str]
) -> None:
    url = f"{PREFIX}/cases"
    created = conforms(doc, "POST", url, client.post(url, json=NEW_CASE))
    assert created["access_key"]
    code, key = created["code"], created["access_key"]

    public = client.get(f"{url}/{code}", headers={"X-Access-Key": key})
    data = conforms(doc, "GET", f"{url}/{code}", public)
    assert "subject" not in data and data["timeline"]

    coordinator = bearer(token_for("coordinator"))
    staff = conforms(doc, "GET", f"{url}/{code}", client.get(f"{url}/{code}", headers=coordinator))
    assert staff["reporter"]["name"] == "Trần Thị Bình"

    example = doc["paths"]["/cases"]["post"]["requestBody"]["content"]["application/json"]
    from_docs = client.post(url, json=example["example"])
    assert from_docs.status_code == 201, from_docs.text
    conforms(doc, "POST", url, from_docs)

    operator = bearer(token_for("operator"))
    call = {**NEW_CASE, "channel": "hotline", "external_ref": "1022-0001",
            "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}  # fmt: skip
    first = client.post(url, json=call, headers=operator)
    assert first.status_code == 201
    conforms(doc, "POST", url, first)
    again = client.post(url, json=call, headers=operator)
    assert again.status_code == 200
    conforms(doc, "POST", url, again)

    denunciation = {**NEW_CASE, "kind": "denunciation", "category_code": "4.1", "area_code": None}
    secret = conforms(doc, "POST", url, client.post(url, json=denunciation))["code"]
    inspector = bearer(token_for("inspector", "TTR"))
    seen = conforms(doc, "GET", f"{url}/{secret}", client.get(f"{url}/{secret}", headers=inspector))
    assert seen["reporter"]["name"]
    hidden = conforms(
        doc, "GET", f"{url}/{secret}", client.get(f"{url}/{secret}", headers=coordinator)
    )
    assert "reporter" not in hidden

    listing = client.get(f"{url}?per_page=5&kind=feedback&q=den", headers=coordinator)
    data = conforms(doc, "GET", url, listing)
    assert data["items"] and data["per_page"] == 5

    files = client.post(
        f"{url}/{code}/attachments",
        data={"file": [(_png(), "anh.png")]},
        headers={"X-Access-Key": key},
        content_type="multipart/form-data",
    )
    assert conforms(doc, "POST", f"{url}/{code}/attachments", files)["attachments"]


def _png() -> Any:
    from io import BytesIO

    return BytesIO(PNG)


def test_staff_actions_fit_the_document(
    client: FlaskClient,
    doc: dict[str, Any],
    token_for: Callable[..., str],
    make_case: Callable[..., str],
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    other = make_case(category_code="6.3b", area_code="00688")
    url = f"{PREFIX}/cases"
    officer = bearer(token_for("officer", "UBND-00688"))
    head = bearer(token_for("unit_head", "UBND-00688"))
    coordinator = bearer(token_for("coordinator"))

    def act(action: str, headers: dict[str, str], body: Any = None, case: str = code) -> Any:
        target = f"{url}/{case}/{action}"
        response = client.post(target, json=body, headers=headers)
        return response.status_code, conforms(doc, "POST", target, response)

    assert act("acknowledge", officer)[0] == 200
    status, draft = act("answer", officer, {"body": "Đã thay bóng đèn hỏng hôm nay."})
    assert status == 202 and draft["status"] == "draft_saved"
    status, answered = act("answer", head, {})
    assert status == 200 and answered["status"] == "answered"
    assert act("close", coordinator, {"note": "Người dân đã nhận trả lời."})[0] == 200
    assert act("reopen", coordinator, {"reason": "Người dân chưa đồng ý."})[0] == 200
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone(LOCAL_TZ).date().isoformat()
    update = {"body": "Đã khảo sát, đang chờ vật tư thay bóng đèn.", "committed_on": day}
    assert act("progress", officer, update, other)[0] == 200
    assert act("transfer", coordinator, {"unit_code": "QLDT", "reason": "Thuộc QLĐT."})[0] == 200
    # Refusals: a transition the rules forbid, a field the action does not take, a missing
    # case, a role without the right.
    assert act("close", coordinator, None, other)[0] == 409
    assert act("transfer", coordinator, {"reason": "x", "why": 1}, other)[0] == 422
    assert act("acknowledge", coordinator, None, "HG-1999-999999")[0] == 404
    assert act("close", officer, None, other)[0] == 403
    assert act("progress", officer, {**update, "committed_on": "2020-01-01"}, other)[0] == 422
    assert act("progress", coordinator, update, other)[0] == 403


def test_deadlines_and_breaches_fit_the_document(
    client: FlaskClient,
    doc: dict[str, Any],
    token_for: Callable[..., str],
    make_case: Callable[..., str],
) -> None:
    url = f"{PREFIX}/deadlines?received_at=2024-02-02T10:00:00%2B07:00&kind=petition"
    data = conforms(doc, "GET", url, client.get(url))
    assert data["response_due_at"] == "2024-02-19T23:59:59+07:00"
    conforms(doc, "GET", f"{PREFIX}/deadlines", client.get(f"{PREFIX}/deadlines"))
    bad = f"{PREFIX}/deadlines?kind=gossip"
    assert conforms(doc, "GET", bad, client.get(bad))["error"] == "validation_failed"

    make_case(now=datetime.now(UTC) - timedelta(days=20))
    make_case(category_code=None, area_code=None, now=datetime.now(UTC) - timedelta(hours=23))
    breaches = f"{PREFIX}/oversight/breaches"
    inspector = bearer(token_for("inspector", "TTR"))
    data = conforms(doc, "GET", breaches, client.get(breaches, headers=inspector))
    assert data["total"] >= 1 and data["items"][0]["state"] == "overdue"
    assert {item["state"] for item in data["items"]} == {"overdue", "at_risk"}
    bad = f"{breaches}?state=whenever"
    conforms(doc, "GET", bad, client.get(bad, headers=inspector))


def test_errors_fit_the_document(
    client: FlaskClient, doc: dict[str, Any], token_for: Callable[..., str]
) -> None:
    url = f"{PREFIX}/cases"
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", url, {"data": b"{not json", "content_type": "application/json"}, 400),
        ("POST", url, {"json": NEW_CASE, "headers": {"Idempotency-Key": "có dấu"}}, 400),
        ("POST", url, {"json": NEW_CASE, "headers": bearer("fbk_nope")}, 401),
        ("GET", url, {}, 401),
        ("GET", url, {"headers": bearer(token_for("admin"))}, 403),
        ("POST", url, {"json": {**NEW_CASE, "channel": "hotline"}}, 403),
        ("GET", f"{url}/HG-2024-000001", {"headers": {"X-Access-Key": "sai"}}, 404),
        ("POST", url, {"data": b"{" + b" " * 70000 + b"}", "content_type": "application/json"},
         413),
        ("POST", url, {"json": {**NEW_CASE, "lat": "north"}}, 422),
        ("GET", f"{url}?page=0", {"headers": bearer(token_for("coordinator"))}, 422),
    ]  # fmt: skip
    for method, target, kwargs, status in cases:
        response = client.open(target, method=method, **kwargs)
        assert response.status_code == status, (method, target, response.text)
        conforms(doc, method, target, response)


# --- the page for people -----------------------------------------------------------------------


def test_docs_page_is_rendered_from_the_document(client: FlaskClient, doc: dict[str, Any]) -> None:
    response = client.get(f"{PREFIX}/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.text
    for heading in ("Tài liệu API", "Xác thực", "Lỗi", "Tham số", "Phản hồi", "Lược đồ dữ liệu"):
        assert heading in html, heading
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert f"{method.upper()} {PREFIX}{path}" in html, (method, path)
            assert operation["summary"] in html
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in html, name
    # Nothing from another host: no CDN, no web fonts, no scripts.
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)
    assert "<script" not in html
    assert "Mất điện kéo dài ở tổ 5" in html  # the request example
