"""Open311 GeoReport v2 under /open311/v2/ (issue 7).

Every request and response shape of the specification (http://wiki.open311.org/GeoReport_v2:
discovery, service list, service definition, POST request with each location variant,
GET requests with each filter, GET request, token, errors) is exercised in JSON and in XML;
each answer is parsed (json / xml.etree) and checked for the specification's field names,
types and W3C times. The XML is brought to the JSON's shape by the specification's own
convention (plural elements are lists), so one set of assertions checks both.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.api.outputs import iso
from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, Category, Unit, User
from feedback.services.accounts.users import issue_token
from feedback.services.intake.submission import Reporter

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
PLURALS = {"services", "service_requests", "errors", "endpoints", "formats", "attributes", "values"}
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")
OPT = type(None)
SERVICE = {
    "service_code": str,
    "service_name": str,
    "description": str,
    "metadata": bool,
    "type": str,
    "keywords": str,
    "group": str,
}
ATTRIBUTE = {
    "variable": bool,
    "code": str,
    "datatype": str,
    "required": bool,
    "datatype_description": OPT,
    "order": int,
    "description": str,
    "values": list,
}
CREATED = {"service_request_id": str, "service_notice": str, "account_id": OPT}
REQUEST = {
    "service_request_id": str,
    "status": str,
    "status_notes": str,
    "service_name": str,
    "service_code": str,
    "description": str,
    "agency_responsible": str,
    "service_notice": str,
    "requested_datetime": "time",
    "updated_datetime": "time",
    "expected_datetime": "time",
    "address": (str, OPT),
    "address_id": (str, OPT),
    "zipcode": OPT,
    "lat": (float, OPT),
    "long": (float, OPT),
    "media_url": OPT,
}
# The specification's POST example, with this city's service code, area and attribute.
SPEC_POST = {
    "jurisdiction_id": "hagiang.gov.vn",
    "service_code": "6.3b",
    "lat": "22.8233",
    "long": "104.9836",
    "address_string": "Số 57 đường Nguyễn Trãi",
    "email": "smit333@example.vn",
    "device_id": "tt222111",
    "account_id": "123456",
    "first_name": "Bình",
    "last_name": "Trần Thị",
    "phone": "0912000111",
    "description": "Ổ gà lớn giữa đường Nguyễn Trãi\nXe máy ngã hai lần trong tuần.",
    "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
    "attribute[kind]": "petition",
}


@dataclass
class Answer:
    status: int
    root: str | None  # the XML root element; None for JSON
    data: Any
    text: str


def from_xml(element: ET.Element) -> Any:
    if element.tag in PLURALS:
        return [from_xml(child) for child in element]
    if len(element):
        return {child.tag: from_xml(child) for child in element}
    return element.text


def call(
    client: FlaskClient, method: str, path: str, fmt: str, data: Any = None, query: Any = None
) -> Answer:
    response = client.open(
        f"/open311/v2/{path}.{fmt}", method=method, data=data, query_string=query
    )
    assert response.status_code < 500, response.text
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt], response.headers
    if fmt == "json":
        return Answer(response.status_code, None, json.loads(response.text), response.text)
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n'), response.text
    root = ET.fromstring(response.data)
    return Answer(response.status_code, root.tag, from_xml(root), response.text)


def check(obj: Any, fields: dict[str, Any], fmt: str) -> None:
    """Exactly the specification's field names, with JSON types (XML: text or empty)."""
    assert isinstance(obj, dict) and set(obj) == set(fields), obj
    for name, kind in fields.items():
        value = obj[name]
        if kind == "time":
            assert isinstance(value, str) and W3C.match(value), (name, value)
        elif fmt == "json":
            assert isinstance(value, kind), (name, value)
        elif value is not None and kind in (float, (float, OPT), int):
            float(value)
        elif kind is bool:
            assert value in ("true", "false"), (name, value)


def check_error(answer: Answer, status: int) -> list[str]:
    assert answer.status == status, (answer.status, answer.text)
    assert answer.root in (None, "errors")
    assert isinstance(answer.data, list) and answer.data, answer.data
    for error in answer.data:
        assert set(error) == {"code", "description"}
        assert int(error["code"]) == status
        assert answer.root or isinstance(error["code"], int)
        assert isinstance(error["description"], str) and error["description"]
    return [e["description"] for e in answer.data]


