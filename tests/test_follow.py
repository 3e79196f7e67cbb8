"""The citizen's follow-up page: look-up → session → status page, the public timeline,
and the citizen's actions (reply, rating, reopening) with their refusals."""

from __future__ import annotations

import html
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import itsdangerous
import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import func, select, update

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.domain.states import STATUS_LABELS, Status
from feedback.extensions import db
from feedback.models import Attachment, Case, CaseEvent, Notification, SlaPolicy, User
from feedback.services.handling import actions as handling
from feedback.services.handling import followup

SUBJECT = "Cống thoát nước tổ 7 bị tắc"
BODY = "Cống thoát nước trước nhà số 12 tổ 7 bị tắc, nước tràn ra đường mỗi khi mưa."
NAME, PHONE, EMAIL = "Lê Thị Hoa", "0912 345 678", "hoa.le@example.vn"
UNIT = "UBND-00688"  # category 6.3b in ward 00688 (Quang Trung) is handled here
ANSWER = "Đơn vị đã nạo vét cống thoát nước tổ 7 ngày 05/03; đề nghị ông/bà theo dõi thêm."
NOT_PROVEN = "Vui lòng nhập mã hồ sơ và mã tra cứu để xem và thao tác với hồ sơ."


# --- helpers ---------------------------------------------------------------------------------


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def by_testid(page: str, name: str) -> str | None:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else None


def png_bytes() -> bytes:
    """A 1×1 red RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def submit(client: FlaskClient, **fields: Any) -> tuple[str, str]:
    """Send a case through the citizen's web form; the (code, access key) shown once."""
    page = client.get("/gui")
    data = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "address": "Số 12, tổ 7",
        "subject": SUBJECT,
        "body": BODY,
        "reporter_name": NAME,
        "reporter_phone": PHONE,
        "reporter_email": EMAIL,
        "action": "send",
    }
    data.update(fields)
    response = client.post("/gui", data=data)
    assert response.status_code == 302, response.text
    code = response.headers["Location"].rsplit("/", 1)[-1]
    shown = client.get(f"/gui/da-nhan/{code}")
    key = by_testid(shown.text, "access-key")
    assert key, shown.text
    return code, key


def look_up(client: FlaskClient, code: str, key: str) -> Any:
    page = client.get("/tra-cuu")
    return client.post(
        "/tra-cuu", data={"csrf_token": csrf_from(page.text), "code": code, "access_key": key}
    )


def citizen(app: Flask, code: str, key: str) -> FlaskClient:
    """A new browser that proved the key of ``code``."""
    browser = app.test_client()
    response = look_up(browser, code, key)
    assert response.status_code == 303, response.text
    return browser


def post_action(browser: FlaskClient, code: str, action: str, data: dict[str, Any]) -> Any:
    page = browser.get(f"/tra-cuu/{code}")
    assert page.status_code == 200
    return browser.post(
        f"/tra-cuu/{code}/{action}",
        data={"csrf_token": csrf_from(page.text), **data},
        content_type="multipart/form-data",
    )


@contextmanager
def the_case(app: Flask, code: str) -> Iterator[Case]:
    with app.app_context():
        yield db.session.scalar(select(Case).where(Case.code == code))
        db.session.remove()


def snapshot(app: Flask, code: str) -> tuple[Any, ...]:
    """Everything a refused action must leave as it was."""
    with the_case(app, code) as case:
        notes = db.session.scalar(select(func.count()).select_from(Notification))
        files = db.session.scalar(select(func.count()).select_from(Attachment))
        return (
            case.status,
            len(case.events),
            case.rating,
            case.rated_at,
            case.answered_at,
            case.reopen_count,
            case.response_due_at,
            notes,
            files,
        )


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Callable[[str, str | None], Callable[[], User]]:
    """staff(role, unit) creates the account now (before any unit of work: SQLite has one
    writer) and returns a loader for the caller's session."""
    made: dict[tuple[str, str | None], int] = {}

    def account(role: str, unit: str | None = None) -> Callable[[], User]:
        if (role, unit) not in made:
            made[(role, unit)] = make_user(role, unit_code=unit)[0]
        user_id = made[(role, unit)]
        return lambda: db.session.get(User, user_id)

    return account


