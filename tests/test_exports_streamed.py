"""Streamed exports without a row limit (issue 17).

A few thousand cases (written with plain SQL: the intake service would take minutes) are
exported as CSV and XLSX through the page, in batches, and compared with what the old
in-memory export made of the same filters (reproduced below from the code it replaced):
the CSV byte for byte, the XLSX cell for cell. Every export leaves an audit row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from helpers import staff_client
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import AuditLog, Case, User
from feedback.services.oversight import exports

CSV = "/can-bo/xuat/cases.csv"
XLSX = "/can-bo/xuat/cases.xlsx"
COPIES = 2_500
FILTERS = [{}, {"q": "rac thai"}, {"unit": "UBND-00694"}, {"kind": "petition", "q": "đèn"}]


@pytest.fixture
def many(app: Flask, make_case: Callable[..., str]) -> int:
    """Two cases through the service, then COPIES more through plain SQL: every column
    copied but the code, the kind, the text and the time of receipt (some at the same
    instant, so the id must break ties across batches)."""
    waste = make_case(
        subject="Rác thải không được thu gom",
        body="Rác thải tồn đọng ở đầu ngõ 12 đường Trần Phú.",
        category_code="6.3c",
        area_code="00691",
    )
    road = make_case()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with app.app_context():
        table = Case.__table__
        sources = [
            dict(db.session.execute(select(table).where(table.c.code == code)).one()._mapping)
            for code in (waste, road)
        ]
        rows = []
        for n in range(COPIES):
            row = dict(sources[n % 2])
            row.pop("id")
            row.update(
                code=f"HG-2097-{n:06d}",
                kind=("feedback", "petition", "complaint")[n % 3],
                received_at=start + timedelta(minutes=n // 3),
                subject=f"{row['subject']} ({n})",
            )
            rows.append(row)
        db.session.execute(table.insert(), rows)
        db.session.commit()
    return COPIES + 2


def old_export(app: Flask, user_id: int, params: dict[str, str]) -> tuple[bytes, list[Any]]:
    """What the export made before issue 17 (one query, the whole file in memory)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        args = {k: [v] for k, v in params.items()}
        export = exports.prepare(user, exports.parse(args), datetime.now(UTC))
        ordered = export.stmt.order_by(Case.received_at.desc(), Case.id.desc())
        rows = [exports._row(r) for r in db.session.execute(ordered)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([exports.HEADERS[name] for name in exports.COLUMNS])
    for row in rows:
        writer.writerow([exports._cell(v) for v in row])
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Hồ sơ")
    sheet.append([exports.HEADERS[name] for name in exports.COLUMNS])
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return buffer.getvalue().encode("utf-8"), cells_of(out.getvalue())


def cells_of(data: bytes) -> list[Any]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("batch", [exports.BATCH, 997])
def test_streamed_exports_are_whole_and_equal_to_the_old_ones(
    app: Flask,
    make_user: Callable[..., Any],
    many: int,
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
) -> None:
    monkeypatch.setattr(exports, "BATCH", batch)
    client = staff_client(app, make_user, "coordinator", "VP")
    reference_id, _ = make_user("coordinator", unit_code="VP")
    for params in FILTERS:
        old_csv, old_cells = old_export(app, reference_id, params)
        response = client.get(CSV, query_string=params)
        assert response.status_code == 200 and response.is_streamed
        assert response.data == old_csv, params
        lines = response.data.decode("utf-8-sig").splitlines()
        assert int(response.headers["X-Total-Count"]) == len(lines) - 1
        if not params:
            # No denunciation among them: every case is here, each once.
            codes = [line.split(",")[0] for line in lines[1:]]
            assert len(codes) == len(set(codes)) == many
        response = client.get(XLSX, query_string=params)
        assert response.status_code == 200 and response.is_streamed
        assert cells_of(response.data) == old_cells, params


def test_every_export_is_audited(app: Flask, make_user: Callable[..., Any], many: int) -> None:
    client = staff_client(app, make_user, "inspector", None)
    assert client.get(CSV, query_string={"q": "rac thai"}).status_code == 200
    assert client.get(XLSX, query_string={"unit": "UBND-00694"}).status_code == 200
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "export.cases").order_by(AuditLog.id)
        ).all()
        assert [(r.details["format"], r.actor_id is not None) for r in rows] == [
            ("csv", True),
            ("xlsx", True),
        ]
        assert rows[0].details["q"] == "rac thai"
        assert rows[0].details["rows"] == (COPIES // 2) + 1
        assert rows[1].details["unit"] == "UBND-00694"
        assert rows[1].details["rows"] == COPIES - COPIES // 2 + 1
        assert rows[0].target.endswith(".csv") and rows[1].target.endswith(".xlsx")
        assert rows[0].actor_label.startswith("Cán bộ inspector")


def test_a_refused_export_is_not_audited(app: Flask, make_user: Callable[..., Any]) -> None:
    client = staff_client(app, make_user, "coordinator", "VP")
    assert client.get(CSV, query_string={"kind": "denunciation"}).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.cases")) is None
