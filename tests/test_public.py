"""The citizen's side: the submission form, the success page and the look-up."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import func, select, text

from feedback.domain.calendar import LOCAL_TZ
from feedback.domain.states import STATUS_LABELS, Status

SUBJECT = "Cống thoát nước tổ 7 bị tắc"
BODY = "Cống thoát nước trước nhà số 12 tổ 7 bị tắc, nước tràn ra đường mỗi khi mưa."
LOOKUP_ERROR = "Mã hồ sơ hoặc mã tra cứu không đúng."


def form_data(page_html: str, **fields: Any) -> dict[str, str]:
    data = {
        "csrf_token": csrf_from(page_html),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "address": "Số 12, tổ 7",
        "subject": SUBJECT,
        "body": BODY,
        "reporter_name": "Lê Thị Hoa",
        "reporter_phone": "0912 345 678",
        "reporter_email": "",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def post_case(client: FlaskClient, **fields: Any) -> Any:
    page = client.get("/gui")
    assert page.status_code == 200
    return client.post("/gui", data=form_data(page.text, **fields))


def code_from(response: Any) -> str:
    assert response.status_code == 302, response.text
    match = re.search(r"/gui/da-nhan/([A-Z0-9-]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def by_testid(page: str, name: str) -> str | None:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', page, re.S)
    return html.unescape(match.group(1)).strip() if match else None


def count_cases(app: Flask) -> int:
    from feedback.extensions import db
    from feedback.models import Case

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


def submit_and_read(client: FlaskClient, **fields: Any) -> tuple[str, str]:
    """Submit, follow to the success page; the (code, access key) it shows."""
    code = code_from(post_case(client, **fields))
    page = client.get(f"/gui/da-nhan/{code}")
    assert page.status_code == 200
    key = by_testid(page.text, "access-key")
    assert by_testid(page.text, "case-code") == code
    assert key
    return code, key


# --- success page -------------------------------------------------------------------------


def test_success_page_shows_code_key_and_due_dates_once(app: Flask, client: FlaskClient) -> None:
    from feedback.domain.calendar import CalendarOverride as DomainOverride
    from feedback.domain.calendar import WorkingCalendar
    from feedback.domain.deadlines import SlaPolicy, compute_deadlines
    from feedback.extensions import db
    from feedback.models import CalendarOverride, Case

    before = datetime.now(UTC)
    code = code_from(post_case(client))
    after = datetime.now(UTC)
    page = client.get(f"/gui/da-nhan/{code}")
    assert page.status_code == 200
    assert by_testid(page.text, "case-code") == code
    key = by_testid(page.text, "access-key")
    assert key and re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", key), key
    ack_text = by_testid(page.text, "ack-due")
    response_text = by_testid(page.text, "response-due")

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert before - timedelta(seconds=1) <= case.received_at <= after + timedelta(seconds=1)
        calendar = WorkingCalendar(
            DomainOverride(day=r.day, kind=r.kind, source=r.source, note=r.note)
            for r in db.session.scalars(select(CalendarOverride))
        )
        expected = compute_deadlines(
            case.received_at, SlaPolicy(kind="feedback", ack_hours=24, response_days=6), calendar
        )
        assert case.ack_due_at == expected.ack_due_at == case.received_at + timedelta(hours=24)
        assert case.response_due_at == expected.response_due_at
        local_due = case.response_due_at.astimezone(LOCAL_TZ)
        assert local_due.time() == time(23, 59, 59)
        local_ack = case.ack_due_at.astimezone(LOCAL_TZ)

        # Only a SHA-256 of the key is stored; the key itself is in no column of the row.
        assert case.access_key_hash == hashlib.sha256(key.encode()).hexdigest()
        row = db.session.execute(text("SELECT * FROM cases WHERE code = :c"), {"c": code}).one()
        flat = key.replace("-", "")
        for value in row:
            assert key not in str(value) and flat not in str(value), value
        for table in ("case_events", "notifications"):
            dump = " ".join(
                str(v) for r in db.session.execute(text(f"SELECT * FROM {table}")) for v in r
            )
            assert key not in dump and flat not in dump, table

    assert ack_text and f"{local_ack:%H:%M}" in ack_text and f"{local_ack:%d/%m/%Y}" in ack_text
    assert response_text and "23:59" in response_text and f"{local_due:%d/%m/%Y}" in response_text

    again = client.get(f"/gui/da-nhan/{code}")
    assert again.status_code == 200
    assert by_testid(again.text, "case-code") == code
    assert by_testid(again.text, "access-key") is None
    assert key not in again.text


def test_success_page_of_another_session_shows_nothing(app: Flask, client: FlaskClient) -> None:
    code = code_from(post_case(client))
    stranger = app.test_client()
    page = stranger.get(f"/gui/da-nhan/{code}")
    assert page.status_code in (302, 303)
    assert "/tra-cuu" in page.headers["Location"]


# --- form errors ---------------------------------------------------------------------------

INVALID = {
    "empty subject": ({"subject": ""}, "Vui lòng điền mục này."),
    "too short body": ({"body": "Ngắn quá"}, "Nội dung cần từ 10 đến 10.000 ký tự."),
    "unknown category": ({"category_code": "9.9"}, "Lựa chọn không hợp lệ."),
    "unknown area": ({"area_code": "99999"}, "Lựa chọn không hợp lệ."),
    "no name": ({"reporter_name": ""}, "Vui lòng cho biết họ tên, hoặc chọn gửi ẩn danh."),
    "no phone nor email": (
        {"reporter_phone": "", "reporter_email": ""},
        "Vui lòng để lại số điện thoại hoặc thư điện tử",
    ),
    "bad phone": ({"reporter_phone": "goi-toi-nhe"}, "Số điện thoại không hợp lệ (8–15 chữ số)."),
    "bad email": (
        {"reporter_email": "hoa-at-example"},
        "Địa chỉ thư điện tử không hợp lệ.",
    ),
    "missing csrf": ({"csrf_token": None}, "Phiên làm việc đã hết hạn"),
    "invalid csrf": ({"csrf_token": "gia-mao"}, "Phiên làm việc đã hết hạn"),
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_submission_is_refused_in_vietnamese_and_keeps_input(
    app: Flask, client: FlaskClient, case: str
) -> None:
    fields, message = INVALID[case]
    before = count_cases(app)
    response = post_case(client, **fields)
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert message in page
    assert "Thông tin chưa hợp lệ" in page
    assert count_cases(app) == before
    # Nothing the citizen typed is lost.
    if "subject" not in fields:
        assert SUBJECT in page
    if "body" not in fields:
        assert BODY in page
    if "reporter_name" not in fields:
        assert "Lê Thị Hoa" in page
    # The re-rendered form carries a fresh token, so "send again" works at once.
    assert client.post("/gui", data=form_data(response.text)).status_code == 302
    assert count_cases(app) == before + 1


def test_email_alone_is_enough_contact(app: Flask, client: FlaskClient) -> None:
    response = post_case(client, reporter_phone="", reporter_email="hoa@example.vn")
    assert response.status_code == 302


# --- anonymity -----------------------------------------------------------------------------


def test_anonymous_submission_stores_no_identity(app: Flask, client: FlaskClient) -> None:
    from feedback.extensions import db
    from feedback.models import Case, Notification

    code = code_from(
        post_case(
            client,
            anonymous="y",
            reporter_name="Lê Thị Hoa",
            reporter_phone="0912345678",
            reporter_email="hoa@example.vn",
        )
    )
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert case.anonymous is True
        assert (case.reporter_name, case.reporter_phone, case.reporter_email) == (None, None, None)
        row = db.session.execute(text("SELECT * FROM cases WHERE code = :c"), {"c": code}).one()
        for value in row:
            assert "Lê Thị Hoa" not in str(value)
            assert "0912345678" not in str(value)
            assert "hoa@example.vn" not in str(value)
        # No receipt goes to an address an anonymous citizen did not mean to give.
        sent = db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.case_id == case.id)
        )
        assert sent == 0


def test_anonymous_submission_needs_no_contact(app: Flask, client: FlaskClient) -> None:
    response = post_case(
        client, anonymous="y", reporter_name="", reporter_phone="", reporter_email=""
    )
    assert response.status_code == 302


# --- look-up -------------------------------------------------------------------------------


def lookup(client: FlaskClient, code: str, key: str) -> Any:
    page = client.get("/tra-cuu")
    assert page.status_code == 200
    # A proven key redirects to the follow-up page (303); a wrong one answers 422 at once.
    return client.post(
        "/tra-cuu",
        data={"csrf_token": csrf_from(page.text), "code": code, "access_key": key},
        follow_redirects=True,
    )


def test_lookup_shows_status_and_public_timeline(app: Flask, client: FlaskClient) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Case, CaseEvent

    code, key = submit_and_read(client)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        db.session.add(
            CaseEvent(
                case=case,
                at=datetime.now(UTC),
                actor_label="Cán bộ",
                action="note",
                public=False,
                note="Ghi chú nội bộ: đã gọi điện cho tổ trưởng",
                data={},
            )
        )

    citizen = app.test_client()
    response = lookup(citizen, code, key)
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert by_testid(response.text, "status") == STATUS_LABELS[Status.RECEIVED]
    assert code in page and SUBJECT in page
    assert "Tiếp nhận qua cổng trực tuyến." in page  # the public submit event
    assert "Ghi chú nội bộ" not in page  # internal notes stay internal
    assert "0912 345 678" not in page and "Lê Thị Hoa" not in page


@pytest.mark.parametrize(
    "transform",
    [str.lower, lambda k: k.replace("-", ""), lambda k: k.lower().replace("-", " ")],
    ids=["lower", "no-dashes", "lower-spaces"],
)
def test_lookup_accepts_key_as_typed(app: Flask, client: FlaskClient, transform: Any) -> None:
    code, key = submit_and_read(client)
    response = lookup(app.test_client(), code.lower(), transform(key))
    assert response.status_code == 200
    assert by_testid(response.text, "status") == STATUS_LABELS[Status.RECEIVED]


def test_lookup_refuses_wrong_key_or_code(app: Flask, client: FlaskClient) -> None:
    code, key = submit_and_read(client)
    other_code, _ = submit_and_read(client)
    wrong_key = ("0000" if not key.startswith("0000") else "1111") + key[4:]
    attempts = [
        (code, wrong_key),
        ("HG-1999-999999", key),
        (other_code, key),  # a real key of another case
    ]
    for try_code, try_key in attempts:
        response = lookup(app.test_client(), try_code, try_key)
        assert response.status_code == 422, (try_code, try_key)
        page = html.unescape(response.text)
        assert LOOKUP_ERROR in page
        assert by_testid(response.text, "status") is None
        assert SUBJECT not in page
        assert "Đơn vị xử lý" not in page
        assert "Tiếp nhận qua" not in page


def test_lookup_with_empty_fields_is_refused(client: FlaskClient) -> None:
    response = lookup(client, "", "")
    assert response.status_code == 422
    assert "Vui lòng điền mục này." in html.unescape(response.text)


# --- language ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/gui", "/tra-cuu"])
def test_public_pages_are_vietnamese(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert '<html lang="vi">' in response.text
    assert "Gửi phản ánh" in response.text
    assert "Tra cứu" in response.text


def test_busy_database_answers_503_with_retry_after(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN.md: a lock timeout is answered with 503 and Retry-After, never 500."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError(
            "INSERT INTO cases ...", {}, sqlite3.OperationalError("database is locked")
        )

    monkeypatch.setattr("feedback.services.intake.resubmit.submit_case", locked)
    before = count_cases(app)
    response = post_case(client)
    assert response.status_code == 503
    assert response.headers.get("Retry-After")
    assert "Hệ thống đang bận" in response.text
    assert count_cases(app) == before


def test_similar_cases_are_shown_before_sending_and_nothing_is_written(
    app: Flask, client: FlaskClient, make_case: Any
) -> None:
    """A citizen checking for similar cases learns that the re-worded, undiacritised
    original is being handled and since when, never its code or subject (issue 13, finding
    2: tests/test_reach.py); checking writes nothing."""
    from feedback.extensions import db
    from feedback.models import Case

    original = make_case(
        subject="Rác thải không được thu gom ở tổ 5",
        body="Rác thải ở tổ 5 phường Quang Trung ba ngày nay không được thu gom, bốc mùi.",
        category_code="6.3c",
        area_code="00688",
    )
    page = client.get("/gui")
    fields = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3c",
        "area_code": "00688",
        "subject": "to 5 rac thai khong ai thu gom",
        "body": "rac o to 5 quang trung boc mui may ngay roi khong ai thu gom",
        "reporter_name": "Vàng Thị Dợ",
        "reporter_phone": "0912000222",
        "action": "check",
    }
    response = client.post("/gui", data=fields)
    assert response.status_code == 200
    assert "đang xử lý 1 phản ánh có nội dung tương tự" in response.text
    assert original not in response.text
    assert "Rác thải không được thu gom ở tổ 5" not in response.text
    with app.app_context():
        assert db.session.query(Case).count() == 1
    fields["action"] = "send"
    assert client.post("/gui", data=fields).status_code == 302


def test_similar_hints_say_nothing_of_non_public_categories(
    client: FlaskClient, make_case: Any
) -> None:
    original = make_case(
        subject="Công an phường thu tiền trái quy định",
        body="Công an khu vực thu tiền đăng ký tạm trú không có biên lai ở tổ 3.",
        category_code="6.4",
        area_code="00697",
    )
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "feedback",
            "category_code": "6.4",
            "area_code": "00697",
            "subject": "cong an thu tien tam tru khong bien lai",
            "body": "to 3 cong an khu vuc thu tien dang ky tam tru khong co bien lai",
            "anonymous": "y",
            "action": "check",
        },
    )
    assert response.status_code == 200
    assert original not in response.text
    assert "Công an phường thu tiền trái quy định" not in response.text
    assert "Chưa thấy phản ánh nào tương tự." in response.text
