"""Attachments: checked from their bytes, stored with generated names under instance/,
never left behind by a rolled-back transaction, served only to those who may see them."""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import EXE, GIF, WEBP, csrf_from, jpeg_bytes, pdf_bytes, png_bytes, staff_client
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from feedback.services.errors import NotFound, ValidationError

SUBJECT = "Ổ gà lớn trên đường Trần Phú"
BODY = "Ổ gà sâu khoảng 20 cm trước số nhà 45 đường Trần Phú, xe máy đã ngã hai lần."
NOT_ACCEPTED = "không phải ảnh (JPEG, PNG, WebP, GIF) hoặc PDF."


# --- helpers ------------------------------------------------------------------------------


def uploads_dir(app: Flask) -> Path:
    return Path(app.config["UPLOAD_FOLDER"])


def files_on_disk(app: Flask) -> list[Path]:
    folder = uploads_dir(app)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def count(app: Flask, model: Any) -> int:
    from feedback.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def form_data(page_html: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf_from(page_html),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "address": "Số 45 đường Trần Phú",
        "subject": SUBJECT,
        "body": BODY,
        "reporter_name": "Hoàng Văn Nam",
        "reporter_phone": "0915 222 333",
        "reporter_email": "",
    }
    data.update(fields)
    return data


def post_with_files(client: FlaskClient, files: list[tuple[str, bytes, str]], **fields: Any) -> Any:
    page = client.get("/gui")
    assert page.status_code == 200
    data = form_data(page.text, **fields)
    data["attachments"] = [(io.BytesIO(content), name, ctype) for name, content, ctype in files]
    return client.post("/gui", data=data, content_type="multipart/form-data")


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def attachment_error(response: Any) -> str | None:
    match = re.search(r'data-testid="attachments-error"[^>]*>(.*?)</p>', response.text, re.S)
    return html.unescape(match.group(1)).strip() if match else None


def case_with_attachment(app: Flask, make_case: Callable[..., str], **case_fields: Any) -> int:
    """A case (area 00694 → UBND-00694) with a stored PNG; the attachment's id."""
    from feedback.extensions import db
    from feedback.services.intake.attachments import make_upload

    with app.app_context():
        upload = make_upload("ảnh hiện trường.png", png_bytes())
    code = make_case(uploads=[upload], **case_fields)
    from feedback.models import Case

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        (att,) = case.attachments
        return att.id


# --- the citizen form ---------------------------------------------------------------------


def test_form_offers_a_multiple_file_input(client: FlaskClient) -> None:
    page = client.get("/gui").text
    assert 'enctype="multipart/form-data"' in page
    tag = re.search(r'<input type="file"[^>]*>', page, re.S)
    assert tag, page
    assert 'name="attachments"' in tag.group(0) and "multiple" in tag.group(0)
    assert 'accept="image/jpeg,image/png,image/webp,image/gif,application/pdf"' in tag.group(0)
    assert "Ảnh hoặc PDF, tối đa 5 tệp, mỗi tệp không quá 10 MB" in html.unescape(page)


def test_web_submission_stores_png_and_pdf(app: Flask, client: FlaskClient) -> None:
    from feedback.extensions import db
    from feedback.models import Attachment, Case

    png, pdf = png_bytes(), pdf_bytes()
    # The browser's content type is ignored: the PDF is announced as plain text.
    response = post_with_files(
        client,
        [
            ("ảnh hiện trường.png", png, "image/png"),
            ("/home/an/Giấy tờ/đơn.pdf", pdf, "text/plain"),
        ],
    )
    assert response.status_code == 302, response.text

    folder = uploads_dir(app)
    assert folder == Path(app.instance_path) / "uploads"
    with app.app_context():
        case = db.session.scalar(select(Case))
        atts = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert [
            (a.case_id, a.original_name, a.content_type, a.size_bytes, a.purpose) for a in atts
        ] == [
            (case.id, "ảnh hiện trường.png", "image/png", len(png), "evidence"),
            (case.id, "đơn.pdf", "application/pdf", len(pdf), "evidence"),
        ]
        stored = [folder / a.stored_name for a in atts]
        for att, content, ext in zip(atts, (png, pdf), ("png", "pdf"), strict=True):
            assert re.fullmatch(rf"\d{{4}}/\d{{2}}/[0-9a-f]{{32}}\.{ext}", att.stored_name)
            path = folder / att.stored_name
            assert path.read_bytes() == content
            assert att.sha256 == hashlib.sha256(content).hexdigest()
            assert att.uploaded_by_id is None
    assert files_on_disk(app) == sorted(stored)
    assert not any("hiện" in p.name or "đơn" in p.name for p in files_on_disk(app))


