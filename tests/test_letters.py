"""Apology letters: owed for a late answer, issued with a number, the PDF letter read back,
delivery recorded, and who may do what (a denunciation's letter: inspectors only)."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, log_in
from pypdf import PdfReader
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import ApologyLetter, Case, CaseEvent, Notification, User
from feedback.services.errors import Conflict, Forbidden
from feedback.services.handling import actions, letters
from feedback.services.intake.submission import Reporter

UNIT = "UBND-00694"  # handles 6.3b in Phường Nguyễn Trãi
REPORTER = "Trần Thị Bình"
DENOUNCER = "Lê Văn Tố Giác"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def pdf_text(data: bytes) -> str:
    return norm(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


@pytest.fixture
def head(make_user: Callable[..., Any]) -> int:
    return make_user("unit_head", unit_code=UNIT, username="truong.nguyentrai")[0]


@pytest.fixture
def late_case(app: Flask, make_case: Callable[..., str], head: int) -> Callable[..., str]:
    """A case received Mon 4 Mar 2024 09:00 (due Tue 12 Mar 23:59:59), answered by the unit
    head on Wed 13 Mar 09:00 (denunciations: 30 days after acknowledgement, so in May)."""

    def factory(answerer: int | None = None, **fields: Any) -> str:
        fields.setdefault("reporter", Reporter(name=REPORTER, email="binh@example.vn"))
        code = make_case(now=local(2024, 3, 4, 9), **fields)
        with app.app_context(), unit_of_work():
            user = db.session.get(User, answerer or head)
            case = db.session.scalar(select(Case).where(Case.code == code))
            actions.acknowledge(case, user, local(2024, 3, 4, 10))
        answered = local(2024, 5, 20, 9) if fields.get("kind") == "denunciation" else None
        with app.app_context(), unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == code))
            actions.approve_answer(
                case,
                db.session.get(User, answerer or head),
                answered or local(2024, 3, 13, 9),
                "Đã sửa đèn.",
            )
        return code

    return factory


def letter_of(app: Flask, code: str) -> dict[str, Any]:
    with app.app_context():
        letter = db.session.scalar(select(ApologyLetter).join(Case).where(Case.code == code))
        assert letter is not None
        return {
            "id": letter.id,
            "status": letter.status,
            "number": letter.number,
            "issued_at": letter.issued_at,
            "issued_by_id": letter.issued_by_id,
            "delivered_via": letter.delivered_via,
            "delivered_at": letter.delivered_at,
            "late_by_seconds": letter.late_by_seconds,
        }


def events(app: Flask, code: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(CaseEvent.action)
                .join(Case)
                .where(Case.code == code, CaseEvent.action.like("apology%"))
                .order_by(CaseEvent.id)
            )
        )


def post(client: FlaskClient, url: str, **data: str) -> Any:
    page = client.get("/can-bo/thu-xin-loi/")
    return client.post(url, data={"csrf_token": csrf_from(page.text), **data})


# --- the whole way through the pages -------------------------------------------------------


def test_a_late_answer_is_apologised_for_issued_printed_and_sent(
    app: Flask, client: FlaskClient, late_case: Callable[..., str]
) -> None:
    code = late_case()
    owed = letter_of(app, code)
    assert owed["status"] == "owed" and owed["number"] is None
    assert owed["late_by_seconds"] == 9 * 3600 + 1
    log_in(client, "truong.nguyentrai")
    page = client.get("/can-bo/thu-xin-loi/")
    assert page.status_code == 200 and code in page.text and "Chưa ban hành" in page.text
    assert "9 giờ" in page.text and REPORTER not in page.text
    assert client.get(f"/can-bo/thu-xin-loi/{owed['id']}.pdf").status_code == 404  # not issued
    response = post(client, f"/can-bo/thu-xin-loi/{owed['id']}/ban-hanh")
    assert response.status_code == 303
    issued = letter_of(app, code)
    year = issued["issued_at"].astimezone(LOCAL_TZ).year
    assert issued["status"] == "issued" and issued["number"] == f"1/{year}/TXL-{UNIT}"
    assert events(app, code) == ["apology_issued"]
    again = post(client, f"/can-bo/thu-xin-loi/{owed['id']}/ban-hanh")
    assert again.status_code == 303
    assert "đã được ban hành" in client.get("/can-bo/thu-xin-loi/").text
    assert letter_of(app, code)["number"] == issued["number"]
    assert events(app, code) == ["apology_issued"]

    pdf = client.get(f"/can-bo/thu-xin-loi/{owed['id']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    text = pdf_text(pdf.data)
    day = issued["issued_at"].astimezone(LOCAL_TZ)
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    for expected in (
        "ỦY BAN NHÂN DÂN",
        "PHƯỜNG NGUYỄN TRÃI",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        f"Số: {issued['number']}",
        f"Nguyễn Trãi, ngày {day.day:02d} tháng {month} năm {day.year}",
        "THƯ XIN LỖI",
        f"Kính gửi: Ông/Bà {REPORTER}",
        f"Mã hồ sơ: {code}",
        "Đèn đường hỏng trên đường Nguyễn Trãi",
        "09 giờ 00 phút ngày 04/03/2024",  # received
        "23 giờ 59 phút ngày 12/03/2024",  # due
        "09 giờ 00 phút ngày 13/03/2024",  # answered
        "chậm 9 giờ so với thời hạn",
        "chân thành xin lỗi ông/bà vì đã trả lời chậm so với thời hạn",
        "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH",
        "Cán bộ truong.nguyentrai",  # the head who issued it signs
    ):
        assert norm(expected) in text, expected

    sent = post(client, f"/can-bo/thu-xin-loi/{owed['id']}/da-gui", via="email")
    assert sent.status_code == 303
    delivered = letter_of(app, code)
    assert (delivered["status"], delivered["delivered_via"]) == ("delivered", "email")
    assert delivered["delivered_at"] is not None
    assert events(app, code) == ["apology_issued", "apology_delivered"]
    with app.app_context():
        mail = db.session.scalar(select(Notification).where(Notification.kind == "apology"))
        assert mail is not None and mail.recipient == "binh@example.vn"
        assert issued["number"] in mail.body and "chân thành xin lỗi" in mail.body
    twice = post(client, f"/can-bo/thu-xin-loi/{owed['id']}/da-gui", via="post")
    assert twice.status_code == 303
    assert letter_of(app, code)["delivered_via"] == "email"
    assert client.get(f"/can-bo/thu-xin-loi/{owed['id']}.pdf").status_code == 200


def test_numbers_follow_each_other_per_unit(
    app: Flask, late_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    other = make_user("unit_head", unit_code="UBND-00688")[0]
    codes = [late_case(), late_case(), late_case(other, area_code="00688")]
    coordinator = make_user("coordinator")[0]
    now = local(2024, 3, 14, 8)
    with app.app_context(), unit_of_work():
        user = db.session.get(User, coordinator)
        for code in codes:
            letter = db.session.scalar(select(ApologyLetter).join(Case).where(Case.code == code))
            letters.issue(letter, user, now)
    assert [letter_of(app, c)["number"] for c in codes] == [
        f"1/2024/TXL-{UNIT}",
        f"2/2024/TXL-{UNIT}",
        "1/2024/TXL-UBND-00688",
    ]
    with app.app_context(), unit_of_work():
        letter = db.session.get(ApologyLetter, letter_of(app, codes[0])["id"])
        with pytest.raises(Conflict):
            letters.issue(letter, db.session.get(User, coordinator), now)


def test_an_anonymous_reporter_is_written_to_as_the_sender(
    app: Flask, client: FlaskClient, late_case: Callable[..., str], head: int
) -> None:
    code = late_case(reporter=Reporter(anonymous=True))
    with app.app_context(), unit_of_work():
        letter = db.session.scalar(select(ApologyLetter).join(Case).where(Case.code == code))
        letters.issue(letter, db.session.get(User, head), local(2024, 3, 14, 8))
        with pytest.raises(Exception, match="thư điện tử"):
            letters.deliver(letter, db.session.get(User, head), local(2024, 3, 14, 9), "email")
    log_in(client, "truong.nguyentrai")
    pdf = client.get(f"/can-bo/thu-xin-loi/{letter_of(app, code)['id']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "Kính gửi: Người gửi phản ánh" in text and "Ông/Bà" not in text
    assert "TP. Hà Giang" not in text and "Nguyễn Trãi, ngày 14 tháng 3 năm 2024" in text


# --- who may -------------------------------------------------------------------------------


def test_another_units_staff_get_nothing(
    app: Flask, client: FlaskClient, late_case: Callable[..., str], login_as: Callable[..., str]
) -> None:
    code = late_case()
    letter_id = letter_of(app, code)["id"]
    login_as("unit_head", "UBND-00688")
    assert code not in client.get("/can-bo/thu-xin-loi/").text
    assert post(client, f"/can-bo/thu-xin-loi/{letter_id}/ban-hanh").status_code == 404
    assert letter_of(app, code)["status"] == "owed"
    with app.app_context(), unit_of_work():
        letter = db.session.get(ApologyLetter, letter_id)
        head = db.session.scalar(select(User).where(User.username == "truong.nguyentrai"))
        letters.issue(letter, head, local(2024, 3, 14, 8))
    assert client.get(f"/can-bo/thu-xin-loi/{letter_id}.pdf").status_code == 404
    assert post(client, f"/can-bo/thu-xin-loi/{letter_id}/da-gui", via="post").status_code == 404


def test_the_units_officer_may_print_and_send_but_not_issue(
    app: Flask, client: FlaskClient, late_case: Callable[..., str], login_as: Callable[..., str]
) -> None:
    code = late_case()
    letter_id = letter_of(app, code)["id"]
    login_as("officer", UNIT)
    assert code in client.get("/can-bo/thu-xin-loi/").text
    assert post(client, f"/can-bo/thu-xin-loi/{letter_id}/ban-hanh").status_code == 403
    with app.app_context(), unit_of_work():
        letter = db.session.get(ApologyLetter, letter_id)
        officer = db.session.scalar(select(User).where(User.role == "officer"))
        with pytest.raises(Forbidden):
            letters.issue(letter, officer, local(2024, 3, 14, 8))
        head = db.session.scalar(select(User).where(User.username == "truong.nguyentrai"))
        letters.issue(letter, head, local(2024, 3, 14, 8))
    assert client.get(f"/can-bo/thu-xin-loi/{letter_id}.pdf").status_code == 200
    sent = post(client, f"/can-bo/thu-xin-loi/{letter_id}/da-gui", via="in_person")
    assert sent.status_code == 303
    assert letter_of(app, code)["delivered_via"] == "in_person"


def test_only_an_inspector_may_produce_a_denunciations_letter(
    app: Flask,
    client: FlaskClient,
    late_case: Callable[..., str],
    make_user: Callable[..., Any],
) -> None:
    code = late_case(kind="denunciation", reporter=Reporter(name=DENOUNCER, phone="0987000111"))
    letter_id = letter_of(app, code)["id"]
    coordinator = make_user("coordinator", username="vanphong")[0]
    make_user("inspector", username="thanhtra")
    log_in(client, "vanphong")
    listing = client.get("/can-bo/thu-xin-loi/")
    assert code in listing.text and DENOUNCER not in listing.text
    assert post(client, f"/can-bo/thu-xin-loi/{letter_id}/ban-hanh").status_code == 303
    assert letter_of(app, code)["status"] == "issued"
    assert client.get(f"/can-bo/thu-xin-loi/{letter_id}.pdf").status_code == 403
    assert f"/can-bo/thu-xin-loi/{letter_id}.pdf" not in client.get("/can-bo/thu-xin-loi/").text
    with app.app_context():
        letter = db.session.get(ApologyLetter, letter_id)
        with pytest.raises(Forbidden):
            letters.letter_pdf_for(db.session.get(User, coordinator), letter)
        head = db.session.scalar(select(User).where(User.username == "truong.nguyentrai"))
        with pytest.raises(Forbidden):
            letters.letter_pdf_for(head, letter)
    client.post("/can-bo/dang-xuat", data={"csrf_token": csrf_from(listing.text)})
    log_in(client, "thanhtra")
    pdf = client.get(f"/can-bo/thu-xin-loi/{letter_id}.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert f"Kính gửi: Ông/Bà {DENOUNCER}" in text and code in text and "xin lỗi" in text
    assert "0987000111" not in text
    assert re.search(r"\d+ ngày", text)  # answered weeks late
    sent = post(client, f"/can-bo/thu-xin-loi/{letter_id}/da-gui", via="post")
    assert sent.status_code == 303
    assert letter_of(app, code)["status"] == "delivered"


@pytest.mark.parametrize("role", ["admin", "operator", "clerk"])
def test_other_roles_do_not_see_the_letters(
    client: FlaskClient, login_as: Callable[..., str], role: str
) -> None:
    login_as(role)
    assert client.get("/can-bo/thu-xin-loi/").status_code == 403


def test_late_text() -> None:
    assert letters.late_text(9 * 3600 + 1) == "9 giờ"
    assert letters.late_text(2 * 86400 + 3 * 3600 + 120) == "2 ngày 3 giờ"
    assert letters.late_text(45 * 60) == "45 phút"
    assert letters.late_text(30) == "dưới 1 phút"
