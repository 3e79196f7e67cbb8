"""CSV and XLSX exports of a filtered case list (``/can-bo/xuat/cases.csv|.xlsx``).

The rows are the staff search's (feedback.services.oversight.search: the same filters, the same
visibility, newest received first), all of them: there is no row limit (issue 17; a year of
a province is a million rows). Both formats are streamed in constant memory: the CSV in
chunks, the XLSX as a zip written while the rows are read (``xlsx_chunks``), so the first
byte leaves before the last row is read and the worker never holds the file. Every export
is written to the audit log (who, which filters, which format, how many rows) before its
first byte.

What an export never holds, for any role, the inspector included: the reporter's name,
phone, e-mail and address, the body, the answer text, the access key hash and the sealed
identity. The subject is the citizen's own words, so it goes through
feedback.services.oversight.redact with what the reporter told us about themselves. Denunciations
are left out altogether (Law on Denunciations 2018, art. 47: anything that could identify
a denouncer stays inside the inspectorate; a file is copied and mailed on).

Rows are read in keyset-paged batches (``(received_at, id) <`` the last row, which both
engines answer from the received_at index), each its own short transaction: a long
download never holds a database lock or an old snapshot, and memory stays one batch.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, func, select, true, tuple_
from sqlalchemy.orm import aliased

from ...domain.calendar import LOCAL_TZ
from ...domain.marks import N_
from ...domain.permissions import CONFIDENTIAL_KINDS
from ...domain.states import STATUS_LABELS
from ...extensions import db
from ...models import Area, Case, Category, Unit, User
from ..accounts import audit
from ..errors import ValidationError
from ..intake.identity import unseal
from ..intake.submission import CHANNEL_LABELS, KIND_LABELS
from . import search
from .redact import Known, redact

BATCH = 2_000
COLUMNS = (
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
)
"""The columns, in order. The machine-readable codes (kind, channel, status, overdue) keep
columns of their own beside their Vietnamese words (issue 16: the file spoke code)."""
HEADERS = {
    "code": N_("Mã hồ sơ"),
    "kind": N_("Mã loại"),
    "kind_label": N_("Loại hồ sơ"),
    "channel": N_("Mã kênh"),
    "channel_label": N_("Kênh tiếp nhận"),
    "status": N_("Mã trạng thái"),
    "status_label": N_("Trạng thái"),
    "category_code": N_("Mã lĩnh vực"),
    "category_name": N_("Lĩnh vực"),
    "area": N_("Xã/phường"),
    "handling_unit": N_("Đơn vị xử lý"),
    "lead_unit": N_("Đơn vị chủ trì theo dõi"),
    "received_at": N_("Thời điểm tiếp nhận"),
    "ack_due_at": N_("Hạn phản hồi tiếp nhận"),
    "acknowledged_at": N_("Thời điểm phản hồi tiếp nhận"),
    "response_due_at": N_("Hạn trả lời"),
    "answered_at": N_("Thời điểm trả lời"),
    "overdue": N_("Mã quá hạn (yes/no)"),
    "overdue_label": N_("Quá hạn"),
    "rating": N_("Đánh giá (1–5)"),
    "subject": N_("Tiêu đề"),
}
"""The header row, in Vietnamese, marked (N_): a file asked for from an English page has
it in English (``translate``), and the words of the label columns too."""
STATUS_TEXT = {status.value: label for status, label in STATUS_LABELS.items()}
OVERDUE_TEXT = {True: N_("Quá hạn"), False: N_("Không")}
SHEET_TITLE = N_("Hồ sơ")
_TIMES = ("received_at", "ack_due_at", "acknowledged_at", "response_due_at", "answered_at")
_EMPTY_SHEET_DATA = re.compile(r"<sheetData\s*/>|<sheetData>\s*</sheetData>")
# A cell starting with one of these is a formula to Excel (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Export:
    """A checked export: the statement of the rows and how many there are."""

    stmt: Select[Any]
    total: int


def parse(args: Mapping[str, list[str]]) -> search.Criteria:
    """The search filters (no paging); every bad parameter named in one 422."""
    errors: dict[str, str] = {}
    for name in args:
        if name not in search.FILTERS:
            errors[name] = N_("Tham số không được hỗ trợ khi xuất tệp.")
    criteria: search.Criteria | None = None
    try:
        criteria = search.parse({k: v for k, v in args.items() if k in search.FILTERS})
    except ValidationError as exc:
        errors.update(exc.fields)
    if criteria is not None and criteria.kind in CONFIDENTIAL_KINDS:
        errors["kind"] = N_("Hồ sơ tố cáo không được xuất ra tệp (bảo vệ người tố cáo).")
    if errors or criteria is None:
        raise ValidationError(N_("Tham số xuất tệp không hợp lệ."), errors)
    return criteria


def prepare(user: User, criteria: search.Criteria, now: datetime) -> Export:
    """The rows' statement, counted (the count goes to the audit log and a header)."""
    handling, lead = aliased(Unit), aliased(Unit)
    visible = search.query(user, criteria, now).where(Case.kind.not_in(CONFIDENTIAL_KINDS))
    overdue = search.overdue_condition(now)
    stmt = (
        visible.with_only_columns(
            Case.id.label("id"),
            Case.code.label("code"),
            Case.kind.label("kind"),
            Case.channel.label("channel"),
            Case.status.label("status"),
            Category.code.label("category_code"),
            Category.name.label("category_name"),
            Area.name.label("area"),
            handling.name.label("handling_unit"),
            lead.name.label("lead_unit"),
            Case.received_at.label("received_at"),
            Case.ack_due_at.label("ack_due_at"),
            Case.acknowledged_at.label("acknowledged_at"),
            Case.response_due_at.label("response_due_at"),
            Case.answered_at.label("answered_at"),
            overdue.label("overdue"),
            Case.rating.label("rating"),
            Case.subject.label("subject"),
            # Only to redact the subject; never written out.
            Case.reporter_name.label("reporter_name"),
            Case.reporter_phone.label("reporter_phone"),
            Case.reporter_email.label("reporter_email"),
            Case.identity_sealed.label("identity_sealed"),
            Case.address.label("address"),
        )
        .outerjoin(Category, Case.category_id == Category.id)
        .outerjoin(Area, Case.area_id == Area.id)
        .join(handling, Case.handling_unit_id == handling.id)
        .outerjoin(lead, Case.lead_unit_id == lead.id)
    )
    total = db.session.scalar(select(func.count()).select_from(visible.subquery())) or 0
    return Export(stmt, total)


