"""Batch import of the provincial 1022 system's CSV: every good row becomes a hotline case
with the call's receipt time, the routing table's units and the domain's due dates; a
ticket imported twice is one case; every bad row is reported with its physical line number
and its reasons while the good rows go in; a file that is unusable as a whole writes
nothing. Through the service, the CLI and the upload page (CSRF on)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import func, select

from feedback.domain.calendar import LOCAL_TZ

SAMPLE = Path(__file__).parent / "data" / "1022-sample.csv"
NOW = datetime(2024, 3, 20, 3, 0, tzinfo=UTC)
HEADER = (
    "ticket,received_at,kind,category_code,area_code,address,subject,body,"
    "caller_name,caller_phone,caller_email,anonymous"
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)


# The sample file, row by row: (received_at UTC, kind, handling unit, lead unit, triage).
EXPECTED = {
    # "05/02/2024 08:30" is Vietnamese local time: 01:30 UTC.
    "1022-2024-000101": (datetime(2024, 2, 5, 1, 30, tzinfo=UTC), "feedback", "DL", "KT", False),
    "1022-2024-000102": (local(2024, 2, 2, 10, 15), "petition", "CA-00697", "CA", False),
    # 1.1 is handled by the ward's committee: without an area it goes to triage (VP).
    "1022-2024-000103": (local(2024, 3, 1, 14, 0), "suggestion", "VP", "VHTT", True),
    "1022-2024-000104": (datetime(2024, 3, 4, 2, 0, tzinfo=UTC), "feedback", "MTDT", "TNMT", False),
    "1022-2024-000105": (local(2024, 3, 12, 16, 45), "petition", "VP", None, True),
    "1022-2024-000106": (local(2024, 3, 15, 9, 5), "suggestion", "CTN", "KT", False),
}


def run_import(app: Flask, data: bytes, *, actor_id: int | None = None, now: datetime = NOW):
    """Import in one unit of work, as the CLI and the page do; returns the batch's fields."""
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import User
    from feedback.services.intake.import1022 import import_1022

    with app.app_context(), unit_of_work():
        actor = db.session.get(User, actor_id) if actor_id else None
        batch = import_1022(data, "lo.csv", actor=actor, now=now)
        return {
            "id": batch.id,
            "imported": batch.imported,
            "already_present": batch.already_present,
            "rejected": batch.rejected,
            "report": batch.report,
            "uploaded_by_id": batch.uploaded_by_id,
            "sha256": batch.sha256,
        }


def counts(app: Flask) -> tuple[int, int, int]:
    """(cases, import batches, case events): what an import can write."""
    from feedback.extensions import db
    from feedback.models import Case, CaseEvent, ImportBatch

    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Case)),
            db.session.scalar(select(func.count()).select_from(ImportBatch)),
            db.session.scalar(select(func.count()).select_from(CaseEvent)),
        )


