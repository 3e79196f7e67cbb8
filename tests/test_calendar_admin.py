"""Admins edit the calendar's overrides; open cases' due times follow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import select

from feedback.domain.deadlines import local_date
from feedback.models import CalendarOverride, Case


def _case(app: Flask, code: str) -> Case:
    from feedback.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        db.session.expunge(case)
        return case


def test_an_extra_day_off_moves_open_cases_and_is_explained(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    received = datetime(2027, 12, 2, 2, 0, tzinfo=UTC)  # Thu 2 Dec 2027, 09:00 local
    code = make_case(now=received)
    answered = make_case(now=received)
    from feedback.database import unit_of_work
    from feedback.extensions import db

    with app.app_context(), unit_of_work():
        done = db.session.scalar(select(Case).where(Case.code == answered))
        done.status, done.answered_at, done.acknowledged_at = "answered", received, received
    before = _case(app, code).response_due_at
    before_done = _case(app, answered).response_due_at
    # due Fri 10 Dec; make Tue 7 Dec a day off → due Mon 13 Dec (a due time still ahead:
    # one already passed would not move)
    assert local_date(before).isoformat() == "2027-12-10"
    login_as("admin")
    page = client.get("/quan-tri/lich")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_from(page.text),
        "day": "2027-12-07",
        "kind": "off",
        "source": "Thông báo 99/TB-UBND ngày 20/11/2026 (giả định để thử)",
        "note": "",
    }
    # First the confirmation step: nothing is saved, the page says how many cases move.
    preview = client.post("/quan-tri/lich", data=form)
    assert preview.status_code == 200 and 'id="retimed"><strong>1</strong>' in preview.text
    assert _case(app, code).response_due_at == before
    response = client.post("/quan-tri/lich", data={**form, "confirm": "1"})
    assert response.status_code == 303
    after = _case(app, code)
    assert local_date(after.response_due_at).isoformat() == "2027-12-13"
    assert after.deadline_rev == 1 and after.next_sla_check_at is not None
    assert _case(app, answered).response_due_at == before_done  # answered: left alone
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.events[-1].action == "recompute"
        assert "99/TB-UBND" in case.events[-1].note
    # removing it moves the case back
    with app.app_context():
        override_id = db.session.scalar(
            select(CalendarOverride.id).where(CalendarOverride.source.like("%99/TB-UBND%"))
        )
    page = client.get("/quan-tri/lich")
    token = csrf_from(page.text)
    preview = client.post(f"/quan-tri/lich/{override_id}/xoa", data={"csrf_token": token})
    assert preview.status_code == 200 and 'id="retimed"><strong>1</strong>' in preview.text
    client.post(f"/quan-tri/lich/{override_id}/xoa", data={"csrf_token": token, "confirm": "1"})
    assert _case(app, code).response_due_at == before


def test_bad_override_input_is_refused(app: Flask, client: FlaskClient, login_as: Any) -> None:
    login_as("admin")
    page = client.get("/quan-tri/lich")
    token = csrf_from(page.text)
    for data, message in (
        ({"day": "01/12/2026", "kind": "off", "source": "Văn bản số 1"}, "năm-tháng-ngày"),
        ({"day": "2026-12-01", "kind": "holiday", "source": "Văn bản số 1"}, "làm bù"),
        ({"day": "2026-12-01", "kind": "off", "source": ""}, "văn bản"),
    ):
        response = client.post("/quan-tri/lich", data={"csrf_token": token, **data})
        assert response.status_code == 422, data
        assert message in response.text
    from feedback.extensions import db

    with app.app_context():
        assert (
            db.session.scalar(
                select(CalendarOverride).where(CalendarOverride.day == datetime(2026, 12, 1).date())
            )
            is None
        )


def test_only_admins_edit_the_calendar(client: FlaskClient, login_as: Any) -> None:
    assert client.get("/quan-tri/lich").status_code == 302
    login_as("coordinator", "VP")
    assert client.get("/quan-tri/lich").status_code == 403
