"""Issue 15 in a real Chromium, on a phone and on a desktop: the photo chosen before
"Xem phản ánh tương tự" is still there for "Gửi" (and listed afterwards), the check's
results are on screen where the citizen pressed, and a rate-limited "Gửi" keeps
everything typed. Screenshots go to $H12_SHOTS when it is set (to look at the pages)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import on_engine, png_bytes
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, on_engine("sqlite")]

DESKTOP = {"width": 1280, "height": 900}
CATEGORY_LABEL = "6.3b – Đường sá, giao thông, an toàn giao thông"
AREA_LABEL = "Phường Quang Trung"
SUBJECT = "Ổ gà lớn trên đường Nguyễn Thái Học"
BODY = "Trước số nhà 45 có ổ gà sâu khoảng 20 cm, đã có người đi xe máy bị ngã."
NAME, PHONE_NUMBER = "Hoàng Thị Mai", "0915 222 333"


@pytest.fixture(params=["phone", "desktop"])
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    if request.param == "phone":
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN"
        )
    else:
        context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str, *, full: bool = True) -> None:
    folder = os.environ.get("H12_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=full)


def fill_case(page: Page, *, contact: bool = True, subject: str = SUBJECT) -> None:
    page.get_by_label("Loại", exact=True).select_option(label="Phản ánh")
    page.get_by_label("Lĩnh vực", exact=True).select_option(label=CATEGORY_LABEL)
    page.get_by_label("Xã, phường nơi xảy ra sự việc", exact=True).select_option(label=AREA_LABEL)
    page.get_by_label("Tiêu đề", exact=True).fill(subject)
    page.get_by_label("Nội dung", exact=True).fill(BODY)
    if contact:
        page.get_by_label("Họ và tên", exact=True).fill(NAME)
        page.get_by_label("Số điện thoại", exact=True).fill(PHONE_NUMBER)


def on_screen(page: Page, selector: str) -> bool:
    """Whether the element's top is inside the visible part of the page."""
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                       return r.top >= 0 && r.top < window.innerHeight; }""",
        selector,
    )


def test_the_photo_survives_the_check(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/gui")
    fill_case(page, contact=False)  # the check asks for nothing personal
    page.set_input_files(
        "#attachments", files=[{"name": "o-ga.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    page.get_by_role("button", name="Xem phản ánh tương tự").click()
    page.wait_for_load_state()
    hints = page.get_by_test_id("hints")
    expect(hints).to_be_visible()
    assert re.search(r"#tuong-tu$", page.url), page.url
    assert on_screen(page, '[data-testid="hints"]'), "the results are off screen"
    expect(page.get_by_test_id("kept-file")).to_have_text("o-ga.png")
    expect(page.get_by_label("Tiêu đề", exact=True)).to_have_value(SUBJECT)
    assert not page.locator(".error").count()  # no name or phone asked for
    expect(page.get_by_test_id("kept-summary")).to_contain_text("o-ga.png")
    shot(page, "check", full=False)  # what the citizen sees after pressing

    page.get_by_label("Họ và tên", exact=True).fill(NAME)
    page.get_by_label("Số điện thoại", exact=True).fill(PHONE_NUMBER)
    page.get_by_role("button", name="Gửi", exact=True).click()
    page.wait_for_url(re.compile(r"/gui/da-nhan/"))
    expect(page.get_by_test_id("file")).to_contain_text("o-ga.png")
    expect(page.get_by_test_id("promise")).to_contain_text("xác nhận đã tiếp nhận trong 24 giờ")
    shot(page, "success")

    # The status page, after the look-up with the code and key just shown.
    code = page.get_by_test_id("case-code").inner_text().strip()
    key = page.get_by_test_id("access-key").inner_text().strip()
    page.goto(f"{live_server}/tra-cuu")
    page.get_by_label("Mã hồ sơ", exact=True).fill(code)
    page.get_by_label("Mã tra cứu", exact=True).fill(key)
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_url(re.compile(rf"/tra-cuu/{code}$"))
    expect(page.get_by_test_id("body")).to_have_text(BODY)
    expect(page.get_by_test_id("file")).to_contain_text("o-ga.png")
    shot(page, "status")


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_SUBMIT": "1/minute"}]
)
def test_a_429_keeps_the_text(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/gui")
    fill_case(page)
    page.get_by_role("button", name="Gửi", exact=True).click()
    page.wait_for_url(re.compile(r"/gui/da-nhan/"))

    page.goto(f"{live_server}/gui")
    second = "Đèn đường tổ 5 không sáng"
    fill_case(page, subject=second)
    page.set_input_files(
        "#attachments", files=[{"name": "den.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Gửi", exact=True).click()
    assert answer.value.status == 429
    expect(page.get_by_test_id("form-error")).to_contain_text("vui lòng bấm «Gửi» lại sau khoảng")
    expect(page.get_by_label("Tiêu đề", exact=True)).to_have_value(second)
    expect(page.get_by_label("Nội dung", exact=True)).to_have_value(BODY)
    expect(page.get_by_label("Họ và tên", exact=True)).to_have_value(NAME)
    expect(page.get_by_label("Số điện thoại", exact=True)).to_have_value(PHONE_NUMBER)
    expect(page.get_by_test_id("kept-file")).to_have_text("den.png")
    shot(page, "too-many")


def test_the_form_explains_the_kinds(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/gui")
    page.get_by_text("Chọn loại nào? Cơ quan trả lời trong bao lâu?").click()
    expect(page.get_by_test_id("kind-complaint")).to_contain_text("10 ngày làm việc")
    expect(page.get_by_test_id("named-kinds-warning")).to_be_visible()
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the form scrolls sideways"
    shot(page, "kinds")
    folder = os.environ.get("H12_SHOTS")
    if folder:
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.get_by_test_id("kinds").screenshot(path=str(Path(folder) / f"kinds-box-{width}.png"))


def test_an_anonymous_complaint_is_warned_before_it_is_sent(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/gui")
    fill_case(page, contact=False)
    page.get_by_label("Loại", exact=True).select_option(label="Khiếu nại")
    page.get_by_label("Gửi ẩn danh (không để lại thông tin cá nhân)").check()
    page.get_by_role("button", name="Gửi", exact=True).click()
    warning = page.locator("#anonymous-error")
    expect(warning).to_contain_text("Khiếu nại gửi ẩn danh sẽ không được thụ lý giải quyết")
    understood = page.get_by_label("Tôi đã đọc lưu ý trên và vẫn muốn gửi ẩn danh")
    understood.scroll_into_view_if_needed()
    shot(page, "anonymous-complaint", full=False)
    understood.check()
    page.get_by_role("button", name="Gửi", exact=True).click()
    page.wait_for_url(re.compile(r"/gui/da-nhan/"))
    expect(page.get_by_test_id("anonymous-warning")).to_contain_text("không được thụ lý")