def refused(app: Flask, data: bytes) -> str:
    """Import a file that must be refused as a whole; its message, after checking that
    nothing was written."""
    from feedback.services.errors import ValidationError

    before = counts(app)
    with pytest.raises(ValidationError) as info:
        run_import(app, data)
    assert counts(app) == before
    return info.value.message


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_a_good_file_becomes_routed_hotline_cases_with_the_domains_due_dates(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    from feedback.domain.deadlines import DEFAULT_POLICY, compute_deadlines
    from feedback.extensions import db
    from feedback.models import Case
    from feedback.services.reference.policies import load_calendar, load_policy, to_domain_policy

    operator_id, _ = make_user("operator", unit_code="VP")
    # A spreadsheet's "CSV UTF-8" starts with a byte-order mark: accepted.
    batch = run_import(app, b"\xef\xbb\xbf" + SAMPLE.read_bytes(), actor_id=operator_id)
    assert (batch["imported"], batch["already_present"], batch["rejected"]) == (6, 0, 0)
    assert batch["report"]["rejected"] == [] and batch["report"]["ignored_columns"] == []
    assert batch["uploaded_by_id"] == operator_id

    with app.app_context():
        cases = {
            c.external_ref: c
            for c in db.session.scalars(
                select(Case).where(Case.code.in_(batch["report"]["imported"]))
            )
        }
        assert set(cases) == set(EXPECTED)
        calendar = load_calendar()
        for ticket, (received, kind, handling, lead, triage) in EXPECTED.items():
            case = cases[ticket]
            assert case.channel == "hotline", ticket
            assert case.received_at == received, ticket
            assert case.kind == kind, ticket
            assert case.handling_unit.code == handling, ticket
            assert (case.lead_unit.code if case.lead_unit else None) == lead, ticket
            assert case.needs_triage is triage, ticket
            assert case.created_by_id == operator_id
            # The seed's policy for these kinds is the plan's default promise ...
            assert to_domain_policy(load_policy(kind)) == replace(DEFAULT_POLICY, kind=kind)
            # ... and the case carries exactly what the domain computes for its receipt.
            due = compute_deadlines(received, DEFAULT_POLICY, calendar)
            assert (case.ack_due_at, case.response_due_at) == (
                due.ack_due_at,
                due.response_due_at,
            ), ticket

        # Hand-checked against DESIGN.md: Fri 2 Feb 2024 → 19 Feb (Tết 8–14 Feb skipped).
        assert cases["1022-2024-000102"].response_due_at == local(2024, 2, 19, 23, 59, 59)
        assert cases["1022-2024-000101"].response_due_at == local(2024, 2, 20, 23, 59, 59)
        assert cases["1022-2024-000101"].ack_due_at == datetime(2024, 2, 6, 1, 30, tzinfo=UTC)
        # A quoted body keeps its comma and its line break.
        assert "\n" in cases["1022-2024-000102"].body
        assert cases["1022-2024-000101"].address == "Tổ 3, phường Nguyễn Trãi"
        assert cases["1022-2024-000102"].reporter_email == "binh.tran@example.vn"
        # anonymous = "có" / "1": no identity is kept, even where the operator typed one.
        for ticket in ("1022-2024-000103", "1022-2024-000106"):
            assert cases[ticket].anonymous is True
            assert cases[ticket].reporter_name is None and cases[ticket].reporter_phone is None
        assert cases["1022-2024-000104"].anonymous is False
        assert cases["1022-2024-000104"].reporter_phone == "0203 3866 123"


def test_importing_the_same_file_twice_creates_nothing_new(app: Flask) -> None:
    data = SAMPLE.read_bytes()
    first = run_import(app, data)
    after_first = counts(app)
    second = run_import(app, data)
    assert (first["imported"], first["already_present"]) == (6, 0)
    assert (second["imported"], second["already_present"], second["rejected"]) == (0, 6, 0)
    assert sorted(second["report"]["already_present"]) == sorted(EXPECTED)
    assert second["report"]["imported"] == []
    cases, batches, events = counts(app)
    assert (cases, events) == (after_first[0], after_first[2])
    assert batches == after_first[1] + 1  # every batch is recorded, even an empty one
    assert first["sha256"] == second["sha256"]


def test_a_ticket_already_entered_another_way_is_already_present(
    app: Flask, make_case: Callable[..., str]
) -> None:
    code = make_case(channel="hotline", external_ref="1022-2024-000104", received_at=NOW)
    batch = run_import(app, SAMPLE.read_bytes())
    assert (batch["imported"], batch["already_present"]) == (5, 1)
    assert batch["report"]["already_present"] == ["1022-2024-000104"]
    assert code not in batch["report"]["imported"]


def row(ticket: str, **fields: str) -> str:
    """One CSV line in HEADER's order; a good feedback row unless ``fields`` says otherwise."""
    values = {
        "ticket": ticket,
        "received_at": "2024-03-01T08:00",
        "kind": "feedback",
        "category_code": "6.3a",
        "area_code": "",
        "address": "",
        "subject": "Mất điện khu chợ",
        "body": "Khu chợ mất điện từ sáng nay.",
        "caller_name": "An",
        "caller_phone": "0912345678",
        "caller_email": "",
        "anonymous": "",
    }
    values.update(fields)
    return ",".join(values[c] for c in HEADER.split(","))


BAD_FILE = "\n".join(
    [
        HEADER,  # line 1
        row("B-001"),
        row("B-002", received_at="2030-01-01T08:00"),
        row("B-003", category_code="9.9"),
        row("B-004", kind="khiếu kiện"),
        row("B-005", subject=""),
        row("B-006", caller_phone="abc123"),
        row("B-001", received_at="2024-03-01T09:00"),
        "",  # line 9: a blank line is skipped but still counted
        row(
            "B-007",
            received_at="01/03/2024 08:00",
            kind="Tố cáo",
            category_code="4.1",
            subject="Có dấu hiệu nhận tiền",
            body='"Cán bộ nhận tiền khi làm hồ sơ,\nxin giữ bí mật."',  # lines 10-11
        ),
        row("B-008", received_at="31/02/2024 08:00"),
        row("  "),
        row(
            "B-009",
            kind="complaint",
            category_code="3.2",
            area_code="00691",
            subject="Khiếu nại về bồi thường",
            body="Khiếu nại quyết định bồi thường đất.",
        ),
        row("B-010") + ",extra",
    ]
).encode()


def test_bad_rows_are_reported_by_line_and_the_good_rows_go_in(app: Flask) -> None:
    from feedback.extensions import db
    from feedback.models import Case

    batch = run_import(app, BAD_FILE)
    assert (batch["imported"], batch["already_present"], batch["rejected"]) == (3, 0, 9)
    rejected = {r["line"]: r for r in batch["report"]["rejected"]}
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8, 12, 13, 15]

    assert rejected[3] == {
        "line": 3,
        "ticket": "B-002",
        "errors": {"received_at": "Thời điểm tiếp nhận không được ở tương lai."},
    }
    assert rejected[4]["errors"] == {"category_code": "Lĩnh vực không tồn tại."}
    assert set(rejected[5]["errors"]) == {"kind"}
    assert rejected[5]["errors"]["kind"].startswith("Loại hồ sơ «khiếu kiện» không hợp lệ")
    assert rejected[6]["errors"] == {"subject": "Tiêu đề cần ít nhất 5 ký tự."}
    assert rejected[7]["errors"] == {"caller_phone": "Số điện thoại không hợp lệ (8–15 chữ số)."}
    assert rejected[8]["ticket"] == "B-001"
    assert rejected[8]["errors"] == {"ticket": "Số phiếu B-001 trùng với dòng 2 của cùng tệp."}
    assert set(rejected[12]["errors"]) == {"received_at"}
    assert "dd/mm/yyyy HH:MM" in rejected[12]["errors"]["received_at"]
    assert rejected[13]["ticket"] is None
    assert rejected[13]["errors"] == {"ticket": "Thiếu số phiếu 1022."}
    assert set(rejected[15]["errors"]) == {"row"}
    assert "13 ô" in rejected[15]["errors"]["row"]

    with app.app_context():
        cases = {
            c.external_ref: c
            for c in db.session.scalars(select(Case).where(Case.channel == "hotline"))
        }
        assert set(cases) == {"B-001", "B-007", "B-009"}
        # The first B-001 went in; its duplicate at line 8 did not replace it.
        assert cases["B-001"].received_at == local(2024, 3, 1, 8, 0)
        assert cases["B-007"].kind == "denunciation"
        assert cases["B-007"].body == "Cán bộ nhận tiền khi làm hồ sơ,\nxin giữ bí mật."
        assert cases["B-009"].handling_unit.code == "UBND-00691"
        assert sorted(batch["report"]["imported"]) == sorted(c.code for c in cases.values())


