"""Progress updates with a committed date (issue 16, "late cases handled in the open"):
the service's refusals and what one update writes (its row, the case's committed due time,
one public event, the audit record, one message per contact), the desk's form with CSRF and
its refusals beside the fields, the citizen's status page, the photos an update publishes
(shown to the citizen, and no other staff file), and the JSON API's action."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from helpers import client_for, csrf_from, pdf_bytes, png_bytes
from sqlalchemy import func, select
from test_follow import by_testid, citizen, submit, text_of

from feedback.database import unit_of_work
from feedback.domain.deadlines import end_of_local_day, local_date
from feedback.extensions import db
from feedback.models import AuditLog, Case, Notification, ProgressUpdate, User
from feedback.services.errors import Conflict, Forbidden, ValidationError
from feedback.services.handling import actions as handling
from feedback.services.handling import followup
from feedback.services.handling.progress import lateness_note, parse_day, post_progress
from feedback.services.intake.submission import CaseInput, Reporter, submit_case

UNIT = "UBND-00688"  # 6.3b in ward 00688 is handled here
TEXT = "Đã khảo sát hiện trường, đang chờ Điện lực cấp bóng đèn thay thế cho ba cột đèn."
ANSWER = "Đã thay bóng đèn hỏng trước số nhà 120 vào sáng nay, đề nghị ông/bà theo dõi."


def new_case(app: Flask, now: datetime, **reporter: str) -> str:
    contact = reporter or {"phone": "0912000111", "email": "binh@example.vn"}
    data = CaseInput(
        kind="feedback",
        subject="Đèn đường hỏng ở tổ 5",
        body="Ba cột đèn trước nhà văn hóa tổ 5 không sáng từ tuần trước.",
        category_code="6.3b",
        area_code="00688",
        reporter=Reporter(name="Trần Thị Bình", **contact),
    )
    with app.app_context(), unit_of_work():
        return submit_case(data, actor=None, now=now).case.code


def user(make_user: Callable[..., Any], role: str, unit: str | None = UNIT) -> int:
    user_id, _ = make_user(role, unit_code=unit)
    return int(user_id)


def case_of(code: str) -> Case:
    found = db.session.scalar(select(Case).where(Case.code == code))
    assert found is not None
    return found


def post(
    app: Flask, code: str, user_id: int, now: datetime, body: str, day: date
) -> ProgressUpdate:
    with app.app_context(), unit_of_work():
        return post_progress(case_of(code), db.session.get(User, user_id), now, body, day)


def promise_line(page: str) -> str | None:
    """The status page's line with the committed day, as read (tags dropped)."""
    found = re.search(r'data-testid="committed-day"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else None


def answer(app: Flask, code: str, head_id: int, now: datetime) -> None:
    with app.app_context(), unit_of_work():
        case, head = case_of(code), db.session.get(User, head_id)
        handling.acknowledge(case, head, now)
        handling.approve_answer(case, head, now, ANSWER)


def counts(app: Flask, code: str) -> tuple[int, int, int, Any]:
    """Updates, events, outbox rows, committed due: what a refusal must leave as it was."""
    with app.app_context():
        case = case_of(code)
        result = (
            db.session.scalar(select(func.count()).select_from(ProgressUpdate)),
            len(case.events),
            db.session.scalar(select(func.count()).select_from(Notification)),
            case.committed_due_at,
        )
        db.session.remove()
        return result


# --- the service ------------------------------------------------------------------------------


def test_an_update_writes_its_row_the_promise_one_public_event_and_one_message_per_contact(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    officer = user(make_user, "officer")
    day = local_date(now) + timedelta(days=3)
    with app.app_context():
        due_before = case_of(code).response_due_at
        db.session.remove()

    post(app, code, officer, now, f"  {TEXT}  ", day)

    with app.app_context():
        case = case_of(code)
        rows = db.session.scalars(select(ProgressUpdate)).all()
        assert [(r.body, r.committed_on, r.author_id) for r in rows] == [(TEXT, day, officer)]
        assert rows[0].committed_due_at == end_of_local_day(day) == case.committed_due_at
        # The promise moves no deadline: lateness stays lateness.
        assert case.response_due_at == due_before
        events = [e for e in case.events if e.action == "progress_update"]
        assert len(events) == 1 and events[0].public
        assert events[0].data["committed_on"] == day.isoformat()
        assert TEXT in events[0].note
        assert f"Hẹn trả lời trước hết ngày {day:%d/%m/%Y}." in events[0].note
        # The audit hook records it as any case action.
        audit = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "case.progress_update")
        ).all()
        assert len(audit) == 1 and audit[0].actor_id == officer
        sent = db.session.scalars(select(Notification).where(Notification.kind == "progress")).all()
        assert sorted(n.channel for n in sent) == ["email", "sms"]
        email = next(n for n in sent if n.channel == "email")
        assert email.recipient == "binh@example.vn"
        assert TEXT in email.body and f"trước hết ngày {day:%d/%m/%Y}" in email.body
        sms = next(n for n in sent if n.channel == "sms")
        assert code in sms.body and len(sms.body) <= 160 and TEXT not in sms.body
        # Written once: the same update's messages again write nothing.
        from feedback.services.sla.notify import tell_citizen

        assert tell_citizen(case, kind="progress", reason=str(rows[0].id), text="x", now=now) == 0
        db.session.remove()


