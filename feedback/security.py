"""Default-deny access control for every route.

A view is reachable without login only when it is decorated with ``@public``; every other
view must name the roles allowed to use it with ``@roles(...)``, or nobody may use it.
This is SecureDrop's allowlist idea: forgetting a decorator fails closed, not open."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, user_logged_in, user_logged_out
from sqlalchemy import case, select, update

from .extensions import db, limiter, login_manager

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIXES = ("/api/", "/open311/")
STAFF_ROLES = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector", "admin")


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


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


def check_access() -> Any:
    from flask import current_app

    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None  # 404s and static files
    view = current_app.view_functions.get(endpoint)
    if view is None or getattr(view, "is_public", False):
        return None
    if not current_user.is_authenticated:
        if _wants_json():
            body = jsonify(
                error="unauthorized", message="Cần mã truy cập (Bearer token).", fields={}
            )
            return body, 401, {"WWW-Authenticate": 'Bearer realm="feedback"'}
        return redirect(url_for("auth.login", next=request.full_path))
    allowed = getattr(view, "allowed_roles", frozenset())
    if current_user.role not in allowed:
        if _wants_json():
            return jsonify(error="forbidden", message="Không có quyền.", fields={}), 403
        abort(403)
    return None


def _load_user(user_id: str) -> Any:
    from .models import User

    # The JSON API is CSRF-exempt, so it must never trust the browser's session cookie:
    # there, only a bearer token (below) authenticates.
    if request.path.startswith(API_PREFIXES) or not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))


def _load_user_from_token(req: Any) -> Any:
    from datetime import UTC, datetime

    from .services.users import user_for_token

    header = req.headers.get("Authorization", "")
    if not req.path.startswith(API_PREFIXES) or not header.startswith("Bearer "):
        return None
    return user_for_token(header.removeprefix("Bearer ").strip(), datetime.now(UTC))


# --- security headers ------------------------------------------------------------------

# Every page works without JavaScript and styles come from static/style.css only: no inline
# script, no style attribute or element (SVG charts use presentation attributes, which CSP
# does not govern). `data:` images are allowed for small inline icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "bluetooth=(), magnetometer=(), gyroscope=(), accelerometer=()"
)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if not _relaxed():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.status_code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(_limit_retry_after())
    return response


def _relaxed() -> bool:
    from .config import is_relaxed

    return is_relaxed(current_app.config)


def _limit_retry_after() -> int:
    """Seconds until the rate-limit window that refused this request resets."""
    try:
        current = limiter.current_limit
    except Exception:
        current = None
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()) + 1)


# --- rate limits ---------------------------------------------------------------------------


def _limit(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _token_or_address() -> str:
    """API clients are counted per bearer token when it is a valid one, else per address
    (so random tokens cannot dodge the per-address count). Loading the user here is the
    same lookup access control does next; Flask-Login caches it for the request."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and current_user.is_authenticated:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "unknown")


submit_limit = limiter.limit(_limit("RATELIMIT_SUBMIT"), methods=["POST"])
lookup_limit = limiter.limit(_limit("RATELIMIT_LOOKUP"), methods=["POST"])
login_limit = limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
_blueprint_limits_applied = False


def _limit_api_blueprints() -> None:
    """The JSON API and Open311: by blueprint, so every route is covered, added or not."""
    global _blueprint_limits_applied
    if _blueprint_limits_applied:
        return
    from .views import api, open311

    for module in (api, open311):
        limiter.limit(_limit("RATELIMIT_API"), key_func=_token_or_address)(module.bp)
    _blueprint_limits_applied = True


# --- login throttling ----------------------------------------------------------------------

LOCKED_MESSAGE = (
    "Đăng nhập sai quá nhiều lần với tên đăng nhập này. Vui lòng thử lại sau {minutes} phút "
    "hoặc liên hệ quản trị hệ thống."
)


def _throttle_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def locked_until(username: str, now: datetime) -> datetime | None:
    """When a lock on this user name ends, if it is locked now. Any name can be locked,
    existing or not, so the answer tells nothing about which accounts exist."""
    from .models.ops import LoginThrottle

    until = db.session.scalar(
        select(LoginThrottle.locked_until).where(LoginThrottle.key == _throttle_key(username))
    )
    return until if until is not None and until > now else None


