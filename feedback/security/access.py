"""Default-deny access control for every route.

A view is reachable without login only when it is decorated with ``@public``; every other
view must name the roles allowed to use it with ``@roles(...)``, or nobody may use it.
This is SecureDrop's allowlist idea: forgetting a decorator fails closed, not open."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import abort, current_app, jsonify, redirect, request, url_for
from flask_login import current_user

from ..domain.marks import N_
from ..domain.permissions import STAFF_ROLES
from ..extensions import db
from ..i18n import translated_text

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIXES = ("/api/", "/open311/")
# What a session cookie names: "<user id>:<session version>" (see load_user).
_SESSION_ID = re.compile(r"([0-9]{1,9}):([0-9]{1,9})")


def public(view: F) -> F:
    view.is_public = True  # type: ignore[attr-defined]
    return view


def roles(*allowed: str) -> Callable[[F], F]:
    unknown = set(allowed) - set(STAFF_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def mark(view: F) -> F:
        view.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return mark


def wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


def check_access() -> Any:
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None  # 404s and static files
    view = current_app.view_functions.get(endpoint)
    if view is None or getattr(view, "is_public", False):
        return None
    if not current_user.is_authenticated:
        if wants_json():
            message = translated_text(N_("Cần mã truy cập (Bearer token)."))
            body = jsonify(error="unauthorized", message=message, fields={})
            return body, 401, {"WWW-Authenticate": 'Bearer realm="feedback"'}
        # The language asked for in the URL is chosen when a page first reads it, which
        # this redirect comes before: it goes along, or the login page forgets it.
        lang = request.args.get("lang")
        if lang not in current_app.config["FEEDBACK_LANGUAGES"]:
            lang = None
        return redirect(url_for("auth.login", next=request.full_path, lang=lang))
    allowed = getattr(view, "allowed_roles", frozenset())
    if current_user.role not in allowed:
        if wants_json():
            message = translated_text(N_("Không có quyền."))
            return jsonify(error="forbidden", message=message, fields={}), 403
        abort(403)
    return None


def load_user(user_id: str) -> Any:
    """The account a session cookie names, if that session has not been ended.

    The cookie holds ``"<id>:<session version>"`` (``User.get_id``). A cookie is signed
    but cannot be recalled, so a copy saved before a logout, a password change or a
    deactivation would otherwise work until it expires; each of those bumps the version
    in the database, and a cookie carrying another version is refused here (fails
    closed: a cookie without a version, from before this scheme, is refused too)."""
    from ..models import User

    # The JSON API is CSRF-exempt, so it must never trust the browser's session cookie:
    # there, only a bearer token (below) authenticates.
    if request.path.startswith(API_PREFIXES):
        return None
    match = _SESSION_ID.fullmatch(user_id)
    if match is None:
        return None
    user = db.session.get(User, int(match[1]))
    if user is None or not user.active or user.session_version != int(match[2]):
        return None
    return user


def load_user_from_token(req: Any) -> Any:
    from ..services.accounts.users import user_for_token

    header = req.headers.get("Authorization", "")
    if not req.path.startswith(API_PREFIXES) or not header.startswith("Bearer "):
        return None
    return user_for_token(header.removeprefix("Bearer ").strip(), datetime.now(UTC))
