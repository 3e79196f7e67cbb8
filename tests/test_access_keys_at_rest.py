"""Access keys never rest in clear text (issue 13, finding 3).

``cases`` keeps only a hash of each key. Everything else that could hold one (the stored
answers of idempotent API posts, the outbox and the mail log) must not hold it either:
the test submits through every door that hands out a key, then reads the database the way
a thief of a backup would (SQLite: the file and its WAL as bytes; PostgreSQL: every row
of every table as text) and the mail log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from smtp_helpers import mail_log_text
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import IdempotencyKey, User
from feedback.services.accounts.users import issue_token
from feedback.services.intake.identity import open_text

BEFORE_SEALING = "d4f1a7b2c9e3"  # the revision before d4e7a1c9b302 sealed the answers
KEY = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
CASE = {
    "kind": "feedback",
    "subject": "Rác thải ùn ứ ở chợ Trần Phú",
    "body": "Rác không được thu gom ba ngày nay, bốc mùi cả khu chợ.",
    "category_code": "6.3c",
    "area_code": "00691",
    "reporter": {"name": "Lò Văn Páo", "email": "pao.citizen@example.vn"},
}


def _token(app: Flask, make_user: Any, role: str, unit: str) -> str:
    user_id, _ = make_user(role, unit_code=unit)
    with app.app_context(), unit_of_work():
        return issue_token(db.session.get(User, user_id), datetime.now(UTC))


def _api(client: FlaskClient, idem: str, headers: dict[str, str] | None = None) -> tuple[str, str]:
    """One idempotent API post and its replay: the same body, byte for byte, key included."""
    first = client.post(
        "/api/v1/cases", json=CASE, headers={"Idempotency-Key": idem, **(headers or {})}
    )
    assert first.status_code == 201, first.text
    again = client.post(
        "/api/v1/cases", json=CASE, headers={"Idempotency-Key": idem, **(headers or {})}
    )
    assert again.status_code == 201 and again.data == first.data
    return first.json["code"], first.json["access_key"]


def _web(client: FlaskClient) -> str:
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "petition",
            "category_code": "6.3b",
            "area_code": "00694",
            "subject": "Đề nghị lắp thêm đèn đường tổ 9",
            "body": "Đoạn đường tổ 9 phường Nguyễn Trãi tối om, đề nghị lắp thêm đèn.",
            "reporter_name": "Vàng Thị Mai",
            "reporter_email": "mai.citizen@example.vn",
        },
    )
    assert response.status_code == 302, response.text
    shown = client.get(response.headers["Location"])
    match = KEY.search(shown.text)
    assert match, shown.text
    return match.group(0)


def _open311(client: FlaskClient, api_key: str) -> str:
    response = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "6.3b",
            "address_string": "Số 57 đường Nguyễn Trãi",
            "email": "open311.citizen@example.vn",
            "first_name": "Sùng",
            "last_name": "Mí Chá",
            "description": "Ổ gà lớn giữa đường Nguyễn Trãi, xe máy ngã hai lần trong tuần.",
        },
    )
    assert response.status_code in (200, 201), response.text
    match = KEY.search(response.text)
    assert match, response.text
    return match.group(0)


def _stored_bytes(app: Flask) -> bytes:
    """What a copy of the database holds: SQLite's file and WAL, or every PostgreSQL row."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    dump = b""
    with app.app_context():
        if url.startswith("postgresql"):
            tables = db.session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).all()
            dump = "\n".join(
                row
                for table in tables
                for row in db.session.scalars(text(f'SELECT t::text FROM "{table}" t'))
            ).encode()
        db.session.remove()
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        dump = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    return dump


def test_no_access_key_rests_in_clear_text(app: Flask, client: FlaskClient, make_user: Any) -> None:
    operator = _token(app, make_user, "operator", "VP")
    code, citizen_key = _api(client, "citizen-0001")
    staff_code, staff_key = _api(client, "operator-0001", {"Authorization": f"Bearer {operator}"})
    keys = {
        "API, citizen": citizen_key,
        "API, staff token": staff_key,
        "web form": _web(client),
        "Open311": _open311(client, operator),
    }
    from feedback.services.sla.delivery import deliver

    with app.app_context():
        stored = db.session.scalars(select(IdempotencyKey.response_body)).all()
        summary = deliver(datetime.now(UTC))  # the outbox goes to instance/mail.log
        db.session.remove()
    assert summary.get("sent", 0) >= 3, summary

    dump = _stored_bytes(app)
    assert code.encode() in dump and staff_code.encode() in dump  # the cases are there
    # Decoded: the bodies are base64 on disk, where the raw bytes never show a key. The
    # receipts carry the key since issue 15; the log must show it masked.
    log = mail_log_text(Path(app.instance_path) / "mail.log").encode()
    assert b"pao.citizen@example.vn" in log  # the receipts were delivered
    assert "Mã tra cứu: ****".encode() in log
    for door, key in keys.items():
        for form in (key, key.replace("-", "")):
            assert form.encode() not in dump, f"{door}: access key in the database"
            assert form.encode() not in log, f"{door}: access key in the mail log"

    assert len(stored) == 2 and all(body.startswith("sealed:") for body in stored)
    # The replay still gives the first answer, key and all, to the same client.
    replay = client.post("/api/v1/cases", json=CASE, headers={"Idempotency-Key": "citizen-0001"})
    assert replay.status_code == 201 and replay.json["access_key"] == citizen_key


def test_the_database_refuses_an_unsealed_answer(app: Flask, make_case: Any) -> None:
    make_case()
    with app.app_context():
        for body in ('{"access_key": "ABCD-EFGH-JKMN-PQRS"}', "sealed"):
            with pytest.raises(IntegrityError), db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO idempotency_keys (scope, key, request_hash, "
                        "status_code, response_body, created_at) VALUES ('public', "
                        "'k', 'h', 201, :body, CURRENT_TIMESTAMP)"
                    ),
                    {"body": body},
                )


def test_the_migration_seals_answers_stored_before(app: Flask) -> None:
    """A database upgraded with clear answers in it keeps no clear answer, and each still
    opens to the same body; the constraint carries the model's name."""
    from flask_migrate import downgrade, upgrade

    body = '{"code":"PA-2026-000001","access_key":"ABCD-EFGH-JKMN-PQRS"}'
    with app.app_context():
        downgrade(revision=BEFORE_SEALING)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, "
                    "response_body, created_at) VALUES ('public', 'old', 'h', 201, :body, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"body": body},
            )
        db.session.remove()
        upgrade()
        stored = db.session.scalars(select(IdempotencyKey.response_body)).one()
        checks = {c["name"] for c in inspect(db.engine).get_check_constraints("idempotency_keys")}
        db.session.remove()
    assert "ck_idempotency_keys_response_sealed" in checks, checks
    assert "ABCD-EFGH" not in stored and stored.startswith("sealed:")
    with app.app_context():
        assert open_text(stored) == body
