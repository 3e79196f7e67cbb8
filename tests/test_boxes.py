"""Suggestion boxes: the register, an opening with its minutes and witnesses, each letter
transcribed into a case received at the opening time, duplicate hints without JavaScript,
and closing an opening only when the letters and the cases agree (also under concurrency).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.i18n import parse_local_datetime
from feedback.models import (
    Attachment,
    BoxOpening,
    Case,
    CaseEvent,
    CaseLink,
    SuggestionBox,
    User,
)
from feedback.services.errors import Conflict, Forbidden
from feedback.services.intake.boxes import (
    BoxInput,
    OpeningInput,
    close_opening,
    create_box,
    parse_witnesses,
    record_opening,
    transcribe_letter,
)
from feedback.services.intake.submission import CaseInput, Reporter

BASE = "/can-bo/hom-thu"
WITNESSES = "Nguyễn Văn An\nTrần Thị Bình"


# --- tiny real files ----------------------------------------------------------------------


def png_bytes() -> bytes:
    """A 1×1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """An 8×8 grey baseline JPEG: one block, DC difference 0 then end-of-block."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"  # a Huffman table with one 1-bit code
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + bytes([1] * 64))
        + segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
        + segment(0xC4, b"\x00" + one_code)
        + segment(0xC4, b"\x10" + one_code)
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f\xff\xd9"
    )


# --- helpers ------------------------------------------------------------------------------


def local_text(moment: datetime, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return moment.astimezone(LOCAL_TZ).strftime(fmt)


def early_morning(days_ago: int) -> datetime:
    """06:30 Hà Giang time ``days_ago`` days ago: still the previous day in UTC."""
    day = datetime.now(LOCAL_TZ) - timedelta(days=days_ago)
    return day.replace(hour=6, minute=30, second=0, microsecond=0).astimezone(UTC)


@pytest.fixture
def staff(app: Flask, make_user: Callable[..., Any]) -> Callable[..., tuple[int, FlaskClient]]:
    """staff("clerk", "UBND-00688") → (user id, a logged-in client)."""

    def factory(role: str, unit_code: str | None = None) -> tuple[int, FlaskClient]:
        user_id, username = make_user(role, unit_code=unit_code)
        return user_id, client_for(app, username)

    return factory


@pytest.fixture
def make_box(app: Flask, make_user: Callable[..., Any]) -> Callable[..., int]:
    coordinator_id, _ = make_user("coordinator")

    def factory(
        code: str = "HT-00688-01",
        area: str = "00688",
        location: str = "Nhà văn hóa tổ 5",
        opener: str | None = None,
    ) -> int:
        with app.app_context(), unit_of_work():
            actor = db.session.get(User, coordinator_id)
            box = create_box(BoxInput(code, location, area, opener), actor=actor, now=now())
            return box.id

    return factory


def now() -> datetime:
    return datetime.now(UTC)


def post_opening(
    client: FlaskClient,
    box_id: int,
    *,
    opened_at: str,
    witnesses: str = WITNESSES,
    letters: str = "2",
    minutes: tuple[str, bytes] | None = ("bien-ban.jpg", jpeg_bytes()),
) -> Any:
    page = client.get(f"{BASE}/{box_id}/mo")
    assert page.status_code == 200, page.text
    data: dict[str, Any] = {
        "csrf_token": csrf_from(page.text),
        "opened_at": opened_at,
        "witnesses": witnesses,
        "letter_count": letters,
        "note": "",
    }
    if minutes is not None:
        data["minutes"] = (io.BytesIO(minutes[1]), minutes[0])
    return client.post(f"{BASE}/{box_id}/mo", data=data, content_type="multipart/form-data")


def opening_id_from(response: Any) -> int:
    assert response.status_code == 303, response.text
    match = re.search(r"/lan-mo/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def record(client: FlaskClient, box_id: int, **kwargs: Any) -> int:
    kwargs.setdefault("opened_at", local_text(early_morning(3)))
    return opening_id_from(post_opening(client, box_id, **kwargs))


LETTER = {
    "kind": "feedback",
    "category_code": "6.3b",
    "area_code": "00688",
    "address": "Ngõ 12, tổ 5, phường Quang Trung",
    "subject": "Đường ngõ 12 tổ 5 có nhiều ổ gà",
    "body": "Đường vào ngõ 12 tổ 5 có nhiều ổ gà, trời mưa đọng nước, trẻ em đi học bị ngã.",
    "reporter_name": "Lò Văn Cường",
    "reporter_phone": "0912345678",
    "reporter_email": "",
}


def post_letter(
    client: FlaskClient,
    opening_id: int,
    *,
    action: str = "save",
    scan: tuple[str, bytes] | None = ("thu-1.png", png_bytes()),
    **fields: str,
) -> Any:
    url = f"{BASE}/lan-mo/{opening_id}/nhap-thu"
    page = client.get(url)
    token = csrf_from(page.text if page.status_code == 200 else client.get(f"{BASE}/").text)
    data: dict[str, Any] = {"csrf_token": token, "action": action, **LETTER, **fields}
    if scan is not None:
        data["scan"] = (io.BytesIO(scan[1]), scan[0])
    return client.post(url, data=data, content_type="multipart/form-data")


def transcribe(client: FlaskClient, opening_id: int, **fields: str) -> str:
    response = post_letter(client, opening_id, **fields)
    assert response.status_code == 303, response.text
    match = re.search(r"vua_tao=([A-Z0-9-]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def test_the_reply_slip_shows_the_access_key_once_and_the_key_opens_the_case(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    """A letter's writer has no screen: the clerk prints the slip with the code and the key
    from the first page after the save; only the key's hash is kept."""
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, make_box())
    code = transcribe(clerk, opening_id)
    url = f"{BASE}/lan-mo/{opening_id}/nhap-thu?vua_tao={code}"
    first = clerk.get(url)
    assert 'data-testid="reply-slip"' in first.text
    assert re.search(rf'data-testid="slip-code">{code}<', first.text)
    key = re.search(r'data-testid="slip-key">([^<]+)<', first.text)
    assert key, first.text
    again = clerk.get(url)
    assert again.status_code == 200 and 'data-testid="reply-slip"' not in again.text
    assert key.group(1) not in again.text
    public = app.test_client()
    answer = public.get(f"/api/v1/cases/{code}", headers={"X-Access-Key": key.group(1)})
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["code"] == code
    wrong = public.get(f"/api/v1/cases/{code}", headers={"X-Access-Key": "SAI-MA-TRA-CUU"})
    assert wrong.status_code in (403, 404)