@pytest.fixture
def work(app: Flask) -> Callable[..., Any]:
    """Run ``fn(case)`` as one unit of work, as a staff page would."""

    def run(code: str, fn: Callable[[Case], Any]) -> Any:
        with app.app_context(), unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == code))
            return fn(case)

    return run


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def answered(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> Callable[[], tuple[str, str]]:
    """A web case acknowledged and answered by its unit; (code, key)."""

    def make() -> tuple[str, str]:
        officer, head = staff("officer", UNIT), staff("unit_head", UNIT)
        code, key = submit(client)
        work(code, lambda c: handling.acknowledge(c, officer(), now()))
        work(code, lambda c: handling.approve_answer(c, head(), now(), ANSWER))
        return code, key

    return make


# --- look-up, session, access ---------------------------------------------------------------


def test_lookup_remembers_the_code_and_redirects_to_the_status_page(
    app: Flask, client: FlaskClient
) -> None:
    code, key = submit(client)
    browser = app.test_client()
    response = look_up(browser, code.lower(), key.lower().replace("-", " "))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/tra-cuu/{code}")
    with browser.session_transaction() as held:
        assert held["follow"] == [code]
        stored = repr(dict(held))
    assert key not in stored and key.replace("-", "") not in stored

    page = browser.get(response.headers["Location"])
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"  # a shared phone's back button
    body = text_of(page)
    assert '<html lang="vi">' in page.text
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.RECEIVED]
    assert by_testid(page.text, "kind") == "Phản ánh"
    assert by_testid(page.text, "subject") == SUBJECT
    with the_case(app, code) as case:
        unit = case.handling_unit.name
        received = case.received_at.astimezone(LOCAL_TZ)
        ack = case.ack_due_at.astimezone(LOCAL_TZ)
        due = case.response_due_at.astimezone(LOCAL_TZ)
    assert by_testid(page.text, "unit") == unit
    assert f"{received:%H:%M}" in by_testid(page.text, "received")
    assert f"{ack:%H:%M}" in by_testid(page.text, "ack-due")
    assert f"{ack:%d/%m/%Y}" in by_testid(page.text, "ack-due")
    assert "23:59, " in by_testid(page.text, "response-due")
    assert f"{due:%d/%m/%Y}" in by_testid(page.text, "response-due")
    assert "Tiếp nhận qua cổng trực tuyến." in body
    # Nothing to do yet: no action is offered.
    for action in ("bo-sung", "danh-gia", "xem-xet-lai"):
        assert f"/tra-cuu/{code}/{action}" not in page.text
    assert NAME not in body and PHONE not in body and EMAIL not in body


def test_session_remembers_at_most_ten_codes(app: Flask, client: FlaskClient) -> None:
    code, key = submit(client)
    browser = app.test_client()
    older = [f"HG-2000-{n:06d}" for n in range(10)]
    with browser.session_transaction() as held:
        held["follow"] = older
    assert look_up(browser, code, key).status_code == 303
    with browser.session_transaction() as held:
        assert held["follow"] == [*older[1:], code]
    # Looking the same case up again moves it to the end without a duplicate.
    assert look_up(browser, older[5], "x").status_code == 422
    assert look_up(browser, code, key).status_code == 303
    with browser.session_transaction() as held:
        assert held["follow"].count(code) == 1 and len(held["follow"]) == 10
    lookup_page = text_of(browser.get("/tra-cuu"))
    assert f'href="/tra-cuu/{code}"' in lookup_page