@pytest.fixture
def token_for(app: Flask, make_user: Callable[..., Any]) -> Callable[..., str]:
    def factory(role: str, unit_code: str | None = None) -> str:
        if unit_code is None and role in {"officer", "unit_head", "clerk"}:
            unit_code = "UBND-00688"
        user_id, _ = make_user(role, unit_code=unit_code)
        with app.app_context(), unit_of_work():
            return issue_token(db.session.get(User, user_id), datetime.now(UTC))

    return factory


def stored(app: Flask, code: str) -> SimpleNamespace:
    """What the database holds for case ``code``."""
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        creator = db.session.get(User, case.created_by_id) if case.created_by_id else None
        return SimpleNamespace(
            **{c.key: getattr(case, c.key) for c in Case.__table__.columns},
            category_code=case.category.code if case.category else None,
            unit_code=case.handling_unit.code,
            unit_name=case.handling_unit.name,
            creator_role=creator.role if creator else None,
        )


def approve(app: Flask, make_user: Callable[..., Any], code: str) -> None:
    """The unit head approves an answer: only then may Open311 show the subject."""
    from feedback.services.handling import actions

    with app.app_context():
        unit = db.session.scalar(select(Case).where(Case.code == code)).handling_unit.code
    head_id, _ = make_user("unit_head", unit_code=unit)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        head, now = db.session.get(User, head_id), datetime.now(UTC)
        actions.acknowledge(case, head, now)
        actions.approve_answer(case, head, now, "Đơn vị đã kiểm tra và xử lý xong.")


def set_status(app: Flask, code: str, status: str) -> None:
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        case.status = status
        case.closed_at = datetime.now(UTC) if status == "closed" else None


def count_cases(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Case.id))) or 0