def stored_files(app: Flask) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*") if p.is_file()]


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- the register -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "coordinator"])
def test_register_create_list_and_deactivate(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], role: str
) -> None:
    _, client = staff(role)
    page = client.get(f"{BASE}/them")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_from(page.text),
        "code": "ht-00688-01",
        "location": "Trụ sở UBND phường Quang Trung",
        "area_code": "00688",
        "opener_unit_code": "",
    }
    response = client.post(f"{BASE}/them", data=form)
    assert response.status_code == 303, response.text
    with app.app_context():
        box = db.session.scalar(select(SuggestionBox))
        assert box is not None
        assert (box.code, box.area.code, box.opener_unit.code, box.active) == (
            "HT-00688-01",
            "00688",
            "UBND-00688",  # the default: the area's People's Committee
            True,
        )
        box_id = box.id

    again = client.post(f"{BASE}/them", data={**form, "location": "Nhà văn hóa tổ 5"})
    assert again.status_code == 422
    assert "HT-00688-01 đã có trong sổ" in again.text
    other = client.post(
        f"{BASE}/them",
        data={**form, "code": "HT-00691-02", "area_code": "00691", "opener_unit_code": "VP"},
    )
    assert other.status_code == 303
    bad = client.post(f"{BASE}/them", data={**form, "code": "HT 1", "area_code": ""})
    assert bad.status_code == 422
    assert "Vui lòng điền mục này" in bad.text or "Vui lòng chọn" in bad.text
    assert count(app, SuggestionBox) == 2

    listing = client.get(f"{BASE}/")
    assert listing.status_code == 200
    assert "HT-00688-01" in listing.text and "HT-00691-02" in listing.text

    token = csrf_from(client.get(f"{BASE}/{box_id}").text)
    off = client.post(f"{BASE}/{box_id}/ngung-su-dung", data={"csrf_token": token})
    assert off.status_code == 303
    with app.app_context():
        assert db.session.get(SuggestionBox, box_id).active is False
    assert "Ngừng sử dụng" in client.get(f"{BASE}/{box_id}").text


