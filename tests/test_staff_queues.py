"""What waits on whom (issue 16): each role's queues with their counts in the navigation,
the approval of drafts (by the head, a named approver or the coordinator), returned
drafts, and the inbox's filters, through the desk pages with CSRF on."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Case, User

UNIT = "UBND-00694"  # the handling unit of make_case's default (6.3b, area 00694)
CASE = "/can-bo/ho-so/{}"


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return html.unescape(response.text)


def act(client: FlaskClient, code: str, slug: str, expect: int = 303, **form: str) -> Any:
    token = csrf_from(client.get("/can-bo/").text)
    response = client.post(f"{CASE.format(code)}/{slug}", data={"csrf_token": token, **form})
    assert response.status_code == expect, (slug, response.status_code, response.text[:500])
    return response


def queue_count(text: str, label: str) -> int | None:
    """The count beside ``label`` in the "Việc chờ tôi" strip (None: not shown)."""
    strip = re.search(r'<nav class="queues".*?</nav>', text, re.S)
    if strip is None:
        return None
    found = re.search(re.escape(label) + r'\s*<strong class="count">(\d+)</strong>', strip[0])
    return int(found[1]) if found else None


def codes_in(text: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-code="([^"]+)"', text)


def login(app: Flask, make_user: Callable[..., Any], role: str, unit: str | None) -> FlaskClient:
    return client_for(app, make_user(role, unit_code=unit)[1])


def test_the_approval_queue_from_draft_to_answer(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    code = make_case()
    officer = login(app, make_user, "officer", UNIT)
    head = login(app, make_user, "unit_head", UNIT)
    act(officer, code, "xac-nhan-tiep-nhan")
    act(officer, code, "nhan-xu-ly")
    assert queue_count(page(officer, "/can-bo/"), "Giao cho tôi") == 1
    assert queue_count(page(head, "/can-bo/"), "Dự thảo chờ duyệt") == 0

    act(officer, code, "du-thao", body="Đơn vị đã thay bóng đèn ngày 3/12.")
    head_inbox = page(head, "/can-bo/")
    assert queue_count(head_inbox, "Dự thảo chờ duyệt") == 1
    assert codes_in(page(head, "/can-bo/?cho=duyet")) == [code]

    # Returned with what to change: off the head's queue, onto the officer's.
    act(head, code, "tra-lai-du-thao", reason="Ghi rõ ngày thay bóng đèn.")
    assert queue_count(page(head, "/can-bo/"), "Dự thảo chờ duyệt") == 0
    assert queue_count(page(officer, "/can-bo/"), "Dự thảo bị trả lại") == 1
    assert codes_in(page(officer, "/can-bo/?cho=tra-lai")) == [code]

    act(officer, code, "du-thao", body="Đơn vị đã thay bóng đèn sáng ngày 3/12/2026.")
    assert queue_count(page(officer, "/can-bo/"), "Dự thảo bị trả lại") == 0
    assert queue_count(page(head, "/can-bo/"), "Dự thảo chờ duyệt") == 1
    act(head, code, "duyet-tra-loi", body="")
    assert queue_count(page(head, "/can-bo/"), "Dự thảo chờ duyệt") == 0
    assert codes_in(page(head, "/can-bo/?cho=duyet")) == []
    assert queue_count(page(officer, "/can-bo/"), "Giao cho tôi") == 0


def test_a_unit_without_a_head_is_approved_by_the_coordinator_or_its_named_approver(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    code = make_case()
    officer = login(app, make_user, "officer", UNIT)
    _, other_name = make_user("officer", unit_code=UNIT)
    other = client_for(app, other_name)
    coordinator = login(app, make_user, "coordinator", None)
    act(officer, code, "xac-nhan-tiep-nhan")
    act(officer, code, "nhan-xu-ly")
    assert "Dự thảo sẽ được Văn phòng HĐND-UBND (đơn vị chưa có lãnh đạo) phê duyệt" in page(
        officer, CASE.format(code)
    )
    act(officer, code, "du-thao", body="Đơn vị đã thay bóng đèn ngày 3/12.")
    assert queue_count(page(coordinator, "/can-bo/"), "Dự thảo chờ duyệt") == 1
    units = page(coordinator, "/can-bo/don-vi-chua-co-lanh-dao")
    assert f'data-unit="{UNIT}"' in units

    # The coordinator names the other officer: he approves, the coordinator no longer.
    token = csrf_from(units)
    response = coordinator.post(
        "/can-bo/don-vi-chua-co-lanh-dao",
        data={"csrf_token": token, "unit_code": UNIT, "username": other_name},
    )
    assert response.status_code == 303
    assert queue_count(page(coordinator, "/can-bo/"), "Dự thảo chờ duyệt") == 0
    assert queue_count(page(other, "/can-bo/"), "Dự thảo chờ duyệt") == 1
    assert "Duyệt và gửi trả lời" not in page(officer, CASE.format(code))
    act(coordinator, code, "duyet-tra-loi", expect=403, body="")
    act(other, code, "duyet-tra-loi", body="")
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        approver = db.session.get(User, case.answer_approved_by_id)
        assert case.status == "answered" and approver.username == other_name


def test_a_draft_nobody_could_approve_is_refused(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    """No head, no named approver and no coordinator account: the draft is not saved."""
    code = make_case()
    officer = login(app, make_user, "officer", UNIT)
    act(officer, code, "xac-nhan-tiep-nhan")
    act(officer, code, "nhan-xu-ly")
    text = page(officer, CASE.format(code))
    assert "Đơn vị chưa có ai phê duyệt dự thảo" in text
    act(officer, code, "du-thao", body="Đơn vị đã thay bóng đèn ngày 3/12.")
    flashed = page(officer, CASE.format(code))
    assert "chưa có ai được giao phê duyệt" in flashed
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.answer_draft is None


def test_triage_leaves_closed_cases_out(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    kept, closed = make_case(), make_case()
    with app.app_context():
        from feedback.database import unit_of_work

        with unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == closed))
            case.status, case.needs_triage = "closed", True
            db.session.scalar(select(Case).where(Case.code == kept)).needs_triage = True
    coordinator = login(app, make_user, "coordinator", None)
    text = page(coordinator, "/can-bo/phan-loai")
    assert kept in text and closed not in text
    assert queue_count(page(coordinator, "/can-bo/"), "Chờ phân loại") == 1


def test_the_inbox_shows_open_cases_first_and_filters(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    petition = make_case(kind="petition")
    complaint = make_case(kind="complaint", category_code="3.2")
    closed = make_case()
    with app.app_context():
        from feedback.database import unit_of_work

        with unit_of_work():
            db.session.scalar(select(Case).where(Case.code == closed)).status = "closed"
            unit = db.session.scalar(select(Case).where(Case.code == petition)).handling_unit
            db.session.scalar(select(Case).where(Case.code == complaint)).handling_unit = unit
    head = login(app, make_user, "unit_head", UNIT)
    everything = page(head, "/can-bo/")
    assert closed not in codes_in(everything)
    assert {petition, complaint} <= set(codes_in(everything))
    assert codes_in(page(head, "/can-bo/?trang_thai=dong")) == [closed]
    assert codes_in(page(head, "/can-bo/?loai=complaint")) == [complaint]
    assert codes_in(page(head, "/can-bo/?kenh=hotline")) == []
    # Each kind's own acknowledgement limit names its column.
    row = re.search(rf'data-code="{complaint}".*?</tr>', everything, re.S)
    assert row is not None and "Hạn 24 giờ" not in row[0], row[0]
    row = re.search(rf'data-code="{petition}".*?</tr>', everything, re.S)
    assert row is not None and "Hạn 24 giờ" in row[0]
    assert head.get("/can-bo/?loai=xyz").status_code == 422
    assert head.get("/can-bo/?cho=phan-loai").status_code == 422  # not the head's queue


def test_a_clerk_without_boxes_registers_his_units_box(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    """The clerk's page said "Chưa có hòm thư nào do đơn vị mở." and offered nothing."""
    clerk = login(app, make_user, "clerk", "UBND-00688")
    text = page(clerk, "/can-bo/hom-thu/")
    assert "Chưa có hòm thư nào do đơn vị mở." in text
    assert 'href="/can-bo/hom-thu/them"' in text
    form = page(clerk, "/can-bo/hom-thu/them")
    token = csrf_from(form)
    # Another ward is refused: a clerk's box stands in his unit's own ward.
    response = clerk.post(
        "/can-bo/hom-thu/them",
        data={
            "csrf_token": token,
            "code": "HT-00691-09",
            "location": "Chợ Trần Phú",
            "area_code": "00691",
            "opener_unit_code": "",
        },
    )
    assert response.status_code == 422
    assert "Hòm thư của đơn vị phải đặt tại" in html.unescape(response.text)
    response = clerk.post(
        "/can-bo/hom-thu/them",
        data={
            "csrf_token": token,
            "code": "HT-00688-09",
            "location": "Nhà văn hóa tổ 9",
            "area_code": "00688",
            "opener_unit_code": "",
        },
    )
    assert response.status_code == 303, response.text[:500]
    text = page(clerk, "/can-bo/hom-thu/")
    assert "HT-00688-09" in text
    with app.app_context():
        from feedback.models import SuggestionBox

        box = db.session.scalar(select(SuggestionBox).where(SuggestionBox.code == "HT-00688-09"))
        assert box is not None and box.opener_unit.code == "UBND-00688"


