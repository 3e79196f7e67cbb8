"""Issue 15: the case page and the apology letters page in English (``?lang=en``).

The case page's deadline explanation, routing reason and escalation ladder are built in
Python (the domain and the services), so they are marked there (``N_`` with values) and
shown through ``|translated``; the routing reason is stored on the case in Vietnamese and
read back into its marked message. The letters page's flashes are translated before
``flash``. Vietnamese stays the default; the letter PDF stays Vietnamese (tests/
test_letters.py). The page tests run on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, log_in, staff_client
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ, WorkingCalendar
from feedback.domain.deadlines import DEFAULT_POLICY, explain_deadlines
from feedback.domain.marks import Said, translate
from feedback.domain.routing import HandlingTarget, RoutingRule, reason_message, route_case
from feedback.extensions import db
from feedback.models import ApologyLetter, Case, User
from feedback.services.handling import actions

UNIT = "UBND-00694"  # handles 6.3b in Phường Nguyễn Trãi (the case factory's defaults)
VIETNAMESE = re.compile("[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)


def part(page: str, testid: str, tag: str) -> str:
    """The text of the element ``data-testid=testid`` (a ``tag``), markup removed."""
    found = re.search(rf'<{tag}[^>]*data-testid="{testid}"[^>]*>(.*?)</{tag}>', page, re.S)
    assert found, f"no {testid} on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


@pytest.fixture
def late_case(app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]) -> str:
    """A feedback case received Mon 4 Mar 2024 09:00 (answer due Tue 12 Mar), answered by
    the unit head on Wed 13 Mar: answered (the ladder stops) and late (a letter is owed)."""
    head = make_user("unit_head", unit_code=UNIT, username="truong.i18n")[0]
    code = make_case(now=local(2024, 3, 4, 9))
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        actions.acknowledge(case, db.session.get(User, head), local(2024, 3, 4, 10))
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        user = db.session.get(User, head)
        actions.approve_answer(case, user, local(2024, 3, 13, 9), "Đã sửa xong đèn.")
    return code


def test_the_case_page_explains_deadline_routing_and_ladder_in_english(
    app: Flask, make_user: Callable[..., Any], late_case: str
) -> None:
    client = staff_client(app, make_user, "officer", UNIT)
    page = client.get(f"/can-bo/ho-so/{late_case}?lang=en")
    assert page.status_code == 200, page.text
    steps = part(page.text, "deadline-steps", "details")
    for english in (
        "Received at 09:00:00 04/03/2024 (Vietnam time); day of receipt: Monday 04/03/2024.",
        "Acknowledgement due: 24 hours after receipt.",
        "Answer due: 6 working days, counted from the day after Monday 04/03/2024.",
        "skipped Saturday 09/03/2024 – Sunday 10/03/2024: weekend.",
        "Working days counted: 05/03, 06/03, 07/03, 08/03, 11/03, 12/03 → Tuesday 12/03/2024.",
        "→ Answer due: 23:59:59 12/03/2024 (Vietnam time).",
    ):
        assert english in steps, steps
    # Vietnamese is left only in the policy's line: its name and legal basis are data.
    policy, _, rest = steps.partition("Received at")
    assert "Time limit policy applied: Feedback, in force with no end date" in policy
    assert not VIETNAMESE.search(rest), rest
    routing = part(page.text, "routing-reason", "dd")
    assert routing == (
        "Field 6.3b is handled by the commune/ward People's Committee where it happens: "
        f"{UNIT} (area 00694)."
    )
    stopped = part(page.text, "escalations-stopped", "p")
    assert stopped == "The case has been answered or is finished: no further escalation."
    # Vietnamese stays the default, word for word.
    page = client.get(f"/can-bo/ho-so/{late_case}?lang=vi").text
    assert "Tiếp nhận lúc 09:00:00 04/03/2024 (giờ Việt Nam); ngày tiếp nhận: Thứ Hai" in page
    assert f"UBND xã/phường nơi xảy ra xử lý: {UNIT} (địa bàn 00694)." in page
    assert "Hồ sơ đã được trả lời hoặc đã kết thúc: không chuyển cấp tiếp." in page


def _post(client: FlaskClient, url: str, **data: str) -> str:
    """Post from the letters page (CSRF on) and follow to the page that shows the flash."""
    token = csrf_from(client.get("/can-bo/thu-xin-loi/?lang=en").text)
    response = client.post(url, data={"csrf_token": token, **data})
    assert response.status_code == 303, response.text
    return client.get(response.headers["Location"]).text


def test_the_letters_page_flashes_in_english(app: Flask, late_case: str) -> None:
    client = app.test_client()
    log_in(client, "truong.i18n")
    with app.app_context():
        letter = db.session.scalar(select(ApologyLetter).join(Case).where(Case.code == late_case))
        assert letter is not None
        letter_id = letter.id
    page = client.get("/can-bo/thu-xin-loi/?lang=en").text
    assert "9 hours" in page and "9 giờ" not in page  # how late, in English on the page

    page = _post(client, f"/can-bo/thu-xin-loi/{letter_id}/ban-hanh")
    with app.app_context():
        number = db.session.get(ApologyLetter, letter_id).number
    assert f"Apology letter no. {number} issued (case {late_case})." in page
    assert "Đã ban hành thư xin lỗi" not in page

    page = _post(client, f"/can-bo/thu-xin-loi/{letter_id}/da-gui", via="pigeon")
    assert "Choose how the letter was sent." in page and "Chọn cách gửi thư" not in page

    page = _post(client, f"/can-bo/thu-xin-loi/{letter_id}/da-gui", via="post")
    assert f"Sent by post: apology letter no. {number} (case {late_case})." in html.unescape(page)
    assert "thư xin lỗi số" not in page
    # The timeline's note of the delivery too (its template kept with the event).
    page = html.unescape(client.get(f"/can-bo/ho-so/{late_case}?lang=en").text)
    assert f"Sent by post: apology letter no. {number}." in page


# --- the domain: pure, no app ---------------------------------------------------------------

ENGLISH = {
    "Thứ Bảy": "Saturday",
    "%(weekday)s %(date)s": "%(weekday)s %(date)s",
    "%(first)s – %(last)s": "%(first)s to %(last)s",
    "  - bỏ qua %(span)s: %(reason)s.": "  - skipped %(span)s: %(reason)s.",
    "Lĩnh vực %(category)s": "Field %(category)s",
    "%(where)s do đơn vị %(unit)s xử lý.": "%(where)s is handled by unit %(unit)s.",
}


def test_explanation_and_routing_reason_are_marked_messages_translate_applies() -> None:
    calendar = WorkingCalendar()
    lines = explain_deadlines(local(2024, 3, 4, 9), DEFAULT_POLICY, calendar)
    skipped = next(line for line in lines if "bỏ qua" in line)
    assert skipped == "  - bỏ qua Thứ Bảy 09/03/2024 – Chủ nhật 10/03/2024: nghỉ cuối tuần."
    assert isinstance(skipped, Said)
    shown = translate(skipped, lambda text: ENGLISH.get(text, text))
    # The template, the nested day and the weekday inside it are all looked up.
    assert shown == "  - skipped Saturday 09/03/2024 to Chủ nhật 10/03/2024: nghỉ cuối tuần."
    assert translate(skipped, str) == skipped  # the identity keeps the Vietnamese

    rules = [RoutingRule("6.3b", HandlingTarget.UNIT, handling_unit_code="SXD")]
    stored = str.__str__(route_case("6.3b", None, rules, {}).reason)  # as the database has it
    assert stored == "Lĩnh vực 6.3b do đơn vị SXD xử lý." and type(stored) is str
    read = reason_message(stored)
    assert isinstance(read, Said) and read == stored
    assert translate(read, lambda text: ENGLISH.get(text, text)) == (
        "Field 6.3b is handled by unit SXD."
    )
    assert reason_message("Chuyển tay theo chỉ đạo.") == "Chuyển tay theo chỉ đạo."
    assert not VIETNAMESE.search(translate(read, lambda text: ENGLISH.get(text, text)))


def test_how_late_says_one_day_not_one_days() -> None:
    from babel.support import Translations

    from feedback.services.handling.letters import late_text

    folder = Path(__file__).resolve().parent.parent / "feedback" / "translations"
    catalogue = Translations.load(str(folder), ["en"])
    english = catalogue.gettext
    assert late_text(86400 + 6 * 3600) == "1 ngày 6 giờ"
    assert late_text(86400 + 6 * 3600, english) == "1 day 6 hours"
    assert late_text(2 * 86400 + 3600, english) == "2 days 1 hour"
    assert late_text(3600 + 60, english) == "1 hour 1 minute"


def test_the_triage_list_gives_the_routing_reason_in_the_readers_language(
    client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    make_case(category_code=None, area_code=None)  # nothing to route by: the office triages
    login_as("coordinator", "VP")
    vietnamese = html.unescape(client.get("/can-bo/phan-loai").text)
    english = html.unescape(client.get("/can-bo/phan-loai?lang=en").text)
    assert "Sent to VP for sorting." in english and "phân loại" not in english
    assert "Chuyển VP phân loại." in vietnamese


def test_an_action_and_a_status_of_the_same_word_translate_apart() -> None:
    """«mở lại» is the action (reopen) and the status (reopened): the action's label is
    marked in context, so the state machine's refusal reads right in English."""
    from babel.support import Translations

    from feedback.domain.marks import translate
    from feedback.domain.states import STATUS_LABELS, Action, InvalidTransition, Status

    folder = Path(__file__).resolve().parent.parent / "feedback" / "translations"
    english = Translations.load(str(folder), ["en"]).gettext
    refusal = InvalidTransition(Status.RECEIVED, Action.REOPEN)
    assert str(refusal) == "Không thể «mở lại» hồ sơ đang ở trạng thái «mới tiếp nhận»."
    shown = translate(refusal.message, english)
    assert "“reopen”" in shown and "reopened" not in shown, shown
    assert translate(STATUS_LABELS[Status.REOPENED], english) == "reopened"
