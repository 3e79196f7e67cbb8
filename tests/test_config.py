"""Configuration: environment variables, then instance/config.py; a production app refuses to
start without a real secret key; Flask's unsafe defaults are changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from

from feedback import create_app
from feedback.config import DEV_SECRET

GOOD_KEY = "k3Y-" + "x" * 44  # 48 characters
GOOD_IDENTITY_KEY = "hZr8Q0y1pCqP3b5vFJg3nK0mQm3rJ1D0qv4h5Yx6s7E="  # a valid Fernet key
ENV_NAMES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "FEEDBACK_ENV",
    "FEEDBACK_SCHEDULER",
    "FEEDBACK_REFERENCE_FILE",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USE_TLS",
    "IDENTITY_KEY",
)


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment: nothing set but an empty instance folder and a SQLite URL."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("FEEDBACK_INSTANCE_PATH", str(folder))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.sqlite'}")
    monkeypatch.setenv("IDENTITY_KEY", GOOD_IDENTITY_KEY)
    return folder


def _dispose(app: Flask) -> None:
    from feedback.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.mark.parametrize(
    "secret",
    [None, "", "short-" + "x" * 20, "x" * 31, DEV_SECRET],
    ids=["unset", "empty", "short", "31-chars", "dev-default"],
)
def test_production_refuses_a_weak_secret_key(
    instance: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("FEEDBACK_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_is_the_default_environment(instance: Path) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_starts_with_a_long_secret_key(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.delenv("IDENTITY_KEY")
    with pytest.raises(RuntimeError, match="IDENTITY_KEY"):
        create_app()
    monkeypatch.setenv("IDENTITY_KEY", "not-a-fernet-key")
    with pytest.raises(RuntimeError, match="IDENTITY_KEY"):
        create_app()
    monkeypatch.setenv("IDENTITY_KEY", GOOD_IDENTITY_KEY)
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == GOOD_KEY
        assert app.config["IDENTITY_KEY"] == GOOD_IDENTITY_KEY
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        assert app.testing is False
    finally:
        _dispose(app)


def test_development_may_run_with_the_built_in_key(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACK_ENV", "development")
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == DEV_SECRET
        assert app.config["SESSION_COOKIE_SECURE"] is False  # plain HTTP on localhost
    finally:
        _dispose(app)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://feedback:pw@db.example:5432/feedback",
            "postgresql+psycopg://feedback:pw@db.example:5432/feedback",
        ),
        (
            "postgresql://feedback@127.0.0.1/feedback",
            "postgresql+psycopg://feedback@127.0.0.1/feedback",
        ),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_url_is_normalised(
    instance: Path, monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("DATABASE_URL", given)
    app = create_app()
    try:
        assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    finally:
        _dispose(app)


def test_default_database_is_sqlite_under_instance(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    app = create_app()
    try:
        assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'feedback.sqlite'}"
    finally:
        _dispose(app)


def test_instance_config_is_read(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_ENV", "production")
    (instance / "config.py").write_text(
        f'SECRET_KEY = "{GOOD_KEY}"\n'
        "MAX_CONTENT_LENGTH = 5 * 1024 * 1024\n"
        'FEEDBACK_SCHEDULER = "off"\n'
        'MAIL_DEFAULT_SENDER = "phananh@hagiang.gov.vn"\n',
        encoding="utf-8",
    )
    app = create_app()  # would raise without the key from instance/config.py
    try:
        assert app.instance_path == str(instance)
        assert app.config["SECRET_KEY"] == GOOD_KEY
        assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
        assert app.config["FEEDBACK_SCHEDULER"] == "off"
        assert app.config["MAIL_DEFAULT_SENDER"] == "phananh@hagiang.gov.vn"
    finally:
        _dispose(app)


def test_max_content_length_is_set(app: Flask) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    # Room for the allowed attachments and the form, and not a byte more than ~1 MiB extra.
    files = app.config["ATTACHMENT_MAX_COUNT"] * app.config["ATTACHMENT_MAX_BYTES"]
    assert isinstance(limit, int) and files < limit <= files + 2 * 1024 * 1024


def test_oversized_request_is_refused_in_vietnamese(app: Flask, client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 2000
    page = client.get("/gui")
    response = client.post(
        "/gui", data={"csrf_token": csrf_from(page.text), "subject": "x", "body": "y" * 5000}
    )
    assert response.status_code == 413
    assert "Dữ liệu gửi lên quá lớn." in response.text


def _cookie_flags(response: Any, name: str = "session") -> list[str]:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return [part.strip().lower() for part in header.split(";")]
    raise AssertionError(f"no {name} cookie set: {response.headers.getlist('Set-Cookie')}")


def test_login_cookie_is_httponly_and_samesite_lax(
    client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    _, username = make_user("inspector")
    page = client.get("/can-bo/dang-nhap")
    response = client.post(
        "/can-bo/dang-nhap",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302
    flags = _cookie_flags(response)
    assert "httponly" in flags
    assert "samesite=lax" in flags


def test_citizen_session_cookie_is_httponly_too(client: FlaskClient) -> None:
    response = client.get("/gui")  # the CSRF token lives in the session
    flags = _cookie_flags(response)
    assert "httponly" in flags
    assert "samesite=lax" in flags
