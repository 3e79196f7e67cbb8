"""Period reports: periods and due dates, the XLSX and PDF read back against the metrics and
against figures counted here from a known quarter, the CLI, the page, the drafts."""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import ApologyLetter, Case, Dimension, Notification, Unit, User
from feedback.services.errors import ValidationError
from feedback.services.handling.apology import owe_if_late
from feedback.services.intake.submission import Reporter
from feedback.services.oversight import figures as figure_service
from feedback.services.reports import output
from feedback.services.reports import period as reports
from feedback.services.reports.files import pdf_bytes, xlsx_bytes

SECRET_NAME = "Phạm Thị Riêng Tư"
SECRET_PHONE = "0912999888"
NOW = datetime(2023, 10, 5, 3, 0, tzinfo=UTC)  # 10:00, 5 Oct 2023 in Hà Giang
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def pdf_text(data: bytes) -> str:
    return norm(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "due", "label"),
    [
        ("2023-Q1", date(2023, 1, 1), date(2023, 4, 1), date(2023, 3, 10), "quý I năm 2023"),
        ("2023-Q2", date(2023, 4, 1), date(2023, 7, 1), date(2023, 6, 10), "quý II năm 2023"),
        ("2023-Q3", date(2023, 7, 1), date(2023, 10, 1), date(2023, 9, 10), "quý III năm 2023"),
        ("2023-q4", date(2023, 10, 1), date(2024, 1, 1), date(2023, 12, 10), "quý IV năm 2023"),
        ("2023-H1", date(2023, 1, 1), date(2023, 7, 1), date(2023, 6, 10), "6 tháng đầu năm 2023"),
        (
            " 2023-H2",
            date(2023, 7, 1),
            date(2024, 1, 1),
            date(2023, 12, 10),
            "6 tháng cuối năm 2023",
        ),
        ("2023", date(2023, 1, 1), date(2024, 1, 1), date(2023, 11, 15), "năm 2023"),
    ],
)
def test_periods_and_their_due_dates(
    text: str, start: date, end: date, due: date, label: str
) -> None:
    period = reports.parse_period(text)
    assert (period.start, period.end, period.due_before, period.label) == (start, end, due, label)
    assert period.due_text == f"trước ngày {due:%d/%m/%Y}"
    assert period.deadline == datetime(due.year, due.month, due.day, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(
    "text", ["", "2023-Q5", "2023-Q0", "2023-H3", "23-Q1", "2023Q1", "Q3", "x"]
)
def test_a_bad_period_is_refused_in_vietnamese(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        reports.parse_period(text)
    assert "Kỳ báo cáo không hợp lệ" in caught.value.message


def test_the_reports_of_a_year_in_the_order_they_fall_due() -> None:
    keys = [p.key for p in reports.periods_of(2023)]
    assert keys == ["2023-Q1", "2023-Q2", "2023-H1", "2023-Q3", "2023", "2023-Q4", "2023-H2"]


# --- a quarter with known outcomes ---------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One case of the scenario and what happened to it."""

    received: datetime
    ack_after: timedelta | None
    answered: datetime | None
    rating: int | None = None
    kind: str = "feedback"
    channel: str = "web"
    category: str | None = "6.3b"
    area: str | None = "00694"
    status: str | None = None  # set directly (merged)


PLANS = {
    "on_time": Plan(local(2023, 7, 3, 9), timedelta(hours=2), local(2023, 7, 5, 15), 5),
    "late": Plan(local(2023, 7, 10, 9), timedelta(hours=30), local(2023, 7, 25, 9), 2),
    "overdue": Plan(local(2023, 8, 1, 9), timedelta(hours=1), None),
    "hotline": Plan(
        local(2023, 8, 15, 10),
        timedelta(hours=3),
        local(2023, 8, 18, 10),
        4,
        kind="petition",
        channel="hotline",
        category="2.4",
        area="00688",
    ),
    "denunciation": Plan(
        local(2023, 9, 5, 9),
        timedelta(hours=5),
        local(2023, 9, 8, 9),
        kind="denunciation",
        category="4.1",
    ),
    "unclassified": Plan(local(2023, 9, 20, 9), None, None, category=None, area=None),
    "previous_quarter": Plan(local(2023, 6, 20, 9), timedelta(hours=1), None),
    "merged": Plan(local(2023, 8, 2, 9), None, None, status="merged"),
}
IN_QUARTER = ["on_time", "late", "overdue", "hotline", "denunciation", "unclassified"]


@pytest.fixture
def quarter(app: Flask, make_case: Callable[..., str]) -> dict[str, str]:
    """The scenario's cases in the database; returns name → case code."""
    codes = {}
    for name, plan in PLANS.items():
        codes[name] = make_case(
            now=plan.received,
            kind=plan.kind,
            channel=plan.channel,
            category_code=plan.category,
            area_code=plan.area,
            reporter=Reporter(name=SECRET_NAME, phone=SECRET_PHONE),
        )
        with app.app_context(), unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == codes[name]))
            if plan.ack_after is not None:
                case.acknowledged_at = case.received_at + plan.ack_after
                case.status = "acknowledged"
            if plan.answered is not None:
                case.answered_at, case.status, case.rating = plan.answered, "answered", plan.rating
                owe_if_late(case, plan.answered)
            case.status = plan.status or case.status
    with app.app_context(), unit_of_work():  # the late answer's apology was issued
        case = db.session.scalar(select(Case).where(Case.code == codes["late"]))
        letter = db.session.scalar(select(ApologyLetter).where(ApologyLetter.case_id == case.id))
        letter.status, letter.number = "issued", "1/2023/TXL-UBND-00694"
        letter.issued_at = PLANS["late"].answered
    return codes