def test_status_page_needs_the_proven_key(app: Flask, client: FlaskClient) -> None:
    code, _ = submit(client)
    other_code, other_key = submit(client)
    before = snapshot(app, code)

    stranger = app.test_client()
    response = stranger.get(f"/tra-cuu/{code}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/tra-cuu")
    assert NOT_PROVEN in text_of(stranger.get("/tra-cuu"))

    # Proving another case's key, or failing this one's, opens nothing here.
    neighbour = citizen(app, other_code, other_key)
    assert neighbour.get(f"/tra-cuu/{other_code}").status_code == 200
    assert neighbour.get(f"/tra-cuu/{code}").status_code == 303
    failed = app.test_client()
    assert look_up(failed, code, other_key).status_code == 422
    with failed.session_transaction() as held:
        assert "follow" not in held
    assert failed.get(f"/tra-cuu/{code}").status_code == 303

    # A valid form token of the neighbour's own session: the proof, not CSRF, refuses.
    token = csrf_from(neighbour.get(f"/tra-cuu/{other_code}").text)
    for action, data in [
        ("bo-sung", {"reply": "Trước số nhà 12 tổ 7."}),
        ("danh-gia", {"rating": "1"}),
        ("xem-xet-lai", {"reason": "Chưa đồng ý với kết quả."}),
    ]:
        answer = neighbour.post(f"/tra-cuu/{code}/{action}", data={"csrf_token": token, **data})
        assert answer.status_code == 303, action
        assert answer.headers["Location"].endswith("/tra-cuu")
    assert snapshot(app, code) == before


def test_ending_the_follow_up_forgets_the_codes(app: Flask, client: FlaskClient) -> None:
    code, key = submit(client)
    browser = citizen(app, code, key)
    page = browser.get(f"/tra-cuu/{code}")
    response = browser.post("/tra-cuu/ket-thuc", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    with browser.session_transaction() as held:
        assert "follow" not in held
    assert browser.get(f"/tra-cuu/{code}").status_code == 303


# --- what the page shows ---------------------------------------------------------------------


def test_public_timeline_hides_internal_notes_and_staff(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> None:
    officer, head = staff("officer", UNIT), staff("unit_head", UNIT)
    code, key = submit(client)
    work(code, lambda c: handling.acknowledge(c, officer(), now()))
    work(code, lambda c: handling.assign(c, head(), now(), officer().username))
    work(code, lambda c: handling.start(c, officer(), now()))
    work(code, lambda c: handling.add_note(c, officer(), now(), "Ghi chú nội bộ: gọi tổ trưởng"))
    work(
        code,
        lambda c: handling.transfer(
            c, officer(), now(), "UBND-00691", "Sự việc thuộc địa bàn giáp ranh phường Trần Phú"
        ),
    )
    with app.app_context():
        names = [
            value
            for loader in (officer, head)
            for value in (loader().username, loader().display_name, loader().full_name)
            if value
        ]
        db.session.remove()

    page = citizen(app, code, key).get(f"/tra-cuu/{code}")
    body = text_of(page)
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.TRANSFERRED]
    assert "Đã xác nhận tiếp nhận; hồ sơ đang được xem xét, giải quyết." in body
    timeline = body[body.index('data-testid="timeline"') :]
    assert "Tiếp nhận qua cổng trực tuyến." in timeline
    for hidden in (
        "Ghi chú nội bộ",
        "giáp ranh",  # the transfer reason (a staff-only event)
        "Giao cán bộ",
        "Bắt đầu xử lý",
        *names,
    ):
        assert hidden not in body, hidden
    assert NAME not in body and PHONE not in body and EMAIL not in body


def test_rejected_case_shows_the_reason_as_its_answer(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> None:
    coordinator = staff("coordinator", None)
    code, key = submit(client)
    work(code, lambda c: handling.reject(c, coordinator(), now(), "Không thuộc thẩm quyền"))
    page = citizen(app, code, key).get(f"/tra-cuu/{code}")
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.REJECTED]
    assert "Lý do: Không thuộc thẩm quyền" in by_testid(page.text, "answer")
    assert "/danh-gia" not in page.text and "/xem-xet-lai" not in page.text


def test_merged_case_shows_the_case_it_joined_and_its_answer(
    app: Flask, client: FlaskClient, make_case: Any, staff: Any, work: Any
) -> None:
    coordinator = staff("coordinator", None)
    officer, head = staff("officer", UNIT), staff("unit_head", UNIT)
    original = make_case(area_code="00688")
    code, key = submit(client)
    work(code, lambda c: handling.merge(c, coordinator(), now(), original))
    browser = citizen(app, code, key)

    page = browser.get(f"/tra-cuu/{code}")
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.MERGED]
    assert by_testid(page.text, "joined-code") == original
    assert by_testid(page.text, "joined-status") == STATUS_LABELS[Status.RECEIVED]
    assert by_testid(page.text, "joined-answer") is None
    assert f"Trùng nội dung với hồ sơ {original}" in text_of(page)

    work(original, lambda c: handling.acknowledge(c, officer(), now()))
    work(original, lambda c: handling.approve_answer(c, head(), now(), ANSWER))
    page = browser.get(f"/tra-cuu/{code}")
    body = text_of(page)
    assert by_testid(page.text, "joined-status") == STATUS_LABELS[Status.ANSWERED]
    assert by_testid(page.text, "joined-answer") == ANSWER
    # The other case's reporter stays unknown; the duplicate itself offers no action.
    assert "Trần Thị Bình" not in body and "0912000111" not in body
    for action in ("bo-sung", "danh-gia", "xem-xet-lai"):
        assert f"/tra-cuu/{code}/{action}" not in page.text


