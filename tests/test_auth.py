"""Staff login and logout, and default-deny access control on every route."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from
from sqlalchemy import select

LOGIN = "/can-bo/dang-nhap"
BAD_LOGIN = "Tên đăng nhập hoặc mật khẩu không đúng."


def post_login(client: FlaskClient, username: str, password: str, query: str = "") -> Any:
    page = client.get(LOGIN + query)
    assert page.status_code == 200
    return client.post(
        LOGIN + query,
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )


def is_login_redirect(response: Any) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and urlsplit(
        response.headers["Location"]
    ).path.startswith(LOGIN)


def set_active(app: Flask, user_id: int, active: bool) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import User

    with app.app_context(), unit_of_work():
        db.session.get(User, user_id).active = active


def test_wrong_password_is_refused_in_vietnamese(
    client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    response = post_login(client, username, PASSWORD + "x")
    assert response.status_code == 422
    assert BAD_LOGIN in html.unescape(response.text)
    assert client.get("/can-bo/").status_code == 302  # still not logged in


def test_unknown_user_gets_the_same_answer(client: FlaskClient) -> None:
    response = post_login(client, "khong-ai-ca", PASSWORD)
    assert response.status_code == 422
    assert BAD_LOGIN in html.unescape(response.text)


def test_login_without_csrf_token_is_refused(
    client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    client.get(LOGIN)
    response = client.post(LOGIN, data={"username": username, "password": PASSWORD})
    assert response.status_code in (400, 422)
    assert is_login_redirect(client.get("/can-bo/"))


def test_login_is_case_insensitive_for_username(
    client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    _, username = make_user("officer", unit_code="UBND-00688")
    assert post_login(client, username.upper(), PASSWORD).status_code == 302
    assert client.get("/can-bo/").status_code == 200


def test_inactive_user_is_refused(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user_id, username = make_user("officer", unit_code="UBND-00688")
    set_active(app, user_id, False)
    response = post_login(client, username, PASSWORD)
    assert response.status_code == 422
    assert BAD_LOGIN in html.unescape(response.text)
    assert is_login_redirect(client.get("/can-bo/"))


def test_deactivated_user_loses_an_open_session(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user_id, username = make_user("officer", unit_code="UBND-00688")
    assert post_login(client, username, PASSWORD).status_code == 302
    assert client.get("/can-bo/").status_code == 200
    set_active(app, user_id, False)
    assert is_login_redirect(client.get("/can-bo/")), "a deactivated account kept its session"


def test_password_is_stored_as_argon2id(app: Flask, make_user: Callable[..., Any]) -> None:
    from feedback.extensions import db
    from feedback.models import User

    user_id, _ = make_user("inspector")
    with app.app_context():
        stored = db.session.get(User, user_id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_production_password_hashing_is_argon2id_at_owasp_strength() -> None:
    """The suite hashes cheaply (conftest); the module's own settings are checked here, on a
    fresh copy of the module, so the test cost does not hide a weak production setting."""
    import importlib.util

    import argon2

    spec = importlib.util.find_spec("feedback.services.accounts.users")
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    hasher = fresh._hasher
    assert hasher.type is argon2.Type.ID
    # OWASP: argon2id with at least 19 MiB and 2 iterations.
    assert hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2
    stored = fresh.hash_password(PASSWORD)
    match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match, stored
    assert int(match.group(1)) >= 19 * 1024 and int(match.group(2)) >= 2
    assert fresh._hasher.verify(stored, PASSWORD)


def test_logout_is_post_with_csrf(client: FlaskClient, login_as: Callable[..., str]) -> None:
    login_as("officer")
    inbox = client.get("/can-bo/")
    assert inbox.status_code == 200
    token = csrf_from(inbox.text)

    assert client.get("/can-bo/dang-xuat").status_code == 405
    assert client.post("/can-bo/dang-xuat").status_code == 400  # no token: refused
    assert client.get("/can-bo/").status_code == 200  # ... and still logged in

    response = client.post("/can-bo/dang-xuat", data={"csrf_token": token})
    assert is_login_redirect(response)
    assert is_login_redirect(client.get("/can-bo/"))


def test_inbox_needs_login(client: FlaskClient) -> None:
    response = client.get("/can-bo/")
    assert is_login_redirect(response)
    assert "next=" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Đăng nhập cán bộ" in page.text


def test_login_returns_to_next_page(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    _, username = make_user("inspector")
    response = post_login(client, username, PASSWORD, "?next=/can-bo/%3Fqua_han%3D1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/can-bo/?qua_han=1")


def test_admin_gets_an_empty_inbox(
    client: FlaskClient, login_as: Callable[..., str], make_case: Callable[..., str]
) -> None:
    code = make_case()
    login_as("admin")
    response = client.get("/can-bo/")
    assert response.status_code == 200
    assert "Không có hồ sơ nào." in response.text
    assert code not in response.text
    # Case pages are for case readers only.
    assert client.get(f"/can-bo/ho-so/{code}").status_code == 403


def browser_target(location: str) -> str:
    """Where a browser goes for this Location: it drops tabs/newlines and reads ``\\`` as ``/``."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urlsplit(urljoin("http://localhost" + LOGIN, cleaned)).netloc


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_does_not_follow_offsite_next(
    client: FlaskClient, make_user: Callable[..., Any], target: str
) -> None:
    _, username = make_user("inspector")
    page = client.get(LOGIN)
    response = client.post(
        LOGIN,
        query_string={"next": target},
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert not location.lower().startswith("javascript:"), location
    # Same site as the login page, however a browser reads the header.
    assert browser_target(location) == "localhost", location


def test_login_refuses_a_next_with_a_control_character(
    client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    """A tab hides "//" from a naive check ("/<tab>/evil.example/" is "//evil.example/" to
    a browser): the input gate refuses the request before the login view reads it."""
    _, username = make_user("inspector")
    page = client.get(LOGIN)
    response = client.post(
        LOGIN,
        query_string={"next": "/\t/evil.example/"},
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 400
    assert "Location" not in response.headers


# --- default deny --------------------------------------------------------------------------


def _non_public_rules(app: Flask) -> list[Any]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if not getattr(view, "is_public", False):
            rules.append(rule)
    return rules


def _dummy_url(app: Flask, rule: Any) -> str:
    from flask import url_for

    with app.test_request_context():
        return url_for(rule.endpoint, **{arg: "1" for arg in rule.arguments})


def test_every_route_is_public_or_names_its_roles(app: Flask) -> None:
    from feedback.domain.permissions import STAFF_ROLES

    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "is_public", False):
            assert not hasattr(view, "allowed_roles"), f"{rule.endpoint} is both public and roled"
            continue
        roles = getattr(view, "allowed_roles", None)
        assert roles is not None, f"{rule.endpoint} ({rule.rule}) has neither @public nor @roles"
        assert roles and set(roles) <= set(STAFF_ROLES), (rule.endpoint, roles)
        checked += 1
    assert checked >= 3  # inbox, case page, logout at least


def test_anonymous_requests_to_staff_routes_are_denied(app: Flask) -> None:
    rules = _non_public_rules(app)
    assert {r.endpoint for r in rules} >= {"desk.inbox", "desk.case", "auth.logout"}
    for rule in rules:
        url = _dummy_url(app, rule)
        client = app.test_client()
        response = client.get(url)
        assert response.status_code != 200, url
        assert is_login_redirect(response) or response.status_code in (401, 404, 405), (
            url,
            response.status_code,
        )
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            answer = client.open(url, method=method)
            assert not 200 <= answer.status_code < 300, (method, url, answer.status_code)


def test_public_routes_are_the_citizen_pages_and_login(app: Flask) -> None:
    public = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if getattr(app.view_functions[rule.endpoint], "is_public", False)
    }
    assert {"public.index", "public.submit", "public.lookup", "auth.login"} <= public
    assert not any(name.startswith(("desk.", "admin.", "oversight.")) for name in public), public


def test_login_records_last_login(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    from feedback.extensions import db
    from feedback.models import User

    username = login_as("coordinator")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None and user.last_login_at is not None
