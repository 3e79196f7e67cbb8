"""Issue 13, finding 10, the smaller items: a PDF is never shown on our origin, backups and
the SQLite file are readable by their owner only, a restore never rewinds the case
counter, and a bearer-token call never gets a session cookie."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import TEST_SECRET, pdf_bytes, png_bytes, staff_client
from sqlalchemy import select

from feedback import create_app
from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, CaseCounter, User
from feedback.services.accounts.users import issue_token

SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


# --- attachments ---------------------------------------------------------------------------


def _attachment(app: Flask, make_case: Callable[..., str], name: str, data: bytes) -> int:
    from feedback.services.intake.attachments import make_upload

    with app.app_context():
        upload = make_upload(name, data)
    code = make_case(uploads=[upload])
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        (att,) = case.attachments
        return att.id


def test_a_pdf_is_a_sandboxed_download_never_shown_inline(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    att_id = _attachment(app, make_case, "đơn thư.pdf", pdf_bytes())
    response = staff_client(app, make_user, "coordinator", None).get(f"/can-bo/tep/{att_id}")
    assert response.status_code == 200
    assert response.data == pdf_bytes()
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_image_stays_inline_under_the_sandbox(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    att_id = _attachment(app, make_case, "ảnh.png", png_bytes())
    response = staff_client(app, make_user, "coordinator", None).get(f"/can-bo/tep/{att_id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["Content-Security-Policy"] == SANDBOX


# --- a SQLite deployment: file modes, backup, restore ------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default umask (022: files readable by everyone): what is private must be
    made so by the code, not by a careful operator."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _sqlite_app(url: str, instance: Path) -> Flask:
    os.environ["FEEDBACK_INSTANCE_PATH"] = str(instance)
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": url,
            "FEEDBACK_SCHEDULER": "off",
            "SERVER_NAME": "localhost",
        }
    )


@pytest.fixture
def sqlite_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    """Backup and restore are SQLite's (PostgreSQL uses pg_dump): a migrated, seeded
    SQLite database whatever engine the run also covers."""
    live = tmp_path / "instance" / "feedback.sqlite"
    live.parent.mkdir()
    shutil.copyfile(sqlite_template, live)
    app = _sqlite_app(f"sqlite:///{live}", tmp_path / "instance")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_app_creates_its_sqlite_file_private(tmp_path: Path, open_umask: None) -> None:
    from flask_migrate import upgrade

    instance = tmp_path / "instance"
    instance.mkdir()
    live = instance / "feedback.sqlite"
    app = _sqlite_app(f"sqlite:///{live}", instance)
    try:
        with app.app_context():
            upgrade()
            # While a connection is open the WAL and shared-memory files exist too.
            with db.engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM cases").scalar()
                for path in (live, Path(f"{live}-wal"), Path(f"{live}-shm")):
                    assert path.exists(), path
                    assert _mode(path) == 0o600, (path, oct(_mode(path)))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_backup_files_are_private(
    sqlite_app: Flask, make_case_on: Callable[..., str], tmp_path: Path, open_umask: None
) -> None:
    make_case_on(sqlite_app)
    result = sqlite_app.test_cli_runner().invoke(args=["backup", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    for key in ("database", "uploads"):
        assert _mode(Path(summary[key])) == 0o600, (key, oct(_mode(Path(summary[key]))))
    assert _mode(tmp_path / "b") == 0o700


@pytest.fixture
def make_case_on() -> Callable[..., str]:
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    def factory(app: Flask, now: datetime | None = None) -> str:
        with app.app_context(), unit_of_work():
            data = CaseInput(
                kind="feedback",
                subject="Đèn đường hỏng trên đường Nguyễn Trãi",
                body="Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
                category_code="6.3b",
                area_code="00694",
                reporter=Reporter(name="Trần Thị Bình", phone="0912000111"),
            )
            return submit_case(data, actor=None, now=now or datetime.now(UTC)).case.code

    return factory


def test_a_restore_never_rewinds_the_case_counter(
    sqlite_app: Flask, make_case_on: Callable[..., str], tmp_path: Path
) -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    first = [make_case_on(sqlite_app, now) for _ in range(2)]
    result = sqlite_app.test_cli_runner().invoke(args=["backup", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    copy = json.loads(result.output)["database"]
    # Given out after the backup: these codes reached citizens (receipts, SMS).
    later = [make_case_on(sqlite_app, now) for _ in range(3)]
    assert [c.rsplit("-", 1)[1] for c in first + later] == [f"{n:06d}" for n in range(1, 6)]

    result = sqlite_app.test_cli_runner().invoke(args=["restore", copy, "--yes"])
    assert result.exit_code == 0, result.output
    with sqlite_app.app_context():
        assert db.session.scalars(select(Case.code).order_by(Case.id)).all() == first
        assert db.session.get(CaseCounter, 2026).last == 5
        db.session.remove()
    # The next case gets a code never given out before, not the first of `later` again.
    fresh = make_case_on(sqlite_app, now)
    assert fresh not in later and fresh.endswith("-2026-000006")
    assert json.loads(result.output)["case_counters"] == {"2026": 5}


def test_a_restore_keeps_a_counter_the_backup_did_not_have(
    sqlite_app: Flask, make_case_on: Callable[..., str], tmp_path: Path
) -> None:
    """A backup from last year knows nothing of this year's codes: the counter of a year
    absent from the backup is carried over too."""
    result = sqlite_app.test_cli_runner().invoke(args=["backup", "--out", str(tmp_path / "b")])
    copy = json.loads(result.output)["database"]
    given = make_case_on(sqlite_app, datetime(2027, 1, 5, 3, 0, tzinfo=UTC))
    result = sqlite_app.test_cli_runner().invoke(args=["restore", copy, "--yes"])
    assert result.exit_code == 0, result.output
    fresh = make_case_on(sqlite_app, datetime(2027, 1, 6, 3, 0, tzinfo=UTC))
    assert given.endswith("-2027-000001") and fresh.endswith("-2027-000002")
    assert json.loads(result.output)["case_counters"] == {"2027": 1}


# --- no session cookie on the API ----------------------------------------------------------


def _token(app: Flask, make_user: Callable[..., Any]) -> dict[str, str]:
    user_id, _ = make_user("inspector")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/cases", 200),
        ("/api/v1/cases?lang=en", 422),  # an error answer sets no cookie either
        ("/api/v1/cases/HG-2020-999999", 404),
        ("/open311/v2/services.json?lang=en", 200),
    ],
)
def test_a_bearer_call_gets_no_session_cookie(
    app: Flask,
    client: FlaskClient,
    make_user: Callable[..., Any],
    login_as: Callable[..., str],
    url: str,
    status: int,
) -> None:
    headers = _token(app, make_user)
    fresh = app.test_client().get(url, headers=headers)
    assert fresh.status_code == status
    assert fresh.headers.getlist("Set-Cookie") == []

    # A browser that is logged in on the web pages (a permanent session, which Flask
    # refreshes on every request) and calls the API, also from another address (which
    # Flask-Login's strong protection would answer by rewriting the session).
    login_as("coordinator")
    for environ in ({}, {"REMOTE_ADDR": "10.7.7.7"}):
        response = client.get(url, headers=headers, environ_base=environ)
        assert response.status_code == status
        assert response.headers.getlist("Set-Cookie") == [], environ
    # The web session itself is untouched and still works.
    assert client.get("/can-bo/").status_code == 200


def test_an_api_call_ignores_the_session_it_is_sent(
    client: FlaskClient, login_as: Callable[..., str]
) -> None:
    """The session cookie never authenticates the API (CSRF-exempt), and the API never
    writes to it: a logged-in browser's cookie gets a 401 there, and no cookie back."""
    login_as("coordinator")
    response = client.get("/api/v1/cases")
    assert response.status_code == 401
    assert response.headers.getlist("Set-Cookie") == []