def expected_totals(app: Flask, codes: dict[str, str]) -> dict[str, Any]:
    """The scenario's figures, counted here from the plans and the stored due times."""
    with app.app_context():
        cases = {
            n: db.session.scalar(select(Case).where(Case.code == codes[n])) for n in IN_QUARTER
        }
        ack_on_time = sum(
            PLANS[n].ack_after is not None and c.acknowledged_at <= c.ack_due_at
            for n, c in cases.items()
        )
        answered = {n: c for n, c in cases.items() if PLANS[n].answered is not None}
        on_time = sum(c.answered_at <= c.response_due_at for c in answered.values())
    ratings = [PLANS[n].rating for n in IN_QUARTER if PLANS[n].rating is not None]
    late = len(answered) - on_time
    return {
        "received": len(IN_QUARTER),
        "ack_on_time": round(100 * ack_on_time / len(IN_QUARTER), 1),  # every ack is due
        "answered_on_time": round(100 * on_time / len(IN_QUARTER), 1),  # every answer is due
        "late_answers": late,
        "apology_share": 100.0,
        "overdue_open": len(IN_QUARTER) - len(answered),
        "satisfaction": round(sum(ratings) / len(ratings), 2),
        "ratings": len(ratings),
    }


def test_the_scenario_is_what_the_test_thinks(app: Flask, quarter: dict[str, str]) -> None:
    assert expected_totals(app, quarter) == {
        "received": 6,
        "ack_on_time": 66.7,
        "answered_on_time": 50.0,
        "late_answers": 1,
        "apology_share": 100.0,
        "overdue_open": 2,
        "satisfaction": 3.67,
        "ratings": 3,
    }


