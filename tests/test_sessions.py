"""Sessions and tokens that can be ended (issue 13, finding 5).

A session cookie saved before a logout, a password change or a deactivation must stop
working at once; API tokens expire and can be revoked; ``users deactivate|activate|
revoke-tokens|end-sessions|password|list`` and the admin page do it, each with an audit
record. Logout ends every session of the user (the documented choice: a version bump)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, server_database
from helpers import log_in as login
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import ApiToken, AuditLog, CaseEvent, User
from feedback.services.accounts.users import issue_token

LOGIN = "/can-bo/dang-nhap"
INBOX = "/can-bo/"
API = "/api/v1/cases"
ACCOUNTS = "/quan-tri/tai-khoan"


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == LOGIN


def saved_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """Another browser that holds a copy of the cookie (a stolen laptop, a shared PC)."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(app: Flask, user_id: int, issued: datetime | None = None) -> str:
    with app.app_context(), unit_of_work():
        return issue_token(db.session.get(User, user_id), issued or datetime.now(UTC))


def cli(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["users", *args])
    with app.app_context():
        db.session.remove()
    return result


def audit_actions(app: Flask, target: str) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog.action).where(AuditLog.target == target).order_by(AuditLog.id)
        ).all()
        db.session.remove()
        return list(rows)


def notes_on(app: Flask, code: str) -> int:
    from feedback.models import Case

    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(Case.code == code, CaseEvent.action == "note")
        )
        db.session.remove()
        return int(count or 0)


