"""Staff login and logout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..database import unit_of_work
from ..domain.permissions import STAFF_ROLES
from ..extensions import csrf
from ..security.access import public, roles
from ..security.limits import login_limit
from ..services.accounts.throttle import LOCKED_MESSAGE, note_failure, refuse_if_locked
from ..services.accounts.users import authenticate, end_sessions
from .forms.common import LoginForm

bp = Blueprint("auth", __name__, url_prefix="/can-bo")


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a phishing link borrow our login.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("desk.inbox")


@bp.route("/dang-nhap", methods=["GET", "POST"])
@login_limit
@public
@csrf.exempt  # LoginForm validates its own CSRF token
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("desk.inbox"))
    form = LoginForm()
    if form.is_submitted():
        username = (request.form.get("username") or "").strip()
        # A locked name is refused before its password is even checked.
        if username:
            with unit_of_work():
                seconds = refuse_if_locked(username, datetime.now(UTC))
            if seconds is not None:
                minutes = max(1, (seconds + 59) // 60)
                form.password.errors = [_(LOCKED_MESSAGE, minutes=minutes)]
                body = render_template("desk/login.html", form=form)
                return body, 429, {"Retry-After": str(seconds)}
        if form.validate():
            now = datetime.now(UTC)
            with unit_of_work():
                user = authenticate(form.username.data, form.password.data, now)
            if user is not None:
                language = session.get("lang")  # the reader's language survives the new session
                session.clear()
                if language:
                    session["lang"] = language
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
            config = current_app.config
            with unit_of_work():
                note_failure(
                    username,
                    now,
                    max_failures=config["LOGIN_MAX_FAILURES"],
                    window=config["LOGIN_FAILURE_WINDOW"],
                    lockout=config["LOGIN_LOCKOUT"],
                )
            form.password.errors = [_("Tên đăng nhập hoặc mật khẩu không đúng.")]
        return render_template("desk/login.html", form=form), 422
    return render_template("desk/login.html", form=form)


@bp.post("/dang-xuat")
@roles(*STAFF_ROLES)
def logout() -> Any:
    """Logout ends the session for good: the session version is bumped, so a copy of the
    cookie saved before (a stolen laptop, a shared PC) no longer works, and the user's
    other sessions end too ("logout everywhere": simple, and safe for shared office
    computers). The bump comes first: if the database refuses it (503), the browser
    stays signed in and the user can try again, instead of believing a cookie is dead."""
    user = current_user._get_current_object()
    with unit_of_work():
        end_sessions(user, actor=user, now=datetime.now(UTC), action="auth.logout")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