def test_the_workbook_holds_the_metrics_as_numbers(app: Flask, quarter: dict[str, str]) -> None:
    with app.app_context():
        report = reports.build_report(reports.parse_period("2023-Q3"), NOW)
        truth = figure_service.summarise(date(2023, 7, 1), date(2023, 10, 1), NOW).totals()
        data = xlsx_bytes(report)
    assert report.totals == truth
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "Tổng hợp",
        "Theo chỉ số PAPI",
        "Theo đơn vị",
        "Theo kênh",
        "Theo loại",
        "Theo địa bàn",
        "Theo tháng",
    ]
    summary = book["Tổng hợp"]
    heading = [c.value for row in summary.iter_rows(max_row=7) for c in row if c.value]
    assert "ỦY BAN NHÂN DÂN" in heading and "THÀNH PHỐ HÀ GIANG" in heading
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in heading
    assert any("quý III năm 2023" in str(v) for v in heading)
    figures = {row[0].value: row for row in summary.iter_rows(min_row=10) if row[0].value}
    assert set(figures) == set(reports.FIGURES)
    for key, value in truth.items():
        assert figures[key][2].value == value, key
        assert figures[key][3].value == reports.DEFINITIONS[key]
    for key, value in expected_totals(app, quarter).items():
        assert figures[key][2].value == value, key
    assert isinstance(figures["received"][2].value, int)
    assert isinstance(figures["ack_on_time"][2].value, float)
    keys = list(reports.FIGURES)
    for title, _ in reports.BREAKDOWNS.values():
        sheet = book[title]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[-1][0] == "Tổng cộng"
        assert dict(zip(keys, rows[-1][1:], strict=True)) == truth
        assert sum(r[1] for r in rows[1:-1]) == 6
    channels = {r[0]: r[1] for r in book["Theo kênh"].iter_rows(min_row=2, values_only=True)}
    assert channels["Tổng đài 1022"] == 1 and channels["Cổng trực tuyến"] == 5
    papi = list(book["Theo chỉ số PAPI"].iter_rows(min_row=2, values_only=True))
    dims = [r for r in papi if r[0] and "." not in r[0]]
    assert [r[0] for r in dims] == [str(i) for i in range(1, 9)]
    by_code = {r[0]: r[2] for r in papi if r[0]}
    assert (by_code["6"], by_code["6.3b"], by_code["2"], by_code["2.4"], by_code["4"]) == (
        3,
        3,
        1,
        1,
        1,
    )
    assert papi[-2][1] == "Chưa phân loại lĩnh vực" and papi[-2][2] == 1
    assert papi[-1][1] == "Tổng cộng" and papi[-1][2] == 6
    every_cell = " ".join(
        str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
    )
    assert SECRET_NAME not in every_cell and SECRET_PHONE not in every_cell


def test_the_pdf_has_the_heading_the_period_and_the_figures(
    app: Flask, quarter: dict[str, str]
) -> None:
    with app.app_context():
        report = reports.build_report(reports.parse_period("2023-Q3"), NOW)
        data = pdf_bytes(report)
        names = [d.name for d in db.session.scalars(select(Dimension).order_by(Dimension.code))]
    reader = PdfReader(io.BytesIO(data))
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.1)  # A4
    text = pdf_text(data)
    for expected in (
        "ỦY BAN NHÂN DÂN",
        "THÀNH PHỐ HÀ GIANG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: .../BC-UBND",
        "TP. Hà Giang, ngày 05 tháng 10 năm 2023",
        "BÁO CÁO",
        "Kết quả tiếp nhận, giải quyết phản ánh, kiến nghị của người dân quý III năm 2023",
        "từ ngày 01/07/2023 đến ngày 30/09/2023",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
        "Tiếp nhận 3 hồ sơ; phản hồi tiếp nhận đúng hạn 66,7%; trả lời đúng hạn 33,3%; "
        "trả lời trễ hạn 1 hồ sơ (đã có thư xin lỗi: 100,0%); quá hạn chưa trả lời 1",
        "Tổng cộng 6 66,7 50,0 1 100,0 2 3,67",
        "Trong kỳ không tiếp nhận phản ánh, kiến nghị thuộc chỉ số này.",
    ):
        assert norm(expected) in text, expected
    for i, name in enumerate(names, start=1):
        assert norm(f"{i}. {name}") in text
    assert SECRET_NAME not in text and SECRET_PHONE not in text


# --- the command line ----------------------------------------------------------------------


