"""Security wiring: default-deny access (access.py), security headers (headers.py), rate
limits (limits.py), the session cookie kept to the web pages (sessions.py) and who acts in
a request, for the audit log (actor.py). Nothing here imports a view: views and the API
apply the limit decorators themselves, and login throttling is a service the login view
calls."""

from __future__ import annotations

from typing import Any

from flask import Flask, session
from flask_babel import gettext
from flask_login import user_logged_in

from ..domain.marks import N_
from ..extensions import limiter, login_manager
from . import actor
from .access import check_access, load_user, load_user_from_token
from .headers import security_headers
from .input_gate import check_input
from .sessions import WebOnlySessionInterface


def _on_login(app: Any, user: Any, **extra: Any) -> None:
    from ..database import unit_of_work
    from ..services.accounts import audit
    from ..services.accounts.throttle import clear_failures

    session.permanent = True  # PERMANENT_SESSION_LIFETIME (8 hours) for staff
    with unit_of_work():
        clear_failures(user.username)
        audit.record("auth.login", actor=(user.id, f"{user.display_name} ({user.username})"))


def init_app(app: Flask) -> None:
    from ..services.accounts import audit

    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_token)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Vui lòng đăng nhập để tiếp tục.")
    login_manager.localize_callback = gettext  # the flash in the reader's language
    login_manager.session_protection = "strong"
    app.session_interface = WebOnlySessionInterface()  # no session cookie on the API
    # Rate limits come first, so refused requests (401s, locked names) count too. They are
    # on by default; the test suite turns them on only where it tests them.
    app.config.setdefault("RATELIMIT_ENABLED", not app.testing)
    limiter.init_app(app)
    # Who acts is the request's to say (services never read it), bound before anything of
    # the request may write: the signed-in user and the client's address.
    audit.install()
    app.before_request(actor.bind)
    # Odd input (NUL bytes, absurd integers) is refused before anything reads it.
    app.before_request(check_input)
    app.before_request(check_access)
    app.after_request(security_headers)
    # Blinker signals are process-wide; connect_via(app) scopes each to its own app.
    user_logged_in.connect(_on_login, app)