# --- discovery, services, service definitions -------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client: FlaskClient, fmt: str) -> None:
    answer = call(client, "GET", "discovery", fmt)
    assert answer.status == 200 and answer.root in (None, "discovery")
    fields = {"changeset": str, "contact": str, "key_service": str, "endpoints": list}
    check(answer.data, fields, fmt)
    (endpoint,) = answer.data["endpoints"]
    check(
        endpoint,
        {k: str for k in ("specification", "url", "changeset", "type")} | {"formats": list},
        fmt,
    )
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_categories(app: Flask, client: FlaskClient, fmt: str) -> None:
    answer = call(client, "GET", "services", fmt, query={"jurisdiction_id": "hagiang.gov.vn"})
    assert answer.status == 200 and answer.root in (None, "services")
    with app.app_context():
        categories = {c.code: c for c in db.session.scalars(select(Category))}
        groups = {c.code: c.dimension.name for c in categories.values()}
        labels = {c.code: c.citizen_label for c in categories.values()}
    assert [s["service_code"] for s in answer.data] and len(answer.data) == len(categories) == 32
    for service in answer.data:
        check(service, SERVICE, fmt)
        code = service["service_code"]
        assert service["service_name"] == labels[code] and service["group"] == groups[code]
        assert service["type"] == "realtime" and str(service["metadata"]).lower() == "true"
        assert code in service["keywords"].split(", ")
    assert {s["service_code"] for s in answer.data} >= {"6.3a", "6.3b", "8.3", "3.2"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(client: FlaskClient, fmt: str) -> None:
    answer = call(client, "GET", "services/6.3a", fmt)  # a code with a dot in it
    assert answer.status == 200 and answer.root in (None, "service_definition")
    check(answer.data, {"service_code": str, "attributes": list}, fmt)
    assert answer.data["service_code"] == "6.3a"
    attributes = {a["code"]: a for a in answer.data["attributes"]}
    assert set(attributes) == {"kind", "area"}
    for attribute in attributes.values():
        check(attribute, ATTRIBUTE, fmt)
        assert attribute["datatype"] == "singlevaluelist"
        for value in attribute["values"]:
            check(value, {"key": str, "name": str}, fmt)
    kinds = {v["key"] for v in attributes["kind"]["values"]}
    assert kinds == {"feedback", "petition", "suggestion", "complaint", "denunciation"}
    assert "00694" in {v["key"] for v in attributes["area"]["values"]}
    assert sorted(int(a["order"]) for a in attributes.values()) == [1, 2]
    check_error(call(client, "GET", "services/9.9", fmt), 404)
    check_error(call(client, "GET", "services/x<&>y", fmt), 404)


# --- POST requests -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_specification_example_post_is_routed_and_timed(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], fmt: str
) -> None:
    key = token_for("operator")
    answer = call(client, "POST", "requests", fmt, data=SPEC_POST | {"api_key": key})
    assert answer.status == 200 and answer.root in (None, "service_requests"), answer.text
    (created,) = answer.data
    check(created, CREATED, fmt)
    code = created["service_request_id"]
    assert code in created["service_notice"]
    case = stored(app, code)
    assert (case.channel, case.kind, case.category_code) == ("api", "petition", "6.3b")
    assert case.subject == "Ổ gà lớn giữa đường Nguyễn Trãi"
    assert case.reporter_name == "Trần Thị Bình" and case.reporter_email == "smit333@example.vn"
    assert case.address == "Số 57 đường Nguyễn Trãi" and case.lat == pytest.approx(22.8233)
    assert "media_url" in case.body and "tt222111" in case.body and "123456" in case.body
    # lat/long and a typed address name no ward: roads go to the ward's UBND, so triage.
    assert case.needs_triage and case.unit_code == "VP"
    assert case.creator_role == "operator"


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_location_variant_routes_as_the_routing_table_says(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], fmt: str
) -> None:
    key = token_for("coordinator")
    base = {"api_key": key, "description": "Đèn đường hỏng cả tuần nay, tối không đi được."}
    variants = [
        ({"service_code": "6.3b", "address_id": "00694"}, "UBND-00694"),
        ({"service_code": "6.3b", "attribute[area]": "00697"}, "UBND-00697"),
        (
            {"service_code": "6.4", "address_id": "00688", "lat": "22.82", "long": "104.98"},
            "CA-00688",
        ),
        ({"service_code": "6.3a", "lat": "22.8233", "long": "104.9836"}, "DL"),
        ({"service_code": "6.3c", "address_string": "Tổ 9, phường Minh Khai"}, "MTDT"),
    ]
    for extra, unit_code in variants:
        answer = call(client, "POST", "requests", fmt, data=base | extra)
        assert answer.status == 200, (extra, answer.text)
        code = answer.data[0]["service_request_id"]
        case = stored(app, code)
        assert case.unit_code == unit_code, extra
        assert case.anonymous and case.reporter_name is None
        if extra["service_code"] == "6.4":  # security and order: not a public category
            check_error(call(client, "GET", f"requests/{code}", fmt), 404)
            continue
        (shown,) = call(client, "GET", f"requests/{code}", fmt).data
        check(shown, REQUEST, fmt)
        assert shown["agency_responsible"] == case.unit_name
        assert shown["expected_datetime"] == iso(case.response_due_at)
        assert shown["requested_datetime"] == iso(case.received_at)
        assert shown["status"] == "open" and shown["service_code"] == extra["service_code"]
        token = call(client, "GET", f"tokens/{code}", fmt).data
        assert token == [{"service_request_id": code, "token": code}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_api_key_is_required_and_must_be_an_intake_role(
    app: Flask,
    client: FlaskClient,
    token_for: Callable[..., str],
    fmt: str,
    login_as: Callable[..., str],
) -> None:
    data = SPEC_POST | {"service_code": "6.3a"}
    before = count_cases(app)
    check_error(call(client, "POST", "requests", fmt, data=data), 403)
    check_error(call(client, "POST", "requests", fmt, data=data | {"api_key": "fbk_nope"}), 403)
    for role in ("officer", "inspector", "admin", "clerk"):
        answer = call(client, "POST", "requests", fmt, data=data | {"api_key": token_for(role)})
        check_error(answer, 403)
    login_as("coordinator")  # a session cookie is no api_key
    check_error(call(client, "POST", "requests", fmt, data=data), 403)
    assert count_cases(app) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_posts_are_refused_in_the_specification_format(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], fmt: str
) -> None:
    good = SPEC_POST | {"api_key": token_for("operator")}
    no_location = {k: v for k, v in good.items() if k not in {"lat", "long", "address_string"}}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({k: v for k, v in good.items() if k != "service_code"}, 400, "service_code"),
        (good | {"service_code": "0.0"}, 404, "0.0"),
        (good | {"service_code": "x\x00y"}, 400, "service_code"),  # the input gate
        (no_location, 400, "lat"),
        (good | {"lat": "abc"}, 400, "lat"),
        (good | {"lat": "91"}, 400, "lat"),
        (good | {"long": "nan"}, 400, "long"),
        (good | {"long": "1e400"}, 400, "long"),
        ({k: v for k, v in good.items() if k != "long"}, 400, "long"),
        (no_location | {"address_id": "99999"}, 400, "address_id"),
        (good | {"description": "ngắn"}, 400, "description"),
        (good | {"description": "x" * 4001}, 400, "description"),
        (good | {"attribute[kind]": "ransom"}, 400, "attribute[kind]"),
        (good | {"attribute[WHISPAWN]": "123456"}, 400, "WHISPAWN"),
        (good | {"phone": "12"}, 400, "phone"),
        (good | {"email": "not-an-email"}, 400, "email"),
        (good | {"media_url": "javascript:alert(1)"}, 400, "media_url"),
        (good | {"first_name": "An\x01"}, 400, "first_name"),
    ]
    before = count_cases(app)
    for data, status, mentioned in cases:
        descriptions = check_error(call(client, "POST", "requests", fmt, data=data), status)
        assert any(mentioned in d for d in descriptions), (mentioned, descriptions)
    assert count_cases(app) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_denunciation_is_accepted_and_never_shown(
    app: Flask, client: FlaskClient, token_for: Callable[..., str], fmt: str
) -> None:
    data = SPEC_POST | {
        "api_key": token_for("operator"),
        "attribute[kind]": "denunciation",
        "service_code": "6.3b",
        "address_id": "00694",
    }
    answer = call(client, "POST", "requests", fmt, data=data)
    assert answer.status == 200, answer.text
    code = answer.data[0]["service_request_id"]
    for secret in ("Trần Thị", "Bình", "0912000111", "smit333"):
        assert secret not in answer.text
    case = stored(app, code)
    assert case.kind == "denunciation" and case.identity_sealed and case.reporter_name is None
    check_error(call(client, "GET", f"requests/{code}", fmt), 404)
    check_error(call(client, "GET", f"tokens/{code}", fmt), 404)
    assert call(client, "GET", "requests", fmt, query={"service_request_id": code}).data == []


