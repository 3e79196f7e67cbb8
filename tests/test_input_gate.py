"""The input gate (issue 13, finding 7): odd input is a 4xx with a message, never a 500.

Each case below was a 500 before the gate (NUL bytes on PostgreSQL, absurd integers on
both engines) or was accepted silently (a right-to-left override in a subject). The app
fixture runs every test on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, staff_client
from sqlalchemy import func, select

from feedback.models import Case, CaseEvent

HUGE = "99999999999999999999"


def _events(app: Flask, code: str) -> int:
    from feedback.extensions import db

    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.code == code))
        return db.session.scalar(
            select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case_id)
        )


def _vietnamese_400(response: Any) -> None:
    assert response.status_code == 400, response.text[:500]
    assert "ký tự" in response.text or "không hợp lệ" in response.text


# --- the reported 500s ---------------------------------------------------------------------


@pytest.mark.parametrize("param", ["trang", "page"])
def test_an_absurd_page_number_is_a_4xx(
    app: Flask, make_user: Callable[..., Any], param: str
) -> None:
    client = staff_client(app, make_user, "officer", "UBND-00688")
    response = client.get(f"/can-bo/?{param}={HUGE}")
    assert 400 <= response.status_code < 500, response.text[:300]
    assert "Yêu cầu" in response.text or "không hợp lệ" in response.text


def test_absurd_page_numbers_on_every_paged_page(app: Flask, make_user: Callable[..., Any]) -> None:
    coordinator = staff_client(app, make_user, "coordinator", None)
    inspector = staff_client(app, make_user, "inspector", None)
    for client, url in (
        (coordinator, f"/can-bo/phan-loai?trang={HUGE}"),
        (coordinator, f"/can-bo/tim-kiem/?page={HUGE}"),
        (inspector, f"/thanh-tra/?page={HUGE}"),
        (inspector, "/thanh-tra/?per_page=-1"),
        (app.test_client(), f"/cong-khai/?page={HUGE}"),
        (app.test_client(), "/cong-khai/?year=-5"),
        (coordinator, f"/can-bo/hom-thu/{HUGE}"),
        (coordinator, f"/can-bo/hom-thu/lan-mo/{HUGE}"),
    ):
        response = client.get(url)
        assert 400 <= response.status_code < 500, (url, response.status_code)


def test_a_nul_byte_on_the_login_form_is_a_400(app: Flask, client: FlaskClient) -> None:
    page = client.get("/can-bo/dang-nhap")
    response = client.post(
        "/can-bo/dang-nhap",
        data={"username": "ad\x00min", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    _vietnamese_400(response)


def test_a_nul_byte_on_the_lookup_form_is_a_400(
    app: Flask, client: FlaskClient, make_case: Callable[..., str]
) -> None:
    code = make_case()
    page = client.get("/tra-cuu")
    response = client.post(
        "/tra-cuu",
        data={"code": code + "\x00", "access_key": "AAAA", "csrf_token": csrf_from(page.text)},
    )
    _vietnamese_400(response)


def test_a_nul_byte_in_the_case_url_is_a_4xx(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    code = make_case(area_code="00688")
    client = staff_client(app, make_user, "officer", "UBND-00688")
    response = client.get(f"/can-bo/ho-so/{code}%00")
    assert response.status_code == 404
    assert "Không tìm thấy" in response.text


@pytest.mark.parametrize(
    ("slug", "data"),
    [
        ("ghi-chu", {"note": "Ghi chú\x00 có NUL"}),
        ("lien-ket", {"link_to": "HG\x00-2024"}),
        ("chuyen", {"unit_code": "VP\x00", "reason": "Không đúng đơn vị xử lý."}),
        ("chuyen", {"unit_code": "VP", "reason": "Lý do\x1b[31m có mã điều khiển"}),
    ],
)
def test_a_nul_byte_on_the_case_forms_is_a_400_and_writes_nothing(
    app: Flask,
    make_user: Callable[..., Any],
    make_case: Callable[..., str],
    slug: str,
    data: dict[str, str],
) -> None:
    code = make_case(area_code="00688")
    client = staff_client(app, make_user, "unit_head", "UBND-00688")
    page = client.get(f"/can-bo/ho-so/{code}")
    before = _events(app, code)
    response = client.post(
        f"/can-bo/ho-so/{code}/{slug}", data={**data, "csrf_token": csrf_from(page.text)}
    )
    _vietnamese_400(response)
    assert _events(app, code) == before


def test_multi_line_text_keeps_tab_and_line_breaks(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    code = make_case(area_code="00688")
    client = staff_client(app, make_user, "unit_head", "UBND-00688")
    page = client.get(f"/can-bo/ho-so/{code}")
    response = client.post(
        f"/can-bo/ho-so/{code}/ghi-chu",
        data={"note": "Dòng một\r\n\tDòng hai", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303
    assert _events(app, code) >= 2


# --- the API and Open311 answer in their own shapes -----------------------------------------


def test_the_api_answers_a_nul_byte_in_its_json_error_shape(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    client = app.test_client()
    response = client.get("/api/v1/deadlines?received_at=2024-01-01T00:00:00%2B07:00&kind=%00")
    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert "kind" in response.json["fields"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_answers_a_nul_byte_in_its_error_shape(app: Flask, fmt: str) -> None:
    response = app.test_client().get(f"/open311/v2/requests.{fmt}?service_code=6.3b%00")
    assert response.status_code == 400
    if fmt == "json":
        assert response.json[0]["code"] == 400 and response.json[0]["description"]
    else:
        assert response.text.startswith("<?xml") and "<description>" in response.text
    response = app.test_client().get(f"/open311/v2/requests.{fmt}?page={HUGE}")
    assert response.status_code == 400


# --- names and subjects: no disguising characters ------------------------------------------


def _public_form(client: FlaskClient, **changes: str) -> Any:
    page = client.get("/gui")
    data = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
        "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
        "reporter_name": "Trần Thị Bình",
        "reporter_phone": "0912000111",
    }
    return client.post("/gui", data={**data, **changes})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Đèn đường hỏng \u202egnol fdp.exe"),
        ("subject", "Đèn\u200b đường hỏng trên phố"),
        ("reporter_name", "Trần\u200d Thị Bình"),
        ("reporter_name", "\u2067Trần Thị Bình\u2069"),
    ],
)
def test_disguising_characters_in_names_and_subjects_are_refused(
    app: Flask, client: FlaskClient, field: str, value: str
) -> None:
    response = _public_form(client, **{field: value})
    assert response.status_code == 422
    assert "ký tự ẩn" in response.text
    from feedback.extensions import db

    with app.app_context():
        assert db.session.scalar(select(func.count(Case.id))) == 0


def test_the_service_refuses_them_too(app: Flask) -> None:
    """The intake service applies the same domain rule, so the API and imports do too."""
    response = app.test_client().post(
        "/api/v1/cases",
        json={
            "kind": "feedback",
            "subject": "Đèn đường \u202ehỏng",
            "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
            "reporter": {"name": "Trần\u200b Thị Bình", "phone": "0912000111"},
        },
    )
    assert response.status_code == 422
    assert {"subject", "reporter.name"} <= set(response.json["fields"])


def test_a_control_character_in_a_single_line_field_is_a_form_error(
    app: Flask, client: FlaskClient
) -> None:
    response = _public_form(client, reporter_name="Trần Thị\nBình")
    assert response.status_code == 422
    assert "ký tự điều khiển" in response.text


# --- the domain rules ----------------------------------------------------------------------


def test_the_domain_rules() -> None:
    from feedback.domain.contact import is_phone, normalise_phone
    from feedback.domain.text import control_characters, disguising_characters

    assert control_characters("a\x00b") == ["\x00"]
    assert control_characters("a\tb\r\nc") == []
    assert control_characters("a\tb", multiline=False) == ["\t"]
    assert control_characters("x\x7f\x85") == ["\x7f", "\x85"]
    assert disguising_characters("ab\u202ec\u200b") == ["\u202e", "\u200b"]
    assert disguising_characters("Nguyễn Trãi 🙂") == []
    assert is_phone("0912 000 111") and is_phone("+84 912-000-111")
    assert not is_phone("12ab") and not is_phone("0" * 16) and not is_phone("")
    assert normalise_phone("+84 (0)912.000.111") is None
    assert normalise_phone("+84 912.000.111") == "+84912000111"
    assert normalise_phone("0912 000 111") == "0912000111"