def test_the_inbox_links_its_export_with_its_filters(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    petition = make_case(kind="petition")
    feedback = make_case()
    head = login(app, make_user, "unit_head", UNIT)
    text = page(head, "/can-bo/?loai=petition&han=30")
    link = re.search(r'<a href="([^"]+)">CSV</a>', text)
    assert link is not None and "/can-bo/xuat/cases.csv?" in link[1]
    assert "open=1" in link[1] and "kind=petition" in link[1] and "due_days=30" in link[1]
    response = head.get(html.unescape(link[1]))
    assert response.status_code == 200, response.text[:300]
    lines = response.data.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["Mã hồ sơ", "Mã loại", "Loại hồ sơ", "Mã kênh"]
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
    assert [r["Mã hồ sơ"] for r in rows] == [petition] and feedback not in response.text
    assert rows[0]["Mã loại"] == "petition" and rows[0]["Loại hồ sơ"] == "Kiến nghị"
    assert rows[0]["Trạng thái"] == "Mới tiếp nhận" or rows[0]["Mã trạng thái"] == "received"
    # The queue filter travels too, and refuses a queue that is not the user's.
    assert head.get("/can-bo/xuat/cases.csv?queue=duyet").status_code == 200
    assert head.get("/can-bo/xuat/cases.csv?queue=phan-loai").status_code == 422
    search = page(head, "/can-bo/tim-kiem/?kind=petition")
    assert 'href="/can-bo/xuat/cases.csv?kind=petition"' in search


def test_reopening_keeps_every_rating(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    """A reopening used to set cases.rating back to NULL and the dashboard lost it."""
    from datetime import UTC, datetime, timedelta

    from feedback.database import unit_of_work
    from feedback.domain.calendar import LOCAL_TZ
    from feedback.models import CaseRating
    from feedback.services.handling import actions, followup
    from feedback.services.oversight import figures

    code = make_case()
    make_user("unit_head", unit_code=UNIT)
    now = datetime.now(UTC)
    with app.app_context():
        head = db.session.scalar(select(User).where(User.role == "unit_head"))

        def case() -> Case:
            return db.session.scalar(select(Case).where(Case.code == code))

        with unit_of_work():
            actions.acknowledge(case(), head, now)
            actions.approve_answer(case(), head, now, "Đã thay bóng đèn hỏng ngày 3/12.")
        with unit_of_work():
            followup.rate(case(), now, 2, "Chưa thay hết.")
        with unit_of_work():
            followup.reopen(case(), now + timedelta(hours=1), "Vẫn còn hai cột chưa sáng.")
        assert case().rating is None  # the next answer may be rated
        with unit_of_work():
            actions.approve_answer(
                case(), head, now + timedelta(hours=2), "Đã thay nốt hai bóng đèn."
            )
        with unit_of_work():
            followup.rate(case(), now + timedelta(hours=3), 5)
        kept = db.session.execute(
            select(CaseRating.answer_no, CaseRating.rating).order_by(CaseRating.answer_no)
        ).all()
        assert [tuple(r) for r in kept] == [(0, 2), (1, 5)]
        today = now.astimezone(LOCAL_TZ).date()
        totals = figures.summarise(today - timedelta(days=1), today + timedelta(days=2), now)
        assert totals.total.ratings == [0, 1, 0, 0, 1]