def test_every_reason_of_a_bad_row_is_reported_at_once(app: Flask) -> None:
    line = "X-1,hôm qua,khác,9.9,99999,,Ngắn,Ngắn,,,,có lẽ"
    batch = run_import(app, csv_bytes(line))
    (rejected,) = batch["report"]["rejected"]
    assert rejected["line"] == 2
    assert set(rejected["errors"]) == {
        "received_at",
        "kind",
        "anonymous",
        "category_code",
        "area_code",
        "subject",
        "body",
        "caller_phone",
    }


def test_unknown_columns_are_ignored_and_listed_and_header_order_is_free(app: Flask) -> None:
    header = "Ghi chú,Ticket,KIND,subject,body,received_at,anonymous,nguon"
    line = (
        "gọi lại sau,C-1,Phản ánh,Ổ gà trên đường,Ổ gà giữa đường Nguyễn Du.,01/03/2024 07:00,1,x"
    )
    batch = run_import(app, csv_bytes(line, header=header))
    assert batch["imported"] == 1
    assert batch["report"]["ignored_columns"] == ["Ghi chú", "nguon"]


def test_a_lost_leading_zero_of_an_area_code_is_restored(app: Flask) -> None:
    batch = run_import(app, csv_bytes(row("D-1", category_code="6.4", area_code="697")))
    assert batch["imported"] == 1
    from feedback.extensions import db
    from feedback.models import Case

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.external_ref == "D-1"))
        assert case.handling_unit.code == "CA-00697"


