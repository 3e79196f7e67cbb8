"""Staff search (issue 4): the page /can-bo/tim-kiem/ and GET /api/v1/cases share one query.

Words match with or without diacritics and in any order; filters narrow what the user may
see and never widen it; results never name a reporter (lists show no identity, for any
kind and any role, the inspector included); bad parameters are a 422, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import staff_client
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, User
from feedback.services.accounts.users import issue_token
from feedback.services.handling import actions
from feedback.services.intake.submission import Reporter

PAGE = "/can-bo/tim-kiem/"
API = "/api/v1/cases"
DENOUNCER = ("Lê Văn Tố", "0987654321", "to.le@example.vn")
REPORTER = ("Trần Thị Bình", "0912000111")  # make_case's default reporter


@pytest.fixture
def cases(make_case: Callable[..., str]) -> dict[str, str]:
    old = datetime(2024, 2, 2, 3, 0, tzinfo=UTC)
    return {
        "waste": make_case(
            subject="Rác thải không được thu gom",
            body="Rác thải tồn đọng ở đầu ngõ 12 đường Trần Phú mấy ngày nay.",
            category_code="6.3c",
            area_code="00691",
        ),
        "power": make_case(category_code="6.3a", area_code="00697"),  # DL
        "road": make_case(),  # 6.3b in 00694 → UBND-00694
        "road2": make_case(subject="Ổ gà lớn giữa đường Nguyễn Trãi", area_code="00694"),
        "complaint": make_case(kind="complaint", category_code="3.2", area_code="00688"),
        "hotline": make_case(
            channel="hotline", external_ref="H-1", received_at=old, category_code="6.3a"
        ),
        "denunciation": make_case(
            kind="denunciation",
            subject="Tố cáo cán bộ địa chính nhận tiền",
            body="Cán bộ địa chính phường Quang Trung nhận tiền để làm nhanh sổ đỏ.",
            category_code="3.2",
            area_code="00688",
            reporter=Reporter(name=DENOUNCER[0], phone=DENOUNCER[1], email=DENOUNCER[2]),
        ),
    }


@pytest.fixture
def browser(app: Flask, make_user: Callable[..., Any]) -> Callable[..., FlaskClient]:
    """A test client logged in through the login form as a new account of ``role``."""

    def login(role: str, unit: str | None = None) -> FlaskClient:
        return staff_client(app, make_user, role, unit)

    return login


@pytest.fixture
def token_for(app: Flask, make_user: Callable[..., Any]) -> Callable[..., dict[str, str]]:
    def factory(role: str, unit: str | None = None) -> dict[str, str]:
        user_id, _ = make_user(role, unit_code=unit)
        with app.app_context(), unit_of_work():
            token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
        return {"Authorization": f"Bearer {token}"}

    return factory


def page_codes(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return set(re.findall(r'<tr class="[^"]*" data-code="([^"]+)"', response.text))


def api_codes(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["code"] for item in response.get_json()["items"]}


# --- words --------------------------------------------------------------------------------


def test_words_ignore_diacritics_and_order_on_the_page_and_the_api(
    browser: Any, token_for: Any, cases: dict[str, str]
) -> None:
    client = browser("coordinator", "VP")
    headers = token_for("inspector")
    for q in ("rac thai", "THAI rác", "Rác thải", "thu gom rac", "tran phu rac"):
        assert page_codes(client.get(PAGE, query_string={"q": q})) == {cases["waste"]}, q
        assert api_codes(client.get(API, query_string={"q": q}, headers=headers)) == {
            cases["waste"]
        }
    assert page_codes(client.get(PAGE, query_string={"q": "rac thai nguyen trai"})) == set()
    assert page_codes(client.get(PAGE, query_string={"q": "o ga"})) == {cases["road2"]}


def test_the_form_is_a_bookmarkable_get_that_shows_its_values(
    browser: Any, cases: dict[str, str]
) -> None:
    client = browser("coordinator", "VP")
    response = client.get(
        PAGE, query_string={"q": "rác thải", "unit": "MTDT", "kind": "feedback", "overdue": "1"}
    )
    assert response.status_code == 200
    html = response.text
    form = re.search(r'<form method="get".*?</form>', html, re.S)
    assert form is not None and "csrf_token" not in form.group(0)
    assert 'name="q" value="rác thải"' in html
    assert '<option value="MTDT" selected>' in html
    assert '<option value="feedback" selected>' in html
    assert 'name="overdue" value="1" checked' in html
    for name in ("unit", "status", "kind", "channel", "area", "category"):
        assert f'<select id="f-{name}" name="{name}"' in html
    # The code links to the case page.
    fresh = client.get(PAGE, query_string={"q": "rac thai"})
    assert f'href="/can-bo/ho-so/{cases["waste"]}"' in fresh.text


# --- filters ------------------------------------------------------------------------------


def test_filters_and_overdue(browser: Any, cases: dict[str, str]) -> None:
    client = browser("coordinator", "VP")

    def search(**params: str) -> set[str]:
        return page_codes(client.get(PAGE, query_string=params))

    everything = set(cases.values())
    assert search() == everything
    # An empty select is "all": the form sends every field.
    assert search(q="", unit="", status="", kind="", channel="", area="", category="") == (
        everything
    )
    assert search(unit="DL") == {cases["power"], cases["hotline"]}
    assert search(unit="UBND-00694") == {cases["road"], cases["road2"]}
    assert search(kind="complaint") == {cases["complaint"]}
    assert search(kind="denunciation") == {cases["denunciation"]}
    assert search(channel="hotline") == {cases["hotline"]}
    assert search(area="00697") == {cases["power"]}
    assert search(category="6.3a") == {cases["power"], cases["hotline"]}
    assert search(category="6.3a", channel="web") == {cases["power"]}
    assert search(status="received") == everything
    assert search(status="closed") == set()
    assert search(overdue="1") == {cases["hotline"]}
    assert search(overdue="1", unit="DL") == {cases["hotline"]}
    assert search(overdue="1", unit="UBND-00694") == set()
    assert search(q="duong", unit="UBND-00694", kind="feedback") == {cases["road"], cases["road2"]}


def test_an_answered_case_is_no_longer_overdue(
    app: Flask, browser: Any, token_for: Any, make_case: Any, make_user: Any
) -> None:
    """Late, then answered (waiting to be closed): no longer owed anything, as for the SLA
    sweep, so the overdue filter and the API's ``overdue`` leave it out."""
    code = make_case(
        channel="hotline",
        external_ref="H-9",
        received_at=datetime(2024, 2, 2, 3, 0, tzinfo=UTC),
        category_code="6.3b",
        area_code="00688",
    )
    head_id, _ = make_user("unit_head", unit_code="UBND-00688")
    client = browser("coordinator", "VP")
    headers = token_for("coordinator", "VP")
    assert page_codes(client.get(PAGE, query_string={"overdue": "1"})) == {code}
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        head = db.session.get(User, head_id)
        actions.acknowledge(case, head, datetime.now(UTC))
        actions.approve_answer(case, head, datetime.now(UTC), "Đã sửa xong đèn đường tổ 3.")
    assert page_codes(client.get(PAGE, query_string={"overdue": "1"})) == set()
    listed = client.get(API, headers=headers).get_json()["items"]
    assert [(i["code"], i["status"], i["overdue"]) for i in listed] == [(code, "answered", False)]
    assert client.get(f"{API}/{code}", headers=headers).get_json()["overdue"] is False


