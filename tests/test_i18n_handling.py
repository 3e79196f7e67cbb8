"""Issue 15: the case-handling refusals and confirmations in the page's language.

The services raise marked Vietnamese messages (``N_``); the desk translates them before it
flashes or shows them, and the JSON API's error body follows ``Accept-Language``. The same
action in Vietnamese still says what it said before, and the timeline keeps its Vietnamese
note. CSRF is on: every form is posted with the token of a page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.deadlines import local_date
from feedback.extensions import db
from feedback.models import Case, Unit, User
from feedback.services.accounts.users import issue_token

UNIT = "UBND-00688"  # handles 6.3b (street lights) in ward 00688
CASE = "/can-bo/ho-so/{}"
TEXT = "Đã khảo sát hiện trường, đang chờ Điện lực cấp bóng đèn thay thế cho ba cột đèn."


def in_language(client: FlaskClient, lang: str) -> str:
    """Switch the session's language (as the switch does) and return a page's CSRF token."""
    page = client.get(f"/can-bo/?lang={lang}")
    assert page.status_code == 200
    assert f'lang="{lang}"' in page.text
    return csrf_from(page.text)


def flashes(client: FlaskClient, response: Any) -> list[str]:
    """The messages flashed by a POST answered with 303, read on the page it leads to, as
    text (the marks of what stays Vietnamese removed, and never shown escaped)."""
    assert response.status_code == 303, response.text
    page = client.get(response.headers["Location"]).text
    assert "&lt;span" not in page
    found = re.findall(r'<p class="flash (?:ok|error)">(.*?)</p>', page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", m)).split()) for m in found]


def by_testid(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', page)
    assert found, testid
    return found.group(1).strip()


def unit_name(app: Flask, code: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Unit.name).where(Unit.code == code, Unit.active))


def test_a_transfer_refused_and_done_on_the_desk_speaks_the_pages_language(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    _, name = make_user("officer", unit_code=UNIT)
    officer = client_for(app, name)
    url = f"{CASE.format(code)}/chuyen"

    token = in_language(officer, "en")
    refused = officer.post(url, data={"csrf_token": token, "unit_code": "DL", "reason": "x"})
    assert flashes(officer, refused) == [
        "Please enter the reason for the transfer. Reason for the transfer (at least 5 characters)."
    ]
    unknown = officer.post(
        url, data={"csrf_token": token, "unit_code": "KHONG-CO", "reason": "Sai thẩm quyền."}
    )
    assert flashes(officer, unknown) == ["No such unit. Choose a unit from the list."]

    token = in_language(officer, "vi")
    refused = officer.post(url, data={"csrf_token": token, "unit_code": "DL", "reason": "x"})
    assert flashes(officer, refused) == ["Cần nhập lý do chuyển. Lý do chuyển (ít nhất 5 ký tự)."]

    token = in_language(officer, "en")
    reason = "Đèn đường do Điện lực quản lý."
    done = officer.post(url, data={"csrf_token": token, "unit_code": "DL", "reason": reason})
    source, target = unit_name(app, UNIT), unit_name(app, "DL")
    assert flashes(officer, done) == [
        f"Case {code}: Transferred from {source} to {target}. Reason: {reason}"
    ]
    with app.app_context():  # the timeline keeps the Vietnamese note
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.events[-1].note == f"Chuyển từ {source} đến {target}. Lý do: {reason}"


def test_a_progress_update_refused_and_posted_in_english_and_in_vietnamese(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = make_case(category_code="6.3b", area_code="00688", now=now - timedelta(days=2))
    _, name = make_user("officer", unit_code=UNIT)
    officer = client_for(app, name)
    url = f"{CASE.format(code)}/cap-nhat-tien-do"
    today, yesterday = local_date(now), local_date(now) - timedelta(days=1)
    day = today + timedelta(days=4)

    token = in_language(officer, "en")
    response = officer.post(
        url, data={"csrf_token": token, "body": TEXT, "committed_on": yesterday.isoformat()}
    )
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert by_testid(page, "progress-problem") == "The promised answer day has passed."
    assert by_testid(page, "progress-day-error") == (
        f"The promised day cannot be before today ({today:%d/%m/%Y})."
    )
    short = officer.post(
        url, data={"csrf_token": token, "body": "ngắn", "committed_on": day.isoformat()}
    )
    assert by_testid(html.unescape(short.text), "progress-body-error") == (
        "Text of the update (at least 10 characters): what has been done, what remains."
    )

    token = in_language(officer, "vi")
    response = officer.post(
        url, data={"csrf_token": token, "body": TEXT, "committed_on": yesterday.isoformat()}
    )
    page = html.unescape(response.text)
    assert by_testid(page, "progress-problem") == "Ngày hẹn trả lời đã qua."
    assert by_testid(page, "progress-day-error") == (
        f"Ngày hẹn không được trước hôm nay ({today:%d/%m/%Y})."
    )

    token = in_language(officer, "en")
    done = officer.post(
        url, data={"csrf_token": token, "body": TEXT, "committed_on": day.isoformat()}
    )
    assert flashes(officer, done) == [
        f"Progress update posted on case {code}, promising an answer by the end of "
        f"{day:%d/%m/%Y}; the sender has been notified."
    ]


def test_the_api_answers_in_the_language_the_client_asks_for(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    tokens = {}
    for role in ("officer", "unit_head"):
        user_id, _ = make_user(role, unit_code=UNIT)
        with app.app_context(), unit_of_work():
            tokens[role] = issue_token(db.session.get(User, user_id), datetime.now(UTC))

    def post(action: str, body: dict[str, Any], role: str, lang: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        if lang:
            headers["Accept-Language"] = lang
        return client.post(f"/api/v1/cases/{code}/{action}", json=body, headers=headers)

    english = post("transfer", {"unit_code": "DL", "reason": "x"}, "officer", "en")
    assert english.status_code == 422
    assert english.get_json()["message"] == "Please enter the reason for the transfer."
    assert english.get_json()["fields"] == {
        "reason": "Reason for the transfer (at least 5 characters)."
    }
    vietnamese = post("transfer", {"unit_code": "DL", "reason": "x"}, "officer")
    assert vietnamese.get_json()["message"] == "Cần nhập lý do chuyển."
    assert vietnamese.get_json()["fields"] == {"reason": "Lý do chuyển (ít nhất 5 ký tự)."}

    # A draft's confirmation names its approver in the client's language too.
    assert post("acknowledge", {}, "unit_head").status_code == 200
    draft = post("answer", {"body": "Đã thay bóng đèn hỏng trước số nhà 120."}, "officer", "en")
    assert draft.status_code == 202, draft.text
    assert draft.get_json()["message"] == (
        "Draft answer saved; it waits for approval by the head of the unit."
    )


def test_a_bad_inbox_filter_is_refused_whole_in_each_language(
    client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("officer")
    vietnamese = client.get("/can-bo/?han=abc&lang=vi")
    assert vietnamese.status_code == 422
    assert "Bộ lọc không hợp lệ (han:" in html.unescape(vietnamese.text)
    english = client.get("/can-bo/?han=abc&lang=en")
    assert english.status_code == 422
    shown = html.unescape(english.text)
    assert "Invalid filter (han:" in shown and "Bộ lọc" not in shown
