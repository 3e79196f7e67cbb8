"""The period report as files: an XLSX workbook and an A4 PDF in the administrative style.

Layout only: every figure is already in the Report (feedback.services.reports.period, from
feedback.services.oversight.metrics); nothing here counts anything."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from ...domain.calendar import LOCAL_TZ
from .pdf import NATIONAL, Document, number, percent, place_date
from .period import BREAKDOWNS, FIGURES, Figures, Report

PDF_COLUMNS = {
    "received": "Tiếp nhận",
    "ack_on_time": "Phản hồi đúng hạn %",
    "answered_on_time": "Trả lời đúng hạn %",
    "late_answers": "Trả lời trễ hạn",
    "apology_share": "Có thư xin lỗi %",
    "overdue_open": "Quá hạn chưa trả lời",
    "satisfaction": "Điểm hài lòng",
}


def xlsx_bytes(report: Report) -> bytes:
    """«Tổng hợp» (heading, period, totals with their definitions), «Theo chỉ số PAPI» and
    one sheet per breakdown; figures are numbers, an empty cell where there is none."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Tổng hợp"
    p = report.period
    lines = [
        (*report.issuer[:1], None, NATIONAL[0]),
        (report.issuer[1], None, NATIONAL[1]),
        (),
        (f"BÁO CÁO {report.title.upper()}",),
        (f"Kỳ báo cáo: {p.label} ({p.span})",),
        (f"Hạn gửi báo cáo: {p.due_text}",),
        (f"Số liệu tính đến: {report.as_of}",),
        (),
        ("Mã", "Chỉ tiêu", "Giá trị", "Cách tính"),
    ]
    for line in lines:
        ws.append(line)
    for key, label in FIGURES.items():
        ws.append((key, label, report.totals[key], report.definitions[key]))
    for cell in ("A1", "A2", "C1", "C2", "A4", "A9", "B9", "C9", "D9"):
        ws[cell].font = Font(bold=True)
    for col, width in zip("ABCD", (18, 46, 12, 90), strict=True):
        ws.column_dimensions[col].width = width
    _figure_formats(ws, 10, 3, 3)
    papi = wb.create_sheet("Theo chỉ số PAPI")
    papi.append(("Mã", "Chỉ số nội dung / tiêu chí thành phần", *FIGURES.values()))
    for sec in report.dimensions:
        papi.append((sec.code, sec.name, *(sec.figures[k] for k in FIGURES)))
        for cell in papi[papi.max_row]:
            cell.font = Font(bold=True)
        for code, name, figures in sec.categories:
            papi.append((code, f"   {name}", *(figures[k] for k in FIGURES)))
    papi.append(("", "Tổng cộng", *(report.totals[k] for k in FIGURES)))
    _table_style(papi, 3, (8, 50))
    for by, (title, heading) in BREAKDOWNS.items():
        sheet = wb.create_sheet(title)
        sheet.append((heading, *FIGURES.values()))
        for label, figures in report.breakdowns[by]:
            sheet.append((label, *(figures[k] for k in FIGURES)))
        sheet.append(("Tổng cộng", *(report.totals[k] for k in FIGURES)))
        _table_style(sheet, 2, (40,))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _figure_formats(ws: Any, first_row: int, first_col: int, last_col: int) -> None:
    for row in ws.iter_rows(min_row=first_row, min_col=first_col, max_col=last_col):
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "0.0#"
            elif isinstance(cell.value, int):
                cell.number_format = "#,##0"


def _table_style(ws: Any, first_figure_col: int, label_widths: tuple[int, ...]) -> None:
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for i, width in enumerate(label_widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    for i in range(first_figure_col, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(i)].width = 14
    ws.freeze_panes = ws.cell(row=2, column=first_figure_col)
    _figure_formats(ws, 2, first_figure_col, ws.max_column)


def _pdf_rows(items: list[tuple[str, Figures]]) -> list[list[str]]:
    return [[label, *(number(f[k]) for k in PDF_COLUMNS)] for label, f in items]


def pdf_bytes(report: Report) -> bytes:
    p, t = report.period, report.totals
    doc = Document(f"Báo cáo {report.title} {p.label}")
    when = report.now.astimezone(LOCAL_TZ).date()
    doc.heading(report.issuer, "Số: .../BC-UBND", place_date(report.place, when))
    doc.doc_title("BÁO CÁO", report.title, p.label)
    doc.para(
        f"Thực hiện {report.source}, Ủy ban nhân dân thành phố báo cáo kết quả tiếp nhận, "
        f"giải quyết phản ánh, kiến nghị của người dân {p.label} ({p.span}; số liệu tính đến "
        f"{report.as_of}) như sau:"
    )
    doc.section("I. KẾT QUẢ CHUNG")
    doc.grid(
        ("Chỉ tiêu", "Kết quả"),
        [[label, number(t[key])] for key, label in FIGURES.items()],
        (130, 40),
    )
    doc.section("II. KẾT QUẢ THEO 8 CHỈ SỐ NỘI DUNG PAPI")
    widths = (58, *[112 / len(PDF_COLUMNS)] * len(PDF_COLUMNS))
    for sec in report.dimensions:
        f = sec.figures
        doc.section(f"{sec.code}. {sec.name}" if sec.code else sec.name)
        doc.para(
            f"Tiếp nhận {number(f['received'])} hồ sơ; phản hồi tiếp nhận đúng hạn "
            f"{percent(f['ack_on_time'])}; trả lời đúng hạn {percent(f['answered_on_time'])}; "
            f"trả lời trễ hạn {number(f['late_answers'])} hồ sơ (đã có thư xin lỗi: "
            f"{percent(f['apology_share'])}); quá hạn chưa trả lời {number(f['overdue_open'])}; "
            f"điểm hài lòng bình quân {number(f['satisfaction'])}."
            if f["received"]
            else "Trong kỳ không tiếp nhận phản ánh, kiến nghị thuộc chỉ số này."
        )
        if sec.categories:
            rows = [(f"{code} {name}", figs) for code, name, figs in sec.categories]
            doc.grid(("Tiêu chí thành phần", *PDF_COLUMNS.values()), _pdf_rows(rows), widths)
    doc.section("III. KẾT QUẢ THEO ĐƠN VỊ, KÊNH, LOẠI HỒ SƠ, ĐỊA BÀN VÀ THÁNG")
    for n, (by, (title, heading)) in enumerate(BREAKDOWNS.items(), start=1):
        doc.section(f"{n}. {title[0].upper()}{title[1:]}")
        rows = [*report.breakdowns[by], ("Tổng cộng", t)]
        doc.grid((heading, *PDF_COLUMNS.values()), _pdf_rows(rows), widths)
    doc.section("IV. CÁCH TÍNH CÁC CHỈ TIÊU")
    for key, label in FIGURES.items():
        doc.para(f"- {label}: {report.definitions[key]}", indent=False, size=10)
    doc.sign_block(
        [  # «Nơi nhận»
            "- UBND tỉnh Hà Giang;",
            "- TT Thành ủy, TT HĐND thành phố;",
            "- Chủ tịch, các PCT UBND thành phố;",
            "- Thanh tra thành phố;",
            "- Phòng Nội vụ;",
            "- Lưu: VT.",
        ],
        ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"),
    )
    return bytes(doc.output())
