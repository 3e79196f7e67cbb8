"""Batch import of the entries the provincial 1022 system forwards to the city, as CSV.

The file format (also in README.md, "Importing 1022 batches"):

- UTF-8 text (a UTF-8 byte-order mark is accepted), comma-separated, standard CSV quoting
  (a field holding a comma, a quote or a line break is written in double quotes); a header
  row is required and names the columns, in any order and any letter case:

  ``ticket`` (required), ``received_at`` (required), ``kind`` (required), ``subject``
  (required), ``body`` (required), ``category_code``, ``area_code``, ``address``,
  ``caller_name``, ``caller_phone``, ``caller_email``, ``anonymous``.

- Other columns are ignored and listed in the report; a missing required column refuses the
  whole file.

Every row goes through :func:`feedback.services.intake.submission.submit_case` on the ``hotline``
channel with the ticket number as ``external_ref``, so a ticket already imported (in an
earlier batch, or entered through the API) is reported as "already present" and never
becomes a second case. A bad row is reported with its physical line number in the file
(the header is line 1) and the reasons, in Vietnamese, while the good rows go in.

Two ways in, with different limits:

- :func:`import_1022` (the upload page): at most 5 MB and 5,000 rows, one transaction
  that the caller's unit of work commits with the batch row, or rolls all of it back.
  A bigger file is refused with the advice to use the command line.
- :func:`import_in_chunks` (``flask import-1022``): up to 200 MB and 200,000 rows, in
  chunks of 500 rows, each chunk its own transaction that commits its cases with the
  batch's progress (rows done of total). No lock is held for the whole file: other
  writers (the web, the scheduler) get the database between chunks. Interrupted at any
  row (an error, a killed process), the chunks already committed stay, the running
  chunk is rolled back, and a re-run of the same file imports the rest: the rows
  already in are "already present" by (channel, ticket), so every ticket is one case.

A batch's report (tickets, case codes, each rejected row's faults) is read by its uploader
and by the coordinator, who answers for every batch, those imported from the command line
included (feedback.domain.permissions.may_read_batch); to another operator it does not
exist.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, select, true, update
from sqlalchemy.sql.elements import ColumnElement

from ...domain.calendar import LOCAL_TZ
from ...domain.marks import N_
from ...domain.permissions import ALL_BATCHES_ROLES, IMPORT_ROLES, may_read_batch
from ...domain.text import fold
from ...extensions import db
from ...models import ImportBatch, User
from ..errors import NotFound, ValidationError
from .submission import CaseInput, Reporter, submit_case, validate

# The upload page: one request, one transaction.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# The command line: chunked, each chunk committed (import_in_chunks).
CLI_MAX_BYTES = 200 * 1024 * 1024
CLI_MAX_ROWS = 200_000
CHUNK_ROWS = 500
CLI_ADVICE = N_(
    " Tệp lớn hơn (tới 200.000 dòng) được nhập bằng dòng lệnh theo từng phần: "
    "flask --app feedback import-1022 TỆP.csv (nhờ quản trị viên hệ thống)."
)

REQUIRED_COLUMNS = ("ticket", "received_at", "kind", "subject", "body")
OPTIONAL_COLUMNS = (
    "category_code",
    "area_code",
    "address",
    "caller_name",
    "caller_phone",
    "caller_email",
    "anonymous",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Kinds by their code or their Vietnamese label, folded (no case, no diacritics).
KINDS = {
    "feedback": "feedback",
    "petition": "petition",
    "suggestion": "suggestion",
    "complaint": "complaint",
    "denunciation": "denunciation",
    "phan anh": "feedback",
    "kien nghi": "petition",
    "gop y": "suggestion",
    "khieu nai": "complaint",
    "to cao": "denunciation",
}
_YES = frozenset({"1", "co", "true"})
_NO = frozenset({"0", "khong", "false", ""})

# The service's field names → the CSV's column names, so a reason names what to fix.
FIELD_TO_COLUMN = {
    "external_ref": "ticket",
    "reporter.name": "caller_name",
    "reporter.phone": "caller_phone",
    "reporter.email": "caller_email",
}

_VN_DATETIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_XLSX_MAGIC = b"PK\x03\x04"
# The csv module's complaints, in words an operator can act on.
_CSV_ERRORS = {
    "unexpected end of data": N_("thiếu dấu ngoặc kép đóng"),
    "expected after": N_("sau dấu ngoặc kép đóng phải là dấu phẩy hoặc hết dòng"),
    "field larger than field limit": N_("có ô quá dài (thường do thiếu dấu ngoặc kép đóng)"),
}

BAD_DATE = N_(
    "Thời điểm tiếp nhận không đúng định dạng: dùng ISO 8601 (2024-02-05T08:30, "
    "2024-02-05T08:30:00+07:00) hoặc dd/mm/yyyy HH:MM (05/02/2024 08:30)."
)


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    cells: int  # how many cells the record has
    width: int  # how many columns the header has


@dataclass
class _Report:
    rejected: list[dict[str, Any]] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "rejected": self.rejected,
            "already_present": self.already_present,
            "imported": self.imported,
            "ignored_columns": self.ignored_columns,
        }


def parse_received_at(text: str) -> datetime:
    """A moment in one of the accepted spellings, as aware UTC. A time without an offset is
    local time (Asia/Ho_Chi_Minh). Raises ``ValueError`` with the Vietnamese reason."""
    text = text.strip()
    if not text:
        raise ValueError(N_("Thiếu thời điểm tiếp nhận."))
    match = _VN_DATETIME.match(text)
    try:
        if match:
            day, month, year, hour, minute, second = match.groups()
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
            )
        elif _ISO_DATETIME.match(text):
            moment = datetime.fromisoformat(text)
        else:
            raise ValueError(BAD_DATE)
    except ValueError:
        raise ValueError(BAD_DATE) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def parse_kind(text: str) -> str:
    folded = fold(text)
    if not folded:
        raise ValueError(N_("Thiếu loại hồ sơ."))
    kind = KINDS.get(folded)
    if kind is None:
        raise ValueError(
            N_(
                "Loại hồ sơ «%(kind)s» không hợp lệ: dùng Phản ánh, Kiến nghị, Góp ý, "
                "Khiếu nại, Tố cáo (hoặc feedback, petition, suggestion, complaint, denunciation).",
                kind=text.strip()[:40],
            )
        )
    return kind


def parse_anonymous(text: str) -> bool:
    folded = fold(text)
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    raise ValueError(N_("Cột ẩn danh chỉ nhận 1/0, có/không hoặc true/false."))


def _area_code(text: str) -> str | None:
    text = text.strip()
    # Spreadsheets drop the leading zeros of "00697"; area codes are five digits.
    if text.isdigit() and len(text) < 5:
        text = text.zfill(5)
    return text or None


def _decode(data: bytes, max_bytes: int = MAX_BYTES, advice: str = CLI_ADVICE) -> str:
    if not data:
        raise ValidationError(N_("Tệp trống."), {"file": N_("Tệp trống.")})
    if len(data) > max_bytes:
        message = N_(
            "Tệp lớn hơn %(mb)s MB; hãy chia thành nhiều tệp nhỏ hơn.%(advice)s",
            mb=max_bytes // (1024 * 1024),
            advice=advice,
        )
        raise ValidationError(message, {"file": message})
    if data.startswith(_XLSX_MAGIC):
        message = N_(
            "Đây là tệp Excel, không phải tệp CSV. Trong Excel, chọn Lưu thành → "
            "«CSV UTF-8 (phân tách bằng dấu phẩy)» rồi tải lên tệp đó."
        )
        raise ValidationError(message, {"file": message})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = N_(
            "Tệp không phải văn bản UTF-8 (byte không hợp lệ ở dòng %(line)s). Hãy lưu tệp "
            "dưới dạng CSV mã hóa UTF-8; các bảng mã cũ như Windows-1258 hay TCVN3 không "
            "được chấp nhận.",
            line=line,
        )
        raise ValidationError(message, {"file": message}) from None
    if "\x00" in text:
        message = N_("Tệp chứa ký tự NUL: đây không phải tệp CSV dạng văn bản.")
        raise ValidationError(message, {"file": message})
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, cells) for every non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            for needle, vietnamese in _CSV_ERRORS.items():
                if needle in reason:
                    reason = vietnamese
                    break
            message = N_(
                "Tệp CSV hỏng ở dòng %(line)s: %(reason)s. Kiểm tra dấu ngoặc kép của ô bắt đầu "
                "ở dòng này.",
                line=start,
                reason=reason,
            )
            raise ValidationError(message, {"file": message}) from None
        if any(c.strip() for c in cells):
            yield start, cells
        start = reader.line_num + 1


def _read(
    text: str, max_rows: int = MAX_ROWS, advice: str = CLI_ADVICE
) -> tuple[list[_Row], list[str]]:
    """Check the header and split the file into rows; refuse the file as a whole when the
    header or the size is wrong. Nothing is written here."""
    records = _records(text)
    first = next(records, None)
    if first is None:
        message = N_("Tệp không có dòng tiêu đề (tên các cột).")
        raise ValidationError(message, {"file": message})
    _, header = first
    names = [h.strip().lower() for h in header]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            message = N_("Cột «%(name)s» xuất hiện hai lần ở dòng tiêu đề.", name=name)
            raise ValidationError(message, {"file": message})
        seen.add(name)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        message = N_(
            "Tệp thiếu cột bắt buộc: %(missing)s. Dòng đầu tiên phải là tên các cột, "
            "ví dụ: %(columns)s.",
            missing=", ".join(missing),
            columns=",".join(COLUMNS),
        )
        raise ValidationError(message, {"file": message})
    ignored = [
        header[i].strip() or N_("(cột thứ %(n)s không có tên)", n=i + 1)
        for i, name in enumerate(names)
        if name not in COLUMNS
    ]
    rows: list[_Row] = []
    for line, cells in records:
        if len(rows) >= max_rows:
            limit = f"{max_rows:,}".replace(",", ".")  # Vietnamese thousands separator
            message = N_(
                "Tệp có hơn %(limit)s dòng dữ liệu (dòng %(line)s vượt giới hạn); "
                "hãy chia thành nhiều tệp nhỏ hơn.%(advice)s",
                limit=limit,
                line=line,
                advice=advice,
            )
            raise ValidationError(message, {"file": message})
        values = {
            name: cells[i].strip() if i < len(cells) else ""
            for i, name in enumerate(names)
            if name in COLUMNS
        }
        rows.append(_Row(line, values, len(cells), len(names)))
    return rows, ignored


def _errors_of(exc: ValidationError) -> dict[str, str]:
    if not exc.fields:
        return {"row": exc.message}
    return {FIELD_TO_COLUMN.get(k, k): v for k, v in exc.fields.items()}


def _row_input(row: _Row) -> tuple[CaseInput, dict[str, str]]:
    """The intake input for one row, and the problems found while parsing it."""
    v = row.values
    errors: dict[str, str] = {}
    if row.cells != row.width:
        errors["row"] = N_(
            "Dòng có %(cells)s ô nhưng dòng tiêu đề có %(width)s cột; ô chứa dấu phẩy, "
            "dấu ngoặc kép hoặc xuống dòng phải được đặt trong ngoặc kép.",
            cells=row.cells,
            width=row.width,
        )
    ticket = v.get("ticket", "")
    if not ticket:
        errors["ticket"] = N_("Thiếu số phiếu 1022.")
    received_at = None
    try:
        received_at = parse_received_at(v.get("received_at", ""))
    except ValueError as exc:
        errors["received_at"] = str(exc)
    kind = "feedback"  # a stand-in, so the other checks still run and report every problem
    try:
        kind = parse_kind(v.get("kind", ""))
    except ValueError as exc:
        errors["kind"] = str(exc)
    anonymous = False
    try:
        anonymous = parse_anonymous(v.get("anonymous", ""))
    except ValueError as exc:
        errors["anonymous"] = str(exc)
    data = CaseInput(
        kind=kind,
        subject=v.get("subject", ""),
        body=v.get("body", ""),
        category_code=v.get("category_code") or None,
        area_code=_area_code(v.get("area_code", "")),
        address=v.get("address") or None,
        reporter=Reporter(
            name=v.get("caller_name") or None,
            phone=v.get("caller_phone") or None,
            email=v.get("caller_email") or None,
            anonymous=anonymous,
        ),
        channel="hotline",
        received_at=received_at,
        external_ref=ticket or None,
    )
    return data, errors


def _import_row(
    row: _Row,
    report: _Report,
    first_line_of: dict[str, int],
    *,
    actor: User | None,
    now: datetime,
) -> None:
    """One row into the session (not committed): a case, "already present", or rejected
    with its reasons in ``report``."""
    case_input, errors = _row_input(row)
    ticket = case_input.external_ref
    if ticket is not None:
        if ticket in first_line_of:
            errors["ticket"] = N_(
                "Số phiếu %(ticket)s trùng với dòng %(line)s của cùng tệp.",
                ticket=ticket,
                line=first_line_of[ticket],
            )
        else:
            first_line_of[ticket] = row.line
    if errors:
        # Report the intake's own objections too, so one pass shows everything to fix.
        try:
            validate(case_input, now)
        except ValidationError as exc:
            for key, message in _errors_of(exc).items():
                errors.setdefault(key, message)
        report.rejected.append({"line": row.line, "ticket": ticket, "errors": errors})
        return
    try:
        result = submit_case(case_input, actor=actor, now=now)
    except ValidationError as exc:
        report.rejected.append({"line": row.line, "ticket": ticket, "errors": _errors_of(exc)})
        return
    if result.created:
        report.imported.append(result.case.code)
    else:
        report.already_present.append(result.case.external_ref or ticket or "")


def _clean_name(filename: str) -> str:
    return (filename or "1022.csv").replace("\\", "/").rsplit("/", 1)[-1][:255]


def import_1022(data: bytes, filename: str, *, actor: User | None, now: datetime) -> ImportBatch:
    """Import one CSV batch; returns the flushed (not committed) ``ImportBatch``.

    Raises :class:`ValidationError` (nothing written) when the file as a whole is unusable:
    empty, too big, not UTF-8, not CSV, without a required column, or with too many rows."""
    text = _decode(data)
    rows, ignored = _read(text)
    report = _Report(ignored_columns=ignored)
    first_line_of: dict[str, int] = {}
    for row in rows:
        _import_row(row, report, first_line_of, actor=actor, now=now)
    batch = ImportBatch(
        filename=_clean_name(filename),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=actor.id if actor else None,
        created_at=now,
        imported=len(report.imported),
        already_present=len(report.already_present),
        rejected=len(report.rejected),
        report=report.as_json(),
        status="done",
        rows_total=len(rows),
        rows_done=len(rows),
        finished_at=now,
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def import_in_chunks(
    data: bytes,
    filename: str,
    *,
    actor_id: int | None,
    now: datetime,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Import a large file chunk by chunk, each chunk its own committed transaction;
    returns the batch's id. Must be called outside a unit of work (it opens its own).

    The batch row is committed first ("running", 0 of N rows), then each chunk commits its
    cases with the batch's counts, report lines and rows done, and calls ``progress(done,
    total)``. An exception rolls back the running chunk only, marks the batch
    "interrupted" and propagates; a killed process leaves it "running". Either way the
    committed rows stay, and importing the same file again completes it without a second
    case for any ticket. Raises :class:`ValidationError`, with nothing written, when the
    file as a whole is unusable."""
    from ...database import unit_of_work

    text = _decode(data, CLI_MAX_BYTES, advice="")
    rows, ignored = _read(text, CLI_MAX_ROWS, advice="")
    total = len(rows)
    with unit_of_work():
        batch = ImportBatch(
            filename=_clean_name(filename),
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_by_id=actor_id,
            created_at=now,
            report=_Report(ignored_columns=ignored).as_json(),
            status="running",
            rows_total=total,
            rows_done=0,
        )
        db.session.add(batch)
        db.session.flush()
        batch_id = batch.id
    if progress is not None:
        progress(0, total)
    first_line_of: dict[str, int] = {}
    done = 0
    try:
        for start in range(0, total, chunk_rows):
            chunk = rows[start : start + chunk_rows]
            part = _Report()
            with unit_of_work():
                actor = db.session.get(User, actor_id) if actor_id else None
                for row in chunk:
                    _import_row(row, part, first_line_of, actor=actor, now=now)
                batch = db.session.get(ImportBatch, batch_id)
                assert batch is not None
                batch.imported += len(part.imported)
                batch.already_present += len(part.already_present)
                batch.rejected += len(part.rejected)
                batch.rows_done = start + len(chunk)
                report = dict(batch.report or {})
                for key in ("rejected", "already_present", "imported"):
                    report[key] = [*report.get(key, []), *getattr(part, key)]
                batch.report = report
            done = start + len(chunk)
            if progress is not None:
                progress(done, total)
    except BaseException:
        with unit_of_work():
            db.session.execute(
                update(ImportBatch)
                .where(ImportBatch.id == batch_id, ImportBatch.status == "running")
                .values(status="interrupted")
            )
        raise
    with unit_of_work():
        db.session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(status="done", finished_at=datetime.now(UTC))
        )
    return batch_id