# --- GET requests ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_shows_no_personal_data_and_no_hidden_case(
    app: Flask,
    client: FlaskClient,
    make_case: Callable[..., str],
    make_user: Callable[..., Any],
    fmt: str,
) -> None:
    shown = make_case(
        subject="Ông Trần Văn Khoa báo đèn hỏng, gọi 0987654321",
        body="Nội dung riêng: cột đèn nhà tôi bị đổ, khoa@example.vn.",
        address="Số nhà 57, tổ 9, phường Nguyễn Trãi",
        lat=22.823456,
        lon=104.983612,
        reporter=Reporter(name="Trần Văn Khoa", phone="0987654321", email="khoa@example.vn"),
    )
    hidden = [
        make_case(kind="denunciation", subject="Tố cáo cán bộ phường nhận tiền"),
        make_case(kind="complaint", subject="Khiếu nại quyết định thu hồi đất"),
        make_case(category_code="4.1", subject="Cán bộ nhũng nhiễu khi làm giấy tờ"),
    ]
    answer = call(client, "GET", "requests", fmt)
    assert answer.status == 200 and answer.root in (None, "service_requests")
    assert [r["service_request_id"] for r in answer.data] == [shown]
    (row,) = answer.data
    check(row, REQUEST, fmt)
    for secret in (
        "Khoa",
        "0987654321",
        "khoa@example.vn",
        "Số nhà 57",
        "tổ 9",
        "Nội dung",
        "nhận tiền",
        "thu hồi đất",
        "nhũng nhiễu",
        *hidden,
    ):
        assert secret not in answer.text, secret
    assert row["description"] == row["service_name"]  # the category until approved
    approve(app, make_user, shown)
    (row,) = call(client, "GET", f"requests/{shown}", fmt).data
    assert "Khoa" not in str(row) and "0987654321" not in str(row)
    assert "[đã ẩn]" in row["description"] and "đèn hỏng" in row["description"]
    assert row["address"] == "Phường Nguyễn Trãi" and row["address_id"] == "00694"
    assert float(row["lat"]) == 22.823 and float(row["long"]) == 104.984
    for code in hidden:
        check_error(call(client, "GET", f"requests/{code}", fmt), 404)
    check_error(call(client, "GET", "requests/HG-2099-999999", fmt), 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_filters(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], fmt: str
) -> None:
    now = datetime.now(UTC)
    road = make_case(now=now - timedelta(days=1))
    power = make_case(category_code="6.3a", now=now - timedelta(days=2))
    water = make_case(category_code="6.3d", now=now - timedelta(days=30))
    old = make_case(category_code="6.3a", now=now - timedelta(days=100))
    set_status(app, power, "closed")
    set_status(app, water, "rejected")

    def ids(**query: str) -> list[str]:
        answer = call(client, "GET", "requests", fmt, query=query)
        assert answer.status == 200, answer.text
        for row in answer.data:
            check(row, REQUEST, fmt)
        return [r["service_request_id"] for r in answer.data]

    assert ids() == [road, power, water]  # newest first, the last 90 days
    assert ids(service_request_id=f"{old},{road}") == [road, old]  # overrides the window
    assert ids(service_request_id=old, status="open") == [old]
    assert ids(service_code="6.3a") == [power]
    assert ids(service_code="6.3a,6.3d") == [power, water]
    assert ids(status="open") == [road]
    assert ids(status="closed") == [power, water]
    assert ids(status="open,closed") == [road, power, water]
    week = (now - timedelta(days=7)).astimezone().isoformat(timespec="seconds")
    assert ids(start_date=week) == [road, power]
    assert ids(end_date=week) == [water]
    start = (now - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=start, end_date=end) == [old]
    assert ids(page_size="2") == [road, power]
    assert ids(page="2", page_size="2") == [water]
    assert ids(page="3", page_size="2") == []
    assert ids(jurisdiction_id="hagiang.gov.vn", service_code="") == [road, power, water]
    closed = call(client, "GET", f"requests/{power}", fmt).data[0]
    assert closed["status"] == "closed" and closed["status_notes"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_queries_are_refused_in_the_specification_format(client: FlaskClient, fmt: str) -> None:
    for query in (
        {"start_date": "2024-01-01T00:00:00"},  # no offset
        {"start_date": "yesterday"},
        {"end_date": "2024-13-01T00:00:00Z"},
        {"start_date": "0001-01-01T00:00:00+14:00"},
        {"start_date": "2024-03-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"},
        {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"},
        {"status": "pending"},
        {"service_code": "0.0"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "x"},
        {"page": "99999999999999999999"},
        {"page_size": "101"},
        {"page_size": "0"},
        {"service_request_id": ",".join(f"HG-2024-{i:06d}" for i in range(101))},
    ):
        check_error(call(client, "GET", "requests", fmt, query=query), 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_resources_formats_and_methods(client: FlaskClient, fmt: str) -> None:
    check_error(call(client, "GET", "nothing", fmt), 404)
    check_error(call(client, "GET", "requests/HG-2024-000001/notes", fmt), 404)
    answer = call(client, "DELETE", "services", fmt)
    check_error(answer, 405)
    answer = call(client, "PUT", "requests", fmt)
    check_error(answer, 405)
    response = client.get("/open311/v2/services.html")
    assert response.status_code == 404 and response.json and response.json[0]["code"] == 404
    response = client.get("/open311/v2/")
    assert response.status_code == 404 and response.json[0]["code"] == 404


def test_xml_escapes_what_it_shows(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    code = make_case(subject='Cống <tràn> & "ngập" đường', area_code="00697")
    approve(app, make_user, code)
    response = client.get(f"/open311/v2/requests/{code}.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    assert root.findtext("request/description") == 'Cống <tràn> & "ngập" đường'
    assert root.findtext("request/address") == "Phường Minh Khai"
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == "UBND-00697"))
        assert unit is not None and root.findtext("request/agency_responsible") == unit.name


def test_an_open311_refusal_is_a_service_error() -> None:
    """One error hierarchy: whatever catches a service's refusal (the blueprint's one
    handler, the app's) catches Open311's own, with its status and its descriptions."""
    from feedback.api.open311_requests import Open311Error
    from feedback.services.errors import ServiceError

    with pytest.raises(ServiceError) as caught:
        raise Open311Error(404, "Không có dịch vụ «X».", "Không có dịch vụ «X».", "Thử lại.")
    assert caught.value.status == 404
    assert caught.value.code == "not_found"
    assert caught.value.message == "Không có dịch vụ «X»."
    assert caught.value.descriptions == ["Không có dịch vụ «X».", "Thử lại."]  # type: ignore[attr-defined]