def note_failure(username: str, now: datetime) -> bool:
    """Count a failed login in the caller's transaction; True when it locks the name.
    One atomic upsert, so concurrent workers never lose a count."""
    from .models.ops import LoginThrottle

    config = current_app.config
    table = LoginThrottle.__table__
    key = _throttle_key(username)
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(key=key, failures=1, window_start=now, locked_until=None)
    stale = table.c.window_start < now - config["LOGIN_FAILURE_WINDOW"]
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "window_start": case((stale, stmt.excluded.window_start), else_=table.c.window_start),
        },
    ).returning(table.c.failures)
    failures = db.session.execute(stmt).scalar_one()
    if failures < config["LOGIN_MAX_FAILURES"]:
        return False
    db.session.execute(
        update(table)
        .where(table.c.key == key)
        .values(failures=0, window_start=now, locked_until=now + config["LOGIN_LOCKOUT"])
    )
    return True


def clear_failures(username: str) -> None:
    from .models.ops import LoginThrottle

    db.session.execute(
        LoginThrottle.__table__.delete().where(LoginThrottle.key == _throttle_key(username))
    )


def _is_login_post() -> bool:
    return request.endpoint == "auth.login" and request.method == "POST"


def _login_guard() -> Any:
    """Refuse a locked user name before its password is even checked."""
    if not _is_login_post():
        return None
    username = (request.form.get("username") or "").strip()
    if not username:
        return None
    now = datetime.now(UTC)
    until = locked_until(username, now)
    if until is None:
        return None
    from .database import unit_of_work
    from .forms import LoginForm
    from .services import audit

    g.login_refused = True
    with unit_of_work():
        audit.record("auth.login_locked", actor=(None, username[:64]))
    seconds = max(1, int((until - now).total_seconds()) + 1)
    form = LoginForm()
    form.password.errors = [LOCKED_MESSAGE.format(minutes=max(1, (seconds + 59) // 60))]
    body = render_template("desk/login.html", form=form)
    return body, 429, {"Retry-After": str(seconds)}


def _csrf_ok() -> bool:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    from flask_wtf.csrf import validate_csrf
    from wtforms.validators import ValidationError as CSRFError

    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return False
    return True


def _after_login_post(response: Response) -> Response:
    """A refused login (422 with a name, a password and a valid form token) counts
    against the name; the account, if any, is not looked at."""
    if not _is_login_post() or response.status_code != 422 or g.get("login_refused"):
        return response
    username = (request.form.get("username") or "").strip()
    if not username or not request.form.get("password") or not _csrf_ok():
        return response
    from .database import unit_of_work
    from .services import audit

    with unit_of_work():
        locked = note_failure(username, datetime.now(UTC))
        audit.record("auth.login_failed", actor=(None, username[:64]), details={"locked": locked})
    return response


def _on_login(app: Any, user: Any, **extra: Any) -> None:
    from .database import unit_of_work
    from .services import audit

    session.permanent = True  # PERMANENT_SESSION_LIFETIME (8 hours) for staff
    with unit_of_work():
        clear_failures(user.username)
        audit.record("auth.login", actor=(user.id, f"{user.display_name} ({user.username})"))


def _on_logout(app: Any, user: Any, **extra: Any) -> None:
    from .database import unit_of_work
    from .services import audit

    if user is None or not getattr(user, "is_authenticated", False):
        return
    with unit_of_work():
        audit.record("auth.logout", actor=(user.id, f"{user.display_name} ({user.username})"))


_signals_connected = False


def init_app(app: Flask) -> None:
    global _signals_connected
    from .services import audit

    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_user_from_token)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
    login_manager.session_protection = "strong"
    # Rate limits come first, so refused requests (401s, locked names) count too. They are
    # on by default; the test suite turns them on only where it tests them.
    app.config.setdefault("RATELIMIT_ENABLED", not app.testing)
    _limit_api_blueprints()
    limiter.init_app(app)
    app.before_request(check_access)
    app.before_request(_login_guard)
    app.after_request(_after_login_post)
    app.after_request(security_headers)
    audit.install()
    if not _signals_connected:
        user_logged_in.connect(_on_login)
        user_logged_out.connect(_on_logout)
        _signals_connected = True