def test_clerks_see_their_units_boxes_and_the_city_sees_all(
    staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    make_box("HT-00688-01", "00688")
    make_box("HT-00691-01", "00691", location="Trụ sở UBND phường Trần Phú")
    _, clerk = staff("clerk", "UBND-00688")
    seen = clerk.get(f"{BASE}/").text
    assert "HT-00688-01" in seen and "HT-00691-01" not in seen
    for role in ("coordinator", "inspector"):
        _, client = staff(role)
        seen = client.get(f"{BASE}/").text
        assert "HT-00688-01" in seen and "HT-00691-01" in seen
    # A clerk registers his own unit's boxes (issue 16); inspectors do not edit the register.
    assert clerk.get(f"{BASE}/them").status_code == 200
    _, inspector = staff("inspector")
    assert inspector.get(f"{BASE}/them").status_code == 403


def test_an_inactive_box_takes_no_new_opening(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, coordinator = staff("coordinator")
    token = csrf_from(coordinator.get(f"{BASE}/{box_id}").text)
    assert (
        coordinator.post(f"{BASE}/{box_id}/ngung-su-dung", data={"csrf_token": token}).status_code
        == 303
    )
    _, clerk = staff("clerk", "UBND-00688")
    assert clerk.get(f"{BASE}/{box_id}/mo").status_code == 409
    response = clerk.post(
        f"{BASE}/{box_id}/mo",
        data={
            "csrf_token": csrf_from(clerk.get(f"{BASE}/").text),
            "opened_at": local_text(early_morning(1)),
            "witnesses": WITNESSES,
            "letter_count": "1",
            "minutes": (io.BytesIO(jpeg_bytes()), "bb.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    assert count(app, BoxOpening) == 0


# --- an opening and its letters -----------------------------------------------------------


def test_a_transcribed_letter_becomes_a_case_received_at_the_opening(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    from feedback.domain.deadlines import compute_deadlines
    from feedback.services.reference.policies import load_calendar, load_policy, to_domain_policy

    box_id = make_box()
    clerk_id, clerk = staff("clerk", "UBND-00688")
    opened_at = early_morning(3)
    # The HTML datetime-local spelling, read as Hà Giang time.
    opening_id = record(clerk, box_id, opened_at=local_text(opened_at, "%Y-%m-%dT%H:%M"))

    with app.app_context():
        opening = db.session.get(BoxOpening, opening_id)
        assert opening.opened_at == opened_at
        assert opening.opened_at.astimezone(LOCAL_TZ).hour == 6
        assert (opening.opened_by_id, opening.letter_count, opening.status) == (clerk_id, 2, "open")
        assert opening.witnesses.splitlines() == ["Nguyễn Văn An", "Trần Thị Bình"]
        minutes = db.session.scalars(
            select(Attachment).where(Attachment.box_opening_id == opening_id)
        ).all()
        assert [(a.purpose, a.content_type, a.case_id) for a in minutes] == [
            ("minutes", "image/jpeg", None)
        ]
        assert (Path(app.config["UPLOAD_FOLDER"]) / minutes[0].stored_name).read_bytes() == (
            jpeg_bytes()
        )

    code = transcribe(clerk, opening_id)
    shown = clerk.get(f"{BASE}/lan-mo/{opening_id}/nhap-thu?vua_tao={code}")
    assert shown.status_code == 200
    assert re.search(rf'data-testid="case-code">{code}<', shown.text)
    assert "1/2" in shown.text

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert case.channel == "box"
        assert case.received_at == opened_at
        assert case.box_opening_id == opening_id
        assert case.created_by_id == clerk_id
        expected = compute_deadlines(
            opened_at, to_domain_policy(load_policy("feedback")), load_calendar()
        )
        assert (case.ack_due_at, case.response_due_at) == (
            expected.ack_due_at,
            expected.response_due_at,
        )
        assert case.ack_due_at == opened_at + timedelta(hours=24)
        assert (case.handling_unit.code, case.lead_unit.code, case.needs_triage) == (
            "UBND-00688",
            "QLDT",
            False,
        )
        scans = [(a.purpose, a.content_type, a.sha256) for a in case.attachments]
        assert scans == [("letter_scan", "image/png", hashlib.sha256(png_bytes()).hexdigest())]
        assert [e.action for e in case.events] == ["submit"]

    page = clerk.get(f"{BASE}/lan-mo/{opening_id}")
    assert page.status_code == 200
    assert re.search(r'data-testid="transcribed">1/2', page.text)
    assert code in page.text and "còn thiếu 1 thư" in page.text
    # The clerk entered it, so the desk shows it to him.
    assert clerk.get(f"/can-bo/ho-so/{code}").status_code == 200


def test_the_opener_may_be_the_coordinator_and_letters_keep_the_area_default(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box("HT-00691-01", "00691", location="Nhà văn hóa tổ 2")
    _, coordinator = staff("coordinator")
    opening_id = record(coordinator, box_id, letters="1")
    form = coordinator.get(f"{BASE}/lan-mo/{opening_id}/nhap-thu").text
    assert re.search(r'<option selected value="00691">|<option value="00691" selected', form)
    code = transcribe(
        coordinator,
        opening_id,
        area_code="00691",
        anonymous="y",
        reporter_name="",
        reporter_phone="",
    )
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert (case.handling_unit.code, case.anonymous, case.reporter_name) == (
            "UBND-00691",
            True,
            None,
        )


# --- closing ------------------------------------------------------------------------------


def test_close_only_when_counts_agree_and_no_letter_after(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id, letters="2")
    close_url = f"{BASE}/lan-mo/{opening_id}/dong"

    def close() -> Any:
        token = csrf_from(clerk.get(f"{BASE}/lan-mo/{opening_id}").text)
        return clerk.post(close_url, data={"csrf_token": token})

    refused = close()
    assert refused.status_code == 409
    assert "còn thiếu 2 thư" in refused.text
    transcribe(clerk, opening_id)
    refused = close()
    assert refused.status_code == 409
    assert "biên bản ghi 2 thư nhưng mới nhập 1 hồ sơ, còn thiếu 1 thư" in refused.text
    with app.app_context():
        assert db.session.get(BoxOpening, opening_id).status == "open"

    transcribe(clerk, opening_id, subject="Cống thoát nước tổ 5 bị tắc")
    closed = close()
    assert closed.status_code == 303
    with app.app_context():
        opening = db.session.get(BoxOpening, opening_id)
        assert opening.status == "closed" and opening.closed_at is not None

    late = post_letter(clerk, opening_id, subject="Thư thứ ba không có trong biên bản")
    assert late.status_code == 409
    assert "đã đóng" in late.text
    assert count(app, Case) == 2
    # The form is no longer offered; closing twice says it is closed.
    assert clerk.get(f"{BASE}/lan-mo/{opening_id}/nhap-thu").status_code == 303
    again = clerk.post(close_url, data={"csrf_token": csrf_from(clerk.get(BASE + "/").text)})
    assert again.status_code == 409 and "đã đóng" in again.text


def test_close_is_refused_when_there_are_more_cases_than_letters(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id, letters="1")
    transcribe(clerk, opening_id)
    transcribe(clerk, opening_id, subject="Thư thứ hai không ghi trong biên bản")
    token = csrf_from(clerk.get(f"{BASE}/lan-mo/{opening_id}").text)
    refused = clerk.post(f"{BASE}/lan-mo/{opening_id}/dong", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "thừa 1 hồ sơ" in refused.text


def test_an_opening_without_letters_closes_at_once(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id, letters="0")
    token = csrf_from(clerk.get(f"{BASE}/lan-mo/{opening_id}").text)
    assert (
        clerk.post(f"{BASE}/lan-mo/{opening_id}/dong", data={"csrf_token": token}).status_code
        == 303
    )


def _in_thread(
    app: Flask, work: Callable[[], Any], results: dict[str, Any], name: str
) -> threading.Thread:
    def run() -> None:
        with app.app_context():
            try:
                with unit_of_work():
                    results[name] = work()
            except Exception as exc:  # the test inspects it
                results[name] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _letter(subject: str) -> CaseInput:
    return CaseInput(
        kind="feedback",
        subject=subject,
        body="Nội dung thư đủ dài để được tiếp nhận.",
        category_code="6.3b",
        area_code="00688",
        reporter=Reporter(anonymous=True),
        uploads=[],
    )


@pytest.fixture
def race(
    app: Flask, make_user: Callable[..., Any], make_box: Callable[..., int]
) -> Iterator[dict[str, Any]]:
    """An opening of one letter with that letter already a case: closable as it stands."""
    from feedback.services.intake.attachments import make_upload

    box_id = make_box()
    clerk_id, _ = make_user("clerk", unit_code="UBND-00688")
    with app.app_context(), unit_of_work():
        scan = make_upload("thu.png", png_bytes())
        clerk = db.session.get(User, clerk_id)
        box = db.session.get(SuggestionBox, box_id)
        opening = record_opening(
            box,
            OpeningInput(early_morning(1), WITNESSES, 1, make_upload("bb.jpg", jpeg_bytes())),
            actor=clerk,
            now=now(),
        )
        letter = _letter("Thư thứ nhất trong biên bản")
        letter.uploads = [scan]
        transcribe_letter(opening, letter, actor=clerk, now=now())
        opening_id = opening.id
    yield {"clerk_id": clerk_id, "opening_id": opening_id, "scan": scan}


def _transcribe_extra(app: Flask, race: dict[str, Any], hold: float, started: threading.Event):
    def work() -> str:
        clerk = db.session.get(User, race["clerk_id"])
        opening = db.session.get(BoxOpening, race["opening_id"])
        letter = _letter("Thư thừa nhập cùng lúc")
        letter.uploads = [race["scan"]]
        code = transcribe_letter(opening, letter, actor=clerk, now=now()).case.code
        started.set()
        time.sleep(hold)  # keep the transaction open while the other side tries
        return code

    return work


def _close(race: dict[str, Any], started: threading.Event | None = None, hold: float = 0.0):
    def work() -> str:
        clerk = db.session.get(User, race["clerk_id"])
        opening = db.session.get(BoxOpening, race["opening_id"])
        close_opening(opening, actor=clerk, now=now())
        if started is not None:
            started.set()
            time.sleep(hold)
        return "closed"

    return work


def test_a_close_racing_an_extra_transcription_is_refused(app: Flask, race: dict[str, Any]) -> None:
    """The transcription holds the opening's row when the close comes: the close waits for
    it, then finds two cases for one letter and does not close."""
    results: dict[str, Any] = {}
    started = threading.Event()
    first = _in_thread(app, _transcribe_extra(app, race, 0.5, started), results, "transcribe")
    assert started.wait(10), results
    second = _in_thread(app, _close(race), results, "close")
    first.join(20)
    second.join(20)
    assert isinstance(results["transcribe"], str), results
    assert isinstance(results["close"], Conflict), results
    assert "thừa 1 hồ sơ" in results["close"].message
    with app.app_context():
        opening = db.session.get(BoxOpening, race["opening_id"])
        assert opening.status == "open"
        assert (
            db.session.scalar(select(func.count(Case.id)).where(Case.box_opening_id == opening.id))
            == 2
        )


def test_a_transcription_racing_a_close_is_refused(app: Flask, race: dict[str, Any]) -> None:
    """The close holds the row when the letter comes: the letter waits, then finds the
    opening closed and writes nothing."""
    results: dict[str, Any] = {}
    started = threading.Event()
    first = _in_thread(app, _close(race, started, 0.5), results, "close")
    assert started.wait(10), results
    second = _in_thread(
        app, _transcribe_extra(app, race, 0.0, threading.Event()), results, "transcribe"
    )
    first.join(20)
    second.join(20)
    assert results["close"] == "closed", results
    assert isinstance(results["transcribe"], Conflict), results
    with app.app_context():
        opening = db.session.get(BoxOpening, race["opening_id"])
        assert opening.status == "closed"
        assert (
            db.session.scalar(select(func.count(Case.id)).where(Case.box_opening_id == opening.id))
            == 1
        )


# --- refusals that write nothing ----------------------------------------------------------


def _future() -> str:
    return local_text(now() + timedelta(hours=2))


def _too_old() -> str:
    return local_text(now() - timedelta(days=31))


@pytest.mark.parametrize(
    ("change", "field_message"),
    [
        ({"witnesses": "Nguyễn Văn An"}, "Cần ít nhất 2 người chứng kiến"),
        ({"witnesses": "Nguyễn Văn An\n  \nNguyen Van An"}, "(mới có 1)"),
        ({"witnesses": ""}, "Cần ít nhất 2 người chứng kiến"),
        ({"opened_at": _future}, "không được ở tương lai"),
        ({"opened_at": _too_old}, "trong vòng 30 ngày"),
        ({"opened_at": "hôm qua"}, "Ngày giờ không đúng dạng"),
        ({"opened_at": "31/02/2024 08:00"}, "Ngày giờ không đúng dạng"),
        ({"letters": "-1"}, "Số thư phải từ 0"),
        ({"letters": "ba"}, "Phải là một số nguyên"),
        ({"letters": ""}, "Vui lòng điền mục này"),
        ({"minutes": None}, "Vui lòng đính kèm ảnh chụp hoặc bản quét biên bản"),
        ({"minutes": ("bien-ban.jpg", b"Bien ban mo hom thu\n")}, "không phải ảnh"),
        ({"minutes": ("bien-ban.png", b"MZ\x90\x00" + bytes(64))}, "không phải ảnh"),
    ],
)
def test_a_bad_opening_is_refused_with_422_and_writes_nothing(
    app: Flask,
    staff: Callable[..., tuple[int, FlaskClient]],
    make_box: Callable[..., int],
    change: dict[str, Any],
    field_message: str,
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    kwargs = {k: (v() if callable(v) else v) for k, v in change.items()}
    kwargs.setdefault("opened_at", local_text(early_morning(2)))
    response = post_opening(clerk, box_id, **kwargs)
    assert response.status_code == 422, response.text
    assert field_message in response.text
    assert 'class="error"' in response.text
    assert count(app, BoxOpening) == 0
    assert count(app, Attachment) == 0
    assert stored_files(app) == []


def test_every_problem_of_an_opening_is_shown_at_once(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    response = post_opening(
        clerk, box_id, opened_at=_future(), witnesses="Một người", letters="x", minutes=None
    )
    assert response.status_code == 422
    for message in (
        "không được ở tương lai",
        "Cần ít nhất 2 người chứng kiến",
        "Phải là một số nguyên",
        "Vui lòng đính kèm ảnh chụp",
    ):
        assert message in response.text
    assert count(app, BoxOpening) == 0


def test_the_opener_is_not_counted_as_a_witness(
    app: Flask, make_user: Callable[..., Any], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, username = make_user("clerk", unit_code="UBND-00688")
    client = client_for(app, username)
    response = post_opening(
        client,
        box_id,
        opened_at=local_text(early_morning(1)),
        witnesses=f"Cán bộ {username}\nNguyễn Văn An",
    )
    assert response.status_code == 422
    assert "không kể người mở hòm thư (mới có 1)" in response.text
    assert count(app, BoxOpening) == 0


def test_an_expired_form_keeps_what_was_typed(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    response = clerk.post(
        f"{BASE}/{box_id}/mo",
        data={
            "csrf_token": "expired",
            "opened_at": local_text(early_morning(1)),
            "witnesses": "Hoàng Thị Lan\nVàng Văn Sáng",
            "letter_count": "4",
            "minutes": (io.BytesIO(jpeg_bytes()), "bb.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Biểu mẫu đã hết hạn" in response.text
    assert "Hoàng Thị Lan" in response.text and 'value="4"' in response.text
    assert count(app, BoxOpening) == 0 and stored_files(app) == []


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        (None, "Vui lòng đính kèm bản quét hoặc ảnh chụp lá thư"),
        (("thu.jpg", b"just text, not a scan"), "không phải ảnh"),
    ],
)
def test_a_letter_needs_its_scan(
    app: Flask,
    staff: Callable[..., tuple[int, FlaskClient]],
    make_box: Callable[..., int],
    scan: tuple[str, bytes] | None,
    message: str,
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id)
    files_before = stored_files(app)
    response = post_letter(clerk, opening_id, scan=scan)
    assert response.status_code == 422
    assert message in response.text
    assert LETTER["body"] in response.text  # what was typed is kept
    assert count(app, Case) == 0
    assert stored_files(app) == files_before


def test_a_letter_with_bad_fields_is_refused_and_writes_nothing(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id)
    files_before = stored_files(app)
    response = post_letter(
        clerk, opening_id, subject="", reporter_name="", reporter_phone="", category_code="9.9"
    )
    assert response.status_code == 422
    assert "Vui lòng điền mục này" in response.text
    assert "Lựa chọn không hợp lệ" in response.text
    assert "Vui lòng cho biết họ tên, hoặc chọn gửi ẩn danh" in response.text
    assert count(app, Case) == 0 and stored_files(app) == files_before


# --- who may do what ----------------------------------------------------------------------


def test_a_clerk_of_another_unit_cannot_open_this_box(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, own = staff("clerk", "UBND-00688")
    opening_id = record(own, box_id)
    _, other = staff("clerk", "UBND-00691")
    assert other.get(f"{BASE}/{box_id}").status_code == 404
    assert other.get(f"{BASE}/{box_id}/mo").status_code == 404
    token = csrf_from(other.get(f"{BASE}/").text)
    response = other.post(
        f"{BASE}/{box_id}/mo",
        data={
            "csrf_token": token,
            "opened_at": local_text(early_morning(1)),
            "witnesses": WITNESSES,
            "letter_count": "1",
            "minutes": (io.BytesIO(jpeg_bytes()), "bb.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code in (403, 404)
    assert other.get(f"{BASE}/lan-mo/{opening_id}").status_code == 404
    assert other.get(f"{BASE}/lan-mo/{opening_id}/nhap-thu").status_code == 404
    letter = other.post(
        f"{BASE}/lan-mo/{opening_id}/nhap-thu",
        data={"csrf_token": token, "action": "save", **LETTER},
    )
    assert letter.status_code in (403, 404)
    closing = other.post(f"{BASE}/lan-mo/{opening_id}/dong", data={"csrf_token": token})
    assert closing.status_code in (403, 404)
    assert count(app, BoxOpening) == 1 and count(app, Case) == 0


def test_the_service_refuses_a_clerk_of_another_unit(
    app: Flask, make_user: Callable[..., Any], make_box: Callable[..., int]
) -> None:
    from feedback.services.intake.attachments import make_upload

    box_id = make_box()
    other_id, _ = make_user("clerk", unit_code="UBND-00691")
    with app.app_context():
        box = db.session.get(SuggestionBox, box_id)
        data = OpeningInput(early_morning(1), WITNESSES, 1, make_upload("bb.jpg", jpeg_bytes()))
        with pytest.raises(Forbidden):
            record_opening(box, data, actor=db.session.get(User, other_id), now=now())
        db.session.rollback()
    assert count(app, BoxOpening) == 0


@pytest.mark.parametrize("role", ["officer", "unit_head", "operator"])
def test_other_staff_cannot_use_the_box_pages(
    app: Flask,
    staff: Callable[..., tuple[int, FlaskClient]],
    make_box: Callable[..., int],
    role: str,
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id)
    unit = "UBND-00688" if role in ("officer", "unit_head") else None
    _, client = staff(role, unit)
    for url in (
        f"{BASE}/",
        f"{BASE}/them",
        f"{BASE}/{box_id}",
        f"{BASE}/{box_id}/mo",
        f"{BASE}/lan-mo/{opening_id}",
        f"{BASE}/lan-mo/{opening_id}/nhap-thu",
    ):
        assert client.get(url).status_code == 403, url
    token = csrf_from(client.get("/can-bo/").text)
    letter = client.post(
        f"{BASE}/lan-mo/{opening_id}/nhap-thu",
        data={"csrf_token": token, "action": "save", **LETTER},
    )
    assert letter.status_code == 403
    assert (
        client.post(f"{BASE}/lan-mo/{opening_id}/dong", data={"csrf_token": token}).status_code
        == 403
    )
    assert count(app, Case) == 0


def test_the_inspector_reads_but_does_not_act(
    staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id)
    _, inspector = staff("inspector")
    page = inspector.get(f"{BASE}/lan-mo/{opening_id}")
    assert page.status_code == 200 and "Nhập thư thành hồ sơ" not in page.text
    assert inspector.get(f"{BASE}/{box_id}/mo").status_code == 403
    assert inspector.get(f"{BASE}/lan-mo/{opening_id}/nhap-thu").status_code == 403


def test_the_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get(f"{BASE}/")
    assert response.status_code == 302 and "/dang-nhap" in response.headers["Location"]


# --- duplicate hints ----------------------------------------------------------------------


def test_duplicate_hints_find_a_reworded_case_and_the_link_is_recorded(
    app: Flask,
    staff: Callable[..., tuple[int, FlaskClient]],
    make_box: Callable[..., int],
    make_case: Callable[..., str],
) -> None:
    existing = make_case(
        subject="Rác thải không được thu gom ở tổ 5",
        body="Rác thải ở đầu ngõ tổ 5 đã ba ngày không được thu gom, bốc mùi khó chịu.",
        category_code="6.3c",
        area_code="00688",
    )
    elsewhere = make_case(
        subject="Rác thải không được thu gom ở tổ 5",
        body="Rác thải ở tổ 5 phường Trần Phú không được thu gom.",
        category_code="6.3c",
        area_code="00691",
    )
    box_id = make_box()
    # The coordinator, who may open every case: a clerk is hinted only the letters he
    # transcribed himself (test below).
    _, clerk = staff("coordinator")
    opening_id = record(clerk, box_id, letters="1")
    letter = {
        "category_code": "6.3c",
        "area_code": "00688",
        "subject": "to 5 rac thai khong ai thu gom",
        "body": "to 5 rac thai khong ai thu gom, dan phai dot rac",
    }

    checked = post_letter(clerk, opening_id, action="check", scan=None, **letter)
    assert checked.status_code == 200
    assert existing in checked.text and elsewhere not in checked.text
    assert "Liên kết với hồ sơ này" in checked.text
    assert re.search(rf'<input type="radio" name="link_to" value="{existing}"', checked.text)
    assert letter["body"] in checked.text  # the form comes back filled in
    assert count(app, Case) == 2  # checking writes nothing

    nothing = post_letter(
        clerk,
        opening_id,
        action="check",
        scan=None,
        **{**letter, "subject": "Xin cấp điện", "body": "Nhà văn hóa tổ 9 mới xây chưa có điện"},
    )
    assert nothing.status_code == 200 and existing not in nothing.text

    code = transcribe(clerk, opening_id, link_to=existing, **letter)
    with app.app_context():
        new = db.session.scalar(select(Case).where(Case.code == code))
        old = db.session.scalar(select(Case).where(Case.code == existing))
        links = db.session.scalars(select(CaseLink)).all()
        assert [(link.case_id, link.linked_case_id) for link in links] == [(new.id, old.id)]
        actions = db.session.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id.in_([new.id, old.id]))
        ).all()
        assert actions.count("link") == 2


def test_a_clerk_is_hinted_only_the_letters_he_transcribed(
    app: Flask,
    staff: Callable[..., tuple[int, FlaskClient]],
    make_box: Callable[..., int],
    make_case: Callable[..., str],
) -> None:
    """Issue 13, finding 2: the transcription check shows no subject of a case the clerk
    cannot open (a citizen's, a denunciation), and does show his own."""
    waste = {"category_code": "6.3c", "area_code": "00688"}
    citizens = make_case(
        subject="Rác thải không được thu gom ở tổ 5",
        body="Rác thải ở tổ 5 đã ba ngày không được thu gom, bốc mùi khó chịu.",
        **waste,
    )
    denounced = make_case(
        kind="denunciation",
        subject="Cán bộ tổ 5 thu tiền rác sai quy định",
        body="Rác thải ở tổ 5 không được thu gom dù cán bộ đã thu tiền.",
        **waste,
    )
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, make_box(), letters="2")
    own = transcribe(
        clerk,
        opening_id,
        subject="Tổ 5 rác thải để lâu không ai thu gom",
        body="Rác thải ở tổ 5 để lâu không ai thu gom, bốc mùi.",
        **waste,
    )
    checked = post_letter(
        clerk,
        opening_id,
        action="check",
        scan=None,
        subject="to 5 rac thai khong ai thu gom",
        body="to 5 rac thai khong ai thu gom, boc mui",
        **waste,
    )
    assert checked.status_code == 200
    assert f'data-code="{own}"' in checked.text  # hinted, with its subject
    for code in (citizens, denounced):
        assert code not in checked.text
    assert "Rác thải không được thu gom ở tổ 5" not in checked.text
    assert "Cán bộ tổ 5 thu tiền rác sai quy định" not in checked.text


def test_a_link_to_an_unknown_case_is_a_form_error(
    app: Flask, staff: Callable[..., tuple[int, FlaskClient]], make_box: Callable[..., int]
) -> None:
    box_id = make_box()
    _, clerk = staff("clerk", "UBND-00688")
    opening_id = record(clerk, box_id)
    files_before = stored_files(app)
    response = post_letter(clerk, opening_id, link_to="HG-1999-000001")
    assert response.status_code == 422
    assert "Mã hồ sơ không tồn tại" in response.text
    assert count(app, Case) == 0 and count(app, CaseLink) == 0
    assert stored_files(app) == files_before


# --- parsing ------------------------------------------------------------------------------


def test_local_times_are_read_in_ha_giang_time() -> None:
    expected = datetime(2024, 3, 14, 23, 30, tzinfo=UTC)
    for text in ("15/03/2024 06:30", "15/3/2024 6:30", "2024-03-15T06:30", " 15/03/2024  6h30 "):
        assert parse_local_datetime(text) == expected, text
    for text in ("", "15/03/2024", "32/01/2024 08:00", "08:00", None):
        assert parse_local_datetime(text) is None, text


def test_witnesses_are_distinct_names_one_per_line() -> None:
    assert parse_witnesses(" Nguyễn  Văn An \n\nnguyen van an\nTrần Thị Bình\r\n") == [
        "Nguyễn Văn An",
        "Trần Thị Bình",
    ]