@pytest.mark.parametrize(
    "header",
    [
        HEADER.replace("ticket,", ""),
        HEADER.replace("ticket,", "so_phieu,"),
        HEADER.replace(",received_at", ""),
    ],
)
def test_a_missing_required_column_refuses_the_whole_file(app: Flask, header: str) -> None:
    good = SAMPLE.read_text(encoding="utf-8").splitlines()[1]
    message = refused(app, csv_bytes(good, header=header))
    assert message.startswith("Tệp thiếu cột bắt buộc:")
    assert ("ticket" in message) or ("received_at" in message)


def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message(app: Flask) -> None:
    legacy = SAMPLE.read_text(encoding="utf-8").encode("cp1258", errors="replace")
    message = refused(app, legacy)
    assert "UTF-8" in message and "dòng 2" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "Tệp trống."),
        (b"\n\n", "Tệp không có dòng tiêu đề"),
        (b"PK\x03\x04" + b"\x00" * 100, "Đây là tệp Excel"),
        (b"ticket\x00,kind\n", "ký tự NUL"),
        (
            HEADER.encode() + b'\nT-1,"2024-03-01T08:00,feedback\n',
            "Tệp CSV hỏng ở dòng 2: thiếu dấu ngoặc kép đóng",
        ),
        (
            (HEADER + "\n" + row("T-1") + "\n" + row("T-2", subject='"Mất" điện')).encode(),
            "Tệp CSV hỏng ở dòng 3: sau dấu ngoặc kép đóng phải là dấu phẩy",
        ),
        (b"ticket,ticket,received_at,kind,subject,body\n", "xuất hiện hai lần"),
    ],
)
def test_files_that_are_not_usable_csv_are_refused(app: Flask, data: bytes, expected: str) -> None:
    assert expected in refused(app, data)


def test_size_and_row_limits(app: Flask) -> None:
    from feedback.services.intake.import1022 import MAX_BYTES, MAX_ROWS

    assert "5 MB" in refused(app, b"x" * (MAX_BYTES + 1))
    # A file with one row too many is refused before any row is written, even though
    # every row is good.
    message = refused(app, csv_bytes(*(row(f"L-{i}") for i in range(MAX_ROWS + 1))))
    assert "5.000 dòng" in message and f"dòng {MAX_ROWS + 2}" in message


