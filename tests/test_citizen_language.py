"""Issue 15, "English second": a citizen's messages follow the language they wrote in.

A case records the language of the page it was sent from (``cases.language``); every
message to its citizen (e-mail, SMS, Zalo) is written in that language, whatever language
the officer acting on it reads. A Vietnamese case gets exactly the texts it always got.

The English tests read their expected wording from the catalogue (``en()``), so they pin
where each text goes, not how it is worded, and fail when an entry is missing (the text then
stays Vietnamese); the Vietnamese ones need no catalogue.
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
from helpers import csrf_from
from sqlalchemy import select
from test_i18n_catalogue import VIETNAMESE

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, Notification
from feedback.services.errors import ValidationError
from feedback.services.intake.submission import CaseInput, Reporter, submit_case
from feedback.services.sla.notify import KEY_SLOT, SIGNATURE, SMS_TEXTS

PUBLIC_URL = "https://phananh.hagiang.gov.vn"
CODE = re.compile(r"HG-\d{4}-\d{6}")


@pytest.fixture
def app_config() -> dict[str, Any]:
    # Accents kept in SMS, so an SMS left in Vietnamese shows; a Zalo template for the
    # receipt and the acknowledgement, so their Zalo rows are written (not sent here).
    return {
        "PUBLIC_URL": PUBLIC_URL,
        "SMS_UNACCENTED": False,
        "ZALO_TEMPLATE_IDS": {"receipt": "100001", "acknowledged": "100002"},
    }


def submit_on_the_web(client: FlaskClient, lang: str | None, **fields: str) -> str:
    """The public form, CSRF and all, from the page in ``lang``; the new case's code."""
    page = client.get(f"/gui?lang={lang}" if lang else "/gui")
    form = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3c",
        "area_code": "00691",
        "reporter_name": "Tran Van Nam",
        "reporter_phone": "0912 345 678",
        "reporter_email": "nam@example.com",
        **fields,
    }
    response = client.post("/gui", data=form)
    assert response.status_code == 302, response.text
    shown = client.get(response.headers["Location"])
    found = CODE.search(shown.text)
    assert found, shown.text
    return found.group(0)


def outbox(app: Flask, code: str, kind: str) -> dict[str, Notification]:
    """The case's messages of one kind, by channel."""
    with app.app_context():
        rows = db.session.scalars(
            select(Notification)
            .join(Case, Case.id == Notification.case_id)
            .where(Case.code == code, Notification.kind == kind)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return {row.channel: row for row in rows}


def case_row(app: Flask, code: str) -> tuple[str, str]:
    """The case's language and its handling unit's name."""
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        found = case.language, case.handling_unit.name
        db.session.remove()
    return found


def en(app: Flask, msgid: str, **values: Any) -> str:
    """The catalogue's English for ``msgid``, as the message must hold it."""
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale("en"):
        return gettext(msgid, **values)


def vietnamese_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if VIETNAMESE.search(line)]


def desk_post(client: FlaskClient, code: str, slug: str, lang: str | None = None) -> Any:
    page = client.get(f"/can-bo/?lang={lang}" if lang else "/can-bo/")
    return client.post(f"/can-bo/ho-so/{code}/{slug}", data={"csrf_token": csrf_from(page.text)})


# --- English (passes once the catalogue has this change's entries) -----------------------


def test_a_case_sent_from_the_english_page_gets_its_receipt_in_english(
    app: Flask, client: FlaskClient
) -> None:
    code = submit_on_the_web(
        client,
        "en",
        subject="Street lights out on Tran Phu street",
        body="Three street lights in front of number 120 have been dark for a week.",
    )
    assert case_row(app, code)[0] == "en"
    link = f"{PUBLIC_URL}/tra-cuu?ma={code}"
    sent = outbox(app, code, "receipt")
    assert set(sent) == {"email", "sms", "zalo"}

    mail = sent["email"]
    assert mail.subject == f"[{code}] Street lights out on Tran Phu street"
    assert vietnamese_in(mail.body) == [], mail.body
    assert mail.body.startswith(en(app, "Kính gửi ông/bà,") + "\n\n")
    assert "“Street lights out on Tran Phu street”" in mail.body
    keys = en(app, "Mã hồ sơ: %(code)s", code=code) + "\n"
    keys += en(app, "Mã tra cứu: %(key)s", key=KEY_SLOT)
    assert keys in mail.body and link in mail.body
    assert re.search(r"day \d\d/\d\d/\d{4}", mail.body), "the weekday in English"
    assert mail.secret is not None  # the key still travels sealed

    sms = sent["sms"].body
    assert vietnamese_in(sms) == [] and sms.isascii(), sms
    what = en(app, SMS_TEXTS["receipt"]).format(code=code)
    assert sms == (
        f"{what} {en(app, 'Mã tra cứu: %(key)s', key=KEY_SLOT)}. "
        + en(app, "Tra cứu: %(link)s", link=link)
    )
    assert len(sms) <= 160

    zalo = json.loads(sent["zalo"].body)
    assert zalo == {"case_code": code, "message": what, "link": link, "access_key": KEY_SLOT}
    assert vietnamese_in(what) == []


