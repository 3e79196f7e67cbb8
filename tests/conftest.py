"""Shared fixtures. Every test that needs a database gets a fresh, migrated and seeded one:

- SQLite: a template file is migrated and seeded once per session and copied per test;
- PostgreSQL (when ``TEST_DATABASE_URL`` is set): a template database is migrated and
  seeded once, and each test gets ``CREATE DATABASE ... TEMPLATE`` of it. The ``app``
  fixture is parametrised over both engines, so one run proves both. An unreachable
  PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, TEST_SECRET, log_in

from feedback import create_app

_counter = itertools.count()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id still, but at test cost: production parameters (64 MiB, 3 passes) would
    dominate a suite that creates hundreds of accounts. Production cost is asserted in
    test_auth against the module's own hasher settings."""
    from argon2 import PasswordHasher

    from feedback.services.accounts import users

    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _engines() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def _make_app(url: str, instance: Path, **extra: Any) -> Flask:
    os.environ["FEEDBACK_INSTANCE_PATH"] = str(instance)
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": url,
        "FEEDBACK_SCHEDULER": "off",
        "SERVER_NAME": "localhost",
    }
    config.update(extra)
    return create_app(config)


def _build_template(app: Flask) -> None:
    from flask_migrate import upgrade

    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.services.reference.loader import load_reference

    with app.app_context():
        upgrade()
        with unit_of_work():
            load_reference()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _dispose(app: Flask) -> None:
    from feedback.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


class _Postgres:
    """Creates and drops per-test databases on the server named by TEST_DATABASE_URL."""

    def __init__(self, url: str) -> None:
        from feedback.config import normalise_database_url

        self.url = normalise_database_url(url)
        match = re.match(r"^(.*/)([^/?]+)(\?.*)?$", self.url)
        if not match:
            raise ValueError(f"TEST_DATABASE_URL has no database name: {url}")
        self.base, self.prefix, self.query = match.group(1), match.group(2), match.group(3) or ""
        self.template = f"{self.prefix}_tmpl_{os.getpid()}"

    def url_for(self, name: str) -> str:
        return f"{self.base}{name}{self.query}"

    def execute(self, sql: str) -> None:
        import psycopg

        dsn = self.url_for("postgres").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self, name: str, template: str | None = None) -> str:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url_for(name)

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite"
    app = _make_app(f"sqlite:///{path}", folder)
    _build_template(app)
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[_Postgres]:
    pg = _Postgres(os.environ["TEST_DATABASE_URL"])
    url = pg.create(pg.template)
    app = _make_app(url, Path(os.environ.get("TMPDIR", "/tmp")))
    _build_template(app)
    yield pg
    pg.drop(pg.template)


@pytest.fixture(params=_engines())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated and seeded database for one test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        target = tmp_path / "feedback.sqlite"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    pg: _Postgres = request.getfixturevalue("postgres")
    name = f"{pg.prefix}_{os.getpid()}_{next(_counter)}"
    yield pg.create(name, template=pg.template)
    pg.drop(name)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to change configuration."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    application = _make_app(database_url, instance, **app_config)
    yield application
    _dispose(application)


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    from feedback.extensions import db as database

    with app.app_context():
        yield database
        database.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free loopback port, stopped afterwards."""
    from smtp_helpers import MailServer

    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., Any]:
    """Create a staff account: make_user("officer", unit_code="UBND-00688")."""
    from feedback.database import unit_of_work
    from feedback.services.accounts.users import create_user

    def factory(role: str, unit_code: str | None = None, username: str | None = None) -> Any:
        name = username or f"{role}{next(_counter)}"
        with app.app_context(), unit_of_work():
            user = create_user(
                name, role, PASSWORD, unit_code=unit_code, full_name=f"Cán bộ {name}"
            )
            return user.id, user.username

    return factory


@pytest.fixture
def login_as(client: FlaskClient, make_user: Callable[..., Any]) -> Callable[..., str]:
    """Log the test client in through the real login form (CSRF on); returns the username."""

    def login(role: str, unit_code: str | None = None) -> str:
        if unit_code is None and role in {"officer", "unit_head", "clerk"}:
            unit_code = "UBND-00688"
        _, username = make_user(role, unit_code=unit_code)
        log_in(client, username)
        return username

    return login


@pytest.fixture
def make_case(app: Flask) -> Callable[..., str]:
    """Submit a case through the intake service; returns its code."""
    from feedback.database import unit_of_work
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    def factory(**overrides: Any) -> str:
        now = overrides.pop("now", None) or datetime.now(UTC)
        fields: dict[str, Any] = {
            "kind": "feedback",
            "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
            "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
            "category_code": "6.3b",
            "area_code": "00694",
            "reporter": Reporter(name="Trần Thị Bình", phone="0912000111"),
        }
        fields.update(overrides)
        with app.app_context(), unit_of_work():
            return submit_case(CaseInput(**fields), actor=None, now=now).case.code

    return factory