def test_a_crash_mid_way_leaves_nothing_half_written(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.services.intake import import1022

    real = import1022.submit_case
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(import1022, "submit_case", flaky)
    before = counts(app)
    with pytest.raises(RuntimeError):
        run_import(app, SAMPLE.read_bytes())
    assert counts(app) == before
    monkeypatch.setattr(import1022, "submit_case", real)
    assert run_import(app, SAMPLE.read_bytes())["imported"] == 6


def test_received_at_spellings() -> None:
    from feedback.services.intake.import1022 import parse_received_at

    utc = datetime(2024, 2, 5, 1, 30, tzinfo=UTC)
    for text in (
        "05/02/2024 08:30",
        "5/2/2024 8:30",
        "05/02/2024 08:30:00",
        "2024-02-05T08:30",
        "2024-02-05 08:30:00",
        "2024-02-05T08:30:00+07:00",
        "2024-02-05T08:30:00+0700",
        "2024-02-05T01:30:00Z",
        "2024-02-05T01:30:00+00:00",
    ):
        assert parse_received_at(text) == utc, text
    for text in ("", "2024-02-05", "05/02/2024", "31/02/2024 08:00", "02-05-2024 08:30", "hôm qua"):
        with pytest.raises(ValueError):
            parse_received_at(text)


def test_kind_and_anonymous_spellings() -> None:
    from feedback.services.intake.import1022 import parse_anonymous, parse_kind

    assert parse_kind("Phản ánh") == parse_kind("PHAN ANH") == parse_kind("feedback") == "feedback"
    assert parse_kind(" kiến  nghị ") == "petition"
    assert parse_kind("Góp Ý") == parse_kind("gop y") == "suggestion"
    assert parse_kind("KHIẾU NẠI") == "complaint"
    assert parse_kind("tố cáo") == parse_kind("Denunciation") == "denunciation"
    for bad in ("", "khiếu kiện", "to"):
        with pytest.raises(ValueError):
            parse_kind(bad)
    assert all(parse_anonymous(v) for v in ("1", "có", "CÓ", "co", "true", "True"))
    assert not any(parse_anonymous(v) for v in ("0", "không", "Khong", "false", ""))
    with pytest.raises(ValueError):
        parse_anonymous("yes please")


# -- the command line -----------------------------------------------------------------------


def test_cli_imports_the_sample_twice_without_duplicates(app: Flask) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        first = runner.invoke(args=["import-1022", str(SAMPLE)])
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout) == {
            "imported": 6,
            "already_present": 0,
            "rejected": 0,
            "rejected_lines": [],
        }
        second = runner.invoke(args=["import-1022", str(SAMPLE)])
        assert second.exit_code == 0, second.output
        assert json.loads(second.stdout) == {
            "imported": 0,
            "already_present": 6,
            "rejected": 0,
            "rejected_lines": [],
        }
    assert counts(app)[:2] == (6, 2)


def test_cli_reports_rejected_lines_in_vietnamese_and_exits_0(
    app: Flask, make_user: Callable[..., Any], tmp_path: Path
) -> None:
    from feedback.extensions import db
    from feedback.models import ImportBatch

    user_id, username = make_user("operator", unit_code="VP")
    path = tmp_path / "lo-loi.csv"
    path.write_bytes(BAD_FILE)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["import-1022", str(path), "--user", username])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["imported"] == 3 and summary["rejected"] == 9
        assert summary["rejected_lines"] == [3, 4, 5, 6, 7, 8, 12, 13, 15]
        assert "Dòng 4 (phiếu B-003):" in result.stderr
        assert "category_code: Lĩnh vực không tồn tại." in result.stderr
        assert "Dòng 8 (phiếu B-001):" in result.stderr
        batch = db.session.scalar(select(ImportBatch))
        assert batch.uploaded_by_id == user_id and batch.filename == "lo-loi.csv"


def test_cli_exits_1_when_the_file_is_unusable(app: Flask, tmp_path: Path) -> None:
    missing = tmp_path / "no-ticket.csv"
    missing.write_bytes(csv_bytes("x", header=HEADER.replace("ticket,", "")))
    legacy = tmp_path / "cp1258.csv"
    legacy.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("cp1258", errors="replace"))
    runner = app.test_cli_runner()
    with app.app_context():
        for path, expected in (
            (missing, "Tệp thiếu cột bắt buộc: ticket"),
            (legacy, "UTF-8"),
            (tmp_path / "absent.csv", "Không đọc được tệp"),
        ):
            result = runner.invoke(args=["import-1022", str(path)])
            assert result.exit_code == 1, (path, result.output)
            assert expected in result.output
        result = runner.invoke(args=["import-1022", str(SAMPLE), "--user", "nobody"])
        assert result.exit_code == 1 and "nobody" in result.output
    assert counts(app)[:2] == (0, 0)


