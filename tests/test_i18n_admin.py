"""The admin's pages in English (issue 15): the calendar (each day's status and source,
the year's readiness, the preview of a change), the SLA policy form, the escalation
ladder, the reference data and the accounts, with their refusals; Vietnamese stays the
default. Names from the data (holidays, documents, areas, step labels) stay as they are."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, log_in
from sqlalchemy import select

from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import SlaPolicy

CALENDAR = "/quan-tri/lich"
ENGLISH_STATUSES = {"day off", "working day", "make-up working day", "not confirmed"}


def text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return html.unescape(response.text)


def cell(fragment: str) -> str:
    """A table cell's text: a data value marked ``<span lang="vi">`` reads as its text."""
    fragment = re.sub(r"</?span[^>]*>", "", fragment)
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def day_rows(page: str) -> list[list[str]]:
    """The cells of the calendar's table of special days, tags removed."""
    table = re.search(r'id="year-days">(.*?)</table>', page, re.S)
    assert table, "no table of special days"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1).split("</thead>")[1], re.S)
    return [[cell(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def test_calendar_page_and_its_refusals(client: FlaskClient, login_as: Callable[..., str]) -> None:
    login_as("admin")
    vietnamese = text(client, f"{CALENDAR}?nam=2026")
    assert "xác nhận bởi Bộ luật Lao động 2019, Điều 112" in vietnamese
    assert "Lịch làm việc năm 2026 đã có văn bản" in vietnamese

    page = text(client, f"{CALENDAR}?nam=2026&lang=en")
    rows = day_rows(page)
    assert len(rows) > 10
    for _day, _weekday, status, source, *_ in rows:
        assert status.split(" — ")[0] in ENGLISH_STATUSES, status
        assert source.startswith(("holidays package", "document: ", "entered by an admin")), source
    sources = [row[3] for row in rows]
    # The holiday's name is data (the package's, in Vietnamese); the sentence around it is not.
    assert "holidays package (Quốc khánh); confirmed by Labour Code 2019, Article 112" in sources
    assert any(s.startswith("holidays package only (Ngày Văn hóa Việt Nam)") for s in sources)
    assert '(<span lang="vi">Quốc khánh</span>); confirmed by' in page  # read in Vietnamese
    readiness = re.search(r'<p id="readiness">(.*?)</p>', page, re.S)
    assert readiness and readiness.group(1).startswith(
        "The working calendar of 2026 is backed by a document: "
    )
    for said in ("xác nhận bởi", "gói holidays", "chưa xác nhận", "Lịch làm việc năm"):
        assert said not in page, said

    # A refusal, a preview and a flash with values.
    token = csrf_from(page)
    refused = client.post(
        CALENDAR, data={"csrf_token": token, "day": "1999-12-31", "kind": "off", "source": "x"}
    )
    assert refused.status_code == 422
    assert "Invalid date." in refused.text
    assert "Enter the number, date and issuing body of the announcing document." in refused.text
    assert "Ngày không hợp lệ" not in refused.text
    form = {"csrf_token": token, "day": "2026-12-28", "kind": "off", "source": "Thông báo 1/TB"}
    preview = html.unescape(client.post(CALENDAR, data=form).text)
    assert 'Record 28/12/2026 as a day off under <span lang="vi">Thông báo 1/TB</span>.' in preview
    done = client.post(CALENDAR, data={**form, "confirm": "1"}, follow_redirects=True)
    assert "The adjustment of 28/12/2026 is saved; deadlines of " in done.text
    assert "Đã lưu điều chỉnh" not in done.text


def test_policy_form_and_ladder_refusals(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("admin")
    page = text(client, "/quan-tri/thoi-han?lang=en")
    assert "Answer / resolution time limit (days)" in page
    assert "Period in which citizens may ask to reopen (days)" in page
    assert "Hạn trả lời / giải quyết" not in page and "Thời gian người dân" not in page

    with app.app_context():
        row_id = db.session.scalar(
            select(SlaPolicy.id).where(SlaPolicy.kind == "petition", SlaPolicy.valid_to.is_(None))
        )
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    form: dict[str, Any] = {
        "csrf_token": csrf_from(page),
        "ack_hours": "24",
        "ack_days": "",
        "response_days": "5000",
        "warn_before_ack_hours": "",
        "warn_before_response_working_days": "",
        "reopen_window_days": "",
        "valid_from": (today - timedelta(days=1)).isoformat(),
        "reason": "Công văn",
    }
    refused = client.post(f"/quan-tri/thoi-han/{row_id}", data=form)
    assert refused.status_code == 422
    said = html.unescape(refused.text)
    assert "The value must be between 1 and 1000." in said
    assert "Enter the period in which citizens may ask to reopen (days)." in said
    assert (
        f"The day it takes effect must be after today ({today:%d/%m/%Y}): "
        "a change never applies back to cases already received."
    ) in said
    assert "Giá trị phải từ" not in said and "Ngày áp dụng phải sau" not in said

    ladder = text(client, "/quan-tri/chuyen-cap?lang=en")
    bad = client.post(
        "/quan-tri/chuyen-cap/them",
        data={"csrf_token": csrf_from(ladder), "kind": "petition", "level": "",
              "after_working_days": "99", "label": "Báo Chủ tịch"},
    )  # fmt: skip
    assert bad.status_code == 422
    said = html.unescape(bad.text)
    assert "Enter the step." in said and "The value must be between 0 and 60." in said
    assert "Choose at least one recipient of the notice." in said
    assert "Nhập bậc" not in said and "Giá trị phải từ" not in said
    # Level 5 after the existing two leaves a gap: the ladder's own problem, in English.
    gap = client.post(
        "/quan-tri/chuyen-cap/them",
        data={"csrf_token": csrf_from(ladder), "kind": "petition", "level": "5",
              "after_working_days": "30", "label": "Báo Chủ tịch", "notify_inspectorate": "1"},
    )  # fmt: skip
    assert gap.status_code == 422
    assert "Steps must be numbered consecutively from 1 (1, 2, 3...)." in html.unescape(gap.text)


def test_accounts_and_reference_pages(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    me, username = make_user("admin")
    log_in(client, username)
    page = text(client, "/quan-tri/tai-khoan?lang=en")
    assert "System administrator" in page and "Quản trị hệ thống" not in page
    locked = client.post(
        f"/quan-tri/tai-khoan/{me}/khoa",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "You cannot lock your own account." in locked.text
    assert "Không thể tự khóa" not in locked.text

    reference = text(client, "/quan-tri/du-lieu-tham-chieu?lang=en")
    assert "Reference data" in reference and "Dữ liệu tham chiếu" not in reference
