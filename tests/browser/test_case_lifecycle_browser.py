"""One case from submission to a rated, closed answer, through the pages of every role in a
real Chromium: the citizen on a phone, the coordinator of the triage office, an officer and
the head of the handling unit, each in a browser context of their own (own cookies, own
session). The app runs in a background thread (werkzeug) behind a real socket.

The case is filed under 4.4 (public-sector hiring), which the routing table sends to the
coordinator's triage: the coordinator acknowledges it and transfers it to the People's
Committee of Quang Trung ward, where it is taken up, noted, put to the citizen, assigned,
drafted, approved, rated and closed. The staff timeline must show every step, in order,
with who did it and when; the citizen's timeline only the public steps, with no staff
names and no internal notes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from helpers import PASSWORD, on_engine
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from feedback.domain.states import STATUS_LABELS, Status
from feedback.extensions import db
from feedback.models import Case
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, on_engine("postgresql")]

DESKTOP = {"width": 1366, "height": 900}

UNIT = "UBND-00688"
UNIT_NAME = "UBND Phường Quang Trung"
TRIAGE_NAME = "Văn phòng HĐND-UBND thành phố"
CATEGORY_LABEL = "4.4 – Tuyển dụng công chức, viên chức"  # routed to triage, any area
AREA_LABEL = "Phường Quang Trung"
CITIZEN = "Người dân"
REPORTER = "Lò Văn Sùng"

SUBJECT = "Thông báo tuyển dụng viên chức không niêm yết tại phường"
BODY = (
    "Thông báo tuyển dụng viên chức trường mầm non năm nay không được niêm yết tại trụ sở "
    "phường, nhiều người không biết để nộp hồ sơ."
)
TRANSFER_REASON = "Việc niêm yết thông báo thuộc trách nhiệm của UBND phường."
NOTE = "Đã liên hệ trường mầm non Quang Trung, chờ bản sao thông báo."
QUESTION = "Ông/bà cho biết tên trường và thời gian đã đến xem bảng tin của phường."
REPLY = "Trường mầm non Hoa Sen; tôi đến xem bảng tin ngày 3 và ngày 10 tháng này."
DRAFT = "Phường đã kiểm tra: thông báo chưa được niêm yết đúng hạn tại trụ sở phường."
ANSWER = (
    "UBND phường đã kiểm tra và xác nhận thông báo tuyển dụng chưa được niêm yết đúng hạn. "
    "Phường đã niêm yết bổ sung và gia hạn nhận hồ sơ thêm 10 ngày."
)
COMMENT = "Trả lời rõ ràng, phường đã gia hạn nhận hồ sơ."

TIME = re.compile(r"\d{2}:\d{2} \d{2}/\d{2}/\d{4}")


def label(status: Status) -> str:
    return STATUS_LABELS[status]


# --- the browser and the server ------------------------------------------------------------


@pytest.fixture
def person(browser: Browser) -> Iterator[Callable[..., Page]]:
    """A page in a browser context of its own: one person, one cookie jar."""
    contexts: list[Any] = []

    def make(*, phone: bool = False) -> Page:
        if phone:
            context = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN"
            )
        else:
            context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# --- what every step does ------------------------------------------------------------------


def submit(page: Page, button: Locator, *, done: str) -> None:
    """Press a form's button: a POST answered 303, then the page it leads to, showing
    the flash message ``done``."""
    with (
        page.expect_navigation(),
        page.expect_response(lambda r: r.request.method == "POST") as posted,
    ):
        button.click()
    assert posted.value.status == 303, f"{posted.value.url}: {posted.value.status}"
    expect(page.locator("p.flash.ok")).to_contain_text(done)
    expect(page.locator("p.flash.error")).to_have_count(0)


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/can-bo/dang-nhap")
    page.get_by_label("Tên đăng nhập", exact=True).fill(username)
    page.get_by_label("Mật khẩu", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url(re.compile(r"/can-bo/(\?.*)?$"))
    expect(page.locator("header .who")).to_contain_text(f"Cán bộ {username}")


def open_from_inbox(page: Page, base: str, code: str, status: Status) -> None:
    page.goto(f"{base}/can-bo/")
    row = page.locator(f'tr[data-code="{code}"]')
    expect(row).to_contain_text(SUBJECT)
    expect(row.locator('td[data-label="Trạng thái"]')).to_contain_text(label(status))
    with page.expect_navigation():
        row.get_by_role("link", name=code, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(code)


def desk_status(page: Page, status: Status) -> None:
    expect(page.locator("section.card > p.status")).to_have_text(label(status))


def look_up(page: Page, base: str, code: str, key: str) -> None:
    """The citizen's follow-up: only the code and the access key are needed."""
    page.goto(f"{base}/tra-cuu")
    page.get_by_label("Mã hồ sơ", exact=True).fill(code)
    page.get_by_label("Mã tra cứu", exact=True).fill(key)
    with page.expect_navigation(url=re.compile(rf"/tra-cuu/{re.escape(code)}$")):
        page.get_by_role("button", name="Tra cứu", exact=True).click()
    expect(page.get_by_role("heading", name=f"Hồ sơ {code}")).to_be_visible()