def record(
    export: Export, args: Mapping[str, list[str]], extension: str, *, actor: User, now: datetime
) -> None:
    """The audit row of an export (the caller commits, before the first byte): a file of
    cases leaves the system, so who took it, with which filters and how many rows is kept
    even if the download is then interrupted."""
    filters = {name: values[0] for name, values in sorted(args.items()) if values and values[0]}
    audit.record(
        "export.cases",
        actor=(actor.id, actor.display_name),
        target=filename(extension, now),
        details={"format": extension, "rows": export.total, **filters},
    )


def _time(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else ""


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class _Words:
    """The file's words in one language, looked up once per export, not once per row."""

    kinds: Mapping[str, str]
    channels: Mapping[str, str]
    statuses: Mapping[str, str]
    overdue: Mapping[bool, str]

    @classmethod
    def of(cls, translate: Callable[[str], str]) -> _Words:
        def each(labels: Mapping[Any, str]) -> dict[Any, str]:
            return {key: translate(label) for key, label in labels.items()}

        return cls(each(KIND_LABELS), each(CHANNEL_LABELS), each(STATUS_TEXT), each(OVERDUE_TEXT))


VIETNAMESE = _Words.of(_same)


def header(translate: Callable[[str], str] = _same) -> list[str]:
    """The header row in the language of ``translate``."""
    return [translate(HEADERS[name]) for name in COLUMNS]


def _row(r: Any, words: _Words = VIETNAMESE) -> list[str]:
    who = unseal(r.identity_sealed) if r.identity_sealed else None
    known = Known(
        names=tuple(n for n in (who.name if who else r.reporter_name,) if n),
        phones=tuple(p for p in (who.phone if who else r.reporter_phone,) if p),
        emails=tuple(e for e in (who.email if who else r.reporter_email,) if e),
        addresses=tuple(a for a in (r.address,) if a),
    )
    values: dict[str, str] = {
        name: r._mapping[name] or ""
        for name in ("code", "kind", "channel", "status", "category_code", "category_name")
    }
    values.update(
        area=r.area or "",
        handling_unit=r.handling_unit or "",
        lead_unit=r.lead_unit or "",
        overdue="yes" if r.overdue else "no",
        overdue_label=words.overdue[bool(r.overdue)],
        kind_label=words.kinds.get(r.kind, r.kind),
        channel_label=words.channels.get(r.channel, r.channel),
        status_label=words.statuses.get(r.status, r.status),
        rating="" if r.rating is None else str(r.rating),
        subject=redact(r.subject, known),
    )
    values.update({name: _time(getattr(r, name)) for name in _TIMES})
    return [values[name] for name in COLUMNS]


def rows(export: Export, translate: Callable[[str], str] = _same) -> Iterator[list[str]]:
    """The export's rows, newest received first, read in short transactions; the label
    columns in the language of ``translate`` (the codes and the data as they are)."""
    words = _Words.of(translate)
    after: Any = true()
    while True:
        batch = db.session.execute(
            export.stmt.where(after).order_by(Case.received_at.desc(), Case.id.desc()).limit(BATCH)
        ).all()
        db.session.rollback()  # read-only: end the transaction, release the snapshot
        for r in batch:
            yield _row(r, words)
        if len(batch) < BATCH:
            return
        last = batch[-1]
        after = tuple_(Case.received_at, Case.id) < tuple_(last.received_at, last.id)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_chunks(export: Export, translate: Callable[[str], str] = _same) -> Iterator[str]:
    """UTF-8 with a byte-order mark (so Excel reads Vietnamese), CRLF line ends; the
    header and the label columns in the language of ``translate``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header(translate))
    # The header at once: the first byte does not wait for the first rows (and their
    # redaction, the export's main cost).
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for i, row in enumerate(rows(export, translate), 1):
        writer.writerow([_cell(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class _Pipe(io.RawIOBase):
    """An unseekable sink: zipfile then writes each member's sizes after its data (a data
    descriptor), so a member can be streamed out while it is still being written."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def _skeleton(title: str) -> tuple[list[tuple[zipfile.ZipInfo, bytes]], str]:
    """openpyxl's write-only workbook with the one empty sheet: every part of the file
    (content types, styles, workbook) comes from it; only the sheet's rows are ours."""
    book = Workbook(write_only=True)
    book.create_sheet(title)
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        parts = [(info, archive.read(info)) for info in archive.infolist()]
    sheets = [info.filename for info, _ in parts if info.filename.startswith("xl/worksheets/")]
    return parts, sheets[0]


