"""The staff's day (issue 16), in a real Chromium at phone size with the demo data: each
role signs in on the login page, lands on its start page and reaches its first task by
clicking, without a dead end: the officer his assigned cases, the unit head the draft
awaiting approval, the coordinator the triage list, the clerk the opening in progress,
the operator the hotline form, the inspector the breach monitor. A screenshot of each
landing page is kept under the test's temporary directory for a look at phone size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import on_engine
from playwright.sync_api import Browser, Page, expect

from feedback.database import unit_of_work
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, on_engine("postgresql")]

PASSWORD = "demo-matkhau-trinh-duyet"
SHOTS = Path(__file__).resolve().parent.parent.parent / "instance" / "screenshots-issue16"


@pytest.fixture
def demo(app: Flask) -> None:
    from feedback.services.demo import load_demo

    with app.app_context(), unit_of_work():
        load_demo(password=PASSWORD, now=datetime.now(UTC))


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN")
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/can-bo/dang-nhap")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    expect(page.locator("h1").first).to_be_visible()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def queue(page: Page, label: str) -> None:
    """Follow the link of ``label`` in the "Việc chờ tôi" strip; it must have work."""
    link = page.locator("nav.queues a", has_text=label)
    expect(link).to_have_count(1)
    count = int(link.locator(".count").inner_text())
    assert count > 0, f"{label}: nothing waits"
    link.click()
    page.wait_for_load_state()


@pytest.mark.parametrize(
    "role",
    ["officer", "unit_head", "coordinator", "clerk", "operator", "inspector"],
)
def test_each_role_reaches_its_first_task(
    demo: None, live_server: str, phone: Page, role: str
) -> None:
    page = phone
    if role == "officer":
        sign_in(page, live_server, "canbo.quangtrung")
        shot(page, "officer-landing")
        queue(page, "Giao cho tôi")
        rows = page.locator("table.cases tbody tr")
        assert rows.count() > 0
        rows.first.locator("a").first.click()
        expect(page.locator("form[action$='/ghi-chu']")).to_have_count(1)
    elif role == "unit_head":
        sign_in(page, live_server, "lanhdao.quangtrung")
        shot(page, "unit-head-landing")
        queue(page, "Dự thảo chờ duyệt")
        page.locator("table.cases tbody tr a").first.click()
        expect(page.get_by_role("button", name="Duyệt và gửi trả lời")).to_be_visible()
        expect(page.get_by_role("button", name="Trả lại dự thảo")).to_be_visible()
        shot(page, "unit-head-approve")
    elif role == "coordinator":
        sign_in(page, live_server, "vanphong")
        shot(page, "coordinator-landing")
        queue(page, "Chờ phân loại")
        assert "phan-loai" in page.url
        expect(page.locator("main form").first).to_be_visible()
        page.goto(f"{live_server}/can-bo/don-vi-chua-co-lanh-dao")
        expect(page.locator("h1")).to_have_text("Đơn vị chưa có lãnh đạo")
        shot(page, "coordinator-headless-units")
    elif role == "clerk":
        sign_in(page, live_server, "homthu")
        shot(page, "clerk-landing")
        page.locator("header nav a", has_text="Hòm thư góp ý").click()
        expect(page.locator("table.cases tbody tr")).to_have_count(2)
        assert "Chưa có hòm thư nào" not in page.content()
        page.locator("a", has_text="HT-00688-02").click()
        page.wait_for_load_state()
        shot(page, "clerk-box")
        page.locator("a[href*='/lan-mo/']").first.click()
        page.wait_for_load_state()
        expect(page.locator("a[href$='/nhap-thu']").first).to_be_visible()
    elif role == "operator":
        sign_in(page, live_server, "tongdai")
        shot(page, "operator-landing")
        page.locator("header nav a", has_text="Tổng đài 1022").click()
        page.wait_for_load_state()
        expect(page.locator("form textarea").first).to_be_visible()
    else:
        sign_in(page, live_server, "thanhtra")
        shot(page, "inspector-landing")
        page.locator("header nav a", has_text="Giám sát thời hạn").click()
        page.wait_for_load_state()
        assert page.locator("table tbody tr").count() > 0
        shot(page, "inspector-monitor")


def test_a_unit_without_a_head_gets_its_draft_approved_by_the_coordinator(
    demo: None, app: Flask, live_server: str, browser: Browser, make_case: Any
) -> None:
    """The environment company (MTDT) has an officer and no head: the draft form names the
    coordinator's office as approver, the draft lands in the coordinator's queue of drafts
    to approve, and the coordinator approves it: the case is answered."""
    from sqlalchemy import func, select

    from feedback.extensions import db
    from feedback.models import Case, User
    from feedback.services.handling import actions

    code = make_case(category_code="6.3c", subject="Rác thải chưa được thu gom ở tổ 5")
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.handling_unit.code == "MTDT"
        officer = db.session.scalar(
            select(User).where(func.lower(User.username) == "canbo.moitruong")
        )
        now = datetime.now(UTC)
        actions.acknowledge(case, officer, now)
        actions.start(case, officer, now)

    contexts = [
        browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN")
        for _ in range(2)
    ]
    try:
        work, office = (context.new_page() for context in contexts)
        sign_in(work, live_server, "canbo.moitruong")
        work.goto(f"{live_server}/can-bo/ho-so/{code}")
        expect(work.locator(".hint.approver")).to_contain_text("chưa có lãnh đạo")
        work.get_by_label("Dự thảo trả lời", exact=True).fill(
            "Công ty đã bố trí xe thu gom rác tại tổ 5 từ ngày mai."
        )
        work.get_by_role("button", name="Lưu dự thảo trả lời", exact=True).click()
        work.wait_for_load_state()
        expect(work.locator("p.flash.ok")).to_contain_text(
            "chờ Văn phòng HĐND-UBND (đơn vị chưa có lãnh đạo) duyệt"
        )
        expect(work.get_by_test_id("draft")).to_contain_text("xe thu gom rác tại tổ 5")
        expect(work.get_by_role("button", name="Duyệt và gửi trả lời")).to_have_count(0)
        shot(work, "headless-unit-draft")

        sign_in(office, live_server, "vanphong")
        queue(office, "Dự thảo chờ duyệt")
        office.locator("table.cases tbody tr a", has_text=code).click()
        office.wait_for_load_state()
        office.get_by_role("button", name="Duyệt và gửi trả lời").click()
        office.wait_for_load_state()
        shot(office, "headless-unit-approved")
    finally:
        for context in contexts:
            context.close()
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        approver = db.session.get(User, case.answer_approved_by_id)
        assert case.status == "answered" and approver is not None
        assert approver.username == "vanphong"
        db.session.remove()