def _readable(user: User) -> ColumnElement[bool]:
    """The batches ``user`` may read, as SQL: feedback.domain.permissions.may_read_batch."""
    if user.role in ALL_BATCHES_ROLES:
        return true()
    if user.role in IMPORT_ROLES:
        return ImportBatch.uploaded_by_id == user.id
    return false()


def recent_batches(user: User, limit: int) -> list[tuple[ImportBatch, User | None]]:
    """The latest batches ``user`` may read, newest first, each with its uploader. A batch
    report lists tickets, codes and callers' faults: an operator sees only his own."""
    rows = db.session.execute(
        select(ImportBatch, User)
        .outerjoin(User, User.id == ImportBatch.uploaded_by_id)
        .where(_readable(user))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        .limit(limit)
    ).all()
    return [(batch, uploader) for batch, uploader in rows]


def batch_for(user: User, batch_id: int) -> ImportBatch:
    """The batch, or NotFound when it does not exist or ``user`` may not read it (the
    same answer, so another operator's batch numbers tell nothing)."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None or not may_read_batch(user.role, user.id, batch.uploaded_by_id):
        raise NotFound(N_("Không tìm thấy lô nhập này."))
    return batch


def summary(batch: ImportBatch) -> dict[str, Any]:
    """What the CLI prints: the counts and the rejected line numbers."""
    return {
        "imported": batch.imported,
        "already_present": batch.already_present,
        "rejected": batch.rejected,
        "rejected_lines": [r["line"] for r in batch.report.get("rejected", [])],
    }
