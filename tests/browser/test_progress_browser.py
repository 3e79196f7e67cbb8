"""A late case handled in the open (issue 16), end to end in a real Chromium at phone size:
the officer signs in, opens an overdue case, finds the progress form put forward, posts
what was done, a photo and the day he commits to; the citizen, with the case code and
access key, reads the update and sees the photo on the timeline, and the promised day on
the status page. Screenshots of the desk form and of the status page are kept under
instance/screenshots-issue16."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from helpers import PASSWORD, on_engine, png_bytes
from playwright.sync_api import Browser, Page, expect

from feedback.database import unit_of_work
from feedback.domain.deadlines import local_date
from feedback.services.intake.submission import CaseInput, Reporter, submit_case
from tests.browser.conftest import PHONE
from tests.browser.test_accessibility import RULES

pytestmark = [pytest.mark.browser, on_engine("postgresql")]

SHOTS = Path(__file__).resolve().parent.parent.parent / "instance" / "screenshots-issue16"
UPDATE = (
    "Đã khảo sát hiện trường ngày 03/12; Điện lực đang cấp bóng đèn thay thế cho ba cột đèn "
    "trước nhà văn hóa tổ 5."
)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Pages on a phone-sized viewport, each in its own context (own cookies)."""
    contexts: list[Any] = []

    def make() -> Page:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN", bypass_csp=True
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def late_case(app: Flask) -> tuple[str, str]:
    """A case of UBND-00688 received three weeks ago (past its six working days)."""
    data = CaseInput(
        kind="feedback",
        subject="Đèn đường hỏng ở tổ 5",
        body="Ba cột đèn trước nhà văn hóa tổ 5 không sáng từ ba tuần nay.",
        category_code="6.3b",
        area_code="00688",
        reporter=Reporter(name="Trần Thị Bình", phone="0912000111", email="binh@example.vn"),
    )
    with app.app_context(), unit_of_work():
        made = submit_case(data, actor=None, now=datetime.now(UTC) - timedelta(days=21))
        assert made.access_key is not None
        return made.case.code, made.access_key


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 AA findings on the page as it stands (the suite's rules)."""
    page.evaluate(Axe().axe_script)
    found = page.evaluate("options => axe.run(document, options)", RULES)
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in found["violations"]]


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_officer_posts_a_committed_day_and_the_citizen_reads_it(
    app: Flask, live_server: str, new_page: Callable[[], Page], make_user: Callable[..., Any]
) -> None:
    code, key = late_case(app)
    _, username = make_user("officer", unit_code="UBND-00688")
    day = local_date(datetime.now(UTC)) + timedelta(days=5)

    desk = new_page()
    desk.goto(f"{live_server}/can-bo/dang-nhap")
    desk.get_by_label("Tên đăng nhập", exact=True).fill(username)
    desk.get_by_label("Mật khẩu", exact=True).fill(PASSWORD)
    desk.get_by_role("button", name="Đăng nhập", exact=True).click()
    desk.wait_for_url(re.compile(r"/can-bo/(\?.*)?$"))
    desk.locator(f'tr[data-code="{code}"]').get_by_role("link", name=code).click()
    expect(desk.get_by_role("heading", name=re.compile(re.escape(code)))).to_be_visible()

    section = desk.get_by_test_id("progress")
    expect(section.get_by_test_id("progress-urgent")).to_contain_text("đã quá hạn trả lời")
    text = section.get_by_label("Việc đã làm, việc còn lại (người dân đọc được)")
    when = section.get_by_label("Hẹn trả lời trước hết ngày")
    text.fill(UPDATE)

    # A browser that ignores the date input's minimum sends yesterday: the server refuses
    # it beside the field, in Vietnamese, and keeps the text.
    yesterday = day - timedelta(days=6)
    when.evaluate("input => input.removeAttribute('min')")
    when.fill(yesterday.isoformat())
    with desk.expect_response(lambda r: r.request.method == "POST") as refused:
        section.get_by_role("button", name="Đăng cập nhật tiến độ").click()
    assert refused.value.status == 422
    expect(desk.get_by_test_id("progress-day-error")).to_contain_text(
        "Ngày hẹn không được trước hôm nay"
    )
    expect(text).to_have_value(UPDATE)
    expect(when).to_have_attribute("aria-invalid", "true")
    expect(when).to_be_focused()  # the refused field in view, not the top of the case page
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk.get_by_test_id("progress").screenshot(path=str(SHOTS / "progress-desk-refused.png"))
    assert axe_violations(desk) == []

    when.fill(day.isoformat())
    section.get_by_label("Ảnh hiện trường (không bắt buộc)").set_input_files(
        [{"name": "cot-den-to-5.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(SHOTS / "progress-desk-form.png"))
    assert fits_the_screen(desk), "the case page scrolls sideways on a phone"
    section.get_by_role("button", name="Đăng cập nhật tiến độ").click()
    desk.wait_for_url(re.compile(rf"/can-bo/ho-so/{code}#tien-do$"))
    expect(desk.locator(".flash.ok")).to_contain_text(
        f"hẹn trả lời trước hết ngày {day:%d/%m/%Y}; người gửi được thông báo"
    )
    expect(desk.get_by_test_id("progress-update")).to_have_count(1)
    expect(desk.get_by_test_id("progress-day")).to_have_text(f"{day:%d/%m/%Y}")
    desk.get_by_test_id("progress").screenshot(path=str(SHOTS / "progress-desk-posted.png"))
    assert axe_violations(desk) == []

    citizen = new_page()
    citizen.goto(f"{live_server}/tra-cuu")
    citizen.get_by_label("Mã hồ sơ", exact=True).fill(code)
    citizen.get_by_label("Mã tra cứu", exact=True).fill(key)
    citizen.get_by_role("button", name="Tra cứu", exact=True).click()
    expect(citizen.get_by_role("heading", name=f"Hồ sơ {code}")).to_be_visible()
    expect(citizen.get_by_test_id("committed-day")).to_contain_text(
        f"Cơ quan hẹn trả lời trước hết ngày {day:%d/%m/%Y}"
    )
    expect(citizen.get_by_test_id("committed-day")).to_contain_text(
        "vẫn được tính là trả lời quá hạn"
    )
    timeline = citizen.get_by_test_id("timeline")
    expect(timeline).to_contain_text(f"Cập nhật tiến độ: {UPDATE}")
    expect(timeline).to_contain_text(f"Hẹn trả lời trước hết ngày {day:%d/%m/%Y}.")
    photo = timeline.get_by_role("img", name="Ảnh 1 kèm cập nhật tiến độ (mở cỡ lớn)")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0"), "the photo did not load"
    assert fits_the_screen(citizen), "the status page scrolls sideways on a phone"
    citizen.screenshot(path=str(SHOTS / "progress-status.png"), full_page=True)
    assert axe_violations(citizen) == []