def test_web_submission_without_files_still_works(app: Flask, client: FlaskClient) -> None:
    from feedback.models import Attachment, Case

    response = post_with_files(client, [("", b"", "application/octet-stream")])
    assert response.status_code == 302, response.text
    assert count(app, Case) == 1
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []


def test_jpeg_webp_and_gif_are_accepted(app: Flask, client: FlaskClient) -> None:
    from feedback.extensions import db
    from feedback.models import Attachment

    response = post_with_files(
        client,
        [
            ("a.jpeg", jpeg_bytes(), "image/jpeg"),
            ("b", WEBP, "application/octet-stream"),
            ("c.gif", GIF, "image/gif"),
        ],
    )
    assert response.status_code == 302, response.text
    with app.app_context():
        types = db.session.scalars(select(Attachment.content_type).order_by(Attachment.id)).all()
    assert types == ["image/jpeg", "image/webp", "image/gif"]
    assert sorted(p.suffix for p in files_on_disk(app)) == [".gif", ".jpg", ".webp"]


REFUSALS = [
    pytest.param(
        {},
        [("anh.png", png_bytes(), "image/png"), ("anh.jpg", EXE, "image/jpeg")],
        f"Tệp «anh.jpg» {NOT_ACCEPTED}",
        id="exe-renamed-jpg",
    ),
    pytest.param(
        {},
        [("don.pdf", "Đơn kiến nghị, bản chữ thường.".encode(), "application/pdf")],
        f"Tệp «don.pdf» {NOT_ACCEPTED}",
        id="text-named-pdf",
    ),
    pytest.param({}, [("rong.png", b"", "image/png")], "Tệp «rong.png» rỗng.", id="empty-file"),
    pytest.param(
        {},
        [(f"anh{i}.png", png_bytes(), "image/png") for i in range(6)],
        "Tối đa 5 tệp.",
        id="six-files",
    ),
    pytest.param(
        {"ATTACHMENT_MAX_BYTES": 4096},
        [("lon.png", png_bytes().ljust(4097, b"\0"), "image/png")],
        "Tệp «lon.png» lớn hơn 4 KB.",
        id="one-byte-over",
    ),
]


@pytest.mark.parametrize(("app_config", "files", "message"), REFUSALS)
def test_refused_uploads_write_nothing(
    app: Flask, client: FlaskClient, app_config: dict[str, Any], files: Any, message: str
) -> None:
    from feedback.models import Attachment, Case, CaseEvent

    response = post_with_files(client, files)
    assert response.status_code == 422
    assert attachment_error(response) == message
    page = text_of(response)
    # Everything else the citizen typed is kept; the files must be chosen again.
    assert f'value="{SUBJECT}"' in page
    assert BODY in page
    assert 'value="Hoàng Văn Nam"' in page
    assert 'data-testid="attachments-reselect"' in page
    assert count(app, Case) == 0
    assert count(app, CaseEvent) == 0
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []


@pytest.mark.parametrize("app_config", [{"ATTACHMENT_MAX_BYTES": 4096}])
def test_a_file_exactly_at_the_limit_is_accepted(app: Flask, client: FlaskClient) -> None:
    response = post_with_files(client, [("vua.png", png_bytes().ljust(4096, b"\0"), "image/png")])
    assert response.status_code == 302, response.text
    assert [p.stat().st_size for p in files_on_disk(app)] == [4096]


def test_other_form_errors_write_no_file(app: Flask, client: FlaskClient) -> None:
    from feedback.models import Attachment, Case

    response = post_with_files(client, [("anh.png", png_bytes(), "image/png")], subject="Hỏi")
    assert response.status_code == 422
    assert attachment_error(response) is None
    # The file is kept for the form shown again (services.intake.pending), not filed.
    assert 'data-testid="kept-file">anh.png<' in response.text
    assert 'data-testid="attachments-reselect"' not in response.text
    assert count(app, Case) == 0
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 20_000}])
def test_a_request_over_the_total_limit_is_refused_with_the_form(
    app: Flask, client: FlaskClient
) -> None:
    from feedback.models import Attachment, Case

    big = png_bytes().ljust(30_000, b"\0")
    response = post_with_files(client, [("lon.png", big, "image/png")])
    assert response.status_code == 413
    assert attachment_error(response) == (
        "Dữ liệu gửi lên quá lớn. Tổng dung lượng không được vượt quá 19,5 KB; nội dung chưa "
        "được gửi, vui lòng nhập lại và chọn ít tệp hơn hoặc tệp nhỏ hơn."
    )
    assert 'name="subject"' in response.text  # the form again, ready to be filled in
    assert count(app, Case) == 0
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []


