"""The audit log of staff actions: written in the same transaction as the action, for
every way in (pages, API, services), and append-only in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import ApologyLetter, AuditLog, Case, User
from feedback.services.accounts.users import create_user, issue_token
from feedback.services.handling import actions as handling
from feedback.services.handling import letters
from feedback.services.intake.import1022 import import_1022
from feedback.services.reference.calendar import add_override, remove_override

DATA = Path(__file__).parent / "data"


def audit(app: Flask, prefix: str = "") -> list[AuditLog]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditLog).where(AuditLog.action.like(f"{prefix}%")).order_by(AuditLog.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_login_and_logout_are_audited_with_the_address(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    user_id, username = make_user("coordinator", unit_code="VP")
    page = client.get("/can-bo/dang-nhap")
    client.post(
        "/can-bo/dang-nhap",
        data={"username": username, "password": "sai", "csrf_token": csrf_from(page.text)},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    page = client.get("/can-bo/dang-nhap")
    client.post(
        "/can-bo/dang-nhap",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    client.post("/can-bo/dang-xuat", data={"csrf_token": csrf_from(client.get("/can-bo/").text)})
    rows = audit(app, "auth.")
    assert [r.action for r in rows] == ["auth.login_failed", "auth.login", "auth.logout"]
    assert rows[0].actor_id is None and rows[0].actor_label == username
    assert rows[1].actor_id == user_id and username in rows[1].actor_label
    assert rows[1].ip == "203.0.113.7"
    assert all(r.at.tzinfo is not None for r in rows)


def test_case_actions_through_the_pages_are_audited(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    assert audit(app, "case.") == []  # a citizen's submission is not a staff action
    login_as("officer")
    token = csrf_from(client.get("/can-bo/").text)
    assert client.post(f"/can-bo/ho-so/{code}/xac-nhan-tiep-nhan", data={"csrf_token": token})
    client.post(f"/can-bo/ho-so/{code}/ghi-chu", data={"csrf_token": token, "note": "Đã gọi điện."})
    rows = audit(app, "case.")
    assert [(r.action, r.target) for r in rows] == [
        ("case.acknowledge", code),
        ("case.note", code),
    ]
    assert rows[0].details["status"].endswith("→ acknowledged")
    assert rows[0].ip == "127.0.0.1"


def test_case_actions_through_the_api_are_audited(
    app: Flask, client: FlaskClient, make_user: Any, make_case: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    user_id, _ = make_user("officer", unit_code="UBND-00688")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    before = len(audit(app, "token."))
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(f"/api/v1/cases/{code}/acknowledge", headers=headers, json={})
    assert response.status_code == 200, response.text
    client.get(f"/api/v1/cases/{code}", headers=headers)
    rows = audit(app, "case.")
    assert [(r.action, r.actor_id) for r in rows] == [("case.acknowledge", user_id)]
    # Using a token touches its last_used_at: bookkeeping, not an action.
    assert len(audit(app, "token.")) == before


def test_the_row_is_in_the_same_transaction_as_the_action(
    app: Flask, make_user: Any, make_case: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    user_id, _ = make_user("officer", unit_code="UBND-00688")
    with pytest.raises(RuntimeError), app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        handling.acknowledge(case, db.session.get(User, user_id), datetime.now(UTC))
        assert db.session.scalar(select(AuditLog).where(AuditLog.target == code)) is not None
        raise RuntimeError("the action fails after the event was written")
    assert audit(app, "case.") == []


def test_accounts_tokens_calendar_and_imports_are_audited(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    with app.app_context(), unit_of_work():
        user = create_user("can.bo.moi", "officer", PASSWORD, unit_code="UBND-00688")
        token = issue_token(user, datetime.now(UTC), name="tích hợp")
    created = audit(app, "user.create")[-1]
    assert created.target == "can.bo.moi" and created.details["role"] == "officer"
    assert "password_hash" not in created.details
    issued = audit(app, "token.create")[-1]
    assert issued.details["prefix"] == token[:10] and "token_hash" not in issued.details

    with app.app_context(), unit_of_work():
        add_override(date(2031, 9, 1), "off", "Thông báo 123/TB-UBND", "", now=datetime.now(UTC))
    override = audit(app, "calendar.create")[-1]
    assert override.target == "2031-09-01" and override.details["kind"] == "off"
    with app.app_context(), unit_of_work():
        add_override(date(2031, 9, 1), "work", "Thông báo 124/TB-UBND", "", now=datetime.now(UTC))
    assert audit(app, "calendar.update")[-1].details["kind"] == "off → work"
    with app.app_context(), unit_of_work():
        remove_override(override.details["id"], now=datetime.now(UTC))
    assert audit(app, "calendar.delete")[-1].target == "2031-09-01"

    operator_id, _ = make_user("operator", unit_code="VP")
    with app.app_context(), unit_of_work():
        batch = import_1022(
            (DATA / "1022-sample.csv").read_bytes(),
            "lo.csv",
            actor=db.session.get(User, operator_id),
            now=datetime.now(UTC),
        )
        batch_id = batch.id
    row = audit(app, "import.create")[-1]
    assert (row.actor_id, row.target, row.details["id"]) == (operator_id, "lo.csv", batch_id)
    assert "report" not in row.details


def test_calendar_changes_on_the_admin_page_name_the_admin(
    app: Flask, client: FlaskClient, login_as: Any
) -> None:
    login_as("admin")
    page = client.get("/quan-tri/lich")
    response = client.post(
        "/quan-tri/lich",
        data={
            "csrf_token": csrf_from(page.text),
            "day": "2031-09-02",
            "kind": "off",
            "source": "Quyết định 9/QĐ-UBND",
            "note": "",
            "confirm": "1",
        },
    )
    assert response.status_code == 303, response.text
    row = audit(app, "calendar.create")[-1]
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        assert row.actor_id == admin.id
    assert row.ip == "127.0.0.1"


def test_who_acts_is_the_callers_to_say(app: Flask, make_user: Any) -> None:
    """A session's rows name the actor and address its caller bound (the web layer binds
    the signed-in user and the client's address); a session nobody bound writes as the
    system, with no address: the audit hooks read neither the request nor ``g``."""
    from feedback.services.accounts.audit import AuditContext, set_context

    admin_id, _ = make_user("admin")
    with app.app_context(), unit_of_work():
        set_context(db.session(), lambda: AuditContext(admin_id, "Quản trị (qt)", "198.51.100.4"))
        add_override(date(2031, 9, 3), "off", "Thông báo 125/TB-UBND", "", now=datetime.now(UTC))
    row = audit(app, "calendar.create")[-1]
    assert (row.actor_id, row.actor_label, row.ip) == (admin_id, "Quản trị (qt)", "198.51.100.4")
    request = app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    with request, unit_of_work():  # a request context, but nobody bound this session
        add_override(date(2031, 9, 4), "off", "Thông báo 126/TB-UBND", "", now=datetime.now(UTC))
    row = audit(app, "calendar.create")[-1]
    assert (row.target, row.actor_id, row.actor_label, row.ip) == (
        "2031-09-04",
        None,
        "Hệ thống",
        None,
    )


def test_issuing_an_apology_letter_is_audited(app: Flask, make_user: Any, make_case: Any) -> None:
    from feedback.domain.calendar import LOCAL_TZ

    head_id, _ = make_user("unit_head", unit_code="UBND-00688")
    received = datetime(2024, 3, 4, 9, tzinfo=LOCAL_TZ)
    code = make_case(category_code="6.3b", area_code="00688", now=received)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        head = db.session.get(User, head_id)
        handling.acknowledge(case, head, datetime(2024, 3, 4, 10, tzinfo=LOCAL_TZ))
        handling.approve_answer(
            case, head, datetime(2024, 3, 13, 9, tzinfo=LOCAL_TZ), "Đã sửa đèn đường."
        )
    with app.app_context(), unit_of_work():
        letter = db.session.scalar(select(ApologyLetter).join(Case).where(Case.code == code))
        letters.issue(letter, db.session.get(User, head_id), datetime.now(UTC))
    actions = [
        (r.action, r.actor_id) for r in audit(app) if r.target == code or "letter" in r.action
    ]
    assert ("case.apology_issued", head_id) in actions
    assert any(a == "letter.update" for a, _ in actions)


def test_the_audit_log_is_append_only(app: Flask, db: Any, make_user: Any) -> None:
    make_user("officer", unit_code="UBND-00688")  # writes user.create
    assert audit(app)
    statements = ["UPDATE audit_log SET action = 'sửa'", "DELETE FROM audit_log"]
    if db.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with db.engine.connect() as conn:
            try:
                conn.execute(text(sql))
                conn.commit()
            except DatabaseError as exc:
                conn.rollback()
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"the database accepted: {sql}")
    assert audit(app)
