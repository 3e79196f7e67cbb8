"""The calendar as data with its sources (issue 14, calendar half): the New Year 2026 swap,
unconfirmed package days, the readiness of the coming year, and edits that change only
forward (same obligation, passed due times kept, undo restores everything)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, log_in
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ, DaySource, WorkingCalendar
from feedback.extensions import db
from feedback.models import CalendarOverride, Case, CaseEvent, Notification, SlaEvent
from feedback.services.accounts.users import create_user
from feedback.services.handling.deadlines import derive
from feedback.services.reference import calendar as cal
from feedback.services.reference.policies import deadlines_for, load_calendar
from feedback.services.sla.digest import send_digests
from feedback.services.sla.sweep import sweep


def local(*parts: int) -> datetime:
    """A Hà Giang wall-clock time as an aware UTC datetime."""
    return datetime(*parts, tzinfo=LOCAL_TZ).astimezone(UTC)


def due_of(app: Flask, code: str) -> tuple[datetime, datetime, int]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        return case.ack_due_at, case.response_due_at, case.obligation


def staff_with_mail(app: Flask) -> None:
    """Officer and head of UBND-00694 (where the test cases go), an inspector, an admin
    and a coordinator, all with e-mail addresses, so alerts reach the outbox."""
    with app.app_context(), unit_of_work():
        for name, role, unit in (
            ("cb.00694", "officer", "UBND-00694"),
            ("ld.00694", "unit_head", "UBND-00694"),
            ("thanh.tra", "inspector", None),
            ("quan.tri", "admin", None),
            ("dieu.phoi", "coordinator", "VP"),
        ):
            create_user(name, role, PASSWORD, unit_code=unit, email=f"{name}@hagiang.invalid")


# --- New Year 2026 -----------------------------------------------------------------------


def test_new_year_2026_swap_from_the_government_document(
    app: Flask, make_case: Callable[..., str]
) -> None:
    """Văn bản 12729/VPCP-KGVX (25/12/2025): Fri 2 Jan 2026 off, Sat 10 Jan 2026 worked.

    Received Wed 31/12/2025: Thu 1/1 is New Year's Day, Fri 2/1 off (swap), Sat 3 and
    Sun 4 weekend; working days Mon 5 (1), Tue 6 (2), Wed 7 (3), Thu 8 (4), Fri 9 (5),
    Sat 10 worked (6) → due 10/1/2026 23:59:59 +07:00 (the package alone says 9/1).
    Received Fri 2/1/2026 (a day off): Mon 5 (1) … Fri 9 (5), Sat 10 (6) → 10/1/2026.
    """
    expected = datetime(2026, 1, 10, 23, 59, 59, tzinfo=LOCAL_TZ)
    for received in (local(2025, 12, 31, 10), local(2026, 1, 2, 9)):
        with app.app_context():
            due = deadlines_for("feedback", received).response_due_at
            assert due == expected, received
            assert due.astimezone(LOCAL_TZ).isoformat() == "2026-01-10T23:59:59+07:00"
            info = load_calendar().day_info(date(2026, 1, 10))
            assert info.working and info.source is DaySource.DOCUMENT
            assert "12729/VPCP-KGVX" in info.document
            assert not load_calendar().is_working_day(date(2026, 1, 2))
        code = make_case(now=received)  # intake's per-process reading agrees
        assert due_of(app, code)[1] == expected
    # Without the document the package alone gets it wrong: that is why it is data.
    assert WorkingCalendar().nth_working_day_after(date(2025, 12, 31), 6) == date(2026, 1, 9)


# --- unconfirmed package days ------------------------------------------------------------


def test_an_unconfirmed_package_day_moves_nothing_until_an_admin_confirms_it(
    app: Flask, client: FlaskClient, make_case: Callable[..., str]
) -> None:
    """24/11/2027 (Wed), "Ngày Văn hóa Việt Nam": only the package lists it.

    Received Tue 23/11/2027: counted as a working day until confirmed, Wed 24 (1), Thu 25,
    Fri 26, Mon 29, Tue 30, Wed 1/12 (6) → due 1/12/2027; once an admin confirms it as a
    day off: Thu 25 (1) … Thu 2/12 (6) → due 2/12/2027."""
    day = date(2027, 11, 24)
    info = WorkingCalendar().day_info(day)
    assert (info.working, info.confirmed, info.source) == (True, False, DaySource.PACKAGE)
    assert info.status_vi == "chưa xác nhận" and "Văn hóa" in (info.name or "")
    assert WorkingCalendar().day_info(date(2027, 9, 2)).confirmed  # art. 112: by law
    code = make_case(now=local(2027, 11, 23, 10))
    assert due_of(app, code)[1] == datetime(2027, 12, 1, 23, 59, 59, tzinfo=LOCAL_TZ)
    with app.app_context():
        lines = cal.pending_reminders(local(2027, 11, 1, 8))
        assert any("24/11/2027" in line and "chưa xác nhận" in line for line in lines)

    staff_with_mail(app)
    log_in(client, "quan.tri")
    page = client.get("/quan-tri/lich?nam=2027")
    assert page.status_code == 200
    row = page.text.split("24/11/2027", 1)[1].split("</tr>", 1)[0]
    assert "chưa xác nhận" in row and "Ngày Văn hóa Việt Nam" in row
    form = {
        "csrf_token": csrf_from(page.text),
        "day": "2027-11-24",
        "kind": "off",
        "source": "Nghị quyết số 99/2027/QH15 (giả định để thử)",
        "note": "Ngày Văn hóa Việt Nam",
    }
    preview = client.post("/quan-tri/lich", data=form)
    assert preview.status_code == 200
    assert 'id="retimed"><strong>1</strong>' in preview.text
    assert due_of(app, code)[1] == datetime(2027, 12, 1, 23, 59, 59, tzinfo=LOCAL_TZ)
    saved = client.post("/quan-tri/lich", data={**form, "confirm": "1"})
    assert saved.status_code == 303
    assert due_of(app, code)[1] == datetime(2027, 12, 2, 23, 59, 59, tzinfo=LOCAL_TZ)
    row = client.get("/quan-tri/lich?nam=2027").text.split("24/11/2027", 1)[1]
    assert "chưa xác nhận" not in row.split("</tr>", 1)[0]
    with app.app_context():
        info = load_calendar().day_info(day)
        assert (info.working, info.confirmed, info.source) == (False, True, DaySource.ADMIN)
        assert not any("24/11/2027" in x for x in cal.pending_reminders(local(2027, 11, 1, 8)))


# --- readiness of the coming year --------------------------------------------------------


def test_the_coming_year_is_reminded_from_autumn_until_its_decision_is_entered(
    app: Flask, client: FlaskClient
) -> None:
    staff_with_mail(app)
    with app.app_context():
        summer = cal.calendar_readiness(2027, local(2026, 8, 31, 9))
        assert not summer.decided and not summer.remind
        autumn = cal.calendar_readiness(2027, local(2026, 9, 1, 9))
        assert autumn.remind and not autumn.decided
        package_days = {d.day for d in autumn.package_only}
        assert date(2027, 2, 8) in package_days  # Tết 2027, from the package's rules only
        assert cal.calendar_readiness(2026, local(2026, 9, 1, 9)).decided  # 2026 has its notice
    with app.app_context(), unit_of_work():  # the reminder's first day is a setting
        from feedback.models import Setting

        db.session.add(Setting(key=cal.READINESS_SETTING, value="10-15"))
    with app.app_context():
        assert not cal.calendar_readiness(2027, local(2026, 10, 14, 9)).remind
        assert cal.calendar_readiness(2027, local(2026, 10, 15, 9)).remind
    with app.app_context(), unit_of_work():
        db.session.delete(db.session.get(Setting, cal.READINESS_SETTING))
    monday = local(2026, 9, 7, 7, 30)
    with app.app_context():
        send_digests(monday)
        bodies = {
            n.recipient: n.body
            for n in db.session.scalars(
                select(Notification).where(Notification.kind == "calendar_reminder")
            )
        }
    assert set(bodies) == {"quan.tri@hagiang.invalid", "dieu.phoi@hagiang.invalid"}
    assert "năm 2027" in bodies["quan.tri@hagiang.invalid"]
    assert "24/11/2026" in bodies["quan.tri@hagiang.invalid"]  # unconfirmed, still ahead

    log_in(client, "quan.tri")
    page = client.get("/quan-tri/lich?nam=2027")
    assert "Chưa nhập văn bản của Chính phủ về lịch nghỉ năm 2027" in page.text
    response = client.post(
        "/quan-tri/lich/nam",
        data={
            "csrf_token": csrf_from(page.text),
            "year": "2027",
            "source": "Thông báo số 1/TB-BNV năm 2026 (giả định để thử)",
            "note": "",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        ready = cal.calendar_readiness(2027, local(2026, 9, 8, 9))
        assert ready.decided and not ready.remind and not ready.package_only
        assert not any("năm 2027" in x for x in cal.pending_reminders(local(2026, 9, 8, 9)))
    assert "Chưa nhập văn bản" not in client.get("/quan-tri/lich?nam=2027").text
    # An override citing a document for the year decides it too.
    with app.app_context(), unit_of_work():
        assert cal.calendar_readiness(2028, local(2027, 9, 2, 9)).remind
        cal.add_override(
            date(2028, 1, 3), "off", "Thông báo số 2/TB-BNV (giả định)", "", now=local(2027, 9, 2)
        )
        assert cal.calendar_readiness(2028, local(2027, 9, 2, 9)).decided


# --- edits change only forward -----------------------------------------------------------


def _alerts(app: Flask) -> dict[str, Any]:
    """Every due time, every alert and every outbox row, as comparable values."""
    with app.app_context():
        return {
            "cases": sorted(
                (c.code, c.ack_due_at, c.response_due_at, c.obligation)
                for c in db.session.scalars(select(Case))
            ),
            "sla_events": sorted(
                (e.case_id, e.milestone, e.obligation, e.due_at, e.recorded_at)
                for e in db.session.scalars(select(SlaEvent))
            ),
            "outbox": sorted(
                (n.dedupe_key, n.recipient, n.subject, n.body)
                for n in db.session.scalars(select(Notification))
            ),
        }


def test_a_calendar_edit_and_its_undo_leave_every_due_time_and_alert_as_before(
    app: Flask, make_case: Callable[..., str]
) -> None:
    """Four open cases (one reopened); the sweep warns and breaches; on the morning of
    Wed 24/11/2027 an admin confirms that day (Ngày Văn hóa Việt Nam) as a day off, the
    sweep runs, the admin removes it, the sweep runs again: due times, SLA events and
    outbox rows are exactly as before the edit. While the day off stood, the moved due
    time was the same obligation: no second warning.

    Received Mon 8/11 → due Tue 16/11 (breached); Tue 16/11 → 17, 18, 19, 22, 23, 24 →
    due Wed 24/11 (warned at 00:00 that day), 25/11 with the day off; Wed 17/11 → due
    Thu 25/11, 26/11 with the day off."""
    staff_with_mail(app)
    past = make_case(now=local(2027, 11, 8, 9))  # due Tue 16/11: passed at the edit
    soon = make_case(now=local(2027, 11, 16, 9))  # due Wed 24/11: warned that morning
    later = make_case(now=local(2027, 11, 17, 9))  # due Thu 25/11
    reopened = make_case(now=local(2027, 11, 10, 9))  # answered, reopened: a new promise
    with app.app_context(), unit_of_work():
        from feedback.models import User
        from feedback.services.handling import actions, followup

        head = db.session.scalar(select(User).where(User.username == "ld.00694"))
        case = db.session.scalar(select(Case).where(Case.code == reopened))
        actions.acknowledge(case, head, local(2027, 11, 10, 10))
        actions.approve_answer(case, head, local(2027, 11, 12, 10), "Đã sửa xong đèn.")
        followup.reopen(case, local(2027, 11, 16, 9, 30), "Đèn lại hỏng.")
    # Reopened Tue 16/11 → 17, 18, 19, 22, 23, 24 → due Wed 24/11, like ``soon``.
    assert due_of(app, reopened)[1] == datetime(2027, 11, 24, 23, 59, 59, tzinfo=LOCAL_TZ)
    with app.app_context():
        sweep(local(2027, 11, 24, 8))
    before = _alerts(app)
    warned = {(e[0], e[1]) for e in before["sla_events"]}
    with app.app_context():
        soon_id = db.session.scalar(select(Case.id).where(Case.code == soon))
        past_id = db.session.scalar(select(Case.id).where(Case.code == past))
    assert (soon_id, "response_warning") in warned and (past_id, "response_breach") in warned

    with app.app_context(), unit_of_work():
        moved = cal.add_override(
            date(2027, 11, 24),
            "off",
            "Thông báo 5/TB-UBND (giả định để thử)",
            "",
            now=local(2027, 11, 24, 9),
        )
    assert moved == 3  # soon, later and reopened; past keeps its passed due time
    assert due_of(app, reopened)[1] == datetime(2027, 11, 25, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert due_of(app, soon)[1] == datetime(2027, 11, 25, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert due_of(app, soon)[2] == dict((c[0], c[3]) for c in before["cases"])[soon]
    assert due_of(app, past)[1] == dict((c[0], c[2]) for c in before["cases"])[past]
    with app.app_context():
        sweep(local(2027, 11, 24, 10))
    assert _alerts(app)["sla_events"] == before["sla_events"]  # no second warning

    with app.app_context(), unit_of_work():
        override_id = db.session.scalar(
            select(CalendarOverride.id).where(CalendarOverride.day == date(2027, 11, 24))
        )
        assert cal.remove_override(override_id, now=local(2027, 11, 24, 11)) == 3
    with app.app_context():
        sweep(local(2027, 11, 24, 12))
    assert _alerts(app) == before
    assert due_of(app, reopened)[1] == datetime(2027, 11, 24, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert later  # every case is compared in the snapshots above


def test_a_passed_due_time_never_moves_and_the_derivation_agrees(
    app: Flask, make_case: Callable[..., str]
) -> None:
    """Received Mon 8/11/2027 → due Tue 16/11 (passed on 19/11). Making Fri 12/11 a day
    off on 19/11 would put it at Wed 17/11, also passed: it stays 16/11, the timeline says
    so, and ``derive`` gives the kept time. A case received Thu 11/11 (due Fri 19/11,
    still running) moves to Mon 22/11."""
    passed = make_case(now=local(2027, 11, 8, 9))
    running = make_case(now=local(2027, 11, 11, 9))
    kept = due_of(app, passed)
    assert kept[1] == datetime(2027, 11, 16, 23, 59, 59, tzinfo=LOCAL_TZ)
    with app.app_context(), unit_of_work():
        preview = cal.preview_add(
            date(2027, 11, 12), "off", "Thông báo 6/TB-UBND", "", now=local(2027, 11, 19, 11)
        )
        assert (preview.retimed, preview.kept) == (1, 1)
        cal.add_override(
            date(2027, 11, 12), "off", "Thông báo 6/TB-UBND", "", now=local(2027, 11, 19, 11)
        )
    assert due_of(app, passed) == kept
    assert due_of(app, running)[1] == datetime(2027, 11, 22, 23, 59, 59, tzinfo=LOCAL_TZ)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == passed))
        assert (derive(case).ack_due_at, derive(case).response_due_at) == kept[:2]
        assert case.events[-1].action == "recompute" and "giữ nguyên" in case.events[-1].note
        events = len(case.events)
    with app.app_context(), unit_of_work():
        override_id = db.session.scalar(
            select(CalendarOverride.id).where(CalendarOverride.day == date(2027, 11, 12))
        )
        cal.remove_override(override_id, now=local(2027, 11, 19, 12))
    assert due_of(app, passed) == kept
    assert due_of(app, running)[1] == datetime(2027, 11, 19, 23, 59, 59, tzinfo=LOCAL_TZ)
    with app.app_context():
        count = db.session.scalar(
            select(db.func.count(CaseEvent.id)).where(
                CaseEvent.case_id == select(Case.id).where(Case.code == passed).scalar_subquery()
            )
        )
        assert count == events  # undoing wrote nothing more on the passed case


def test_the_confirmation_page_changes_nothing_and_the_change_is_audited(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], login_as: Any
) -> None:
    from feedback.models import AuditLog

    code = make_case(now=local(2027, 11, 15, 9))
    login_as("admin")
    page = client.get("/quan-tri/lich?nam=2027")
    form = {
        "csrf_token": csrf_from(page.text),
        "day": "2027-11-22",
        "kind": "off",
        "source": "Thông báo 7/TB-UBND (giả định)",
        "note": "",
    }
    preview = client.post("/quan-tri/lich", data=form)
    assert preview.status_code == 200 and "Xác nhận và lưu" in preview.text
    with app.app_context():
        assert (
            db.session.scalar(
                select(db.func.count(CalendarOverride.id)).where(
                    CalendarOverride.day == date(2027, 11, 22)
                )
            )
            == 0
        )
    before = due_of(app, code)
    assert client.post("/quan-tri/lich", data={**form, "confirm": "1"}).status_code == 303
    assert due_of(app, code)[1] > before[1]
    with app.app_context():
        row = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "calendar.retime")
        ).all()[-1]
        assert row.details["cases_retimed"] == 1 and row.actor_id is not None