def test_the_report_command_writes_both_files(
    app: Flask, quarter: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["report", "--period", "2023-Q3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["period"] == "2023-Q3"
    assert printed["totals"]["received"] == 6 and printed["totals"]["late_answers"] == 1
    xlsx, pdf = Path(printed["xlsx"]), Path(printed["pdf"])
    assert xlsx.parent == out and pdf.parent == out
    assert load_workbook(xlsx)["Tổng hợp"]["C10"].value == 6
    assert "quý III năm 2023" in pdf_text(pdf.read_bytes())
    default = app.test_cli_runner().invoke(args=["report", "--period", "2023"])
    assert default.exit_code == 0, default.output
    assert Path(json.loads(default.output)["pdf"]).parent == Path(app.instance_path) / "reports"


def test_the_report_command_refuses_a_bad_period(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["report", "--period", "2023-Q7"])
    assert result.exit_code == 1
    assert "Kỳ báo cáo không hợp lệ" in result.output


# --- the page ------------------------------------------------------------------------------


def test_the_page_lists_the_periods_and_sends_the_files(
    client: FlaskClient, login_as: Callable[..., str], quarter: dict[str, str]
) -> None:
    login_as("inspector")
    page = client.get("/bao-cao/")
    assert page.status_code == 200
    year = datetime.now(LOCAL_TZ).year
    for key in (f"{year}-Q1", f"{year}-H2", str(year - 1), f"{year - 1}-Q3"):
        assert f'data-period="{key}"' in page.text
    assert f"Trước ngày 15/11/{year}" in page.text
    xlsx = client.get("/bao-cao/2023-Q3.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype == XLSX_TYPE
    assert xlsx.headers["Content-Disposition"].startswith("attachment")
    assert "bao-cao-2023-Q3.xlsx" in xlsx.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(xlsx.data))["Tổng hợp"]["C10"].value == 6
    pdf = client.get("/bao-cao/2023-Q3.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    assert "quý III năm 2023" in pdf_text(pdf.data)
    bad = client.get("/bao-cao/2023-Q9.pdf")
    assert bad.status_code == 422 and "Kỳ báo cáo không hợp lệ" in bad.text


@pytest.mark.parametrize(
    ("role", "unit", "status"),
    [
        ("coordinator", None, 200),
        ("unit_head", "VP", 200),
        ("officer", "NV", 200),
        ("officer", "UBND-00688", 403),
        ("unit_head", "TNMT", 403),
        ("admin", None, 403),
        ("operator", None, 403),
    ],
)
def test_who_may_open_the_reports(
    client: FlaskClient, login_as: Callable[..., str], role: str, unit: str | None, status: int
) -> None:
    login_as(role, unit)
    assert client.get("/bao-cao/").status_code == status
    assert client.get("/bao-cao/2023-Q3.pdf").status_code == status


def test_the_reports_need_a_login(client: FlaskClient) -> None:
    assert client.get("/bao-cao/2023-Q3.xlsx").status_code == 302


# --- drafts ahead of the due date ----------------------------------------------------------


def test_drafts_are_written_once_and_vp_nv_reminded_once(
    app: Flask, make_user: Callable[..., Any], quarter: dict[str, str]
) -> None:
    head_id, _ = make_user("unit_head", unit_code="NV")
    other_id, _ = make_user("unit_head", unit_code="TNMT")
    with app.app_context(), unit_of_work():
        db.session.get(User, head_id).email = "truongphong.nv@hagiang.gov.vn"
        db.session.get(User, other_id).email = "tnmt@hagiang.gov.vn"
        db.session.scalar(select(Unit).where(Unit.code == "VP")).email = "vp@hagiang.gov.vn"
    with app.app_context():
        assert output.draft_due_reports(local(2023, 8, 30, 8))["due"] == []  # 11 days ahead
        first = output.draft_due_reports(local(2023, 9, 2, 8))
        xlsx, pdf = output.draft_paths(reports.parse_period("2023-Q3"))
        stamps = (xlsx.stat().st_mtime_ns, pdf.stat().st_mtime_ns)
        second = output.draft_due_reports(local(2023, 9, 9, 23))
        late = output.draft_due_reports(local(2023, 9, 10, 0))
        reminders = db.session.scalars(
            select(Notification).where(Notification.kind == "report_reminder")
        ).all()
    assert first == {
        "due": ["2023-Q3"],
        "drafted": ["2023-Q3"],
        "already_drafted": [],
        "reminders": 2,
    }
    assert second == {
        "due": ["2023-Q3"],
        "drafted": [],
        "already_drafted": ["2023-Q3"],
        "reminders": 0,
    }
    assert late["due"] == []
    assert (xlsx.stat().st_mtime_ns, pdf.stat().st_mtime_ns) == stamps
    assert xlsx.parent == Path(app.instance_path) / "reports"
    assert load_workbook(xlsx)["Tổng hợp"]["C10"].value == 6
    assert "quý III năm 2023" in pdf_text(pdf.read_bytes())
    assert sorted(n.recipient for n in reminders) == [
        "truongphong.nv@hagiang.gov.vn",
        "vp@hagiang.gov.vn",
    ]
    assert all(n.dedupe_key.startswith("report:2023-Q3:reminder") for n in reminders)
    assert all("trước ngày 10/09/2023" in n.body for n in reminders)


def test_at_the_end_of_the_year_two_reports_fall_due(app: Flask) -> None:
    with app.app_context():
        summary = output.draft_due_reports(local(2023, 12, 1, 8))
    assert summary["due"] == ["2023-Q4", "2023-H2"]
    assert summary["reminders"] == 0  # nobody to remind: VP and NV have no e-mail yet
