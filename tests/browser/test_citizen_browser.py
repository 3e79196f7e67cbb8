"""A citizen on a phone, in a real Chromium: submit, read the code and key, look the case up;
the officer of the handling unit finds it in the inbox. The app runs in a background thread
(werkzeug), so every request goes through a real socket, cookies and all."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import PASSWORD, on_engine
from playwright.sync_api import Browser, Page, expect

from feedback.domain.states import STATUS_LABELS, Status
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, on_engine("sqlite")]


CATEGORY_LABEL = "6.3b – Đường sá, giao thông, an toàn giao thông"
AREA_LABEL = "Phường Quang Trung"
HANDLING_UNIT = "UBND-00688"  # 6.3b in 00688, by the routing table
SUBJECT = "Ổ gà lớn trên đường Nguyễn Thái Học"
BODY = "Trước số nhà 45 có ổ gà sâu khoảng 20 cm, đã có người đi xe máy bị ngã."


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Pages on a phone-sized viewport, each in its own context (own cookies)."""
    contexts: list[Any] = []

    def make() -> Page:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN"
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _fill_form(page: Page, *, body: str) -> None:
    page.get_by_label("Loại", exact=True).select_option(label="Kiến nghị")
    page.get_by_label("Lĩnh vực", exact=True).select_option(label=CATEGORY_LABEL)
    page.get_by_label("Xã, phường nơi xảy ra sự việc", exact=True).select_option(label=AREA_LABEL)
    page.get_by_label("Tiêu đề", exact=True).fill(SUBJECT)
    page.get_by_label("Nội dung", exact=True).fill(body)
    page.get_by_label("Họ và tên", exact=True).fill("Hoàng Thị Mai")
    page.get_by_label("Số điện thoại", exact=True).fill("0915 222 333")


def test_citizen_submits_and_looks_up_on_a_phone(
    live_server: str, new_page: Callable[[], Page], make_user: Callable[..., Any]
) -> None:
    page = new_page()
    page.goto(f"{live_server}/gui")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", name="Gửi phản ánh, kiến nghị")).to_be_visible()
    assert _fits_the_screen(page), "the form scrolls sideways on a phone"

    _fill_form(page, body=BODY)
    page.get_by_role("button", name="Gửi", exact=True).click()
    page.wait_for_url(re.compile(r"/gui/da-nhan/"))

    code = page.get_by_test_id("case-code").inner_text().strip()
    key = page.get_by_test_id("access-key").inner_text().strip()
    assert re.fullmatch(r"[A-Z]+-\d{4}-\d{6}", code), code
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", key), key
    expect(page.get_by_test_id("response-due")).to_contain_text("23:59")
    assert _fits_the_screen(page), "the success page scrolls sideways on a phone"

    lookup = new_page()  # later, on another visit: only the code and key are known
    lookup.goto(f"{live_server}/tra-cuu")
    lookup.get_by_label("Mã hồ sơ", exact=True).fill(code)
    lookup.get_by_label("Mã tra cứu", exact=True).fill(key.lower())
    lookup.get_by_role("button", name="Tra cứu", exact=True).click()
    expect(lookup.get_by_test_id("status")).to_have_text(STATUS_LABELS[Status.RECEIVED])
    expect(lookup.get_by_role("heading", name=f"Hồ sơ {code}")).to_be_visible()
    expect(lookup.locator("body")).to_contain_text(SUBJECT)

    _, username = make_user("officer", unit_code=HANDLING_UNIT)
    desk = new_page()
    desk.goto(f"{live_server}/can-bo/")
    desk.wait_for_url(re.compile(r"/can-bo/dang-nhap"))  # not logged in yet
    desk.get_by_label("Tên đăng nhập", exact=True).fill(username)
    desk.get_by_label("Mật khẩu", exact=True).fill(PASSWORD)
    desk.get_by_role("button", name="Đăng nhập", exact=True).click()
    desk.wait_for_url(re.compile(r"/can-bo/(\?.*)?$"))
    row = desk.locator(f'tr[data-code="{code}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text(SUBJECT)
    row.get_by_role("link", name=code).click()
    expect(desk.get_by_role("heading", name=re.compile(re.escape(code)))).to_be_visible()
    expect(desk.locator("body")).to_contain_text("Hoàng Thị Mai")


def test_empty_body_shows_a_vietnamese_error_and_keeps_the_rest(
    live_server: str, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    page.goto(f"{live_server}/gui")
    _fill_form(page, body="")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Gửi", exact=True).click()
    assert answer.value.status == 422
    expect(page.get_by_role("alert")).to_contain_text("Thông tin chưa hợp lệ")
    expect(page.locator("#body-error")).to_have_text("Vui lòng điền mục này.")
    expect(page.get_by_label("Nội dung", exact=True)).to_have_attribute("aria-invalid", "true")

    expect(page.get_by_label("Tiêu đề", exact=True)).to_have_value(SUBJECT)
    expect(page.get_by_label("Họ và tên", exact=True)).to_have_value("Hoàng Thị Mai")
    expect(page.get_by_label("Số điện thoại", exact=True)).to_have_value("0915 222 333")
    expect(page.get_by_label("Loại", exact=True)).to_have_value("petition")
    expect(page.get_by_label("Lĩnh vực", exact=True)).to_have_value("6.3b")
    expect(page.get_by_label("Xã, phường nơi xảy ra sự việc", exact=True)).to_have_value("00688")
    assert _fits_the_screen(page)

    # Fixing the one field is enough: the kept form goes through.
    page.get_by_label("Nội dung", exact=True).fill(BODY)
    page.get_by_role("button", name="Gửi", exact=True).click()
    page.wait_for_url(re.compile(r"/gui/da-nhan/"))
    expect(page.get_by_test_id("access-key")).to_be_visible()