def test_a_second_update_is_a_new_row_and_the_newest_day_is_the_promise(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2), phone="0912000111")
    officer = user(make_user, "officer")
    head = user(make_user, "unit_head")
    first = local_date(now) + timedelta(days=5)
    later = local_date(now) + timedelta(days=2)  # an earlier day, posted later: it holds
    post(app, code, officer, now, TEXT, first)
    post(app, code, head, now + timedelta(minutes=5), "Đã có bóng đèn, sẽ thay trong tuần.", later)
    with app.app_context():
        case = case_of(code)
        assert case.committed_due_at == end_of_local_day(later)
        assert db.session.scalar(select(func.count()).select_from(ProgressUpdate)) == 2
        sms = db.session.scalars(select(Notification).where(Notification.kind == "progress"))
        assert [n.channel for n in sms] == ["sms", "sms"]  # a phone only: one SMS each
        db.session.remove()


def test_a_day_after_the_statutory_due_is_allowed_and_says_the_answer_will_be_late(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=20))  # six working days are long gone
    officer = user(make_user, "officer")
    day = local_date(now) + timedelta(days=1)
    post(app, code, officer, now, TEXT, day)
    with app.app_context():
        case = case_of(code)
        assert case.response_due_at < now
        event = next(e for e in case.events if e.action == "progress_update")
        assert "đã quá hạn trả lời theo quy định" in event.note
        assert event.data["after_due"] is True
        email = db.session.scalar(
            select(Notification).where(
                Notification.kind == "progress", Notification.channel == "email"
            )
        )
        assert "đã quá hạn trả lời theo quy định" in email.body
        db.session.remove()
    # Before the due has passed, a day beyond it says an answer then is still late.
    due = datetime(2026, 3, 10, 16, 59, 59, tzinfo=UTC)
    assert "vẫn là trả lời quá hạn" in lateness_note(
        due + timedelta(days=2), due, due - timedelta(days=1)
    )
    assert lateness_note(due, due, due - timedelta(days=1)) == ""


