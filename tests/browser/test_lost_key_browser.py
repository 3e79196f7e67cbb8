"""Issue 15, "the key survives a reload": in a real Chromium, on a phone and on a desktop,
a citizen who leaves only a phone number submits, loses the key when the success page
reloads, asks for a new one through "Quên mã tra cứu" and finds it in the SMS the stand-in
gateway receives; the new key opens the case, the old one no longer does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from gateway_helpers import Gateway
from helpers import on_engine
from playwright.sync_api import Browser, Page, expect

from feedback.domain.states import STATUS_LABELS, Status
from feedback.extensions import db
from feedback.services.sla.delivery import deliver
from tests.browser.conftest import PHONE
from tests.browser.test_citizen_browser import BODY, _fill_form

pytestmark = [pytest.mark.browser, on_engine("sqlite")]

KEY = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_config(gateway: Gateway) -> dict[str, Any]:
    return {"SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_TOKEN": "t"}


@pytest.fixture(params=["phone", "desktop"])
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    contexts: list[Any] = []

    def make() -> Page:
        if request.param == "phone":
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


def sms_texts(app: Flask, gateway: Gateway) -> list[str]:
    """Deliver the outbox now; the texts the gateway has received so far."""
    with app.app_context():
        deliver(datetime.now(UTC))
        db.session.remove()
    return [r.body["text"] for r in gateway.received()]


def look_up(page: Page, live_server: str, code: str, key: str) -> None:
    page.goto(f"{live_server}/tra-cuu")
    page.get_by_label("Mã hồ sơ", exact=True).fill(code)
    page.get_by_label("Mã tra cứu", exact=True).fill(key)
    page.get_by_role("button", name="Tra cứu", exact=True).click()


def test_the_key_survives_a_reload_through_the_lost_key_flow(
    app: Flask, live_server: str, new_page: Callable[[], Page], gateway: Gateway
) -> None:
    page = new_page()
    page.goto(f"{live_server}/gui")
    _fill_form(page, body=BODY)  # a name and a phone number, no e-mail
    page.get_by_role("button", name="Gửi", exact=True).click()
    page.wait_for_url(re.compile(r"/gui/da-nhan/"))
    code = page.get_by_test_id("case-code").inner_text().strip()
    first_key = page.get_by_test_id("access-key").inner_text().strip()

    # Switching apps reloads the tab: the key is not shown again.
    page.reload()
    expect(page.get_by_test_id("case-code")).to_have_text(code)
    expect(page.get_by_test_id("access-key")).to_have_count(0)

    # The receipt SMS carries it anyway.
    (receipt,) = sms_texts(app, gateway)
    assert first_key in receipt and code in receipt

    # "Lost my key", from the success page: the code is filled in.
    page.get_by_test_id("lost-key-link").click()
    page.wait_for_url(re.compile(r"/tra-cuu/quen-ma"))
    expect(page.get_by_label("Mã hồ sơ", exact=True)).to_have_value(code)
    page.get_by_label("Số điện thoại hoặc thư điện tử đã để lại khi gửi", exact=True).fill(
        "0915222333"
    )
    page.get_by_role("button", name="Gửi mã tra cứu mới", exact=True).click()
    page.wait_for_url(re.compile(r"/tra-cuu/quen-ma/da-gui"))
    expect(page.get_by_test_id("lost-key-sent")).to_be_visible()
    assert not KEY.search(page.content()), "the new key is never shown on screen"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    texts = sms_texts(app, gateway)
    assert len(texts) == 2
    found = KEY.search(texts[1])
    assert found and found.group(0) != first_key
    new_key = found.group(0)

    look_up(page, live_server, code, new_key)
    expect(page.get_by_test_id("status")).to_have_text(STATUS_LABELS[Status.RECEIVED])
    expect(page.get_by_role("heading", name=f"Hồ sơ {code}")).to_be_visible()

    other = new_page()
    look_up(other, live_server, code, first_key)
    expect(other.locator("body")).to_contain_text("Mã hồ sơ hoặc mã tra cứu không đúng.")
