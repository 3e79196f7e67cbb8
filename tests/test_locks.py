"""Reliability under locks (issue 13, "Reliability under lock and retry").

- SQLite: while another process holds the write lock, read-only requests still answer
  (a deferred transaction reads the WAL snapshot); writes wait the busy timeout and then
  answer 503 with Retry-After.
- PostgreSQL: while another session holds ``ACCESS EXCLUSIVE`` on ``cases``, a request
  gives up after the configured lock timeout with 503 and Retry-After instead of hanging
  until gunicorn kills the worker; commands and jobs (no request) keep the server's
  defaults.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, server_database
from sqlalchemy import func, select, text

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, User
from feedback.services.accounts.users import issue_token

BUSY_MS = 400
LOCK_MS = 500
FORM = {
    "kind": "feedback",
    "category_code": "6.3b",
    "area_code": "00688",
    "address": "Tổ 7",
    "subject": "Cống thoát nước bị tắc",
    "body": "Cống thoát nước trước ngõ bị tắc, nước tràn ra đường mỗi khi mưa.",
    "reporter_name": "Lê Thị Hoa",
    "reporter_phone": "0912 345 678",
}
READ_PATHS = ("/open311/v2/requests.json", "/open311/v2/services.json", "/", "/gui", "/tra-cuu")


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"DATABASE_BUSY_TIMEOUT_MS": BUSY_MS, "DATABASE_LOCK_TIMEOUT_MS": LOCK_MS}


def count_cases(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Case.id))) or 0


def operator_key(app: Flask, make_user: Callable[..., Any]) -> str:
    user_id, _ = make_user("operator")
    with app.app_context(), unit_of_work():
        return issue_token(db.session.get(User, user_id), datetime.now(UTC))


def open311_post(client: FlaskClient, key: str) -> Any:
    return client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "6.3b",
            "address_id": "00694",
            "description": "Đèn đường hỏng cả tuần nay, tối không đi được.",
        },
    )


def assert_busy(response: Any, started: float, at_least: float, at_most: float) -> None:
    elapsed = time.monotonic() - started
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert int(response.headers["Retry-After"]) >= 1
    assert at_least <= elapsed <= at_most, elapsed


# --- SQLite ------------------------------------------------------------------------------


@contextmanager
def sqlite_write_lock(app: Flask) -> Iterator[None]:
    """Another process's writer: BEGIN IMMEDIATE held on the live file."""
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE cases SET subject = subject")
    try:
        yield
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_answer_while_a_writer_holds_the_lock_and_writes_answer_503(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    code = make_case()
    key = operator_key(app, make_user)
    form_page = client.get("/gui")
    before = count_cases(app)
    with sqlite_write_lock(app):
        for path in READ_PATHS:
            # A read that took the write lock would wait BUSY_MS and answer 503.
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        listed = client.get("/open311/v2/requests.json").json
        assert [r["service_request_id"] for r in listed] == [code]

        started = time.monotonic()
        response = open311_post(client, key)
        assert_busy(response, started, BUSY_MS / 1000, 5)
        assert response.json[0]["code"] == 503  # GeoReport's error format

        started = time.monotonic()
        response = client.post("/gui", data=FORM | {"csrf_token": csrf_from(form_page.text)})
        assert_busy(response, started, BUSY_MS / 1000, 5)
        assert "Hệ thống đang bận" in response.text
    assert count_cases(app) == before
    # The lock gone, the same write goes through.
    assert open311_post(client, key).status_code == 200
    assert count_cases(app) == before + 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_a_write_after_reads_in_a_get_request_takes_the_write_lock(app: Flask) -> None:
    """A unit of work inside a read-only request ends the request's read snapshot and
    begins with BEGIN IMMEDIATE, so a writer that committed meanwhile cannot make it fail
    with "database is locked"."""
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    with app.test_request_context("/", method="GET"):
        first = db.session.scalar(select(Case.id).limit(1))
        assert db.session.connection().info["feedback_deferred"] is True
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("UPDATE users SET full_name = full_name")  # commits at once
        other.close()
        with unit_of_work():
            assert db.session.connection().info["feedback_deferred"] is False
            db.session.execute(text("UPDATE users SET full_name = full_name"))
        db.session.remove()
    assert first is None or isinstance(first, int)


# --- PostgreSQL --------------------------------------------------------------------------


@contextmanager
def pg_exclusive_lock(app: Flask, release_after: float) -> Iterator[None]:
    """Another session holding ACCESS EXCLUSIVE on cases; released after ``release_after``
    seconds at the latest, so a request that does not give up finishes (and fails the
    test) instead of hanging it."""
    import psycopg

    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    holder = psycopg.connect(url)
    holder.execute("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE")
    timer = threading.Timer(release_after, holder.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        holder.rollback()
        holder.close()


@pytest.mark.parametrize(
    "database_url",
    server_database("an ACCESS EXCLUSIVE lock needs PostgreSQL: set TEST_DATABASE_URL"),
    indirect=True,
)
def test_postgresql_requests_behind_an_exclusive_lock_answer_503_within_the_lock_timeout(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    make_case()
    key = operator_key(app, make_user)
    form_page = client.get("/gui")
    before = count_cases(app)
    limit = LOCK_MS / 1000 + 3
    with pg_exclusive_lock(app, release_after=limit + 5):
        form = FORM | {"csrf_token": csrf_from(form_page.text)}
        calls: list[Callable[[], Any]] = [
            lambda: client.get("/open311/v2/requests.json"),
            lambda: client.get("/open311/v2/requests/HG-2099-000001.json"),
            lambda: open311_post(client, key),
            lambda: client.post("/gui", data=form),
        ]
        for call in calls:
            started = time.monotonic()
            assert_busy(call(), started, LOCK_MS / 1000, limit)
        started = time.monotonic()
        response = client.get("/open311/v2/requests.xml")
        assert_busy(response, started, LOCK_MS / 1000, limit)
        assert response.headers["Content-Type"].startswith("text/xml")
        assert "<code>503</code>" in response.text  # GeoReport's error format
    assert count_cases(app) == before
    assert client.get("/open311/v2/requests.json").status_code == 200


@pytest.mark.parametrize(
    "database_url",
    server_database("session settings of PostgreSQL: set TEST_DATABASE_URL"),
    indirect=True,
)
def test_postgresql_timeouts_apply_to_requests_only(app: Flask) -> None:
    """Jobs and commands (no request) keep the server's defaults: a period report or a
    rebuild may run longer than a page may wait."""
    settings = "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
    with app.test_request_context("/", method="GET"):
        assert tuple(db.session.execute(text(settings)).one()) == (f"{LOCK_MS}ms", "30s")
        db.session.remove()
    with app.app_context():
        assert tuple(db.session.execute(text(settings)).one()) == ("0", "0")
        db.session.remove()
