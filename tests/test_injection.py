"""XSS and SQL-injection payloads in every free-text field come back inert: stored
verbatim, shown escaped on every page that shows them (case page, follow-up page, public
pages, search), and the tables intact."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import func, inspect, select, text
from test_boxes import BASE as BOXES
from test_boxes import early_morning, local_text, post_letter, record

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, User
from feedback.services.accounts.users import issue_token
from feedback.services.intake.boxes import BoxInput, create_box

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)")
SQLI = ("' OR 1=1 --", '"; DROP TABLE cases; --')
SHORT = XSS + SQLI  # one at a time, for fields of a few dozen characters


def payload(tag: str) -> str:
    """Every payload at once, tagged so the field it went into can be found again."""
    return f"{tag} " + " ".join(XSS + SQLI)


ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TABLES = ("cases", "case_events", "users", "audit_log", "box_openings", "calendar_overrides")


def assert_inert(page: str, where: str = "") -> None:
    """No markup from a payload is live in the page. Our pages have no script at all
    (the CSP forbids inline script), so any <script is an injection."""
    lowered = page.lower()
    assert "<script" not in lowered, where
    assert "<img src=x" not in lowered, where
    assert "onerror=alert" not in lowered.replace("&#34;&gt;&lt;img src=x onerror=alert", ""), where
    assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", lowered), where


def assert_shown(page: str, tag: str, where: str = "") -> None:
    assert tag in page, f"{tag} not shown on {where}"
    assert ESCAPED in page, where
    assert_inert(page, where)


def stored(app: Flask, value: str) -> bool:
    """The exact payload is in some text column of some table (nothing was stripped,
    encoded or lost on the way in)."""
    with app.app_context():
        found = False
        for table in TABLES:
            for row in db.session.execute(text(f"SELECT * FROM {table}")).mappings():
                for cell in row.values():
                    if isinstance(cell, dict | list):
                        cell = json.dumps(cell, ensure_ascii=False)
                    if isinstance(cell, str) and value in cell:
                        found = True
        db.session.remove()
        return found


def assert_tables_intact(app: Flask, at_least_cases: int = 0) -> None:
    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
        assert set(TABLES) <= names
        assert (db.session.scalar(select(func.count()).select_from(Case)) or 0) >= at_least_cases
        db.session.remove()


@pytest.fixture
def staff(app: Flask, make_user: Callable[..., Any]) -> Callable[..., FlaskClient]:
    return lambda role, unit=None: client_for(app, make_user(role, unit_code=unit)[1])


def submit_web(client: FlaskClient, **fields: str) -> tuple[str, str]:
    page = client.get("/gui")
    data = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "address": "Số 12, tổ 7",
        "subject": "Cống thoát nước tổ 7 bị tắc",
        "body": "Cống thoát nước trước nhà số 12 tổ 7 bị tắc, nước tràn ra đường.",
        "reporter_name": "Lê Thị Hoa",
        "reporter_phone": "0912 345 678",
        "reporter_email": "hoa.le@example.vn",
        "action": "send",
        **fields,
    }
    response = client.post("/gui", data=data)
    assert response.status_code == 302, response.text
    code = response.headers["Location"].rsplit("/", 1)[-1]
    shown = client.get(f"/gui/da-nhan/{code}")
    assert_inert(shown.text, "submitted page")
    key = re.search(r'data-testid="access-key"[^>]*>([^<]+)<', shown.text)
    assert key, shown.text
    return code, key.group(1).strip()


def follow_page(app: Flask, code: str, key: str) -> tuple[FlaskClient, str]:
    browser = app.test_client()
    page = browser.get("/tra-cuu")
    response = browser.post(
        "/tra-cuu", data={"csrf_token": csrf_from(page.text), "code": code, "access_key": key}
    )
    assert response.status_code == 303, response.text
    return browser, browser.get(f"/tra-cuu/{code}").text


def citizen_post(browser: FlaskClient, code: str, action: str, data: dict[str, str]) -> Any:
    page = browser.get(f"/tra-cuu/{code}")
    return browser.post(
        f"/tra-cuu/{code}/{action}",
        data={"csrf_token": csrf_from(page.text), **data},
        content_type="multipart/form-data",
    )


def desk_post(client: FlaskClient, code: str, slug: str, **form: str) -> Any:
    token = csrf_from(client.get("/can-bo/").text)
    return client.post(f"/can-bo/ho-so/{code}/{slug}", data={"csrf_token": token, **form})


# --- the citizen's form, then every page that shows it --------------------------------------


def test_citizen_form_fields(app: Flask, client: FlaskClient, staff: Any) -> None:
    fields = {
        "subject": payload("S1"),
        "body": payload("B1") + "\n" + payload("B2"),
        "address": payload("A1"),
        "reporter_name": payload("N1"),
    }
    code, key = submit_web(client, **fields)
    for value in fields.values():
        assert stored(app, value), value

    _, page = follow_page(app, code, key)
    assert_shown(page, "S1", "follow-up page")

    coordinator = staff("coordinator", "VP")
    page = coordinator.get(f"/can-bo/ho-so/{code}").text
    for tag in ("S1", "B1", "A1", "N1"):
        assert_shown(page, tag, "case page")
    for q in (payload("S1"), "<script>alert(1)</script>", "' OR 1=1 --", "S1"):
        found = coordinator.get("/can-bo/tim-kiem/", query_string={"q": q})
        assert found.status_code in (200, 422)  # 422: more words than a query may have
        assert_inert(found.text, f"search {q}")
    assert code in coordinator.get("/can-bo/tim-kiem/", query_string={"q": "S1"}).text
    for url in ("/can-bo/", "/can-bo/phan-loai", "/cong-khai/", "/"):
        assert_inert(coordinator.get(url).text, url)
        assert_inert(client.get(url).text, url)
    assert_tables_intact(app, 1)


def test_the_form_shown_again_after_a_refusal_is_escaped(client: FlaskClient) -> None:
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "feedback",
            "subject": payload("R1"),
            "body": "ngắn",  # refused: too short, so the form comes back filled in
            "address": payload("R2"),
            "reporter_name": payload("R3"),
            "action": "send",
        },
    )
    assert response.status_code == 422
    assert_shown(response.text, "R1", "refused form")


def test_look_up_and_login_fields(app: Flask, client: FlaskClient, make_user: Any) -> None:
    make_user("officer", unit_code="UBND-00688")
    for value in SHORT:
        page = client.get("/tra-cuu")
        response = client.post(
            "/tra-cuu",
            data={"csrf_token": csrf_from(page.text), "code": value, "access_key": value},
        )
        assert response.status_code == 422, value
        assert_inert(response.text, f"look-up {value}")
        assert client.get(f"/tra-cuu/{value}").status_code in (302, 303, 404)

        fresh = app.test_client()
        page = fresh.get("/can-bo/dang-nhap")
        response = fresh.post(
            "/can-bo/dang-nhap",
            data={"csrf_token": csrf_from(page.text), "username": value, "password": value},
        )
        assert response.status_code == 422, value
        assert_inert(response.text, f"login {value}")
        assert stored(app, value)  # the failed login's audit row names it verbatim
    # ' OR 1=1 -- as a user name matches no account: still nobody is logged in.
    with client.session_transaction() as held:
        assert "_user_id" not in held
    assert_tables_intact(app)


# --- staff's fields on the desk and the citizen's on the follow-up page ----------------------


def test_notes_questions_answers_replies_ratings_and_reasons(
    app: Flask, client: FlaskClient, staff: Any
) -> None:
    code, key = submit_web(client)
    officer = staff("officer", "UBND-00688")
    head = staff("unit_head", "UBND-00688")
    coordinator = staff("coordinator", "VP")

    assert desk_post(officer, code, "xac-nhan-tiep-nhan").status_code == 303
    assert desk_post(officer, code, "ghi-chu", note=payload("NOTE")).status_code == 303
    assert desk_post(officer, code, "de-nghi-bo-sung", question=payload("ASK")).status_code == 303
    browser, page = follow_page(app, code, key)
    assert_shown(page, "ASK", "follow-up page (question)")
    reply = citizen_post(browser, code, "bo-sung", {"reply": payload("REPLY")})
    assert reply.status_code in (302, 303), reply.text
    assert desk_post(officer, code, "du-thao", body=payload("DRAFT")).status_code == 303
    page = head.get(f"/can-bo/ho-so/{code}").text
    assert_shown(page, "DRAFT", "case page (draft)")
    assert desk_post(head, code, "duyet-tra-loi", body=payload("ANSWER")).status_code == 303

    _, page = follow_page(app, code, key)
    assert_shown(page, "ANSWER", "follow-up page (answer)")
    rated = citizen_post(browser, code, "danh-gia", {"rating": "2", "comment": payload("RATE")})
    assert rated.status_code in (302, 303), rated.text
    reopened = citizen_post(browser, code, "xem-xet-lai", {"reason": payload("REOPEN")})
    assert reopened.status_code in (302, 303), reopened.text

    page = coordinator.get(f"/can-bo/ho-so/{code}").text
    for tag in ("NOTE", "ASK", "REPLY", "ANSWER", "REOPEN"):
        assert_shown(page, tag, f"case page ({tag})")
    assert_inert(browser.get(f"/tra-cuu/{code}").text, "follow-up page")
    for tag in ("NOTE", "ASK", "REPLY", "DRAFT", "ANSWER", "RATE", "REOPEN"):
        assert stored(app, payload(tag)), tag

    # Reasons: a transfer, a refusal, and a coordinator's reopening.
    other, _ = submit_web(client)
    response = desk_post(coordinator, other, "chuyen", unit_code="NV", reason=payload("TRANSFER"))
    assert response.status_code == 303, response.text
    third, _ = submit_web(client)
    response = desk_post(coordinator, third, "khong-tiep-nhan", reason=payload("REJECT"))
    assert response.status_code == 303, response.text
    for case_code, tag in ((other, "TRANSFER"), (third, "REJECT")):
        assert_shown(coordinator.get(f"/can-bo/ho-so/{case_code}").text, tag, tag)
        assert stored(app, payload(tag)), tag
    assert_tables_intact(app, 3)


# --- the hotline desk, the suggestion box and the calendar ----------------------------------


def test_hotline_desk_fields(app: Flask, staff: Any) -> None:
    from datetime import timedelta

    from feedback.domain.calendar import LOCAL_TZ

    operator = staff("operator", "VP")
    page = operator.get("/can-bo/1022/")
    fields = {
        "caller_name": payload("CALLER"),
        "address": payload("HADDR"),
        "subject": payload("HSUBJ"),
        "body": payload("HBODY"),
    }
    response = operator.post(
        "/can-bo/1022/",
        data={
            "csrf_token": csrf_from(page.text),
            "caller_phone": "0912 345 678",
            "call_started_at": (datetime.now(LOCAL_TZ) - timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "kind": "feedback",
            "category": "6.3a – Điện sinh hoạt",
            "area_code": "00949",
            "action": "save",
            **fields,
        },
    )
    assert response.status_code == 200, response.text
    assert_inert(response.text, "hotline read-back")
    for value in fields.values():
        assert stored(app, value), value
    with app.app_context():
        code = db.session.scalars(select(Case.code).order_by(Case.id.desc())).first()
    page = staff("coordinator", "VP").get(f"/can-bo/ho-so/{code}").text
    for tag in ("CALLER", "HADDR", "HSUBJ", "HBODY"):
        assert_shown(page, tag, f"case page ({tag})")
    assert_tables_intact(app, 1)


def test_suggestion_box_opening_and_letter_fields(
    app: Flask, make_user: Callable[..., Any], staff: Any
) -> None:
    coordinator_id, _ = make_user("coordinator", unit_code="VP")
    with app.app_context(), unit_of_work():
        box = create_box(
            BoxInput("HT-00688-09", payload("LOC")[:300], "00688", None),
            actor=db.session.get(User, coordinator_id),
            now=datetime.now(UTC),
        )
        box_id = box.id
    clerk = staff("clerk", "UBND-00688")
    assert_shown(clerk.get(f"{BOXES}/{box_id}").text, "LOC", "box page")
    opening_id = record(
        clerk,
        box_id,
        opened_at=local_text(early_morning(2), "%Y-%m-%dT%H:%M"),
        witnesses="Nguyễn Văn An\n" + payload("WITNESS"),
    )
    assert_shown(clerk.get(f"{BOXES}/lan-mo/{opening_id}").text, "WITNESS", "opening page")
    response = post_letter(
        clerk,
        opening_id,
        subject=payload("LSUBJ"),
        body=payload("LBODY"),
        address=payload("LADDR"),
        reporter_name=payload("LNAME"),
    )
    assert response.status_code == 303, response.text
    code = re.search(r"vua_tao=([A-Z0-9-]+)", response.headers["Location"]).group(1)
    assert_inert(clerk.get(response.headers["Location"]).text, "letter saved page")
    page = staff("coordinator", "VP").get(f"/can-bo/ho-so/{code}").text
    for tag in ("LSUBJ", "LBODY", "LADDR", "LNAME"):
        assert_shown(page, tag, f"case page ({tag})")
        assert stored(app, payload(tag)), tag
    assert stored(app, payload("WITNESS"))
    assert_tables_intact(app, 1)


def test_calendar_source_and_note(app: Flask, staff: Any) -> None:
    admin = staff("admin")
    page = admin.get("/quan-tri/lich")
    response = admin.post(
        "/quan-tri/lich",
        data={
            "csrf_token": csrf_from(page.text),
            "day": date(2031, 9, 3).isoformat(),
            "kind": "off",
            "source": payload("SRC"),
            "note": payload("CNOTE"),
            "confirm": "1",
        },
    )
    assert response.status_code == 303, response.text
    page = admin.get("/quan-tri/lich?nam=2031").text
    assert_shown(page, "SRC", "calendar page")
    assert stored(app, payload("SRC")) and stored(app, payload("CNOTE"))
    assert_tables_intact(app)


# --- the JSON API ---------------------------------------------------------------------------


def test_api_json_fields(app: Flask, client: FlaskClient, make_user: Any, staff: Any) -> None:
    body = {
        "kind": "feedback",
        "subject": payload("JSUBJ"),
        "body": payload("JBODY"),
        "category_code": "6.3b",
        "area_code": "00688",
        "address": payload("JADDR"),
        "reporter": {"name": payload("JNAME"), "phone": "0912345678", "anonymous": False},
    }
    response = client.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.text
    created = response.get_json()
    code = created["code"]
    assert response.mimetype == "application/json"

    tokens = {}
    for role in ("officer", "unit_head", "coordinator", "inspector"):
        unit = {"officer": "UBND-00688", "unit_head": "UBND-00688", "coordinator": "VP"}.get(role)
        user_id, _ = make_user(role, unit_code=unit)
        with app.app_context(), unit_of_work():
            tokens[role] = {
                "Authorization": "Bearer "
                + issue_token(db.session.get(User, user_id), datetime.now(UTC))
            }
    url = f"/api/v1/cases/{code}"
    shown = client.get(url, headers=tokens["coordinator"])
    assert shown.mimetype == "application/json"  # with nosniff: never rendered as HTML
    assert shown.get_json()["subject"] == payload("JSUBJ")
    steps = [
        ("officer", "acknowledge", {"note": payload("JACK")}),
        ("unit_head", "answer", {"body": payload("JANSWER")}),
        ("coordinator", "reopen", {"reason": payload("JREOPEN")}),
    ]
    for role, action, data in steps:
        response = client.post(f"{url}/{action}", json=data, headers=tokens[role])
        assert response.status_code == 200, (action, response.text)
    other = client.post("/api/v1/cases", json=body).get_json()["code"]
    response = client.post(
        f"/api/v1/cases/{other}/transfer",
        json={"unit_code": "NV", "reason": payload("JTRANSFER")},
        headers=tokens["officer"],
    )
    assert response.status_code == 200, response.text
    for q in SHORT:
        found = client.get("/api/v1/cases", query_string={"q": q}, headers=tokens["inspector"])
        assert found.status_code == 200, q
    for tag in ("JSUBJ", "JBODY", "JADDR", "JNAME", "JACK", "JANSWER", "JREOPEN", "JTRANSFER"):
        assert stored(app, payload(tag)), tag
    page = staff("coordinator", "VP").get(f"/can-bo/ho-so/{code}").text
    for tag in ("JSUBJ", "JBODY", "JADDR", "JNAME", "JACK", "JANSWER", "JREOPEN"):
        assert_shown(page, tag, f"case page ({tag})")
    assert_tables_intact(app, 2)


def test_uploaded_file_names_are_inert(app: Flask, client: FlaskClient, staff: Any) -> None:
    page = client.get("/gui")
    from test_boxes import png_bytes

    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "feedback",
            "category_code": "6.3b",
            "area_code": "00688",
            "subject": "Cống thoát nước tổ 7 bị tắc",
            "body": "Cống thoát nước trước nhà số 12 tổ 7 bị tắc, nước tràn ra đường.",
            "anonymous": "y",
            "action": "send",
            "attachments": (io.BytesIO(png_bytes()), '"><img src=x onerror=alert(1)>.png'),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    code = response.headers["Location"].rsplit("/", 1)[-1]
    assert_inert(staff("coordinator", "VP").get(f"/can-bo/ho-so/{code}").text, "case page")
