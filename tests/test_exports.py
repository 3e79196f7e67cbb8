"""CSV and XLSX exports of a filtered case list (issue 6): /can-bo/xuat/cases.csv|.xlsx.

The same filters and visibility as the staff search; a fixed column set without any
confidential field; UTF-8 with a BOM; the XLSX holds the same rows as the CSV; no row
limit (issue 17: both formats stream); bad parameters are a 422; admins and anonymous
visitors get nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, staff_client
from openpyxl import load_workbook

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import User
from feedback.services.intake.submission import CaseInput, Reporter, submit_case
from feedback.services.oversight import exports
from feedback.services.oversight.search import search

CSV = "/can-bo/xuat/cases.csv"
XLSX = "/can-bo/xuat/cases.xlsx"
OLD = datetime(2024, 2, 2, 3, 0, tzinfo=UTC)
EXPECTED_COLUMNS = [
    "code",
    "kind",
    "kind_label",
    "channel",
    "channel_label",
    "status",
    "status_label",
    "category_code",
    "category_name",
    "area",
    "handling_unit",
    "lead_unit",
    "received_at",
    "ack_due_at",
    "acknowledged_at",
    "response_due_at",
    "answered_at",
    "overdue",
    "overdue_label",
    "rating",
    "subject",
]
# The header row speaks Vietnamese; the codes keep columns of their own (issue 16).
EXPECTED_HEADERS = [
    "Mã hồ sơ",
    "Mã loại",
    "Loại hồ sơ",
    "Mã kênh",
    "Kênh tiếp nhận",
    "Mã trạng thái",
    "Trạng thái",
    "Mã lĩnh vực",
    "Lĩnh vực",
    "Xã/phường",
    "Đơn vị xử lý",
    "Đơn vị chủ trì theo dõi",
    "Thời điểm tiếp nhận",
    "Hạn phản hồi tiếp nhận",
    "Thời điểm phản hồi tiếp nhận",
    "Hạn trả lời",
    "Thời điểm trả lời",
    "Mã quá hạn (yes/no)",
    "Quá hạn",
    "Đánh giá (1–5)",
    "Tiêu đề",
]


@pytest.fixture
def browser(app: Flask, make_user: Callable[..., Any]) -> Callable[..., FlaskClient]:
    def login(role: str, unit: str | None = None) -> FlaskClient:
        return staff_client(app, make_user, role, unit)

    return login


@pytest.fixture
def cases(make_case: Callable[..., str]) -> dict[str, str]:
    return {
        "waste": make_case(
            subject="Rác thải không được thu gom",
            body="Rác thải tồn đọng ở đầu ngõ 12 đường Trần Phú mấy ngày nay.",
            category_code="6.3c",
            area_code="00691",
        ),
        "power": make_case(category_code="6.3a", area_code="00697"),  # DL
        "road": make_case(),  # 6.3b in 00694 → UBND-00694
        "road2": make_case(subject="Ổ gà lớn giữa đường Nguyễn Trãi", area_code="00694"),
        "formula": make_case(subject='=HYPERLINK("http://x.invalid","bấm") đèn hỏng'),
        "complaint": make_case(kind="complaint", category_code="3.2", area_code="00688"),
        "hotline": make_case(
            channel="hotline", external_ref="H-1", received_at=OLD, category_code="6.3a"
        ),
        "denunciation": make_case(
            kind="denunciation",
            subject="Tố cáo cán bộ địa chính nhận tiền",
            body="Cán bộ địa chính phường Quang Trung nhận tiền để làm nhanh sổ đỏ.",
            category_code="3.2",
            area_code="00688",
            reporter=Reporter(name="Lê Văn Tố", phone="0987654321"),
        ),
    }


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def read_xlsx(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    sheet = book.worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def codes(rows: list[list[str]]) -> set[str]:
    return {row[0] for row in rows[1:]}


# --- format ---------------------------------------------------------------------------------


def test_csv_has_a_bom_the_columns_and_local_times(browser: Any, cases: dict[str, str]) -> None:
    client = browser("coordinator", "VP")
    response = client.get(CSV)
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    today = datetime.now(LOCAL_TZ).strftime("%Y-%m-%d")
    assert response.headers["Content-Disposition"] == f'attachment; filename="ho-so-{today}.csv"'
    assert "no-store" in response.headers["Cache-Control"]
    rows = read_csv(response)
    assert rows[0] == EXPECTED_HEADERS
    # Every visible case but the denunciation, newest received first.
    assert codes(rows) == set(cases.values()) - {cases["denunciation"]}
    assert [r[0] for r in rows[1:]][-1] == cases["hotline"]
    by_code = {r[0]: dict(zip(EXPECTED_COLUMNS, r, strict=True)) for r in rows[1:]}
    road = by_code[cases["road"]]
    assert road["kind"] == "feedback" and road["channel"] == "web"
    assert road["kind_label"] == "Phản ánh" and road["channel_label"] == "Cổng trực tuyến"
    assert road["status"] == "received"
    assert (road["category_code"], road["category_name"]) == (
        "6.3b",
        "Cơ sở hạ tầng căn bản (giao thông)",
    )
    assert road["area"] == "Phường Nguyễn Trãi"
    assert road["handling_unit"] == "UBND Phường Nguyễn Trãi"
    assert road["lead_unit"] == "Phòng Quản lý đô thị"
    assert road["subject"] == "Đèn đường hỏng trên đường Nguyễn Trãi"
    assert road["acknowledged_at"] == road["answered_at"] == road["rating"] == ""
    for name in ("received_at", "ack_due_at", "response_due_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", road[name]), road[name]
    hotline = by_code[cases["hotline"]]
    assert hotline["received_at"] == "2024-02-02T10:00:00+07:00"
    assert hotline["response_due_at"] == "2024-02-19T23:59:59+07:00"
    assert hotline["overdue"] == "yes" and road["overdue"] == "no"
    # A subject Excel would run as a formula is written as text.
    assert by_code[cases["formula"]]["subject"].startswith("'=HYPERLINK(")


def test_no_confidential_column_or_value(browser: Any, cases: dict[str, str]) -> None:
    for role, unit in (("coordinator", "VP"), ("inspector", "TTR")):
        text = browser(role, unit).get(CSV).data.decode("utf-8-sig")
        for secret in ("Trần Thị Bình", "0912000111", "số nhà 120", "Ba cột đèn", "Lê Văn Tố"):
            assert secret not in text, (role, secret)
        assert "Tố cáo cán bộ" not in text and cases["denunciation"] not in text
        assert text.splitlines()[0].split(",") == EXPECTED_HEADERS


def test_xlsx_holds_the_same_rows_as_the_csv(browser: Any, cases: dict[str, str]) -> None:
    client = browser("coordinator", "VP")
    for params in ({}, {"unit": "DL"}, {"q": "duong"}):
        from_csv = read_csv(client.get(CSV, query_string=params))
        response = client.get(XLSX, query_string=params)
        assert response.headers["Content-Type"] == exports_xlsx_type()
        assert 'filename="ho-so-' in response.headers["Content-Disposition"]
        from_xlsx = read_xlsx(response)
        # The CSV quotes a leading "=" so Excel does not run it; the XLSX types it as text.
        assert [[v.removeprefix("'") for v in row] for row in from_csv] == from_xlsx
    book = load_workbook(io.BytesIO(client.get(XLSX).data))
    cells = [c for row in book.worksheets[0].iter_rows() for c in row]
    assert all(c.data_type == "s" for c in cells if c.value is not None)
    assert any(str(c.value).startswith("=HYPERLINK") for c in cells)


def exports_xlsx_type() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- filters and visibility -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"unit": "DL"},
        {"unit": "UBND-00694", "kind": "feedback"},
        {"status": "received"},
        {"kind": "complaint"},
        {"channel": "hotline"},
        {"area": "00697"},
        {"category": "6.3a", "channel": "web"},
        {"overdue": "1"},
        {"q": "rac thai"},
        {"q": "duong", "unit": "UBND-00694"},
        {"status": "closed"},
        {"q": "", "unit": "", "status": ""},
    ],
)
def test_filters_select_what_the_search_lists(
    app: Flask, browser: Any, make_user: Any, cases: dict[str, str], params: dict[str, str]
) -> None:
    user_id, _ = make_user("coordinator", unit_code="VP")
    with app.app_context():
        user = db.session.get(User, user_id)
        found = search(user, {k: [v] for k, v in params.items()}, datetime.now(UTC))
        expected = {c.code for c in found.cases if c.kind != "denunciation"}
    client = browser("coordinator", "VP")
    assert codes(read_csv(client.get(CSV, query_string=params))) == expected
    assert codes(read_xlsx(client.get(XLSX, query_string=params))) == expected


def test_an_officer_exports_only_the_cases_of_the_unit(browser: Any, cases: dict[str, str]) -> None:
    client = browser("officer", "UBND-00694")
    mine = {cases["road"], cases["road2"], cases["formula"]}
    assert codes(read_csv(client.get(CSV))) == mine
    assert codes(read_xlsx(client.get(XLSX))) == mine
    # A filter naming another unit narrows to nothing; it never widens.
    assert codes(read_csv(client.get(CSV, query_string={"unit": "DL"}))) == set()
    head = browser("unit_head", "DL")
    assert codes(read_csv(head.get(CSV))) == {cases["power"], cases["hotline"]}


def test_intake_staff_export_what_they_entered(
    app: Flask, browser: Any, make_user: Any, cases: dict[str, str]
) -> None:
    user_id, username = make_user("operator")
    with app.app_context(), unit_of_work():
        mine = submit_case(
            CaseInput(
                kind="feedback",
                subject="Mất nước sinh hoạt ba ngày",
                body="Khu vực tổ 5 mất nước sinh hoạt ba ngày liền.",
                category_code="6.3d",
                channel="hotline",
                reporter=Reporter(phone="0912345678"),
            ),
            actor=db.session.get(User, user_id),
            now=datetime.now(UTC),
        ).case.code
    client = client_for(app, username)
    assert codes(read_csv(client.get(CSV))) == {mine}
    assert codes(read_csv(browser("clerk", "UBND-00688").get(CSV))) == set()


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "status"),
        ("unit=NOPE", "unit"),
        ("kind=petitions", "kind"),
        ("channel=fax", "channel"),
        ("area=99999", "area"),
        ("category=9.9", "category"),
        ("overdue=maybe", "overdue"),
        ("q=" + "a " * 30, "q"),
        ("page=2", "page"),
        ("per_page=10", "per_page"),
        ("sort=code", "sort"),
        ("unit=DL&unit=VP", "unit"),
        ("kind=denunciation", "kind"),
    ],
)
def test_bad_parameters_are_a_422(
    browser: Any, cases: dict[str, str], query: str, field: str
) -> None:
    client = browser("coordinator", "VP")
    for path in (CSV, XLSX):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query)
        assert "text/html" in response.headers["Content-Type"]
        assert f"{field}: " in response.text


def test_there_is_no_row_limit(browser: Any, cases: dict[str, str]) -> None:
    """Issue 17: the 50,000-row cap went with the in-memory file; a large selection is
    streamed whole (tests/test_exports_streamed.py has the few-thousand-row case)."""
    client = browser("coordinator", "VP")
    assert not hasattr(exports, "MAX_ROWS")
    response = client.get(CSV)
    assert response.is_streamed and response.headers["X-Total-Count"] == str(len(cases) - 1)
    assert len(read_csv(response)) == len(cases)  # header + every case but the denunciation
    assert client.get(XLSX).is_streamed


def test_rows_are_read_in_batches_without_loss_or_repeat(
    browser: Any,
    cases: dict[str, str],
    make_case: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(3):  # received at the same instant: the id breaks the tie
        make_case(channel="hotline", external_ref=f"T-{n}", received_at=OLD)
    client = browser("coordinator", "VP")
    whole = read_csv(client.get(CSV))
    assert len(whole) == 1 + len(cases) - 1 + 3
    monkeypatch.setattr(exports, "BATCH", 2)
    assert read_csv(client.get(CSV)) == whole
    assert read_xlsx(client.get(XLSX)) == [[v.removeprefix("'") for v in r] for r in whole]


def test_admin_may_not_export_and_anonymous_is_sent_to_login(
    client: FlaskClient, browser: Any
) -> None:
    admin = browser("admin")
    assert admin.get(CSV).status_code == 403
    assert admin.get(XLSX).status_code == 403
    for path in (CSV, XLSX):
        response = client.get(path)
        assert response.status_code == 302
        assert "/can-bo/dang-nhap" in response.headers["Location"]


@pytest.mark.parametrize(
    "role", ["operator", "clerk", "coordinator", "officer", "unit_head", "inspector"]
)
def test_every_staff_role_but_admin_may_export(browser: Any, role: str) -> None:
    unit = {"officer": "UBND-00688", "unit_head": "UBND-00688", "clerk": "UBND-00688"}.get(role)
    client = browser(role, unit)
    assert read_csv(client.get(CSV))[0] == EXPECTED_HEADERS
    assert read_xlsx(client.get(XLSX))[0] == EXPECTED_HEADERS