def user_row(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        db.session.remove()
        return user


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> tuple[int, str]:
    return make_user("officer", unit_code="UBND-00688")


# --- the session cookie -------------------------------------------------------------------


def test_cookie_saved_before_logout_is_refused_and_cannot_write_a_note(
    app: Flask, client: FlaskClient, officer: tuple[int, str], make_case: Callable[..., str]
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    login(client, officer[1])
    page = client.get(f"/can-bo/ho-so/{code}")
    assert page.status_code == 200
    token = csrf_from(page.text)
    cookie = saved_cookie(client)

    response = client.post("/can-bo/dang-xuat", data={"csrf_token": token})
    assert is_login_redirect(response)

    thief = replay(app, cookie)
    assert is_login_redirect(thief.get(INBOX)), "a cookie saved before logout still works"
    assert is_login_redirect(thief.get(f"/can-bo/ho-so/{code}"))
    # The saved cookie still carries a valid CSRF secret: the refusal is the session's.
    response = thief.post(
        f"/can-bo/ho-so/{code}/ghi-chu", data={"csrf_token": token, "note": "Ghi chú giả mạo."}
    )
    assert is_login_redirect(response)
    assert notes_on(app, code) == 0
    assert audit_actions(app, officer[1])[-1] == "auth.logout"


@pytest.mark.parametrize(
    "database_url",
    server_database("a row lock held by another session needs PostgreSQL: TEST_DATABASE_URL"),
    indirect=True,
)
@pytest.mark.parametrize("app_config", [{"DATABASE_LOCK_TIMEOUT_MS": 500}])
def test_a_logout_the_database_refuses_leaves_the_user_signed_in(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    """No half-logout: if the version cannot be bumped (a lock, here), the browser is not
    told it logged out while a saved copy of its cookie still works."""
    import psycopg

    login(client, officer[1])
    cookie = saved_cookie(client)
    csrf = csrf_from(client.get(INBOX).text)
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    holder = psycopg.connect(url)
    try:
        holder.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (officer[0],))
        response = client.post("/can-bo/dang-xuat", data={"csrf_token": csrf})
        assert response.status_code == 503
    finally:
        holder.rollback()
        holder.close()
    assert client.get(INBOX).status_code == 200, "the browser was logged out, the server not"
    assert is_login_redirect(client.post("/can-bo/dang-xuat", data={"csrf_token": csrf}))
    assert is_login_redirect(replay(app, cookie).get(INBOX))


def test_logging_in_again_after_logout_works(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    login(client, officer[1])
    client.post("/can-bo/dang-xuat", data={"csrf_token": csrf_from(client.get(INBOX).text)})
    login(client, officer[1])
    assert client.get(INBOX).status_code == 200


def test_logout_ends_the_users_other_sessions_too(app: Flask, officer: tuple[int, str]) -> None:
    """The documented choice: logout bumps the session version, so it logs the user out
    on every device (the finding asks at least for the logged-out cookie to die)."""
    office, phone = app.test_client(), app.test_client()
    login(office, officer[1])
    login(phone, officer[1])
    assert phone.get(INBOX).status_code == 200
    office.post("/can-bo/dang-xuat", data={"csrf_token": csrf_from(office.get(INBOX).text)})
    assert is_login_redirect(phone.get(INBOX))


def test_a_cookie_without_a_session_version_is_refused(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    """A session from before versions existed (the bare id) fails closed."""
    login(client, officer[1])
    with client.session_transaction() as held:
        assert held["_user_id"] == f"{officer[0]}:1"
        held["_user_id"] = str(officer[0])
    assert is_login_redirect(client.get(INBOX))


def test_password_change_ends_open_sessions(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    login(client, officer[1])
    cookie = saved_cookie(client)
    result = cli(app, "password", officer[1], "--password", "mat-khau-moi-rat-dai")
    assert result.exit_code == 0, result.output
    assert is_login_redirect(client.get(INBOX))
    assert is_login_redirect(replay(app, cookie).get(INBOX))
    login(client, officer[1], "mat-khau-moi-rat-dai")
    assert client.get(INBOX).status_code == 200
    assert "user.password_change" in audit_actions(app, officer[1])


def test_too_short_password_is_refused_and_sessions_stay(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    login(client, officer[1])
    result = cli(app, "password", officer[1], "--password", "ngan")
    assert result.exit_code != 0
    assert "ít nhất" in result.output
    assert client.get(INBOX).status_code == 200


# --- deactivation, tokens -----------------------------------------------------------------


def test_deactivate_stops_the_session_and_the_token_at_once_and_keeps_history(
    app: Flask,
    client: FlaskClient,
    officer: tuple[int, str],
    make_case: Callable[..., str],
) -> None:
    user_id, username = officer
    code = make_case(category_code="6.3b", area_code="00688")
    token = token_for(app, user_id)
    login(client, username)
    page = client.get(f"/can-bo/ho-so/{code}")
    note = {"csrf_token": csrf_from(page.text), "note": "Đã gọi điện cho công dân."}
    assert client.post(f"/can-bo/ho-so/{code}/ghi-chu", data=note).status_code == 303
    assert client.get(API, headers=bearer(token)).status_code == 200

    result = cli(app, "deactivate", username)
    assert result.exit_code == 0, result.output
    assert "Đã khóa" in result.output

    assert is_login_redirect(client.get(INBOX))
    assert client.post(f"/can-bo/ho-so/{code}/ghi-chu", data=note).status_code == 302
    assert client.get(API, headers=bearer(token)).status_code == 401
    assert notes_on(app, code) == 1  # the note written before stays
    user = user_row(app, user_id)
    assert user.active is False
    with app.app_context():
        tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).all()
        assert tokens and all(t.revoked_at is not None for t in tokens)
        db.session.remove()
    assert "user.deactivate" in audit_actions(app, username)
    # A locked account cannot sign in again, nor be given a new token.
    page = client.get(LOGIN)
    response = client.post(
        LOGIN,
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 422
    assert cli(app, "token", username).exit_code != 0


def test_activate_lets_the_user_in_again_but_not_the_old_token(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    user_id, username = officer
    token = token_for(app, user_id)
    login(client, username)
    cookie = saved_cookie(client)
    assert cli(app, "deactivate", username).exit_code == 0
    result = cli(app, "activate", username)
    assert result.exit_code == 0, result.output
    assert user_row(app, user_id).active is True
    assert is_login_redirect(replay(app, cookie).get(INBOX)), "an old session came back"
    assert client.get(API, headers=bearer(token)).status_code == 401, "an old token came back"
    login(client, username)
    assert client.get(INBOX).status_code == 200
    assert audit_actions(app, username)[-1] == "user.activate"


def test_expired_token_is_refused(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    now = datetime.now(UTC)
    fresh = token_for(app, officer[0])
    old = token_for(app, officer[0], issued=now - timedelta(days=91))
    assert client.get(API, headers=bearer(fresh)).status_code == 200
    response = client.get(API, headers=bearer(old))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == fresh[:10]))
        assert row is not None
        assert timedelta(days=89) < row.expires_at - now <= timedelta(days=90, minutes=1)
        db.session.remove()


@pytest.mark.parametrize("app_config", [{"API_TOKEN_TTL_DAYS": 2}])
def test_token_lifetime_is_configurable(
    app: Flask, client: FlaskClient, officer: tuple[int, str]
) -> None:
    now = datetime.now(UTC)
    assert client.get(API, headers=bearer(token_for(app, officer[0]))).status_code == 200
    three_days_old = token_for(app, officer[0], issued=now - timedelta(days=3))
    assert client.get(API, headers=bearer(three_days_old)).status_code == 401
    one_day_old = token_for(app, officer[0], issued=now - timedelta(days=1))
    assert client.get(API, headers=bearer(one_day_old)).status_code == 200


def test_configured_token_lifetime_is_read_from_the_environment() -> None:
    from feedback.config import defaults, from_environment

    assert defaults("/tmp")["API_TOKEN_TTL_DAYS"] == 90
    assert from_environment({"API_TOKEN_TTL_DAYS": "30"})["API_TOKEN_TTL_DAYS"] == 30


def test_revoke_tokens_kills_every_live_token_of_that_user_only(
    app: Flask, client: FlaskClient, officer: tuple[int, str], make_user: Callable[..., Any]
) -> None:
    user_id, username = officer
    first, second = token_for(app, user_id), token_for(app, user_id)
    other_id, _ = make_user("coordinator", unit_code="VP")
    other = token_for(app, other_id)
    login(client, username)

    result = cli(app, "revoke-tokens", username)
    assert result.exit_code == 0, result.output
    assert "2" in result.output

    for token in (first, second):
        assert client.get(API, headers=bearer(token)).status_code == 401
    assert client.get(API, headers=bearer(other)).status_code == 200
    assert client.get(INBOX).status_code == 200  # the web session is not a token
    with app.app_context():
        revoked = db.session.scalars(
            select(ApiToken.revoked_at).where(ApiToken.user_id == user_id)
        ).all()
        assert len(revoked) == 2 and all(at is not None for at in revoked)
        db.session.remove()
    assert audit_actions(app, username)[-1] == "user.revoke_tokens"


def test_end_sessions_command(app: Flask, client: FlaskClient, officer: tuple[int, str]) -> None:
    login(client, officer[1])
    token = token_for(app, officer[0])
    assert cli(app, "end-sessions", officer[1]).exit_code == 0
    assert is_login_redirect(client.get(INBOX))
    assert client.get(API, headers=bearer(token)).status_code == 200  # tokens are separate
    assert audit_actions(app, officer[1])[-1] == "user.end_sessions"


def test_commands_refuse_an_unknown_user(app: Flask) -> None:
    for command in ("deactivate", "activate", "revoke-tokens", "end-sessions", "password"):
        result = cli(app, command, "khong.ton.tai")
        assert result.exit_code != 0
        assert "Không có tài khoản «khong.ton.tai»" in result.output


def test_users_list_shows_role_unit_state_last_login_and_live_tokens(
    app: Flask, client: FlaskClient, officer: tuple[int, str], make_user: Callable[..., Any]
) -> None:
    user_id, username = officer
    token_for(app, user_id)
    token_for(app, user_id)
    token_for(app, user_id, issued=datetime.now(UTC) - timedelta(days=200))  # expired
    login(client, username)
    _, idle = make_user("inspector")
    cli(app, "deactivate", idle)

    result = cli(app, "list")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert lines[username][1:4] == ["officer", "UBND-00688", "hoạt"]
    assert lines[username][-1] == "2"
    assert lines[idle][1:3] == ["inspector", "-"] and "khóa" in lines[idle]

    rows = {r["username"]: r for r in json.loads(cli(app, "list", "--json").output)}
    assert rows[username]["live_tokens"] == 2
    assert rows[username]["last_login_at"] is not None
    assert rows[username]["unit"] == "UBND-00688" and rows[username]["active"] is True
    assert rows[idle]["active"] is False and rows[idle]["last_login_at"] is None


# --- the admin page -----------------------------------------------------------------------


def test_admin_page_lists_accounts_and_its_buttons_work_with_csrf(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    officer: tuple[int, str],
) -> None:
    user_id, username = officer
    victim = app.test_client()
    login(victim, username)
    token = token_for(app, user_id)
    admin = login_as("admin")

    page = client.get(ACCOUNTS)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert username in text and "Cán bộ đơn vị" in text and "Đang hoạt động" in text
    assert 'name="viewport"' in text and 'data-label="Thao tác"' in text
    csrf = csrf_from(page.text)
    base = f"{ACCOUNTS}/{user_id}"

    # Without the CSRF token nothing happens.
    assert client.post(f"{base}/khoa").status_code == 400
    assert victim.get(INBOX).status_code == 200

    response = client.post(f"{base}/ket-thuc-phien", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert is_login_redirect(victim.get(INBOX))
    assert client.get(API, headers=bearer(token)).status_code == 200
    login(victim, username)

    response = client.post(f"{base}/thu-hoi-ma", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Đã thu hồi 1 mã API" in html.unescape(response.text)
    assert client.get(API, headers=bearer(token)).status_code == 401

    token = token_for(app, user_id)
    response = client.post(f"{base}/khoa", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Đã khóa tài khoản" in html.unescape(response.text)
    assert is_login_redirect(victim.get(INBOX))
    assert client.get(API, headers=bearer(token)).status_code == 401
    assert user_row(app, user_id).active is False

    response = client.post(f"{base}/mo-khoa", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Đã mở khóa" in html.unescape(response.text)
    assert user_row(app, user_id).active is True

    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == admin))
        rows = db.session.scalars(
            select(AuditLog)
            .where(AuditLog.target == username, AuditLog.action.like("user.%"))
            .where(AuditLog.action != "user.update")  # the column-level change rows
            .order_by(AuditLog.id)
        ).all()
        assert [r.action for r in rows][-4:] == [
            "user.end_sessions",
            "user.revoke_tokens",
            "user.deactivate",
            "user.activate",
        ]
        assert {r.actor_id for r in rows[-4:]} == {admin_id}
        db.session.remove()
    assert client.get(ACCOUNTS).status_code == 200  # the admin is still signed in


def test_admin_cannot_lock_themself_out(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    admin = login_as("admin")
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == admin))
        db.session.remove()
    csrf = csrf_from(client.get(ACCOUNTS).text)
    response = client.post(
        f"{ACCOUNTS}/{admin_id}/khoa", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "Không thể tự khóa tài khoản" in html.unescape(response.text)
    assert client.get(ACCOUNTS).status_code == 200


def test_admin_page_is_for_admins_only_and_refuses_odd_ids(
    app: Flask, client: FlaskClient, login_as: Callable[..., str], officer: tuple[int, str]
) -> None:
    assert is_login_redirect(client.get(ACCOUNTS))
    login_as("inspector")
    assert client.get(ACCOUNTS).status_code == 403
    csrf = csrf_from(client.get(INBOX).text)
    assert (
        client.post(f"{ACCOUNTS}/{officer[0]}/khoa", data={"csrf_token": csrf}).status_code == 403
    )
    assert user_row(app, officer[0]).active is True
    client.post("/can-bo/dang-xuat", data={"csrf_token": csrf})

    login_as("admin")
    csrf = csrf_from(client.get(ACCOUNTS).text)
    for path in ("999999/khoa", "99999999999999999999/khoa", f"{officer[0]}/xoa"):
        assert client.post(f"{ACCOUNTS}/{path}", data={"csrf_token": csrf}).status_code == 404