def _sheet_row(number: int, values: Iterable[str]) -> bytes:
    """A row as openpyxl's write-only sheet writes one: inline strings, an empty value
    an empty cell."""
    cells = []
    for column, value in enumerate(values, 1):
        ref = f"{get_column_letter(column)}{number}"
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        if not text:
            cells.append(f'<c r="{ref}" t="inlineStr" />')
            continue
        space = ' xml:space="preserve"' if text != text.strip() else ""
        cells.append(f'<c r="{ref}" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'.encode()


def xlsx_chunks(export: Export, translate: Callable[[str], str] = _same) -> Iterator[bytes]:
    """One sheet, the same header and rows as the CSV, streamed: the sheet is written
    into the zip as the rows are read, and whatever the zip has compressed so far is
    sent. Every cell is an inline string, so a subject starting with "=" stays text, never
    a formula. The sheet's name, header and label columns in the language of ``translate``."""
    parts, sheet_name = _skeleton(translate(SHEET_TITLE))
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info, data in parts:
            if info.filename != sheet_name:
                archive.writestr(info.filename, data)
                continue
            head, tail = _EMPTY_SHEET_DATA.split(data.decode("utf-8"), maxsplit=1)
            member = zipfile.ZipInfo(sheet_name, date_time=info.date_time)
            member.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member, "w", force_zip64=True) as sheet:
                sheet.write(head.encode() + b"<sheetData>")
                sheet.write(_sheet_row(1, header(translate)))
                yield pipe.take()  # the parts before the sheet, at once
                for number, row in enumerate(rows(export, translate), 2):
                    sheet.write(_sheet_row(number, row))
                    if number % 500 == 0:
                        yield pipe.take()
                sheet.write(b"</sheetData>" + tail.encode())
            yield pipe.take()
    yield pipe.take()


def filename(extension: str, now: datetime) -> str:
    return f"ho-so-{now.astimezone(LOCAL_TZ):%Y-%m-%d}.{extension}"
