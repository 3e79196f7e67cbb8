"""CSV and XLSX exports of a filtered case list (``/can-bo/xuat/cases.csv|.xlsx``).

The rows are the staff search's (feedback.services.oversight.search: the same filters, the same
visibility, newest received first), at most ``MAX_ROWS``; a larger selection is refused
with a 422 that asks for narrower filters, never cut short in silence.

What an export never holds, for any role, the inspector included: the reporter's name,
phone, e-mail and address, the body, the answer text, the access key hash and the sealed
identity. The subject is the citizen's own words, so it goes through
feedback.services.oversight.redact with what the reporter told us about themselves. Denunciations
are left out altogether (Law on Denunciations 2018, art. 47: anything that could identify
a denouncer stays inside the inspectorate; a file is copied and mailed on).

Rows are read in keyset-paged batches, each its own short transaction: a long download
never holds a database lock (SQLite transactions here begin IMMEDIATE).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Select, and_, func, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ...domain.calendar import LOCAL_TZ
from ...domain.permissions import CONFIDENTIAL_KINDS
from ...extensions import db
from ...models import Area, Case, Category, Unit, User
from ..errors import ValidationError
from ..intake.identity import unseal
from . import search
from .redact import Known, redact

MAX_ROWS = 50_000
BATCH = 1_000
COLUMNS = (
    "code",
    "kind",
    "channel",
    "status",
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
    "rating",
    "subject",
)
_TIMES = ("received_at", "ack_due_at", "acknowledged_at", "response_due_at", "answered_at")
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
            errors[name] = "Tham số không được hỗ trợ khi xuất tệp."
    criteria: search.Criteria | None = None
    try:
        criteria = search.parse({k: v for k, v in args.items() if k in search.FILTERS})
    except ValidationError as exc:
        errors.update(exc.fields)
    if criteria is not None and criteria.kind in CONFIDENTIAL_KINDS:
        errors["kind"] = "Hồ sơ tố cáo không được xuất ra tệp (bảo vệ người tố cáo)."
    if errors or criteria is None:
        raise ValidationError("Tham số xuất tệp không hợp lệ.", errors)
    return criteria


def prepare(user: User, criteria: search.Criteria, now: datetime) -> Export:
    """The rows' statement, counted; refused when there are more than ``MAX_ROWS``."""
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
    if total > MAX_ROWS:
        raise ValidationError(
            f"Có {total} hồ sơ phù hợp, quá giới hạn {MAX_ROWS} dòng của một tệp; "
            "vui lòng thu hẹp bộ lọc (đơn vị, trạng thái, lĩnh vực, địa bàn...).",
            {"filters": f"Tối đa {MAX_ROWS} dòng."},
        )
    return Export(stmt, total)


def _time(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else ""


def _row(r: Any) -> list[str]:
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
        rating="" if r.rating is None else str(r.rating),
        subject=redact(r.subject, known),
    )
    values.update({name: _time(getattr(r, name)) for name in _TIMES})
    return [values[name] for name in COLUMNS]


def rows(export: Export) -> Iterator[list[str]]:
    """The export's rows, newest received first, read in short transactions."""
    after: ColumnElement[bool] = true()
    sent = 0
    while sent < MAX_ROWS:
        batch = db.session.execute(
            export.stmt.where(after)
            .order_by(Case.received_at.desc(), Case.id.desc())
            .limit(min(BATCH, MAX_ROWS - sent))
        ).all()
        db.session.rollback()  # read-only: end the transaction, release the lock
        if not batch:
            return
        for r in batch:
            yield _row(r)
        sent += len(batch)
        last = batch[-1]
        after = or_(
            Case.received_at < last.received_at,
            and_(Case.received_at == last.received_at, Case.id < last.id),
        )


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_chunks(export: Export) -> Iterator[str]:
    """UTF-8 with a byte-order mark (so Excel reads Vietnamese), CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    for i, row in enumerate(rows(export), 1):
        writer.writerow([_cell(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(export: Export) -> bytes:
    """One sheet, the same header and rows as the CSV; every cell is text (a subject
    starting with "=" stays text, never a formula)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Hồ sơ")
    sheet.append(list(COLUMNS))
    for row in rows(export):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(extension: str, now: datetime) -> str:
    return f"ho-so-{now.astimezone(LOCAL_TZ):%Y-%m-%d}.{extension}"