def test_paging_keeps_the_filters(browser: Any, cases: dict[str, str]) -> None:
    client = browser("coordinator", "VP")
    first = client.get(PAGE, query_string={"per_page": "2", "kind": "feedback"})
    assert first.status_code == 200
    assert "Tìm thấy 5 hồ sơ" in first.text and "trang 1/3" in first.text
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link is not None
    target = urlsplit(link.group(1).replace("&amp;", "&"))
    params = dict(parse_qsl(target.query))
    assert target.path == PAGE
    assert params == {"kind": "feedback", "per_page": "2", "page": "2"}
    second = client.get(PAGE, query_string=params)
    third = client.get(PAGE, query_string={**params, "page": "3"})
    seen = page_codes(first) | page_codes(second) | page_codes(third)
    assert seen == set(cases.values()) - {cases["complaint"], cases["denunciation"]}
    assert 'rel="prev"' in second.text and 'rel="next"' not in third.text


# --- visibility ---------------------------------------------------------------------------


def test_an_officer_never_sees_other_units_cases(
    browser: Any, token_for: Any, cases: dict[str, str]
) -> None:
    mine = {cases["road"], cases["road2"]}
    for role in ("officer", "unit_head"):
        client = browser(role, "UBND-00694")
        headers = token_for(role, "UBND-00694")
        assert page_codes(client.get(PAGE)) == mine
        assert api_codes(client.get(API, headers=headers)) == mine
        for params in ({"unit": "DL"}, {"q": "rac thai"}, {"kind": "denunciation"}):
            assert page_codes(client.get(PAGE, query_string=params)) == set(), params
            assert api_codes(client.get(API, query_string=params, headers=headers)) == set()
    # Intake staff see only what they entered; none of these.
    assert page_codes(browser("operator").get(PAGE)) == set()
    assert page_codes(browser("clerk", "UBND-00688").get(PAGE)) == set()


def test_who_may_open_the_page(app: Flask, browser: Any, cases: dict[str, str]) -> None:
    for role, unit in (
        ("operator", None),
        ("clerk", "UBND-00688"),
        ("coordinator", "VP"),
        ("officer", "DL"),
        ("unit_head", "DL"),
        ("inspector", None),
    ):
        assert browser(role, unit).get(PAGE).status_code == 200, role
    assert browser("admin").get(PAGE).status_code == 403
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/can-bo/dang-nhap" in anonymous.headers["Location"]


