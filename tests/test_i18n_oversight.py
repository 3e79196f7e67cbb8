"""Issue 15: the oversight pages and their files in the reader's language.

An inspector who reads in English (``?lang=en``, remembered by the session) gets the
dashboard's figure labels, section titles and chart texts, the monitor's promise texts,
the reports page's periods, the refusals of bad filters, the case export's header and the
period report in English; in Vietnamese (the default) everything stays as it was.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from openpyxl import load_workbook
from pypdf import PdfReader

from feedback.domain.calendar import LOCAL_TZ
from feedback.services.oversight import exports

ENGLISH_HEADER = [
    "Case code",
    "Type code",
    "Type of case",
    "Channel code",
    "Channel",
    "Status code",
    "Status",
    "Field code",
    "Field",
    "Commune/ward",
    "Handling unit",
    "Lead unit",
    "Received at",
    "Acknowledgement due",
    "Acknowledged at",
    "Answer due",
    "Answered at",
    "Overdue code (yes/no)",
    "Overdue",
    "Rating (1–5)",
    "Subject",
]


def _texts(page: str, css_class: str) -> list[str]:
    """The texts of the monitor's spans of one class (the promise, how late)."""
    return re.findall(rf'<span class="{css_class}">([^<]*)</span>', page)


def _pdf_text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return " ".join(unicodedata.normalize("NFC", " ".join(p.extract_text() for p in pages)).split())


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_dashboard_monitor_and_reports_page_in_english_then_vietnamese(
    client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    login_as("inspector")
    code = make_case(now=datetime.now(UTC) - timedelta(days=40))  # both promises overdue

    dashboard = client.get("/thanh-tra/so-lieu?lang=en")
    assert dashboard.status_code == 200
    for english in (
        "Cases received",
        "Late cases with an apology letter",
        "Time to answer – median",
        "By handling unit",
        "By PAPI content index",
        "The plan&#39;s targets",  # the totals chart's title
        "Target 100%",  # its target line
        "Cases received by month",
    ):
        assert english in dashboard.text, english
    for vietnamese in ("Hồ sơ tiếp nhận", "Theo đơn vị xử lý", "Chỉ tiêu 100%", " giờ<", "Kết quả"):
        assert vietnamese not in dashboard.text, vietnamese

    monitor = client.get("/thanh-tra/")  # the session remembers English
    assert monitor.status_code == 200 and f'data-code="{code}"' in monitor.text
    assert _texts(monitor.text, "promise") == ["Acknowledgement within 24 hours", "Answer"]
    late = _texts(monitor.text, "overdue")
    assert len(late) == 2 and all(re.fullmatch(r"\d+ days( \d+ hours?)? overdue", t) for t in late)

    year = datetime.now(LOCAL_TZ).year
    reports = client.get("/bao-cao/")
    assert reports.status_code == 200
    assert f"Quarter III of {year}" in reports.text and f"Before 15/11/{year}" in reports.text
    assert f"Year {year}" in reports.text and f"First half of {year}" in reports.text
    assert "quý" not in reports.text.lower() and "Trước ngày" not in reports.text

    monitor = client.get("/thanh-tra/?lang=vi")  # and back: the Vietnamese is as it was
    assert _texts(monitor.text, "promise") == ["Phản hồi 24 giờ", "Trả lời"]
    assert all(t.startswith("quá hạn ") and "ngày" in t for t in _texts(monitor.text, "overdue"))
    dashboard = client.get("/thanh-tra/so-lieu")
    assert "Theo đơn vị xử lý" in dashboard.text and "Chỉ tiêu 100%" in dashboard.text
    assert "By handling unit" not in dashboard.text
    assert f"Quý III năm {year}" in client.get("/bao-cao/").text


def test_bad_filters_are_refused_in_english(
    client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("inspector")
    monitor = client.get("/thanh-tra/?escalated=99&lang=en")
    assert monitor.status_code == 422
    assert "The escalation step is a whole number from 1 to 20." in monitor.text
    assert "Bậc chuyển cấp" not in monitor.text
    dashboard = client.get("/thanh-tra/so-lieu?from=2024-05-01&to=2024-01-01")
    assert dashboard.status_code == 422
    assert "The end date must be after the start date." in dashboard.text
    search = client.get("/can-bo/tim-kiem/?overdue=maybe&page=x")
    assert search.status_code == 422
    assert "The search parameters are not valid." in search.text
    assert "The value must be 1 or 0." in search.text
    assert "Giá trị phải là 1 hoặc 0." not in search.text
    vietnamese = client.get("/thanh-tra/?escalated=99&lang=vi")
    assert "Bậc chuyển cấp là số nguyên từ 1 đến 20." in vietnamese.text


def test_the_case_export_speaks_the_language_of_the_page_that_asked(
    client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    login_as("inspector")
    code = make_case()
    english = _csv(client.get("/can-bo/xuat/cases.csv?lang=en").data)
    assert english[0] == ENGLISH_HEADER
    row = dict(zip(english[0], english[1], strict=True))
    assert (row["Case code"], row["Type code"], row["Type of case"]) == (
        code,
        "feedback",
        "Feedback",
    )
    assert (row["Overdue code (yes/no)"], row["Overdue"]) == ("no", "No")
    book = load_workbook(io.BytesIO(client.get("/can-bo/xuat/cases.xlsx").data), read_only=True)
    assert book.sheetnames == ["Case"]
    assert [c.value for c in next(book.worksheets[0].iter_rows())] == ENGLISH_HEADER
    vietnamese = _csv(client.get("/can-bo/xuat/cases.csv?lang=vi").data)
    assert vietnamese[0] == [exports.HEADERS[name] for name in exports.COLUMNS]
    assert vietnamese[0][:3] == ["Mã hồ sơ", "Mã loại", "Loại hồ sơ"]
    assert dict(zip(vietnamese[0], vietnamese[1], strict=True))["Quá hạn"] == "Không"


def test_a_quarter_report_asked_in_english_is_written_in_english(
    client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("inspector")
    pdf = client.get("/bao-cao/2023-Q3.pdf?lang=en")
    assert pdf.status_code == 200
    text = _pdf_text(pdf.data)
    for english in (
        "SOCIALIST REPUBLIC OF VIET NAM",
        "Independence - Freedom - Happiness",
        "PEOPLE'S COMMITTEE",
        "No.: .../BC-UBND",
        "Results of receiving and handling citizens' feedback and petitions",
        "quarter III of 2023",
        "from 01/07/2023 to 30/09/2023",
        "I. OVERALL RESULTS",
        "Cases received",
        "No feedback or petitions under this index were received in the period.",
        "IV. HOW THE INDICATORS ARE COMPUTED",
        "Recipients:",
        "CHAIRMAN",
    ):
        assert english in text, english
    for vietnamese in ("CỘNG HÒA", "quý III", "Nơi nhận", "KẾT QUẢ CHUNG", "Tổng cộng"):
        assert vietnamese not in text, vietnamese
    book = load_workbook(io.BytesIO(client.get("/bao-cao/2023-Q3.xlsx").data))
    assert book.sheetnames[:3] == ["Summary", "By PAPI index", "By unit"]
    assert book["Summary"]["A4"].value.startswith("REPORT: RESULTS OF RECEIVING")
    assert book["Summary"]["B10"].value == "Cases received"
    vietnamese = _pdf_text(client.get("/bao-cao/2023-Q3.pdf?lang=vi").data)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in vietnamese and "quý III năm 2023" in vietnamese


def test_the_dashboards_data_names_are_marked_in_the_table_and_plain_elsewhere(
    client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    """A unit's name stays Vietnamese on the English dashboard: marked lang="vi" in the
    table's cell, plain text in the row's attribute and in the charts' SVG (a span there
    broke the attribute and took the text out of the SVG)."""
    make_case()
    login_as("inspector")
    page = client.get("/thanh-tra/so-lieu?lang=en").text
    groups = re.findall(r'<tr data-group="([^"]*)">\s*<th scope="row">(.*?)</th>', page)
    named = [(attribute, cell) for attribute, cell in groups if "UBND" in attribute]
    assert named, groups
    for attribute, cell in named:
        assert "<" not in attribute and cell == f'<span lang="vi">{attribute}</span>'
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert svgs and not any("<span" in svg for svg in svgs)
    # In the charts the name is marked too: its label and the name in a bar's tooltip.
    unit = named[0][0]
    assert re.search(rf'<text [^>]*lang="vi"><title>{re.escape(unit)}</title>', page)
    from feedback.services.oversight.charts import Series, bar_chart

    chart = bar_chart("c", "Shares", "…", [unit, "No area"], [Series("On time", [50.0, 40.0])])
    assert f'<title><tspan lang="vi">{unit}</tspan> – On time: 50%</title>' in chart
    assert "<title>No area – On time: 40%</title>" in chart


def test_figures_are_written_in_the_notation_of_the_language() -> None:
    from feedback.services.oversight.charts import number

    assert (number(96.94), number(1234567, 0), number(6.0, 1, " h")) == ("96,9", "1.234.567", "6 h")
    english = (number(96.94, english=True), number(1234567, 0, english=True))
    assert english == ("96.9", "1,234,567")
    from feedback.services.oversight.charts import Series, bar_chart, column_chart

    bars = [Series("On time", [96.94])]
    assert ">96,9%</text>" in bar_chart("c", "t", "d", ["A"], bars)
    assert ">96.9%</text>" in bar_chart("c", "t", "d", ["A"], bars, english=True)
    assert ">1,234</text>" in column_chart("m", "t", "d", ["01/2026"], [1234], english=True)


def test_files_in_english_hold_the_datas_names_as_plain_text(
    client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    """A unit's name is data: in an English report and export it is written as it is,
    never with the page's lang="vi" markup."""
    make_case()
    login_as("inspector")
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    pdf = client.get(f"/bao-cao/{quarter}.pdf?lang=en")
    assert pdf.status_code == 200, pdf.status_code
    text = _pdf_text(pdf.data)
    book = load_workbook(io.BytesIO(client.get(f"/bao-cao/{quarter}.xlsx?lang=en").data))
    cells = [
        str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row if c
    ]
    exported = client.get("/can-bo/xuat/cases.csv?lang=en").get_data(as_text=True)
    for name, content in (("pdf", text), ("xlsx", "\n".join(cells)), ("csv", exported)):
        assert "UBND" in content, name
        assert "<span" not in content and "lang=" not in content, name