# -- the upload page --------------------------------------------------------------------------

PAGE = "/can-bo/nhap-1022/"


def post_file(client: FlaskClient, data: bytes | None, name: str = "1022.csv", **extra: Any):
    page = client.get(PAGE)
    assert page.status_code == 200
    form: dict[str, Any] = {"csrf_token": csrf_from(page.text), **extra}
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    return client.post(PAGE, data=form, content_type="multipart/form-data")


def test_upload_page_imports_and_shows_the_result(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("operator", unit_code="VP")
    response = post_file(client, BAD_FILE, name="lo-thang-3.csv")
    assert response.status_code == 303, response.text
    result = client.get(response.headers["Location"])
    assert result.status_code == 200
    html = result.text
    assert 'data-count="imported"><strong>3</strong>' in html
    assert 'data-count="rejected"><span class="overdue">9</span>' in html
    assert '<tr data-line="4">' in html and "Lĩnh vực không tồn tại." in html
    assert "Số phiếu B-001 trùng với dòng 2 của cùng tệp." in html
    from feedback.extensions import db
    from feedback.models import Case

    with app.app_context():
        codes = db.session.scalars(select(Case.code).where(Case.channel == "hotline")).all()
    assert len(codes) == 3
    for code in codes:
        assert f'href="/can-bo/ho-so/{code}"' in html
        # The operator who imported them can open them.
        assert client.get(f"/can-bo/ho-so/{code}").status_code == 200

    # The same file again: nothing new, and both batches are listed with their counts.
    again = post_file(client, BAD_FILE, name="lo-thang-3.csv")
    assert again.status_code == 303
    assert 'data-count="already_present">3<' in client.get(again.headers["Location"]).text
    listing = client.get(PAGE).text
    assert listing.count("lo-thang-3.csv") == 2
    assert counts(app)[:2] == (3, 2)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "Vui lòng chọn tệp CSV để nhập."),
        ("cp1258", "Tệp không phải văn bản UTF-8"),
        (b"PK\x03\x04rest-of-a-workbook", "Đây là tệp Excel"),
        ("no-ticket", "Tệp thiếu cột bắt buộc: ticket"),
        ("too-big", "Tệp lớn hơn 5 MB"),
    ],
)
def test_upload_page_refuses_unusable_files_with_422_and_writes_nothing(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    data: Any,
    expected: str,
) -> None:
    from feedback.services.intake.import1022 import MAX_BYTES

    login_as("coordinator", unit_code="VP")
    if data == "cp1258":
        data = SAMPLE.read_text(encoding="utf-8").encode("cp1258", errors="replace")
    elif data == "no-ticket":
        data = csv_bytes("x", header=HEADER.replace("ticket,", ""))
    elif data == "too-big":
        data = SAMPLE.read_bytes() + b"," * (MAX_BYTES + 1)
    response = post_file(client, data)
    assert response.status_code == 422
    assert expected in response.text
    assert counts(app)[:2] == (0, 0)


def test_upload_page_checks_the_csrf_token(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("operator", unit_code="VP")
    response = client.post(
        PAGE,
        data={"file": (io.BytesIO(SAMPLE.read_bytes()), "1022.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Phiên làm việc đã hết hạn" in response.text
    assert counts(app)[:2] == (0, 0)


@pytest.mark.parametrize("role", ["officer", "unit_head", "clerk", "inspector", "admin"])
def test_upload_page_is_only_for_operators_and_coordinators(
    app: Flask, client: FlaskClient, login_as: Callable[..., str], role: str
) -> None:
    login_as(role)
    assert client.get(PAGE).status_code == 403
    response = client.post(
        PAGE,
        data={"file": (io.BytesIO(SAMPLE.read_bytes()), "1022.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert client.get("/can-bo/nhap-1022/lo/1").status_code == 403
    assert counts(app)[:2] == (0, 0)


def test_upload_page_needs_a_login(client: FlaskClient) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/can-bo/dang-nhap" in response.headers["Location"]
