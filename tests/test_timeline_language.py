"""Timeline notes in the reader's language (issue 15): a note made from a marked template
is stored in Vietnamese, as every note is, and shown in English on an English page; a note
typed by staff stays as typed, marked as Vietnamese for screen readers."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.marks import N_
from feedback.extensions import db
from feedback.models import Case, CaseEvent
from feedback.services.handling.events import record
from feedback.services.sla.sweep import sweep


def test_a_marked_note_is_shown_translated_and_stored_in_vietnamese(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    make_case: Callable[..., str],
) -> None:
    code = make_case()
    with app.app_context(), unit_of_work():
        case = db.session.scalars(select(Case).where(Case.code == code)).one()
        now = datetime.now(UTC)
        record(
            case,
            "note",
            user=None,
            now=now,
            note=N_("Đã liên kết với hồ sơ %(code)s.", code="HG-X"),
        )
        record(case, "note", user=None, now=now, note="Đã gọi điện cho người dân.")
    with app.app_context():
        stored = db.session.scalars(
            select(CaseEvent.note).join(Case).where(Case.code == code).order_by(CaseEvent.id)
        ).all()
        assert stored[-2:] == ["Đã liên kết với hồ sơ HG-X.", "Đã gọi điện cho người dân."]
    login_as("inspector")
    vietnamese = html.unescape(client.get(f"/can-bo/ho-so/{code}").text)
    assert "Đã liên kết với hồ sơ HG-X." in vietnamese
    english = client.get(f"/can-bo/ho-so/{code}?lang=en").text
    assert "Linked to case HG-X." in english
    assert "Đã liên kết" not in html.unescape(english)
    assert '<span lang="vi">Đã gọi điện cho người dân.</span>' in html.unescape(english)
    assert "<strong>Citizen</strong>" in english


# --- notes written by the services, through the pages ----------------------------------------

QUESTION = "Xin gửi ảnh chụp miệng cống bị tắc."
REPLY = "Ảnh đã gửi kèm; nước vẫn tràn khi mưa."


def _submit(client: FlaskClient) -> tuple[str, str]:
    """A case sent through the citizen's web form: its (code, access key), shown once."""
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "feedback",
            "category_code": "6.3b",
            "area_code": "00688",
            "address": "Số 12, tổ 7",
            "subject": "Cống thoát nước tổ 7 bị tắc",
            "body": "Cống thoát nước trước nhà số 12 tổ 7 bị tắc, nước tràn ra đường.",
            "reporter_name": "Lê Thị Hoa",
            "reporter_phone": "0912 345 678",
            "action": "send",
        },
    )
    assert response.status_code == 302, response.text
    code = response.headers["Location"].rsplit("/", 1)[-1]
    key = re.search(
        r'data-testid="access-key"[^>]*>([^<]+)<', client.get(f"/gui/da-nhan/{code}").text
    )
    assert key, "no access key shown"
    return code, key.group(1).strip()


def _staff_acts(client: FlaskClient, code: str, slug: str, **form: str) -> None:
    token = csrf_from(client.get(f"/can-bo/ho-so/{code}").text)
    response = client.post(f"/can-bo/ho-so/{code}/{slug}", data={"csrf_token": token, **form})
    assert response.status_code == 303, response.text


def _notes(app: Flask, code: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(CaseEvent.note).join(Case).where(Case.code == code).order_by(CaseEvent.id)
            )
        )


