"""The demo data: every role, state, channel and kind; idempotent; coherent timelines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import TEST_SECRET
from sqlalchemy import delete, func, select

from feedback import create_app
from feedback.database import unit_of_work
from feedback.domain.states import Status
from feedback.extensions import db as database
from feedback.models import ROLES, Case, CaseEvent, RoutingRule, Unit, User
from feedback.services.demo import load_demo
from feedback.services.errors import ValidationError

PASSWORD = "demo-matkhau-thu"
NOW = datetime(2024, 3, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """The demo command runs only where FEEDBACK_ENV says development or test; TESTING
    alone (every test app) does not count, so this module says it is a test."""
    return {"FEEDBACK_ENV": "test"}


@pytest.fixture
def demo(db: Any) -> Iterator[dict[str, Any]]:
    with unit_of_work():
        summary = load_demo(password=PASSWORD, now=NOW)
    yield summary


def _count(db: Any, model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_summary_and_roles(db: Any, demo: dict[str, Any]) -> None:
    assert demo["users_created"] >= 1
    assert demo["users_created"] + demo["users_existing"] == len(demo["users"])
    assert demo["cases_created"] + demo["cases_existing"] >= 30
    roles = set(db.session.scalars(select(User.role)))
    assert roles >= set(ROLES)
    listed = {u["username"]: u for u in demo["users"]}
    assert listed["vanphong"] == {"username": "vanphong", "role": "coordinator", "unit": "VP"}
    assert listed["quantri"]["unit"] is None
    assert listed["canbo.quangtrung"]["unit"] == "UBND-00688"


def test_cases_cover_states_channels_kinds(db: Any, demo: dict[str, Any]) -> None:
    cases = db.session.scalars(select(Case)).all()
    assert len(cases) >= 30
    assert {c.status for c in cases} >= {s.value for s in Status}
    assert {c.channel for c in cases} >= {"web", "hotline", "box", "api"}
    assert {c.kind for c in cases} >= {
        "feedback",
        "petition",
        "suggestion",
        "complaint",
        "denunciation",
    }
    assert any(c.anonymous for c in cases)
    assert any(c.area is None for c in cases)
    assert len({c.area.code for c in cases if c.area}) == 8
    answered = [c for c in cases if c.answered_at and c.status != Status.REJECTED.value]
    assert any(c.answered_at > c.response_due_at for c in answered), "no late answer"
    assert any(c.answered_at <= c.response_due_at for c in answered), "no on-time answer"
    open_cases = [c for c in cases if c.status not in ("closed", "rejected", "merged")]
    assert any(c.response_due_at < NOW for c in open_cases), "nothing overdue"
    assert any(c.response_due_at > NOW for c in open_cases), "everything overdue"
    merged = next(c for c in cases if c.status == Status.MERGED.value)
    assert merged.merged_into_id is not None


def test_timelines_are_ordered_and_end_in_the_status(db: Any, demo: dict[str, Any]) -> None:
    for case in db.session.scalars(select(Case)):
        events = db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        ).all()
        assert events, case.code
        times = [e.at for e in events]
        assert times == sorted(times), case.code
        assert case.received_at <= times[0] and times[-1] <= NOW, case.code
        with_status = [e for e in events if e.to_status]
        assert with_status[-1].to_status == case.status, case.code
        for before, after in pairwise(with_status):
            assert after.from_status == before.to_status, case.code


def test_second_run_creates_nothing(db: Any, demo: dict[str, Any]) -> None:
    users, cases, events = _count(db, User), _count(db, Case), _count(db, CaseEvent)
    with unit_of_work():
        again = load_demo(password=PASSWORD, now=NOW + timedelta(hours=5))
    assert again["users_created"] == 0 and again["cases_created"] == 0
    assert again["users_existing"] == len(again["users"])
    assert again["cases_existing"] >= 30
    assert (_count(db, User), _count(db, Case), _count(db, CaseEvent)) == (users, cases, events)


def test_requires_reference_data(db: Any) -> None:
    with unit_of_work():
        db.session.execute(delete(RoutingRule))
        db.session.execute(delete(Unit))
    with pytest.raises(ValidationError, match="flask --app feedback seed"):
        load_demo(password=PASSWORD, now=NOW)


def test_cli_demo(app: Flask) -> None:
    # The commands in feedback/cli.py are plain click commands: the `flask` entry point
    # (FlaskGroup) pushes an app context for them, the test runner does not.
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cases_created"] >= 30
    assert {u["role"] for u in summary["users"]} >= set(ROLES)


# --- refused outside development and tests (issue 13, finding 1) --------------------------

REFUSED = "Từ chối nạp dữ liệu mẫu"


def _app(database_url: str, instance: Path, **config: Any) -> Flask:
    """A fresh app on the test's database, configured by ``config`` (callers remove
    FEEDBACK_ENV from the environment, so only what a test says counts)."""
    os.environ["FEEDBACK_INSTANCE_PATH"] = str(instance)
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "FEEDBACK_SCHEDULER": "off", **config}
    )


def _close(app: Flask) -> None:
    with app.app_context():
        database.session.remove()
        database.engine.dispose()


@pytest.fixture
def production(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """An app configured as a real deployment is: a real SECRET_KEY and IDENTITY_KEY, no
    FEEDBACK_ENV in the environment, not TESTING."""
    from cryptography.fernet import Fernet

    monkeypatch.delenv("FEEDBACK_ENV", raising=False)
    app = _app(
        database_url,
        tmp_path / "prod",
        SECRET_KEY=TEST_SECRET,
        IDENTITY_KEY=Fernet.generate_key().decode(),
    )
    assert app.config["FEEDBACK_ENV"] == "production" and not app.testing
    yield app
    _close(app)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """`up` ends by serving forever: record the call instead."""
    import werkzeug.serving

    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        werkzeug.serving, "run_simple", lambda host, port, *a, **k: calls.append((host, port))
    )
    return calls


def _users(app: Flask) -> int:
    with app.app_context():
        try:
            return database.session.scalar(select(func.count()).select_from(User)) or 0
        finally:
            database.session.remove()


def test_demo_refuses_a_production_configuration(production: Flask) -> None:
    with production.app_context():
        result = production.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert REFUSED in result.output and "Refused to load demo data" in result.output
    assert "FEEDBACK_ENV" in result.output and "production" in result.output
    assert _users(production) == 0


def test_up_with_demo_refuses_before_doing_anything(
    production: Flask, served: list[tuple[str, int]]
) -> None:
    with production.app_context():
        result = production.test_cli_runner().invoke(args=["up"])
    assert result.exit_code != 0
    assert REFUSED in result.output and "--no-demo" in result.output
    assert _users(production) == 0
    assert served == []


def test_up_without_demo_still_serves_a_production_configuration(
    production: Flask, served: list[tuple[str, int]]
) -> None:
    with production.app_context():
        result = production.test_cli_runner().invoke(args=["up", "--no-demo", "--port", "5099"])
    assert result.exit_code == 0, result.output
    assert REFUSED not in result.output
    assert served == [("127.0.0.1", 5099)]
    assert _users(production) == 0


@pytest.mark.parametrize("env", ["production", "staging", ""])
def test_testing_alone_does_not_unlock_the_demo(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    """A test app (TESTING) whose FEEDBACK_ENV is anything but development or test is
    refused too: the rule reads FEEDBACK_ENV only."""
    monkeypatch.delenv("FEEDBACK_ENV", raising=False)
    app = _app(database_url, tmp_path / "inst", TESTING=True, SECRET_KEY=TEST_SECRET,
               FEEDBACK_ENV=env)  # fmt: skip
    try:
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code != 0 and REFUSED in result.output
        assert _users(app) == 0
    finally:
        _close(app)


def test_development_may_load_the_demo(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDBACK_ENV", raising=False)
    app = _app(database_url, tmp_path / "inst", FEEDBACK_ENV="development")
    try:
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        assert _users(app) >= len(ROLES)
    finally:
        _close(app)


def test_stored_due_times_equal_what_the_timeline_derives(db: Any, demo: dict[str, Any]) -> None:
    """The demo writes acceptance and reopening events as the services would, due times
    included: a recompute after loading it moves nothing (issue 14: 7 of 36 disagreed)."""
    from feedback.services.handling.deadlines import derive

    cases = db.session.scalars(select(Case)).all()
    assert len(cases) == 36
    wrong = [
        c.code
        for c in cases
        if (c.ack_due_at, c.response_due_at) != ((d := derive(c)).ack_due_at, d.response_due_at)
    ]
    assert wrong == []