def test_denunciation_page_never_shows_the_reporter(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> None:
    coordinator = staff("coordinator", None)
    code, key = submit(
        client,
        kind="denunciation",
        subject="Tố cáo cán bộ thu tiền sai quy định",
        body="Cán bộ tổ dân phố thu tiền vệ sinh cao hơn mức quy định từ tháng 1.",
    )
    work(code, lambda c: handling.acknowledge(c, coordinator(), now()))
    page = citizen(app, code, key).get(f"/tra-cuu/{code}")
    assert page.status_code == 200
    body = text_of(page)
    assert by_testid(page.text, "kind") == "Tố cáo"
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.ACKNOWLEDGED]
    for secret in (NAME, PHONE, PHONE.replace(" ", ""), EMAIL, "Lê Thị", "345 678"):
        assert secret not in body, secret


# --- reply -----------------------------------------------------------------------------------


def test_reply_when_waiting_citizen_moves_the_case_to_in_progress(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> None:
    officer = staff("officer", UNIT)
    code, key = submit(client)
    work(code, lambda c: handling.acknowledge(c, officer(), now()))
    work(code, lambda c: handling.ask_citizen(c, officer(), now(), "Xin cho biết số nhà cụ thể."))
    browser = citizen(app, code, key)
    page = browser.get(f"/tra-cuu/{code}")
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.WAITING_CITIZEN]
    assert "Xin cho biết số nhà cụ thể." in by_testid(page.text, "question")
    assert f'action="/tra-cuu/{code}/bo-sung"' in page.text

    before = snapshot(app, code)
    empty = post_action(browser, code, "bo-sung", {"reply": "  "})
    assert empty.status_code == 422
    assert "Vui lòng điền mục này." in text_of(empty)
    not_a_file = post_action(
        browser,
        code,
        "bo-sung",
        {"reply": "Trước số nhà 12, tổ 7.", "attachments": (BytesIO(b"MZ..."), "anh.exe")},
    )
    assert not_a_file.status_code == 422
    assert "không phải ảnh" in by_testid(not_a_file.text, "attachments-error")
    assert "Trước số nhà 12, tổ 7." in text_of(not_a_file)  # the text is kept
    assert snapshot(app, code) == before

    reply = "Trước số nhà 12, tổ 7, phường Quang Trung."
    done = post_action(
        browser,
        code,
        "bo-sung",
        {"reply": reply, "attachments": (BytesIO(png_bytes()), "cong.png")},
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/tra-cuu/{code}")
    page = browser.get(f"/tra-cuu/{code}")
    assert "Đã gửi thông tin bổ sung và 1 tệp đính kèm." in text_of(page)
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.IN_PROGRESS]
    assert f"Người dân bổ sung: {reply}" in text_of(page)
    assert f"/tra-cuu/{code}/bo-sung" not in page.text
    with the_case(app, code) as case:
        assert case.status == Status.IN_PROGRESS.value
        assert case.waiting_since is None
        assert [a.original_name for a in case.attachments] == ["cong.png"]
        last = case.events[-1]
        assert (last.action, last.actor_id, last.public) == ("citizen_reply", None, True)

    # The case no longer waits: a second reply is refused and its text stays on screen.
    before = snapshot(app, code)
    again = browser.post(
        f"/tra-cuu/{code}/bo-sung",
        data={"csrf_token": csrf_from(page.text), "reply": "Thêm một ý nữa cho rõ."},
    )
    assert again.status_code == 409
    assert "chờ người dân bổ sung" not in by_testid(again.text, "status")
    assert "Không thể «ghi nhận người dân bổ sung»" in by_testid(again.text, "problem")
    assert "Thêm một ý nữa cho rõ." in text_of(again)
    assert snapshot(app, code) == before


