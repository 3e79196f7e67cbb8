"""The period report as files: an XLSX workbook and an A4 PDF in the administrative style.

Layout only: every figure is already in the Report (feedback.services.reports.period, from
feedback.services.oversight.metrics); nothing here counts anything."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from ...domain.calendar import LOCAL_TZ
from ...domain.marks import N_
from .pdf import NATIONAL, Document, number, percent, place_date
from .pdf import RECIPIENTS as RECIPIENTS_TITLE
from .period import BREAKDOWNS, FIGURES, Figures, Report

PDF_COLUMNS = {
    "received": N_("Tiếp nhận"),
    "ack_on_time": N_("Phản hồi đúng hạn %"),
    "answered_on_time": N_("Trả lời đúng hạn %"),
    "late_answers": N_("Trả lời trễ hạn"),
    "apology_share": N_("Có thư xin lỗi %"),
    "overdue_open": N_("Quá hạn chưa trả lời"),
    "satisfaction": N_("Điểm hài lòng"),
}


TOTAL = N_("Tổng cộng")
RECIPIENTS = (  # «Nơi nhận»
    N_("- UBND tỉnh Hà Giang;"),
    N_("- TT Thành ủy, TT HĐND thành phố;"),
    N_("- Chủ tịch, các PCT UBND thành phố;"),
    N_("- Thanh tra thành phố;"),
    N_("- Phòng Nội vụ;"),
    N_("- Lưu: VT."),
)
Translate = Callable[[str], str]


def _same(text: str) -> str:
    return text


def xlsx_bytes(report: Report, translate: Translate = _same) -> bytes:
    """«Tổng hợp» (heading, period, totals with their definitions), «Theo chỉ số PAPI» and
    one sheet per breakdown; figures are numbers, an empty cell where there is none. The
    words in the language of ``translate`` (the names from the data as they are)."""
    t_ = translate
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = t_(N_("Tổng hợp"))
    p = report.period
    title = t_(N_("BÁO CÁO %(title)s", title=t_(report.title).upper()))
    lines = [
        (t_(report.issuer[0]), None, t_(NATIONAL[0])),
        (report.issuer[1], None, t_(NATIONAL[1])),
        (),
        (title,),
        (t_(N_("Kỳ báo cáo: %(period)s (%(span)s)", period=p.label, span=p.span)),),
        (t_(N_("Hạn gửi báo cáo: %(due)s", due=p.due_text)),),
        (t_(N_("Số liệu tính đến: %(as_of)s", as_of=report.as_of)),),
        (),
        (t_(N_("Mã")), t_(N_("Chỉ tiêu")), t_(N_("Giá trị")), t_(N_("Cách tính"))),
    ]
    for line in lines:
        ws.append(line)
    for key, label in FIGURES.items():
        ws.append((key, t_(label), report.totals[key], t_(report.definitions[key])))
    for cell in ("A1", "A2", "C1", "C2", "A4", "A9", "B9", "C9", "D9"):
        ws[cell].font = Font(bold=True)
    for col, width in zip("ABCD", (18, 46, 12, 90), strict=True):
        ws.column_dimensions[col].width = width
    _figure_formats(ws, 10, 3, 3)
    heads = [t_(label) for label in FIGURES.values()]
    papi = wb.create_sheet(t_(N_("Theo chỉ số PAPI")))
    papi.append((t_(N_("Mã")), t_(N_("Chỉ số nội dung / tiêu chí thành phần")), *heads))
    for sec in report.dimensions:
        papi.append((sec.code, t_(sec.name), *(sec.figures[k] for k in FIGURES)))
        for cell in papi[papi.max_row]:
            cell.font = Font(bold=True)
        for code, name, figures in sec.categories:
            papi.append((code, f"   {name}", *(figures[k] for k in FIGURES)))
    papi.append(("", t_(TOTAL), *(report.totals[k] for k in FIGURES)))
    _table_style(papi, 3, (8, 50))
    for by, (title, heading) in BREAKDOWNS.items():
        sheet = wb.create_sheet(t_(title))
        sheet.append((t_(heading), *heads))
        for label, figures in report.breakdowns[by]:
            sheet.append((t_(label), *(figures[k] for k in FIGURES)))
        sheet.append((t_(TOTAL), *(report.totals[k] for k in FIGURES)))
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


def _pdf_rows(items: list[tuple[str, Figures]], t_: Translate) -> list[list[str]]:
    return [[t_(label), *(number(f[k]) for k in PDF_COLUMNS)] for label, f in items]


def _dimension_text(f: Figures) -> str:
    if not f["received"]:
        return N_("Trong kỳ không tiếp nhận phản ánh, kiến nghị thuộc chỉ số này.")
    return N_(
        "Tiếp nhận %(received)s hồ sơ; phản hồi tiếp nhận đúng hạn %(ack)s; trả lời đúng hạn "
        "%(answered)s; trả lời trễ hạn %(late)s hồ sơ (đã có thư xin lỗi: %(apology)s); quá "
        "hạn chưa trả lời %(overdue)s; điểm hài lòng bình quân %(satisfaction)s.",
        received=number(f["received"]),
        ack=percent(f["ack_on_time"]),
        answered=percent(f["answered_on_time"]),
        late=number(f["late_answers"]),
        apology=percent(f["apology_share"]),
        overdue=number(f["overdue_open"]),
        satisfaction=number(f["satisfaction"]),
    )


def pdf_bytes(report: Report, translate: Translate = _same, lang: str = "vi") -> bytes:
    """The report on A4; the words in the language of ``translate`` (``lang`` its code, for
    the PDF's metadata), the names from the data as they are."""
    t_ = translate
    p, t = report.period, report.totals
    doc = Document(t_(N_("Báo cáo %(title)s %(period)s", title=report.title, period=p.label)), lang)
    when = report.now.astimezone(LOCAL_TZ).date()
    doc.heading(
        [t_(line) for line in report.issuer],
        t_(N_("Số: .../BC-UBND")),
        t_(place_date(report.place, when)),
        national=[t_(line) for line in NATIONAL],
    )
    doc.doc_title(t_(N_("BÁO CÁO")), t_(report.title), t_(p.label))
    doc.para(
        t_(
            N_(
                "Thực hiện %(source)s, Ủy ban nhân dân thành phố báo cáo kết quả tiếp nhận, "
                "giải quyết phản ánh, kiến nghị của người dân %(period)s (%(span)s; số liệu "
                "tính đến %(as_of)s) như sau:",
                source=report.source,
                period=p.label,
                span=p.span,
                as_of=report.as_of,
            )
        )
    )
    doc.section(t_(N_("I. KẾT QUẢ CHUNG")))
    doc.grid(
        (t_(N_("Chỉ tiêu")), t_(N_("Kết quả"))),
        [[t_(label), number(t[key])] for key, label in FIGURES.items()],
        (130, 40),
    )
    columns = [t_(label) for label in PDF_COLUMNS.values()]
    doc.section(t_(N_("II. KẾT QUẢ THEO 8 CHỈ SỐ NỘI DUNG PAPI")))
    widths = (58, *[112 / len(PDF_COLUMNS)] * len(PDF_COLUMNS))
    for sec in report.dimensions:
        name = t_(sec.name)
        doc.section(f"{sec.code}. {name}" if sec.code else name)
        doc.para(t_(_dimension_text(sec.figures)))
        if sec.categories:
            rows = [(f"{code} {name}", figs) for code, name, figs in sec.categories]
            head = (t_(N_("Tiêu chí thành phần")), *columns)
            doc.grid(head, _pdf_rows(rows, t_), widths)
    doc.section(t_(N_("III. KẾT QUẢ THEO ĐƠN VỊ, KÊNH, LOẠI HỒ SƠ, ĐỊA BÀN VÀ THÁNG")))
    for n, (by, (title, heading)) in enumerate(BREAKDOWNS.items(), start=1):
        title = t_(title)
        doc.section(f"{n}. {title[0].upper()}{title[1:]}")
        rows = [*report.breakdowns[by], (TOTAL, t)]
        doc.grid((t_(heading), *columns), _pdf_rows(rows, t_), widths)
    doc.section(t_(N_("IV. CÁCH TÍNH CÁC CHỈ TIÊU")))
    for key, label in FIGURES.items():
        doc.para(f"- {t_(label)}: {t_(report.definitions[key])}", indent=False, size=10)
    doc.sign_block(
        [t_(line) for line in RECIPIENTS],
        (t_(N_("TM. ỦY BAN NHÂN DÂN")), t_(N_("CHỦ TỊCH"))),
        recipients_title=t_(RECIPIENTS_TITLE),
    )
    return bytes(doc.output())