# --- reading uploads ----------------------------------------------------------------------


class EndlessStream:
    """A stream that never ends, counting what was read from it."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.read_total = 0

    def read(self, n: int = -1) -> bytes:
        assert n >= 0, "an unbounded read of an upload"
        chunk = (self.head + b"\0" * n)[:n] if self.read_total == 0 else b"\0" * n
        self.read_total += len(chunk)
        return chunk


def test_read_uploads_reads_at_most_one_byte_over_the_limit(app: Flask) -> None:
    from feedback.services.intake.attachments import read_uploads

    stream = EndlessStream(png_bytes())
    with app.app_context(), pytest.raises(ValidationError) as refused:
        read_uploads([FileStorage(stream=stream, filename="vo-han.png")], max_bytes=1000)
    assert refused.value.fields == {"attachments": "Tệp «vo-han.png» lớn hơn 1000 byte."}
    assert stream.read_total == 1001


def test_read_uploads_cleans_names_and_skips_empty_parts(app: Flask) -> None:
    from feedback.services.intake.attachments import read_uploads

    parts = [
        FileStorage(stream=io.BytesIO(b""), filename=""),
        FileStorage(stream=io.BytesIO(png_bytes()), filename="../../etc/ả\x00nh\x1b.png"),
        FileStorage(stream=io.BytesIO(GIF), filename="C:\\Users\\An\\x\u202egnp.exe"),
        FileStorage(stream=io.BytesIO(pdf_bytes()), filename="x" * 300 + ".pdf"),
        FileStorage(stream=io.BytesIO(WEBP), filename=None),
    ]
    with app.app_context():
        uploads = read_uploads(parts, field="scan")
    assert [(u.filename, u.content_type) for u in uploads] == [
        ("ảnh.png", "image/png"),
        ("xgnp.exe", "image/gif"),
        ("x" * 255, "application/pdf"),
        ("tep-dinh-kem", "image/webp"),
    ]
    assert uploads[0].sha256 == hashlib.sha256(png_bytes()).hexdigest()


def test_read_uploads_names_the_field(app: Flask) -> None:
    from feedback.services.intake.attachments import read_uploads

    parts = [FileStorage(stream=io.BytesIO(EXE), filename="thu.png")]
    with app.app_context(), pytest.raises(ValidationError) as refused:
        read_uploads(parts, field="minutes_scan")
    assert refused.value.fields == {"minutes_scan": f"Tệp «thu.png» {NOT_ACCEPTED}"}
    assert refused.value.status == 422


# --- transactions -------------------------------------------------------------------------


def _store(case: Any, name: str = "a.png") -> Any:
    from feedback.services.intake.attachments import make_upload, store_upload

    return store_upload(
        make_upload(name, png_bytes()),
        case=case,
        purpose="evidence",
        actor=None,
        now=datetime.now(UTC),
    )


def _load_case(db: Any, code: str) -> Any:
    from feedback.models import Case

    return db.session.scalar(select(Case).where(Case.code == code))


def test_a_rolled_back_transaction_leaves_no_file(
    app: Flask, db: Any, make_case: Callable[..., str]
) -> None:
    from feedback.database import unit_of_work
    from feedback.models import Attachment

    code = make_case()
    folder = uploads_dir(app)
    with pytest.raises(RuntimeError), unit_of_work():
        written = folder / _store(_load_case(db, code)).stored_name
        assert written.is_file()
        raise RuntimeError("something after the upload failed")
    assert not written.exists()
    assert files_on_disk(app) == []
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_committed_transaction_keeps_its_file(
    app: Flask, db: Any, make_case: Callable[..., str]
) -> None:
    from feedback.database import unit_of_work

    code = make_case()
    with unit_of_work():
        stored_name = _store(_load_case(db, code)).stored_name
    assert not db.session.info.get("feedback.attachments.written")
    db.session.remove()
    assert files_on_disk(app) == [uploads_dir(app) / stored_name]


def test_a_session_closed_without_commit_leaves_no_file(
    app: Flask, db: Any, make_case: Callable[..., str]
) -> None:
    code = make_case()
    _store(_load_case(db, code))
    assert len(files_on_disk(app)) == 1
    db.session.remove()  # end of request without commit
    assert files_on_disk(app) == []


def test_a_rolled_back_savepoint_removes_only_its_own_files(
    app: Flask, db: Any, make_case: Callable[..., str]
) -> None:
    from feedback.database import unit_of_work
    from feedback.models import Attachment

    code = make_case()
    folder = uploads_dir(app)
    with unit_of_work():
        case = _load_case(db, code)
        outer = folder / _store(case, "ngoai.png").stored_name
        with pytest.raises(RuntimeError), db.session.begin_nested():
            inner = folder / _store(case, "trong.png").stored_name
            raise RuntimeError
        assert outer.is_file()
        assert not inner.exists()
        with db.session.begin_nested():
            released = folder / _store(case, "giu.png").stored_name
        assert released.is_file()
    assert files_on_disk(app) == sorted([outer, released])
    names = db.session.scalars(select(Attachment.original_name).order_by(Attachment.id)).all()
    assert names == ["ngoai.png", "giu.png"]


def test_a_released_savepoint_dies_with_its_outer_transaction(
    app: Flask, db: Any, make_case: Callable[..., str]
) -> None:
    from feedback.database import unit_of_work

    code = make_case()
    with pytest.raises(RuntimeError), unit_of_work():
        case = _load_case(db, code)
        with db.session.begin_nested():
            _store(case)
        with db.session.begin_nested(), db.session.begin_nested():
            _store(case)
        assert len(files_on_disk(app)) == 2
        raise RuntimeError
    assert files_on_disk(app) == []


def test_submit_case_failing_after_storing_leaves_no_file(
    app: Flask, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """intake stores uploads inside its savepoint; a failure after that undoes the file."""
    from feedback.database import unit_of_work
    from feedback.models import Case
    from feedback.services.intake import submission
    from feedback.services.intake.attachments import make_upload

    def broken_link(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("link failed")

    monkeypatch.setattr("feedback.services.intake.duplicates.link_cases", broken_link)
    data = submission.CaseInput(
        kind="feedback",
        subject=SUBJECT,
        body=BODY,
        category_code="6.3b",
        area_code="00688",
        reporter=submission.Reporter(name="Hoàng Văn Nam", phone="0915222333"),
        uploads=[make_upload("a.png", png_bytes())],
        link_to="HG-2024-000001",
    )
    with pytest.raises(RuntimeError), unit_of_work():
        submission.submit_case(data, actor=_StaffStub(), now=datetime.now(UTC))
    assert files_on_disk(app) == []
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


class _StaffStub:
    id = None
    display_name = "Điện thoại viên"


# --- serving ------------------------------------------------------------------------------


def test_the_handling_units_officer_gets_the_file(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    att_id = case_with_attachment(app, make_case)
    officer = staff_client(app, make_user, "officer", "UBND-00694")
    response = officer.get(f"/can-bo/tep/{att_id}")
    assert response.status_code == 200
    assert response.data == png_bytes()
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert "filename*=UTF-8''%E1%BA%A3nh%20hi%E1%BB%87n%20tr%C6%B0%E1%BB%9Dng.png" in disposition


def test_the_case_page_lists_attachments_with_links(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    att_id = case_with_attachment(app, make_case)
    from feedback.extensions import db
    from feedback.models import Attachment

    with app.app_context():
        code = db.session.get(Attachment, att_id).case.code
    officer = staff_client(app, make_user, "officer", "UBND-00694")
    page = officer.get(f"/can-bo/ho-so/{code}")
    assert page.status_code == 200
    listing = re.search(r'data-testid="attachments">(.*?)</ul>', page.text, re.S)
    assert listing, page.text
    text = html.unescape(listing.group(1))
    assert f'href="/can-bo/tep/{att_id}"' in text
    assert "ảnh hiện trường.png" in text
    assert "Ảnh PNG" in text
    assert f"{len(png_bytes()) / 1024:.1f}".replace(".", ",") + " KB" in text


@pytest.mark.parametrize(
    ("role", "unit", "status"),
    [
        ("officer", "UBND-00688", 404),  # another unit
        ("unit_head", "UBND-00688", 404),
        ("operator", None, 404),  # did not enter this case
        ("unit_head", "UBND-00694", 200),
        ("coordinator", None, 200),
        ("inspector", None, 200),
        ("admin", None, 403),
    ],
)
def test_who_may_read_a_case_attachment(
    app: Flask,
    make_user: Callable[..., Any],
    make_case: Callable[..., str],
    role: str,
    unit: str | None,
    status: int,
) -> None:
    att_id = case_with_attachment(app, make_case)
    response = staff_client(app, make_user, role, unit).get(f"/can-bo/tep/{att_id}")
    assert response.status_code == status


def test_anonymous_is_sent_to_login(app: Flask, make_case: Callable[..., str]) -> None:
    att_id = case_with_attachment(app, make_case)
    response = app.test_client().get(f"/can-bo/tep/{att_id}")
    assert response.status_code == 302
    assert "/can-bo/dang-nhap" in response.headers["Location"]


def test_an_unknown_attachment_is_not_found(app: Flask, make_user: Callable[..., Any]) -> None:
    coordinator = staff_client(app, make_user, "coordinator", None)
    assert coordinator.get("/can-bo/tep/999999").status_code == 404


@pytest.mark.parametrize(
    "stored_name",
    [
        "../secret.txt",
        "2024/01/../../../secret.txt",
        "/etc/passwd",
        "..\\secret.txt",
        "2024/01/link.png",  # a symlink inside the folder that points out of it
        "2024/01",  # a directory
    ],
)
def test_a_stored_name_cannot_escape_the_upload_folder(
    app: Flask,
    make_user: Callable[..., Any],
    make_case: Callable[..., str],
    stored_name: str,
) -> None:
    from feedback.extensions import db
    from feedback.models import Attachment
    from feedback.services.intake.attachments import open_attachment

    secret = Path(app.instance_path) / "secret.txt"
    secret.write_bytes(b"%PDF-1.4 not for you")
    link_dir = uploads_dir(app) / "2024" / "01"
    link_dir.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, link_dir / "link.png")
    att_id = case_with_attachment(app, make_case)
    with app.app_context():
        att = db.session.get(Attachment, att_id)
        att.stored_name = stored_name
        db.session.commit()
        with pytest.raises(NotFound):
            open_attachment(att)
    coordinator = staff_client(app, make_user, "coordinator", None)
    response = coordinator.get(f"/can-bo/tep/{att_id}")
    assert response.status_code == 404
    assert b"not for you" not in response.data


def test_box_opening_minutes_are_for_the_opener_unit_and_citywide_roles(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Area, BoxOpening, SuggestionBox, Unit
    from feedback.services.intake.attachments import make_upload, store_upload

    clerk_id, _ = make_user("clerk", unit_code="UBND-00688")
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():
        box = SuggestionBox(
            code="HT-00688-01",
            location="Trụ sở UBND phường Quang Trung",
            area_id=db.session.scalar(select(Area.id).where(Area.code == "00688")),
            opener_unit_id=db.session.scalar(select(Unit.id).where(Unit.code == "UBND-00688")),
        )
        opening = BoxOpening(
            box=box,
            opened_at=now,
            opened_by_id=clerk_id,
            witnesses="Nguyễn Văn A\nTrần Thị B",
            letter_count=1,
        )
        db.session.add_all([box, opening])
        att = store_upload(
            make_upload("bien-ban.pdf", pdf_bytes()),
            box_opening=opening,
            purpose="minutes",
            actor=None,
            now=now,
        )
        db.session.flush()
        att_id = att.id
        assert att.case_id is None and att.box_opening_id == opening.id

    expected = {
        ("clerk", "UBND-00688"): 200,
        ("officer", "UBND-00688"): 200,
        ("unit_head", "UBND-00688"): 200,
        ("coordinator", None): 200,
        ("inspector", None): 200,
        ("clerk", "UBND-00691"): 404,
        ("officer", "UBND-00691"): 404,
        ("operator", None): 404,
    }
    seen = {
        key: staff_client(app, make_user, *key).get(f"/can-bo/tep/{att_id}").status_code
        for key in expected
    }
    assert seen == expected
    response = staff_client(app, make_user, "clerk", "UBND-00688").get(f"/can-bo/tep/{att_id}")
    assert response.data == pdf_bytes()
    assert response.mimetype == "application/pdf"
    # A PDF is downloaded, never shown on our origin (issue 13, finding 10).
    assert response.headers["Content-Disposition"].startswith("attachment;")