def citizen_status(page: Page, status: Status) -> None:
    expect(page.get_by_test_id("status")).to_have_text(label(status))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        f"the follow-up page ({label(status)}) scrolls sideways on a phone"
    )


@dataclass(frozen=True)
class Step:
    when: datetime
    who: str
    note: str


def staff_timeline(page: Page) -> list[Step]:
    steps = []
    for item in page.locator("ol.timeline > li").all():
        shown = item.locator("time").inner_text().strip()
        assert TIME.fullmatch(shown), f"no time on a step: {item.inner_text()!r}"
        who = item.locator("strong").inner_text().strip()
        assert who, f"no actor on a step: {item.inner_text()!r}"
        note = item.inner_text().split(f"{who}:", 1)[1].strip()
        steps.append(Step(datetime.strptime(shown, "%H:%M %d/%m/%Y"), who, note))
    return steps


# --- the case ------------------------------------------------------------------------------


def test_a_case_goes_from_submission_to_a_rated_answer_through_every_role(
    live_server: str,
    person: Callable[..., Page],
    make_user: Callable[..., Any],
    app: Flask,
) -> None:
    base = live_server
    coordinator_id, coordinator = make_user("coordinator")
    officer_id, officer = make_user("officer", unit_code=UNIT)
    head_id, head = make_user("unit_head", unit_code=UNIT)
    names = {u: f"Cán bộ {u}" for u in (coordinator, officer, head)}

    # 1. The citizen files the case on a phone and keeps the code and the key.
    citizen = person(phone=True)
    citizen.goto(f"{base}/gui")
    citizen.get_by_label("Loại", exact=True).select_option(label="Kiến nghị")
    citizen.get_by_label("Lĩnh vực", exact=True).select_option(label=CATEGORY_LABEL)
    citizen.get_by_label("Xã, phường nơi xảy ra sự việc", exact=True).select_option(
        label=AREA_LABEL
    )
    citizen.get_by_label("Tiêu đề", exact=True).fill(SUBJECT)
    citizen.get_by_label("Nội dung", exact=True).fill(BODY)
    citizen.get_by_label("Họ và tên", exact=True).fill(REPORTER)
    citizen.get_by_label("Số điện thoại", exact=True).fill("0986 111 222")
    with citizen.expect_navigation(url=re.compile(r"/gui/da-nhan/")):
        citizen.get_by_role("button", name="Gửi", exact=True).click()
    code = citizen.get_by_test_id("case-code").inner_text().strip()
    key = citizen.get_by_test_id("access-key").inner_text().strip()
    assert re.fullmatch(r"[A-Z]+-\d{4}-\d{6}", code), code
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", key), key

    look_up(citizen, base, code, key)
    citizen_status(citizen, Status.RECEIVED)
    expect(citizen.get_by_test_id("unit")).to_contain_text(TRIAGE_NAME)
    expect(citizen.get_by_test_id("unit")).to_contain_text("đang phân loại")

    # 2. The coordinator finds it in the triage queue, acknowledges it, transfers it.
    desk = person()
    log_in(desk, base, coordinator)
    with desk.expect_navigation():
        desk.get_by_role("navigation").get_by_role("link", name="Phân loại", exact=True).click()
    expect(desk.get_by_role("heading", name="Phân loại, xác nhận tiếp nhận")).to_be_visible()
    row = desk.locator(f'tr[data-code="{code}"]')
    expect(row).to_contain_text(SUBJECT)
    expect(row).to_contain_text("4.4 Tuyển dụng công chức, viên chức")
    expect(row).to_contain_text(TRIAGE_NAME)
    expect(row).to_contain_text("chờ phân loại")
    expect(row.get_by_test_id("ack-left")).to_contain_text("còn ")
    expect(row.get_by_role("button", name="Đúng đơn vị")).to_have_count(0)  # no unit yet
    submit(
        desk,
        row.get_by_role("button", name="Xác nhận tiếp nhận", exact=True),
        done=f"Đã xác nhận tiếp nhận hồ sơ {code}",
    )
    assert "/can-bo/phan-loai" in desk.url  # back to the queue, the case still to route
    expect(row.get_by_test_id("ack-left")).to_contain_text("đã xác nhận")
    expect(row.get_by_role("button", name="Xác nhận tiếp nhận", exact=True)).to_have_count(0)
    row.locator("summary", has_text="Chuyển").click()
    row.get_by_label("Đơn vị", exact=True).select_option(label=UNIT_NAME)
    row.get_by_label("Lý do chuyển", exact=True).fill(TRANSFER_REASON)
    submit(
        desk,
        row.locator("form[action$='/chuyen']").get_by_role("button", name="Chuyển", exact=True),
        done=f"Chuyển từ {TRIAGE_NAME} đến {UNIT_NAME}. Lý do: {TRANSFER_REASON}",
    )
    expect(desk.locator(f'tr[data-code="{code}"]')).to_have_count(0)  # left the queue
    desk.goto(f"{base}/can-bo/ho-so/{code}")
    desk_status(desk, Status.TRANSFERRED)
    expect(desk.locator("dl.facts")).to_contain_text(UNIT_NAME)

    look_up(citizen, base, code, key)
    citizen_status(citizen, Status.TRANSFERRED)
    expect(citizen.get_by_test_id("unit")).to_have_text(UNIT_NAME)
    expect(citizen.get_by_test_id("ack-due")).to_contain_text("đã xác nhận lúc")

    # 3. The officer of the ward takes it up, notes, and asks the citizen.
    work = person()
    log_in(work, base, officer)
    open_from_inbox(work, base, code, Status.TRANSFERRED)
    expect(work.get_by_test_id("reporter")).to_contain_text(REPORTER)
    submit(
        work,
        work.get_by_role("button", name="Nhận xử lý", exact=True),
        done=f"Đã nhận xử lý hồ sơ {code}.",
    )
    desk_status(work, Status.IN_PROGRESS)
    expect(work.get_by_test_id("assigned")).to_have_text(names[officer])
    work.get_by_label("Ghi chú nội bộ (người dân không thấy)", exact=True).fill(NOTE)
    submit(
        work,
        work.get_by_role("button", name="Thêm ghi chú", exact=True),
        done="Đã thêm ghi chú nội bộ.",
    )
    work.locator("summary", has_text="Đề nghị người dân bổ sung thông tin").click()
    work.get_by_label("Nội dung cần bổ sung", exact=True).fill(QUESTION)
    submit(
        work,
        work.get_by_role("button", name="Gửi đề nghị bổ sung", exact=True),
        done="Đã gửi đề nghị bổ sung thông tin cho người dân.",
    )
    desk_status(work, Status.WAITING_CITIZEN)

    # 4. The citizen reads the question and answers it.
    look_up(citizen, base, code, key)
    citizen_status(citizen, Status.WAITING_CITIZEN)
    expect(citizen.get_by_test_id("question")).to_contain_text(QUESTION)
    citizen.get_by_label("Nội dung bổ sung", exact=True).fill(REPLY)
    submit(
        citizen,
        citizen.get_by_role("button", name="Bổ sung thông tin", exact=True),
        done="Đã gửi thông tin bổ sung. Hồ sơ tiếp tục được xử lý.",
    )
    citizen_status(citizen, Status.IN_PROGRESS)
    expect(citizen.get_by_test_id("question")).to_have_count(0)

    # 5. The head assigns the officer, the officer drafts, the head edits, approves, sends.
    lead = person()
    log_in(lead, base, head)
    open_from_inbox(lead, base, code, Status.IN_PROGRESS)
    expect(lead.get_by_test_id("replies")).to_contain_text(REPLY)
    lead.get_by_label("Giao cán bộ xử lý", exact=True).select_option(label=names[officer])
    submit(
        lead,
        lead.get_by_role("button", name="Giao xử lý", exact=True),
        done=f"Giao cán bộ {names[officer]} xử lý.",
    )
    expect(lead.get_by_test_id("assigned")).to_have_text(names[officer])
    expect(lead.get_by_role("button", name="Duyệt và gửi trả lời")).to_be_visible()

    work.reload()
    expect(work.get_by_test_id("replies")).to_contain_text(REPLY)
    expect(work.get_by_role("button", name="Duyệt và gửi trả lời")).to_have_count(0)
    # The form names who will approve (issue 16): the unit's head here.
    expect(work.locator(".hint.approver")).to_contain_text("lãnh đạo đơn vị")
    work.get_by_label("Dự thảo trả lời", exact=True).fill(DRAFT)
    submit(
        work,
        work.get_by_role("button", name="Lưu dự thảo trả lời", exact=True),
        done="Đã lưu dự thảo trả lời, chờ lãnh đạo đơn vị duyệt.",
    )
    expect(work.get_by_test_id("draft")).to_have_text(DRAFT)
    expect(work.get_by_test_id("draft-meta")).to_contain_text(f"{names[officer]} soạn lúc")
    desk_status(work, Status.IN_PROGRESS)

    lead.reload()
    approve = lead.get_by_label(
        "Nội dung trả lời người dân (có thể sửa trước khi duyệt)", exact=True
    )
    expect(approve).to_have_value(DRAFT)
    approve.fill(ANSWER)
    submit(
        lead,
        lead.get_by_role("button", name="Duyệt và gửi trả lời", exact=True),
        done=f"Đã duyệt và gửi trả lời hồ sơ {code}",
    )
    desk_status(lead, Status.ANSWERED)
    expect(lead.get_by_test_id("answer-meta")).to_contain_text(f"{names[head]} duyệt")
    expect(lead.locator("div.answer:not([data-testid])")).to_have_text(ANSWER)
    expect(lead.get_by_test_id("draft")).to_have_text(DRAFT)  # kept beside the edited answer

    # 6. The citizen reads the answer and rates it.
    look_up(citizen, base, code, key)
    citizen_status(citizen, Status.ANSWERED)
    expect(citizen.get_by_test_id("answer")).to_have_text(ANSWER)
    expect(citizen.get_by_test_id("response-due")).to_contain_text("đã trả lời lúc")
    rating = citizen.locator("#danh-gia")
    rating.get_by_label("Rất hài lòng", exact=True).check()
    rating.get_by_label("Nhận xét (không bắt buộc)", exact=True).fill(COMMENT)
    submit(
        citizen,
        rating.get_by_role("button", name="Gửi đánh giá", exact=True),
        done="Cảm ơn ông/bà đã đánh giá kết quả giải quyết.",
    )
    expect(citizen.get_by_test_id("rating")).to_contain_text("5/5 – Rất hài lòng")
    expect(citizen.get_by_test_id("rating-comment")).to_contain_text(COMMENT)
    expect(citizen.locator("#danh-gia")).to_have_count(0)  # rated once

    # 7. The head closes the case.
    lead.reload()
    expect(lead.get_by_test_id("rating")).to_contain_text("5/5")
    submit(
        lead,
        lead.get_by_role("button", name="Kết thúc hồ sơ", exact=True),
        done=f"Đã kết thúc hồ sơ {code}.",
    )
    desk_status(lead, Status.CLOSED)
    expect(lead.get_by_role("button", name="Kết thúc hồ sơ")).to_have_count(0)

    # The staff timeline: every step, in order, with who and when.
    steps = staff_timeline(lead)
    people = [s for s in steps if s.who != "Hệ thống"]  # deadline recomputations aside
    assert all(s.note.startswith("Tính lại thời hạn") for s in steps if s.who == "Hệ thống")
    S = Status
    expected: list[tuple[str, str, tuple[Status | None, Status] | None, bool]] = [
        # (who, the note begins with, (from, to) status, internal)
        (CITIZEN, "Tiếp nhận qua cổng trực tuyến.", (None, S.RECEIVED), False),
        (names[coordinator], "Đã xác nhận tiếp nhận", (S.RECEIVED, S.ACKNOWLEDGED), False),
        (
            names[coordinator],
            f"Chuyển từ {TRIAGE_NAME} đến {UNIT_NAME}. Lý do: {TRANSFER_REASON}",
            (S.ACKNOWLEDGED, S.TRANSFERRED),
            True,
        ),
        (names[officer], "Bắt đầu xử lý.", (S.TRANSFERRED, S.IN_PROGRESS), True),
        (names[officer], NOTE, None, True),
        (
            names[officer],
            f"Đề nghị bổ sung thông tin: {QUESTION}",
            (S.IN_PROGRESS, S.WAITING_CITIZEN),
            False,
        ),
        (CITIZEN, f"Người dân bổ sung: {REPLY}", (S.WAITING_CITIZEN, S.IN_PROGRESS), False),
        (names[head], f"Giao cán bộ {names[officer]} xử lý.", None, True),
        (names[officer], "Soạn dự thảo trả lời, trình lãnh đạo đơn vị duyệt.", None, True),
        (names[head], "Đã trả lời người dân.", (S.IN_PROGRESS, S.ANSWERED), False),
        (CITIZEN, f"Người dân đánh giá 5/5. Nhận xét: {COMMENT}", None, False),
        (names[head], "Kết thúc hồ sơ.", (S.ANSWERED, S.CLOSED), False),
    ]
    assert len(people) == len(expected), "\n".join(f"{s.who}: {s.note}" for s in people)
    for step, (who, note, moved, internal) in zip(people, expected, strict=True):
        assert step.who == who and step.note.startswith(note), (step, who, note)
        if moved is not None:
            before = label(moved[0]) if moved[0] else "—"
            assert f"({before} → {label(moved[1])})" in step.note, (step, moved)
        else:
            assert "→" not in step.note, step
        assert step.note.endswith("nội bộ") is internal, (step, internal)
    times = [s.when for s in steps]
    assert times == sorted(times), "the timeline is not in time order"

    # The citizen's timeline: the public steps only, no staff names, no internal notes.
    look_up(citizen, base, code, key)
    citizen_status(citizen, Status.CLOSED)
    public = citizen.get_by_test_id("timeline").locator("li")
    notes = [t.strip() for t in public.all_inner_texts()]
    want = [
        ("Tiếp nhận qua", label(Status.RECEIVED)),
        ("Đã xác nhận tiếp nhận", label(Status.ACKNOWLEDGED)),
        # The move to the ward's unit is public (issue 15); its reason stays internal.
        ("Hồ sơ được chuyển đến UBND Phường Quang Trung", label(Status.TRANSFERRED)),
        (f"Đề nghị bổ sung thông tin: {QUESTION}", label(Status.WAITING_CITIZEN)),
        (f"Người dân bổ sung: {REPLY}", label(Status.IN_PROGRESS)),
        ("Đã trả lời người dân.", label(Status.ANSWERED)),
        (f"Người dân đánh giá 5/5. Nhận xét: {COMMENT}", None),
        ("Kết thúc hồ sơ.", label(Status.CLOSED)),
    ]
    assert len(notes) == len(want), "\n".join(notes)
    for text, (note, status) in zip(notes, want, strict=True):
        assert TIME.match(text), text
        assert note in text, (text, note)
        if status:
            assert text.endswith(f"— {status}"), (text, status)
    page_text = citizen.locator("main").inner_text()
    for hidden in (*names.values(), NOTE, TRANSFER_REASON, DRAFT, "Cán bộ", "Giao cán bộ"):
        assert hidden not in page_text, f"the citizen sees {hidden!r}"
    expect(citizen.get_by_test_id("answer")).to_have_text(ANSWER)

    # And in the database, once.
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert case.status == Status.CLOSED.value
        assert case.handling_unit.code == UNIT and not case.needs_triage
        assert case.assigned_to_id == officer_id
        assert case.answer_drafted_by_id == officer_id
        assert case.answer_approved_by_id == head_id
        assert case.answer_body == ANSWER and case.answer_draft == DRAFT
        assert (case.rating, case.rating_comment) == (5, COMMENT)
        assert case.waiting_since is None
        assert None not in (case.acknowledged_at, case.answered_at, case.closed_at, case.rated_at)
        assert case.acknowledged_at <= case.answered_at <= case.closed_at
        actors = [(e.action, e.actor_id) for e in case.events if e.actor_label != "Hệ thống"]
        assert actors == [
            ("submit", None),
            ("acknowledge", coordinator_id),
            ("transfer", coordinator_id),
            ("start", officer_id),
            ("note", officer_id),
            ("ask_citizen", officer_id),
            ("citizen_reply", None),
            ("assign", head_id),
            ("draft_answer", officer_id),
            ("answer", head_id),
            ("rate", None),
            ("close", head_id),
        ]
        db.session.remove()