def test_an_officers_and_the_citizens_steps_read_in_english_and_stay_vietnamese_on_record(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    code, key = _submit(app.test_client())
    login_as("officer")
    _staff_acts(client, code, "xac-nhan-tiep-nhan")
    _staff_acts(client, code, "de-nghi-bo-sung", question=QUESTION)
    citizen = app.test_client()
    found = citizen.get("/tra-cuu")
    proven = citizen.post(
        "/tra-cuu", data={"csrf_token": csrf_from(found.text), "code": code, "access_key": key}
    )
    assert proven.status_code == 303
    status = citizen.get(f"/tra-cuu/{code}")
    replied = citizen.post(
        f"/tra-cuu/{code}/bo-sung",
        data={"csrf_token": csrf_from(status.text), "reply": REPLY},
        content_type="multipart/form-data",
    )
    assert replied.status_code in (302, 303), replied.text

    # On record: the Vietnamese notes, exactly as before.
    assert _notes(app, code)[-3:] == [
        "Đã xác nhận tiếp nhận; hồ sơ đang được xem xét, giải quyết.",
        f"Đề nghị bổ sung thông tin: {QUESTION}",
        f"Người dân bổ sung: {REPLY}",
    ]
    vietnamese = html.unescape(client.get(f"/can-bo/ho-so/{code}").text)
    assert f"Đề nghị bổ sung thông tin: {QUESTION}" in vietnamese

    # The desk in English: the frame translated, what people typed marked as Vietnamese.
    english = html.unescape(client.get(f"/can-bo/ho-so/{code}?lang=en").text)
    assert "Acknowledged; the case is being examined and resolved." in english
    assert f'Further information requested: <span lang="vi">{QUESTION}</span>' in english
    assert f'The citizen added: <span lang="vi">{REPLY}</span>' in english
    for vietnamese_frame in ("Đã xác nhận tiếp nhận;", "Đề nghị bổ sung", "Người dân bổ sung"):
        assert vietnamese_frame not in english

    # The citizen's status page in English shows the same public steps in English.
    public = html.unescape(citizen.get(f"/tra-cuu/{code}?lang=en").text)
    assert "Acknowledged; the case is being examined and resolved." in public
    assert f'Further information requested: <span lang="vi">{QUESTION}</span>' in public
    assert f'The citizen added: <span lang="vi">{REPLY}</span>' in public
    assert "Đề nghị bổ sung thông tin" not in public


STEP_LABEL = "Quá hạn trả lời: báo lãnh đạo đơn vị, đơn vị chủ trì, Thanh tra"
LEVEL_1 = (
    f"Chuyển cấp báo động 1: {STEP_LABEL} (hạn trả lời {{due}}, tại thời điểm quá hạn); "
    "báo lãnh đạo đơn vị xử lý, đơn vị chủ trì, Thanh tra thành phố."
)


def test_the_deadline_monitors_notes_read_in_english(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    make_case: Callable[..., str],
) -> None:
    received = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # a Monday, 09:00 in Hà Nội
    code = make_case(now=received)
    with app.app_context():
        sweep(received + timedelta(days=60))
    notes = _notes(app, code)
    assert "Quá hạn trả lời: hạn 23:59, Thứ Ba 12/03/2024." in notes
    step = LEVEL_1.format(due="23:59, Thứ Ba 12/03/2024")
    assert step in notes, notes
    login_as("inspector")
    english = html.unescape(client.get(f"/can-bo/ho-so/{code}?lang=en").text)
    assert (
        "<strong>Deadline monitor</strong>: Answer overdue: due 23:59, Tuesday 12/03/2024."
        in english
    )
    # The step's label is the admin's text; the audience, the frame and the time are English.
    assert (
        f'Escalated to alert level 1: <span lang="vi">{STEP_LABEL}</span> (answer due 23:59, '
        "Tuesday 12/03/2024, at the moment it fell overdue); notified: the head of the "
        "handling unit, the lead unit and City Inspectorate." in english
    ), english
    for vietnamese in (
        "Chuyển cấp báo động",
        "Quá hạn trả lời: hạn",
        "báo lãnh đạo đơn vị xử lý",
        "Thứ Ba",
    ):
        assert vietnamese not in english


def test_a_recomputed_deadline_is_noted_in_the_readers_language(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    make_case: Callable[..., str],
) -> None:
    from feedback.services.handling.deadlines import recompute

    code = make_case()
    with app.app_context(), unit_of_work():
        case = db.session.scalars(select(Case).where(Case.code == code)).one()
        case.response_due_at = case.response_due_at - timedelta(days=1)  # as if the rule moved
        assert recompute(case, datetime.now(UTC), N_("thụ lý"))
    with app.app_context():
        stored = db.session.scalars(
            select(CaseEvent.note)
            .join(Case)
            .where(Case.code == code, CaseEvent.action == "recompute")
        ).one()
    assert stored.startswith("Tính lại thời hạn (thụ lý): hạn trả lời ")
    login_as("inspector")
    english = html.unescape(client.get(f"/can-bo/ho-so/{code}?lang=en").text)
    assert "Deadlines recomputed (acceptance): answer due " in english
    assert "<strong>System</strong>" in english and "Tính lại" not in english