def test_expired_form_is_refused_with_the_text_kept(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> None:
    officer = staff("officer", UNIT)
    code, key = submit(client)
    work(code, lambda c: handling.acknowledge(c, officer(), now()))
    work(code, lambda c: handling.ask_citizen(c, officer(), now(), "Xin cho biết số nhà cụ thể."))
    browser = citizen(app, code, key)

    class FiveHoursAgo(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 5 * 3600

    # The token the page would have carried had it been opened five hours ago (the limit is
    # four): signed like Flask-WTF's, over this session's raw token.
    with browser.session_transaction() as held:
        raw = held["csrf_token"]
    stale = itsdangerous.URLSafeTimedSerializer(
        app.secret_key, salt="wtf-csrf-token", signer=FiveHoursAgo
    ).dumps(raw)
    before = snapshot(app, code)
    reply = "Trước số nhà 12, tổ 7, phường Quang Trung."
    response = browser.post(f"/tra-cuu/{code}/bo-sung", data={"csrf_token": stale, "reply": reply})
    assert response.status_code == 422
    assert "Biểu mẫu đã hết hạn" in by_testid(response.text, "problem")
    assert re.search(rf"<textarea[^>]*name=\"reply\"[^>]*>\s*{re.escape(reply)}", text_of(response))
    assert snapshot(app, code) == before
    # Sent again with the fresh token of that page, it goes through.
    again = browser.post(
        f"/tra-cuu/{code}/bo-sung", data={"csrf_token": csrf_from(response.text), "reply": reply}
    )
    assert again.status_code == 303


def test_too_large_a_reply_is_refused_and_writes_nothing(
    app: Flask, client: FlaskClient, staff: Any, work: Any
) -> None:
    officer = staff("officer", UNIT)
    code, key = submit(client)
    work(code, lambda c: handling.acknowledge(c, officer(), now()))
    work(code, lambda c: handling.ask_citizen(c, officer(), now(), "Xin gửi ảnh hiện trường."))
    browser = citizen(app, code, key)
    before = snapshot(app, code)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    big = png_bytes() + b"\0" * 8192
    response = post_action(
        browser,
        code,
        "bo-sung",
        {"reply": "Ảnh hiện trường.", "attachments": (BytesIO(big), "a.png")},
    )
    assert response.status_code == 413
    assert "Dữ liệu gửi lên quá lớn" in by_testid(response.text, "problem")
    assert snapshot(app, code) == before


# --- rating ----------------------------------------------------------------------------------


def test_rating_is_stored_once(app: Flask, answered: Any) -> None:
    code, key = answered()
    browser = citizen(app, code, key)
    page = browser.get(f"/tra-cuu/{code}")
    assert by_testid(page.text, "answer") == ANSWER
    for label in ("Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng"):
        assert f"> {label}</label>" in page.text
    assert (
        len(re.findall(r'type="radio"[^>]*name="rating"|name="rating"[^>]*type="radio"', page.text))
        == 5
    )

    before = snapshot(app, code)
    for data in ({}, {"rating": "9"}, {"rating": "x"}):
        refused = post_action(browser, code, "danh-gia", {"comment": "Tốt", **data})
        assert refused.status_code == 422, data
        assert "Vui lòng chọn một mức đánh giá." in text_of(refused)
    assert snapshot(app, code) == before

    done = post_action(browser, code, "danh-gia", {"rating": "4", "comment": "Xử lý nhanh."})
    assert done.status_code == 303
    page = browser.get(f"/tra-cuu/{code}")
    assert "Cảm ơn ông/bà đã đánh giá" in text_of(page)
    assert "4/5 – Hài lòng" in by_testid(page.text, "rating")
    assert f"/tra-cuu/{code}/danh-gia" not in page.text
    with the_case(app, code) as case:
        assert (case.rating, case.rating_comment) == (4, "Xử lý nhanh.")
        assert case.rated_at is not None

    before = snapshot(app, code)
    second = browser.post(
        f"/tra-cuu/{code}/danh-gia", data={"csrf_token": csrf_from(page.text), "rating": "5"}
    )
    assert second.status_code == 409
    assert by_testid(second.text, "problem") == "Ông/bà đã đánh giá hồ sơ này."
    assert snapshot(app, code) == before


# --- reopening -------------------------------------------------------------------------------


def test_reopen_within_the_window_moves_the_case_to_reopened(app: Flask, answered: Any) -> None:
    code, key = answered()
    browser = citizen(app, code, key)
    with the_case(app, code) as case:
        until = followup.reopen_deadline(case).astimezone(LOCAL_TZ)
        assert until - case.answered_at.astimezone(LOCAL_TZ) == timedelta(days=7)
    page = browser.get(f"/tra-cuu/{code}")
    assert by_testid(page.text, "reopen-until") == (
        f"Có thể đề nghị xem xét lại đến {until:%H:%M} ngày {until:%d/%m/%Y}."
    )
    assert "Chưa đồng ý, đề nghị xem xét lại" in page.text

    before = snapshot(app, code)
    empty = post_action(browser, code, "xem-xet-lai", {"reason": ""})
    assert empty.status_code == 422
    assert "Vui lòng nêu lý do chưa đồng ý với kết quả." in text_of(empty)
    assert snapshot(app, code) == before

    reason = "Cống vẫn tắc sau trận mưa ngày 10/03."
    done = post_action(browser, code, "xem-xet-lai", {"reason": reason})
    assert done.status_code == 303
    page = browser.get(f"/tra-cuu/{code}")
    assert "Đã ghi nhận đề nghị xem xét lại" in text_of(page)
    assert by_testid(page.text, "status") == STATUS_LABELS[Status.REOPENED]
    assert by_testid(page.text, "answer") is None  # the old answer is no longer the result
    with the_case(app, code) as case:
        assert case.status == Status.REOPENED.value
        assert case.reopen_count == 1 and case.answered_at is None
        last = case.events[-1]
        assert (last.action, last.public, last.actor_id) == ("reopen", True, None)
        assert reason in last.note


def test_reopen_after_the_window_is_refused_and_changes_nothing(app: Flask, answered: Any) -> None:
    code, key = answered()
    with app.app_context(), unit_of_work():
        window = db.session.scalar(
            select(SlaPolicy.reopen_window_days).where(SlaPolicy.kind == "feedback")
        )
        case = db.session.scalar(select(Case).where(Case.code == code))
        db.session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(answered_at=case.answered_at - timedelta(days=window, minutes=1))
        )
    browser = citizen(app, code, key)
    page = browser.get(f"/tra-cuu/{code}")
    assert by_testid(page.text, "reopen-closed").startswith("Đã hết thời hạn đề nghị xem xét lại")
    assert f"/tra-cuu/{code}/xem-xet-lai" not in page.text
    assert f"/tra-cuu/{code}/danh-gia" in page.text  # rating is still welcome

    before = snapshot(app, code)
    refused = browser.post(
        f"/tra-cuu/{code}/xem-xet-lai",
        data={"csrf_token": csrf_from(page.text), "reason": "Cống vẫn tắc sau trận mưa."},
    )
    assert refused.status_code == 409
    assert by_testid(refused.text, "problem") == (
        f"Đã quá thời hạn mở lại hồ sơ ({window} ngày kể từ khi trả lời)."
    )
    assert "Cống vẫn tắc sau trận mưa." in text_of(refused)
    assert snapshot(app, code) == before
    with app.app_context():
        kinds = db.session.scalars(
            select(CaseEvent.action).join(Case).where(Case.code == code)
        ).all()
        assert "reopen" not in kinds
