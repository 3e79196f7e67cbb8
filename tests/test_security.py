"""The security baseline: headers and the Content-Security-Policy, session cookies, rate
limits (memory and Redis storage) and login throttling."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, TEST_SECRET, csrf_from
from sqlalchemy import func, select, update

from feedback import config as cfg
from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import AuditLog, LoginThrottle, User
from feedback.security.headers import CONTENT_SECURITY_POLICY
from feedback.services.accounts.users import issue_token

LOGIN = "/can-bo/dang-nhap"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCKED = "Đăng nhập sai quá nhiều lần"
TOO_MANY = "Quá nhiều yêu cầu"


def login(client: FlaskClient, username: str, password: str) -> Any:
    page = client.get(LOGIN)
    return client.post(
        LOGIN,
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )


# --- headers -------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(client: FlaskClient, make_case: Any) -> None:
    make_case()
    for url in ("/", "/gui", "/tra-cuu", LOGIN, "/cong-khai/", "/khong-co", "/api/v1/cases"):
        response = client.get(url)
        headers = response.headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]
        # Tests run relaxed (plain HTTP): no HSTS, which would pin a developer's browser.
        assert "Strict-Transport-Security" not in headers
    static = client.get("/static/style.css")
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    static.close()


def test_the_policy_forbids_inline_code_and_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_no_template_needs_what_the_policy_forbids() -> None:
    """style-src/script-src 'self': an inline <script>, <style>, style="" or on*= handler
    would be silently blocked by browsers, so none may exist."""
    offenders = []
    pattern = re.compile(r"<script|<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I)
    for path in TEMPLATES.rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}")
    assert offenders == []


def _production_app(database_url: str, tmp_path: Path) -> Flask:
    import os

    from cryptography.fernet import Fernet

    from feedback import create_app

    os.environ["FEEDBACK_INSTANCE_PATH"] = str(tmp_path / "prod")
    return create_app(
        {
            "SECRET_KEY": TEST_SECRET,
            "IDENTITY_KEY": Fernet.generate_key().decode(),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "FEEDBACK_SCHEDULER": "off",
            "SERVER_NAME": "localhost",
            "FEEDBACK_ENV": "production",
        }
    )


def test_production_sends_hsts_and_secure_permanent_session_cookies(
    database_url: str, tmp_path: Path, make_user: Any
) -> None:
    _, username = make_user("coordinator", unit_code="VP")
    app = _production_app(database_url, tmp_path)
    try:
        assert app.config["RATELIMIT_ENABLED"] is True  # on outside tests
        assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
        client = app.test_client()
        page = client.get(LOGIN, base_url="https://localhost")
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        response = client.post(
            LOGIN,
            base_url="https://localhost",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 302, response.text
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"secure", "httponly"} <= flags
        assert "SameSite=Lax" in cookie
        # A staff session is permanent: it lasts 8 hours, not until the browser closes.
        expires = re.search(r"Expires=([^;]+)", cookie)
        assert expires, cookie
        when = datetime.strptime(expires.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
        assert timedelta(hours=7, minutes=55) < when - datetime.now(UTC) <= timedelta(hours=8)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_tests_and_development_relax_only_the_secure_flag(app: Flask) -> None:
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    defaults = cfg.defaults("/tmp/x")
    assert defaults["SESSION_COOKIE_SECURE"] is True
    assert defaults["RATELIMIT_STORAGE_URI"] == "memory://"


def test_redis_url_selects_the_shared_limiter_storage() -> None:
    assert (
        cfg.from_environment({"REDIS_URL": "redis://127.0.0.1:6379/0"})["RATELIMIT_STORAGE_URI"]
        == "redis://127.0.0.1:6379/0"
    )
    assert "RATELIMIT_STORAGE_URI" not in cfg.from_environment({})


# --- rate limits ---------------------------------------------------------------------------


def _limits_on(**extra: Any) -> dict[str, Any]:
    return {"RATELIMIT_ENABLED": True, **extra}


def _web_case(page: str, n: int) -> dict[str, str]:
    """A valid public form, the n-th of a series (each a case of its own)."""
    return {
        "csrf_token": csrf_from(page),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "subject": f"Nắp cống vỡ số {n}",
        "body": "Nắp cống trước nhà văn hoá tổ 3 bị vỡ, rất nguy hiểm khi trời tối.",
        "anonymous": "y",
    }


class TestLimits:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return _limits_on(RATELIMIT_API="3/minute")

    def test_the_public_form_files_ten_cases_a_minute_per_address(
        self, client: FlaskClient
    ) -> None:
        page = client.get("/gui").text
        for _ in range(12):  # refused forms are no submissions (issue 15)
            assert client.post("/gui", data={}).status_code == 422
        for n in range(10):
            assert client.post("/gui", data=_web_case(page, n)).status_code == 302
        assert client.get("/gui").status_code == 200  # reading the form is not counted
        refused = client.post("/gui", data=_web_case(page, 10))
        assert refused.status_code == 429
        assert "vui lòng bấm «Gửi» lại sau khoảng" in refused.text
        assert "Nắp cống vỡ số 10" in refused.text  # the form again, as typed
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert refused.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        # Another address has its own budget.
        other = client.post(
            "/gui", data=_web_case(page, 11), environ_base={"REMOTE_ADDR": "10.1.2.3"}
        )
        assert other.status_code == 302

    def test_the_look_up_allows_twenty_posts_a_minute(self, client: FlaskClient) -> None:
        data = {"code": "PA-2026-000001", "access_key": "x"}
        for _ in range(20):
            assert client.post("/tra-cuu", data=data).status_code == 422
        refused = client.post("/tra-cuu", data=data)
        assert refused.status_code == 429 and TOO_MANY in refused.text
        assert int(refused.headers["Retry-After"]) >= 1

    def test_login_allows_ten_posts_a_minute_per_address(self, client: FlaskClient) -> None:
        # Ten different names: the per-name lock (5) is not what stops the eleventh.
        for n in range(10):
            assert login(client, f"khong-co-{n}", "sai").status_code == 422
        refused = login(client, "khong-co-10", "sai")
        assert refused.status_code == 429 and TOO_MANY in refused.text

    def test_the_api_is_limited_per_token_or_address(
        self, app: Flask, client: FlaskClient, make_user: Any
    ) -> None:
        for _ in range(3):
            assert client.get("/api/v1/cases").status_code == 401
        refused = client.get("/api/v1/cases")
        assert refused.status_code == 429
        assert refused.mimetype == "application/json"
        assert TOO_MANY in refused.get_json()["message"]
        assert int(refused.headers["Retry-After"]) >= 1

        tokens = []
        for _ in range(2):
            user_id, _ = make_user("inspector")
            with app.app_context(), unit_of_work():
                tokens.append(issue_token(db.session.get(User, user_id), datetime.now(UTC)))
        first, second = ({"Authorization": f"Bearer {t}"} for t in tokens)
        other_ip = {"REMOTE_ADDR": "10.9.9.9"}
        for _ in range(3):
            assert (
                client.get("/api/v1/cases", headers=first, environ_base=other_ip).status_code == 200
            )
        assert client.get("/api/v1/cases", headers=first, environ_base=other_ip).status_code == 429
        # The same address with another token still has its own budget.
        assert client.get("/api/v1/cases", headers=second, environ_base=other_ip).status_code == 200

    def test_open311_is_limited_too(self, client: FlaskClient) -> None:
        statuses = [client.get("/open311/v2/services.json").status_code for _ in range(4)]
        assert statuses[-1] == 429, statuses


def test_limits_are_off_in_other_tests(client: FlaskClient) -> None:
    assert all(client.post("/gui", data={}).status_code == 422 for _ in range(12))


@pytest.fixture
def redis_client() -> Iterator[Any]:
    import redis

    connection = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    connection.ping()  # the CI machine runs Redis: unreachable is a failure, not a skip
    yield connection
    connection.close()


class TestRedisStorage:
    # Counters are keyed by client address: a made-up one keeps this test's keys apart
    # from anything else using the same Redis, and lets it clean up exactly its own.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    config = _limits_on(
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        RATELIMIT_SUBMIT="2/minute",
        RATELIMIT_SUBMIT_ATTEMPTS="2/minute",  # every post of the form, refused ones too
    )

    @pytest.fixture
    def app_config(self, redis_client: Any) -> Iterator[dict[str, Any]]:
        yield dict(self.config)
        keys = list(redis_client.scan_iter(f"*/{self.address}/*"))
        if keys:
            redis_client.delete(*keys)

    def test_limits_are_counted_in_redis_and_shared_by_workers(
        self, app: Flask, client: FlaskClient, redis_client: Any, database_url: str
    ) -> None:
        env = {"REMOTE_ADDR": self.address}
        statuses = [client.post("/gui", data={}, environ_base=env).status_code for _ in range(2)]
        assert statuses == [422, 422]
        keys = list(redis_client.scan_iter(f"*/{self.address}/*"))
        assert keys, "no counter in Redis"
        assert int(redis_client.get(keys[0])) == 2
        # A second worker (another app: another process's memory) sees the same count.
        from feedback import create_app

        worker = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": TEST_SECRET,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "FEEDBACK_SCHEDULER": "off",
                "SERVER_NAME": "localhost",
                **self.config,
            }
        )
        try:
            refused = worker.test_client().post("/gui", data={}, environ_base=env)
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) >= 1
        finally:
            with worker.app_context():
                db.session.remove()
                db.engine.dispose()


# --- login throttling ----------------------------------------------------------------------


def _throttles(app: Flask) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(LoginThrottle))
        db.session.remove()
        return n or 0


def test_five_failures_lock_the_name_for_fifteen_minutes(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    for _ in range(5):
        response = login(client, username, "sai-mat-khau")
        assert response.status_code == 422
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    # Locked: even the right password is refused, before it is checked.
    refused = login(client, username.upper(), PASSWORD)
    assert refused.status_code == 429
    assert LOCKED in refused.text and "15 phút" in refused.text
    assert 14 * 60 < int(refused.headers["Retry-After"]) <= 15 * 60 + 1
    with client.session_transaction() as held:
        assert "_user_id" not in held
    # Another name is not affected, and another browser (worker) sees the same lock.
    assert login(app.test_client(), username, PASSWORD).status_code == 429

    # Fifteen minutes later the name may try again; a success clears the count.
    with app.app_context(), unit_of_work():
        db.session.execute(
            update(LoginThrottle).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert login(client, username, PASSWORD).status_code == 302
    assert _throttles(app) == 0


def test_a_locked_unknown_name_looks_like_a_locked_account(app: Flask, make_user: Any) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    answers = []
    for name in (username, "khong-ton-tai"):
        client = app.test_client()
        for _ in range(5):
            assert login(client, name, "sai").status_code == 422
        refused = login(client, name, PASSWORD)
        page = re.sub(r'name="csrf_token"[^>]*>', "", refused.text.replace(name, "NAME"))
        answers.append((refused.status_code, page))
    assert answers[0][0] == answers[1][0] == 429
    assert answers[0][1] == answers[1][1]


def test_a_success_resets_the_count(app: Flask, client: FlaskClient, make_user: Any) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    for _ in range(4):
        assert login(client, username, "sai").status_code == 422
    assert login(client, username, PASSWORD).status_code == 302
    client.post("/can-bo/dang-xuat", data={"csrf_token": csrf_from(client.get("/can-bo/").text)})
    for _ in range(4):
        assert login(client, username, "sai").status_code == 422
    assert login(client, username, PASSWORD).status_code == 302


def test_failures_outside_the_window_start_a_new_count(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    for _ in range(4):
        login(client, username, "sai")
    with app.app_context(), unit_of_work():
        db.session.execute(
            update(LoginThrottle).values(window_start=datetime.now(UTC) - timedelta(minutes=16))
        )
    assert login(client, username, "sai").status_code == 422  # the first of a new window
    assert login(client, username, PASSWORD).status_code == 302


def test_a_request_without_a_valid_form_token_is_not_counted(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    for _ in range(6):
        client.post(LOGIN, data={"username": username, "password": "sai"})
    assert _throttles(app) == 0
    assert login(client, username, PASSWORD).status_code == 302


def test_failed_and_locked_logins_are_audited(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    for _ in range(6):
        login(client, "ai-do", "sai")
    with app.app_context():
        rows = db.session.execute(
            select(AuditLog.action, AuditLog.actor_label, AuditLog.details).order_by(AuditLog.id)
        ).all()
        db.session.remove()
    actions = [r.action for r in rows if r.actor_label == "ai-do"]
    assert actions == ["auth.login_failed"] * 5 + ["auth.login_locked"]
    assert [r.details["locked"] for r in rows if r.action == "auth.login_failed"][-1] is True