# --- identity never in results ------------------------------------------------------------

ROLES_THAT_SEE_THE_DENUNCIATION = [
    ("inspector", None),
    ("coordinator", "VP"),
    ("officer", "UBND-00688"),
    ("unit_head", "UBND-00688"),
]


@pytest.mark.parametrize(("role", "unit"), ROLES_THAT_SEE_THE_DENUNCIATION)
def test_results_never_show_a_reporter(
    browser: Any, token_for: Any, cases: dict[str, str], role: str, unit: str | None
) -> None:
    client = browser(role, unit)
    headers = token_for(role, unit)
    for params in ({}, {"kind": "denunciation"}, {"q": "to cao dia chinh"}):
        page = client.get(PAGE, query_string=params)
        api = client.get(API, query_string=params, headers=headers)
        assert cases["denunciation"] in page_codes(page) & api_codes(api), params
        for secret in (*DENOUNCER, *REPORTER):
            assert secret not in page.text, (role, secret)
            assert secret not in api.text, (role, secret)
        assert all("reporter" not in item for item in api.get_json()["items"])


@pytest.mark.parametrize(("role", "unit"), ROLES_THAT_SEE_THE_DENUNCIATION)
def test_a_reporters_name_or_phone_finds_nothing(
    browser: Any, token_for: Any, cases: dict[str, str], role: str, unit: str | None
) -> None:
    """Search text holds subject, body and address only: a name cannot single a case out."""
    client = browser(role, unit)
    headers = token_for(role, unit)
    for q in ("Lê Văn Tố", "le van to", "0987654321", "Trần Thị Bình", "0912000111"):
        assert page_codes(client.get(PAGE, query_string={"q": q})) == set(), q
        assert api_codes(client.get(API, query_string={"q": q}, headers=headers)) == set(), q


# --- bad parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"per_page": "1000"}, "per_page"),
        ({"status": "lost"}, "status"),
        ({"kind": "praise"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"overdue": "maybe"}, "overdue"),
        ({"unit": "NOPE"}, "unit"),
        ({"area": "Dà"}, "area"),
        ({"stauts": "received"}, "stauts"),
        ({"q": "x " * 150}, "q"),
        ([("status", "received"), ("status", "closed")], "status"),
    ],
)
def test_bad_parameters_are_422_with_a_message(
    browser: Any, cases: dict[str, str], params: Any, field: str
) -> None:
    client = browser("coordinator", "VP")
    response = client.get(PAGE, query_string=params)
    assert response.status_code == 422, response.text
    assert "Tham số tìm kiếm không hợp lệ." in response.text
    assert f"<code>{field}</code>" in response.text
    assert "data-code=" not in response.text  # the form comes back, without results
    assert '<form method="get"' in response.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "99999999999999999999"}, "page"),
        ({"unit": "\x00"}, "unit"),
        ({"category": "6.3a\x00"}, "category"),
        ({"q": "\x00\x00"}, "q"),
    ],
)
def test_control_characters_and_absurd_integers_stop_at_the_input_gate(
    browser: Any, cases: dict[str, str], params: Any, field: str
) -> None:
    """feedback.security.input_gate answers them before the search reads anything: the
    400 page, naming the parameter."""
    response = browser("coordinator", "VP").get(PAGE, query_string=params)
    assert response.status_code == 400, response.text
    assert f"{field}: " in response.text
    assert "data-code=" not in response.text


@pytest.mark.parametrize("q", ["%_", "' OR 1=1 --", "🙂", "đ" * 200])
def test_odd_words_are_answered_not_crashed(browser: Any, cases: dict[str, str], q: str) -> None:
    response = browser("coordinator", "VP").get(PAGE, query_string={"q": q})
    assert response.status_code in (200, 422), response.text


NASTY = [
    "unit=%FF",
    "area=D%C3%A0",
    "q=%25%5F",
    "per_page=%EF%BC%95",  # a full-width digit 5: int() would accept it
    "overdue=%FF",
    "%FF=1",
    "q=" + "a" * 5000,
]


@pytest.mark.parametrize("query", NASTY)
def test_nasty_addresses_are_a_200_or_a_422(browser: Any, query: str) -> None:
    response = browser("inspector").get(f"{PAGE}?{query}")
    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize("query", ["unit=%00", "category=6.3a%00", "q=%00%00", "page=%00"])
def test_nul_bytes_in_addresses_are_a_400(browser: Any, query: str) -> None:
    response = browser("inspector").get(f"{PAGE}?{query}")
    assert response.status_code == 400, response.text
    assert "Có ký tự điều khiển không hợp lệ" in response.text
