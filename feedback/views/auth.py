"""Staff login and logout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..database import unit_of_work
from ..extensions import csrf
from ..forms import LoginForm
from ..security import STAFF_ROLES, login_limit, public, roles
from ..services.users import authenticate

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
        if form.validate():
            with unit_of_work():
                user = authenticate(form.username.data, form.password.data, datetime.now(UTC))
            if user is not None:
                session.clear()
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
            form.password.errors = ["Tên đăng nhập hoặc mật khẩu không đúng."]
        return render_template("desk/login.html", form=form), 422
    return render_template("desk/login.html", form=form)


@bp.post("/dang-xuat")
@roles(*STAFF_ROLES)
def logout() -> Any:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