@pytest.mark.parametrize(
    ("body", "days", "field"),
    [
        (TEXT, -1, "committed_on"),  # yesterday
        (TEXT, 367, "committed_on"),  # beyond the one-year horizon
        ("   ", 3, "body"),  # nothing said
        ("Xong.", 3, "body"),  # too short to say anything
        ("x" * 2001, 3, "body"),  # too long
    ],
)
def test_a_bad_text_or_day_is_refused_and_writes_nothing(
    app: Flask, make_user: Callable[..., Any], body: str, days: int, field: str
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    officer = user(make_user, "officer")
    before = counts(app, code)
    with pytest.raises(ValidationError) as refused:
        post(app, code, officer, now, body, local_date(now) + timedelta(days=days))
    assert field in refused.value.fields
    assert counts(app, code) == before


def test_today_and_the_horizon_are_accepted(app: Flask, make_user: Callable[..., Any]) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    officer = user(make_user, "officer")
    post(app, code, officer, now, TEXT, local_date(now))
    post(app, code, officer, now, TEXT, local_date(now) + timedelta(days=366))
    assert counts(app, code)[0] == 2


def test_an_answered_case_takes_no_update(app: Flask, make_user: Callable[..., Any]) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    head = user(make_user, "unit_head")
    answer(app, code, head, now)
    before = counts(app, code)
    with pytest.raises(Conflict):
        post(app, code, head, now, TEXT, local_date(now) + timedelta(days=2))
    assert counts(app, code) == before


@pytest.mark.parametrize(
    ("role", "unit"),
    [("officer", "UBND-00691"), ("coordinator", "VP"), ("inspector", "TTR")],
)
def test_who_does_not_draft_the_answer_may_not_promise(
    app: Flask, make_user: Callable[..., Any], role: str, unit: str
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    actor = user(make_user, role, unit)
    before = counts(app, code)
    with pytest.raises(Forbidden):
        post(app, code, actor, now, TEXT, local_date(now) + timedelta(days=2))
    assert counts(app, code) == before


def test_the_day_is_read_from_a_date_input_or_as_typed() -> None:
    assert parse_day("2026-12-31") == date(2026, 12, 31)
    assert parse_day(" 31/12/2026 ") == date(2026, 12, 31)
    for bad in ("", "31/02/2026", "mai", "2026-13-01"):
        with pytest.raises(ValidationError) as refused:
            parse_day(bad)
        assert "committed_on" in refused.value.fields


# --- the desk ---------------------------------------------------------------------------------


def desk_post(client: Any, code: str, **form: str) -> Any:
    token = csrf_from(client.get(f"/can-bo/ho-so/{code}").text)
    return client.post(f"/can-bo/ho-so/{code}/cap-nhat-tien-do", data={"csrf_token": token, **form})


def test_the_officer_posts_an_update_from_the_case_page(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=20))
    _, name = make_user("officer", unit_code=UNIT)
    officer = client_for(app, name)
    page = html.unescape(officer.get(f"/can-bo/ho-so/{code}").text)
    assert 'data-testid="progress-form"' in page
    assert 'data-testid="progress-urgent"' in page  # overdue: the form is put forward
    assert "Hồ sơ đã quá hạn trả lời" in page
    day = local_date(now) + timedelta(days=4)

    response = desk_post(officer, code, body=TEXT, committed_on=day.isoformat())
    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith(f"/can-bo/ho-so/{code}#tien-do")
    page = html.unescape(officer.get(f"/can-bo/ho-so/{code}").text)
    assert (
        f"Đã đăng cập nhật tiến độ hồ sơ {code}, hẹn trả lời trước hết ngày {day:%d/%m/%Y}" in page
    )
    assert by_testid(page, "progress-day") == f"{day:%d/%m/%Y}"
    assert TEXT in page
    assert counts(app, code)[0] == 1
    # The citizen has a promise in force: the form is offered, no longer put forward.
    assert 'data-testid="progress-form"' in page
    assert 'data-testid="progress-urgent"' not in page


def test_a_missed_promise_puts_the_form_forward_again_and_the_citizen_is_told(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code, key = submit(app.test_client())
    officer_id, name = make_user("officer", unit_code=UNIT)
    week_ago = now - timedelta(days=7)
    with app.app_context():
        case = case_of(code)
        case.received_at = case.received_at - timedelta(days=8)  # received before the update
        db.session.commit()
        db.session.remove()
    post(app, code, int(officer_id), week_ago, TEXT, local_date(week_ago) + timedelta(days=2))

    page = html.unescape(client_for(app, name).get(f"/can-bo/ho-so/{code}").text)
    assert "Đã qua ngày hẹn trả lời" in by_testid(page, "progress-urgent")
    assert "· đã qua ngày hẹn" in page
    status = text_of(citizen(app, code, key).get(f"/tra-cuu/{code}"))
    promised = local_date(week_ago) + timedelta(days=2)
    assert promise_line(status) == (
        f"Cơ quan đã hẹn trả lời trước hết ngày {promised:%d/%m/%Y} nhưng đến nay chưa trả lời."
    )


def test_the_form_is_put_forward_within_two_working_days_of_the_due(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    from feedback.services.handling.progress import due_soon, update_wanted

    code = new_case(app, datetime.now(UTC))
    with app.app_context():
        case = case_of(code)
        assert not due_soon(case, case.received_at + timedelta(hours=1))  # six working days
        assert due_soon(case, case.response_due_at - timedelta(hours=1))
        assert due_soon(case, case.response_due_at + timedelta(hours=1))
        assert update_wanted(case, case.response_due_at - timedelta(hours=1))
        db.session.remove()


def test_a_bad_day_comes_back_beside_its_field_with_the_text_kept(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    _, name = make_user("officer", unit_code=UNIT)
    officer = client_for(app, name)
    before = counts(app, code)
    yesterday = local_date(now) - timedelta(days=1)

    response = desk_post(officer, code, body=TEXT, committed_on=yesterday.isoformat())
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert by_testid(page, "progress-day-error") == (
        f"Ngày hẹn không được trước hôm nay ({local_date(now):%d/%m/%Y})."
    )
    assert re.search(r'<textarea id="progress-body"[^>]*>' + re.escape(TEXT) + "</textarea>", page)
    assert f'value="{yesterday.isoformat()}"' in page
    assert by_testid(page, "progress-problem") == "Ngày hẹn trả lời đã qua."

    garbled = html.unescape(desk_post(officer, code, body=TEXT, committed_on="mai").text)
    assert "Ngày hẹn trả lời không hợp lệ" in garbled and TEXT in garbled
    empty = desk_post(officer, code, body="", committed_on=local_date(now).isoformat())
    assert empty.status_code == 422
    assert "Nội dung cập nhật (ít nhất 10 ký tự)" in html.unescape(empty.text)
    assert counts(app, code) == before


def test_the_form_needs_its_csrf_token_and_the_right_to_promise(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    day = (local_date(now) + timedelta(days=2)).isoformat()
    _, name = make_user("officer", unit_code=UNIT)
    officer = client_for(app, name)
    url = f"/can-bo/ho-so/{code}/cap-nhat-tien-do"
    assert officer.post(url, data={"body": TEXT, "committed_on": day}).status_code == 400

    _, other = make_user("officer", unit_code="UBND-00691")
    assert desk_post(client_for(app, other), code, body=TEXT, committed_on=day).status_code == 404
    _, inspector = make_user("inspector", unit_code="TTR")
    inspecting = client_for(app, inspector)
    page = html.unescape(inspecting.get(f"/can-bo/ho-so/{code}").text)
    assert 'data-testid="progress-form"' not in page
    assert desk_post(inspecting, code, body=TEXT, committed_on=day).status_code == 403
    assert counts(app, code)[0] == 0


# --- the citizen ------------------------------------------------------------------------------


def test_the_citizen_sees_the_update_and_the_promised_day(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    code, key = submit(app.test_client())
    browser = citizen(app, code, key)
    assert promise_line(text_of(browser.get(f"/tra-cuu/{code}"))) is None
    now = datetime.now(UTC)
    day = local_date(now) + timedelta(days=3)
    post(app, code, user(make_user, "officer"), now, TEXT, day)

    page = text_of(browser.get(f"/tra-cuu/{code}"))
    assert promise_line(page) == (f"Cơ quan hẹn trả lời trước hết ngày {day:%d/%m/%Y}.")
    timeline = page[page.index('data-testid="timeline"') :]
    assert f"Cập nhật tiến độ: {TEXT}" in timeline
    assert f"Hẹn trả lời trước hết ngày {day:%d/%m/%Y}." in timeline

    # Answered: the promise is history (still on the timeline), the line goes.
    answer(app, code, user(make_user, "unit_head"), now)
    page = text_of(browser.get(f"/tra-cuu/{code}"))
    assert promise_line(page) is None
    assert f"Cập nhật tiến độ: {TEXT}" in page

    # Reopened: the old promise ended with the answer; it is no promise of the new round
    # (nor a missed one on the monitor).
    with app.app_context(), unit_of_work():
        followup.reopen(case_of(code), now + timedelta(hours=1), "Đèn vẫn chưa sáng lại.")
    with app.app_context():
        assert case_of(code).committed_due_at is None
        db.session.remove()
    assert promise_line(text_of(browser.get(f"/tra-cuu/{code}"))) is None


# --- the JSON API -----------------------------------------------------------------------------


def test_the_api_posts_an_update_as_the_desk_does(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    from feedback.services.accounts.users import issue_token

    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    officer = user(make_user, "officer")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, officer), now)
    api = app.test_client()
    url = f"/api/v1/cases/{code}/progress"
    headers = {"Authorization": f"Bearer {token}"}
    day = local_date(now) + timedelta(days=3)

    bad = api.post(url, json={"body": TEXT, "committed_on": "05/13/2026"}, headers=headers)
    assert bad.status_code == 422
    assert bad.get_json()["fields"]["committed_on"].startswith("Ngày hẹn trả lời không hợp lệ")
    extra = api.post(
        url, json={"body": TEXT, "committed_on": day.isoformat(), "x": 1}, headers=headers
    )
    assert extra.status_code == 422
    assert counts(app, code)[0] == 0

    done = api.post(url, json={"body": TEXT, "committed_on": day.isoformat()}, headers=headers)
    assert done.status_code == 200, done.get_json()
    events = [e for e in done.get_json()["timeline"] if e["action"] == "progress_update"]
    assert len(events) == 1 and events[0]["public"] and TEXT in events[0]["note"]

    answer(app, code, user(make_user, "unit_head"), now)
    late = api.post(url, json={"body": TEXT, "committed_on": day.isoformat()}, headers=headers)
    assert late.status_code == 409 and late.get_json()["error"] == "conflict"
    assert counts(app, code)[0] == 1


# --- photos -----------------------------------------------------------------------------------


def test_photos_go_with_the_update_and_the_citizen_alone_sees_them(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    from io import BytesIO

    from feedback.services.intake.attachments import make_upload
    from feedback.services.intake.case_files import add_files

    code, key = submit(app.test_client())
    officer_id, name = make_user("officer", unit_code=UNIT)
    officer = client_for(app, name)
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():  # a staff file that is not the citizen's business
        hidden = add_files(
            case_of(code),
            [make_upload("bien-ban-noi-bo.png", png_bytes())],
            actor=db.session.get(User, officer_id),
            now=now,
        )[0].id
    day = (local_date(now) + timedelta(days=3)).isoformat()
    token = csrf_from(officer.get(f"/can-bo/ho-so/{code}").text)
    url = f"/can-bo/ho-so/{code}/cap-nhat-tien-do"

    refused = officer.post(
        url,
        data={
            "csrf_token": token,
            "body": TEXT,
            "committed_on": day,
            "photos": [(BytesIO(png_bytes()), "den.png"), (BytesIO(pdf_bytes()), "cv.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    page = html.unescape(refused.text)
    assert by_testid(page, "progress-photos-error") == (
        "Tệp «cv.pdf» không phải ảnh (JPEG, PNG, WebP, GIF)."
    )
    assert TEXT in page and "vui lòng chọn lại" in page
    assert counts(app, code)[0] == 0

    done = officer.post(
        url,
        data={
            "csrf_token": token,
            "body": TEXT,
            "committed_on": day,
            "photos": [(BytesIO(png_bytes()), "den-1.png"), (BytesIO(png_bytes()), "den-2.png")],
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 303, done.text
    with app.app_context():
        event = next(e for e in case_of(code).events if e.action == "progress_update")
        photos = event.data["attachments"]
        email = db.session.scalar(
            select(Notification).where(
                Notification.kind == "progress", Notification.channel == "email"
            )
        )
        assert "Kèm theo 2 ảnh" in email.body
        db.session.remove()
    assert len(photos) == 2
    desk_page = html.unescape(officer.get(f"/can-bo/ho-so/{code}").text)
    assert desk_page.count(f'src="/can-bo/tep/{photos[0]}"') == 1

    browser = citizen(app, code, key)
    status = text_of(browser.get(f"/tra-cuu/{code}"))
    shown = re.findall(rf'<img src="/tra-cuu/{code}/anh/(\d+)"', status)
    assert [int(i) for i in shown] == photos
    image = browser.get(f"/tra-cuu/{code}/anh/{photos[0]}")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data == png_bytes()
    assert image.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "no-store" in image.headers["Cache-Control"]
    # Another staff file of the same case is not served here, nor a photo to a stranger.
    assert browser.get(f"/tra-cuu/{code}/anh/{hidden}").status_code == 404
    stranger = app.test_client().get(f"/tra-cuu/{code}/anh/{photos[0]}")
    assert stranger.status_code == 303 and stranger.headers["Location"].endswith("/tra-cuu")


def test_more_photos_than_allowed_are_refused(app: Flask, make_user: Callable[..., Any]) -> None:
    from feedback.services.intake.attachments import make_upload

    now = datetime.now(UTC)
    code = new_case(app, now - timedelta(days=2))
    officer = user(make_user, "officer")
    before = counts(app, code)
    with pytest.raises(ValidationError) as refused, app.app_context(), unit_of_work():
        six = [make_upload(f"anh-{i}.png", png_bytes()) for i in range(6)]
        post_progress(case_of(code), db.session.get(User, officer), now, TEXT, local_date(now), six)
    assert refused.value.fields == {"photos": "Tối đa 5 ảnh cho một lần cập nhật."}
    assert counts(app, code) == before