def test_an_officer_on_a_vietnamese_page_tells_an_english_citizen_in_english(
    app: Flask, client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    code = make_case(
        category_code="6.3b",
        area_code="00688",
        language="en",
        reporter=Reporter(name="Tran Van Nam", phone="0912000111", email="nam@example.com"),
    )
    login_as("officer")
    assert "Đăng xuất" in client.get("/can-bo/").text  # the officer reads Vietnamese
    assert desk_post(client, code, "xac-nhan-tiep-nhan").status_code == 303
    _, unit = case_row(app, code)
    sent = outbox(app, code, "acknowledged")
    assert set(sent) == {"email", "sms", "zalo"}
    body = sent["email"].body
    told = "Hồ sơ %(code)s đã được xác nhận tiếp nhận và giao %(unit)s xử lý."
    assert en(app, told, code=code, unit=unit) in body
    assert vietnamese_in(body.replace(unit, "")) == [], body
    assert vietnamese_in(sent["sms"].body) == [], sent["sms"].body
    what = en(app, SMS_TEXTS["acknowledged"]).format(code=code)
    assert json.loads(sent["zalo"].body)["message"] == what


# --- Vietnamese: exactly today's texts (no catalogue needed) ------------------------------


def test_a_case_sent_in_vietnamese_gets_the_same_vietnamese_texts(
    app: Flask, client: FlaskClient
) -> None:
    code = submit_on_the_web(
        client,
        None,
        subject="Rác thải ùn ứ ở chợ Trần Phú",
        body="Rác không được thu gom ba ngày nay, bốc mùi cả khu chợ.",
    )
    assert case_row(app, code)[0] == "vi"
    link = f"{PUBLIC_URL}/tra-cuu?ma={code}"
    sent = outbox(app, code, "receipt")
    body = sent["email"].body
    assert body.startswith(
        "Kính gửi ông/bà,\n\nHệ thống đã tiếp nhận phản ánh «Rác thải ùn ứ ở chợ Trần Phú» "
        f"với mã hồ sơ {code}. Cơ quan sẽ phản hồi việc tiếp nhận trước "
    )
    assert re.search(r"\nHạn trả lời: \d\d:\d\d, (Thứ \w+|Chủ nhật) \d\d/\d\d/\d{4}\.\n", body)
    assert f"\nMã hồ sơ: {code}\nMã tra cứu: {KEY_SLOT}\n" in body
    assert (
        f"\nÔng/bà theo dõi hồ sơ bằng mã hồ sơ và mã tra cứu tại trang Tra cứu: {link}" + SIGNATURE
    ) in body
    assert body.endswith(SIGNATURE)
    assert sent["sms"].body == (
        f"Đã tiếp nhận hồ sơ {code}. Mã tra cứu: {KEY_SLOT}. Tra cứu: {link}"
    )
    assert json.loads(sent["zalo"].body)["message"] == f"Đã tiếp nhận hồ sơ {code}."


def test_an_officer_on_an_english_page_tells_a_vietnamese_citizen_in_vietnamese(
    app: Flask, client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    code = make_case(
        category_code="6.3b",
        area_code="00688",
        reporter=Reporter(name="Trần Thị Bình", phone="0912000111", email="binh@example.com"),
    )
    login_as("officer")
    assert desk_post(client, code, "xac-nhan-tiep-nhan", lang="en").status_code == 303
    language, unit = case_row(app, code)
    assert language == "vi"  # the column's default: a case made without saying
    sent = outbox(app, code, "acknowledged")
    assert sent["email"].body == (
        f"Kính gửi ông/bà,\n\nHồ sơ {code} đã được xác nhận tiếp nhận và giao {unit} xử lý.\n\n"
        f"{sent['email'].body.split(chr(10))[4]}\n"
        "Ông/bà theo dõi hồ sơ bằng mã hồ sơ và mã tra cứu tại trang Tra cứu: "
        f"{PUBLIC_URL}/tra-cuu?ma={code}{SIGNATURE}"
    )
    assert sent["email"].body.split("\n")[4].startswith("Hạn trả lời: ")
    assert re.search(r"(Thứ \w+|Chủ nhật) \d\d/\d\d/\d{4}", sent["email"].body)
    assert sent["sms"].body.startswith(f"Hồ sơ {code} đã được tiếp nhận xử lý. Tra cứu: ")
    assert json.loads(sent["zalo"].body)["message"] == f"Hồ sơ {code} đã được tiếp nhận xử lý."


def test_a_language_outside_the_configured_ones_is_refused(app: Flask) -> None:
    data = CaseInput(
        kind="feedback",
        subject="Đèn đường hỏng",
        body="Ba cột đèn không sáng từ tuần trước.",
        reporter=Reporter(name="Trần Thị Bình", phone="0912000111"),
        language="fr",
    )
    with app.app_context(), unit_of_work(), pytest.raises(ValidationError) as refused:
        submit_case(data, actor=None, now=datetime.now(UTC))
    assert set(refused.value.fields) == {"language"}
    assert "vi" in refused.value.fields["language"]


def test_the_api_takes_the_citizens_language_and_refuses_others(
    app: Flask, client: FlaskClient
) -> None:
    case = {
        "kind": "feedback",
        "subject": "Power cut in group 5",
        "body": "Group 5 of Minh Khai ward has had no power since this morning.",
        "category_code": "6.3a",
        "area_code": "00697",
        "reporter": {"name": "Nguyen Van An", "phone": "0912345678"},
    }
    made = client.post("/api/v1/cases", json={**case, "language": "en"})
    assert made.status_code == 201, made.text
    assert case_row(app, made.get_json()["code"])[0] == "en"
    plain = client.post("/api/v1/cases", json=case)
    assert plain.status_code == 201, plain.text
    assert case_row(app, plain.get_json()["code"])[0] == "vi"
    for wrong in ("fr", 3):
        refused = client.post("/api/v1/cases", json={**case, "language": wrong})
        assert refused.status_code == 422, refused.text
        assert set(refused.get_json()["fields"]) == {"language"}


def test_progress_and_answer_reach_an_english_citizen_in_english(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    """Texts joined from several parts (progress update, answer and reopening window) and
    the dates inside them, written by services outside any request."""
    from feedback.domain.deadlines import local_date
    from feedback.models import User
    from feedback.services.handling import actions
    from feedback.services.handling.progress import LATE_PROMISE_NOTE, post_progress

    code = make_case(
        category_code="6.3b",
        area_code="00688",
        language="en",
        reporter=Reporter(name="Tran Van Nam", email="nam@example.com"),
    )
    officer, _ = make_user("officer", unit_code="UBND-00688")
    head, _ = make_user("unit_head", unit_code="UBND-00688")
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        actions.acknowledge(case, db.session.get(User, officer), now)
        promised = local_date(case.response_due_at) + timedelta(days=3)
        post_progress(case, db.session.get(User, officer), now, "Two lamps replaced.", promised)
        actions.approve_answer(case, db.session.get(User, head), now, "All lamps work again.")
    _, unit = case_row(app, code)
    progress = outbox(app, code, "progress")["email"].body
    parts = [
        en(app, "%(unit)s thông báo tiến độ giải quyết hồ sơ %(code)s:", unit=unit, code=code),
        "Two lamps replaced.",
        en(app, "Cơ quan hẹn trả lời trước hết ngày %(day)s.", day=f"{promised:%d/%m/%Y}"),
        en(app, LATE_PROMISE_NOTE, due="@").split("@")[0],
    ]
    assert "\n\n".join(parts) in progress, progress
    answer = outbox(app, code, "answered")["email"].body
    told = en(app, "Trả lời của %(unit)s về hồ sơ %(code)s:", unit=unit, code=code)
    assert f"{told}\n\nAll lamps work again.\n\n" in answer
    window = (
        "Nếu chưa đồng ý với trả lời, ông/bà có thể đề nghị mở lại hồ sơ tại trang tra cứu đến "
    )
    assert en(app, window + "%(until)s.", until="@").split("@")[0] in answer
    for body in (progress, answer):
        assert vietnamese_in(body.replace(unit, "")) == [], body
