"""Staff accounts: creation, password checks (argon2id), API tokens, and ending access.

Access can be ended server-side, at once: a session cookie carries the user's
``session_version`` from login (``User.get_id``) and the loader refuses any other version,
so bumping it ends every session the user has. Logout bumps it too: logging out on one
device logs the user out everywhere (a per-session store would be finer; this is simpler
and errs on the safe side for shared office computers). Tokens expire
(``API_TOKEN_TTL_DAYS``) and can be revoked. Deactivation does both, and the account, its
cases and its audit trail stay.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select, update

from ...domain.marks import N_
from ...domain.permissions import STAFF_ROLES, UNIT_BOUND_ROLES
from ...extensions import db
from ...models import ApiToken, Unit, User
from ..errors import NotFound, ValidationError
from . import audit

# argon2id, 64 MiB, 3 passes: above OWASP's minimum (19 MiB, 2 passes).
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    username: str,
    role: str,
    password: str,
    *,
    unit_code: str | None = None,
    full_name: str = "",
    email: str | None = None,
    now: datetime | None = None,
) -> User:
    """A staff account. A unit-bound account is bound to the unit in force today under
    that code (codes are reused after a regrouping; a retired unit receives no cases)."""
    errors: dict[str, str] = {}
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").isalnum()
    ):
        errors["username"] = N_("Tên đăng nhập chỉ gồm chữ, số, dấu chấm hoặc gạch dưới.")
    elif db.session.scalar(select(User).where(func.lower(User.username) == username)):
        errors["username"] = N_("Tên đăng nhập đã tồn tại.")
    if role not in STAFF_ROLES:
        errors["role"] = N_("Vai trò phải là một trong: %(roles)s.", roles=", ".join(STAFF_ROLES))
    if len(password) < MIN_PASSWORD:
        errors["password"] = N_("Mật khẩu cần ít nhất %(n)s ký tự.", n=MIN_PASSWORD)
    unit = None
    if unit_code:
        from ..reference.areas import unit_in_force

        unit = unit_in_force(unit_code.strip(), now or datetime.now(UTC))
        if unit is None:
            errors["unit"] = N_("Không có đơn vị mã «%(code)s» còn hiệu lực.", code=unit_code)
    elif role in UNIT_BOUND_ROLES:
        errors["unit"] = N_("Vai trò này cần gắn với một đơn vị (--unit).")
    if errors:
        raise ValidationError(N_("Không tạo được tài khoản."), errors)
    user = User(
        username=username,
        role=role,
        unit=unit,
        password_hash=hash_password(password),
        full_name=full_name,
        email=email,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(username: str, password: str, now: datetime) -> User | None:
    user = db.session.scalar(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    )
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


DEFAULT_TOKEN_TTL_DAYS = 90


def token_ttl() -> timedelta:
    """How long a new token lives: ``API_TOKEN_TTL_DAYS`` (default 90)."""
    days = DEFAULT_TOKEN_TTL_DAYS
    if has_app_context():
        days = current_app.config.get("API_TOKEN_TTL_DAYS", DEFAULT_TOKEN_TTL_DAYS)
    return timedelta(days=int(days))


def issue_token(user: User, now: datetime, name: str = "", *, ttl: timedelta | None = None) -> str:
    """A new bearer token for ``user``, valid for ``ttl`` (default: the configured TTL).
    Only its hash is kept, so this is the one time anyone sees it."""
    ttl = token_ttl() if ttl is None else ttl
    if ttl <= timedelta(0):
        raise ValidationError(
            N_("Thời hạn của mã API phải dài hơn 0 ngày."),
            {"ttl": N_("API_TOKEN_TTL_DAYS phải ≥ 1.")},
        )
    if not user.active:
        raise ValidationError(
            N_("Tài khoản «%(name)s» đang bị khóa: không cấp mã API.", name=user.username),
            {"username": N_("Tài khoản đang bị khóa.")},
        )
    token = "fbk_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user,
            token_hash=_token_hash(token),
            prefix=token[:10],
            name=name,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    db.session.flush()
    return token


def user_for_token(token: str, now: datetime) -> User | None:
    """The account behind a bearer token, or None when the token is unknown, revoked,
    expired, or its account is deactivated."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or not row.is_live(now) or not row.user.active:
        return None
    row.last_used_at = now
    return row.user


# --- ending access ------------------------------------------------------------------------


def _audit_actor(actor: User | None) -> tuple[int | None, str]:
    """Who the audit record names: the admin who acted, or the system for commands."""
    if actor is None:
        return None, audit.SYSTEM_LABEL
    return actor.id, f"{actor.display_name} ({actor.username})"


def find_user(username: str) -> User:
    user = db.session.scalar(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    )
    if user is None:
        raise NotFound(N_("Không có tài khoản «%(name)s».", name=username))
    return user


def _bump_session_version(user: User) -> None:
    """Every session issued before stops working at its next request. The increment is
    done by the database, so two bumps at once never land on the same number."""
    user.session_version = User.session_version + 1  # type: ignore[assignment]
    db.session.flush()


def _revoke_live_tokens(user: User, now: datetime) -> int:
    result: Any = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def end_sessions(
    user: User, *, actor: User | None, now: datetime, action: str = "user.end_sessions"
) -> None:
    """End every open session of ``user`` (logout uses it with action ``auth.logout``)."""
    _bump_session_version(user)
    audit.record(action, actor=_audit_actor(actor), target=user.username, details={"at": now})


def revoke_tokens(user: User, *, actor: User | None, now: datetime) -> int:
    """Revoke every token of ``user`` that is not revoked yet; returns how many."""
    count = _revoke_live_tokens(user, now)
    audit.record(
        "user.revoke_tokens",
        actor=_audit_actor(actor),
        target=user.username,
        details={"tokens": count, "at": now},
    )
    return count


def deactivate_user(user: User, *, actor: User | None, now: datetime) -> bool:
    """Lock the account: its sessions end and its tokens are revoked at once (so turning
    it back on later revives neither). Its cases, notes and audit trail stay. Returns
    False when it was already locked. An admin cannot lock their own account."""
    if actor is not None and actor.id == user.id:
        raise ValidationError(
            N_("Không thể tự khóa tài khoản của chính mình."),
            {"username": N_("Nhờ một quản trị viên khác thực hiện.")},
        )
    was_active = user.active
    user.active = False
    db.session.flush()
    _bump_session_version(user)
    tokens = _revoke_live_tokens(user, now)
    audit.record(
        "user.deactivate",
        actor=_audit_actor(actor),
        target=user.username,
        details={"was_active": was_active, "tokens_revoked": tokens, "at": now},
    )
    return was_active


def activate_user(user: User, *, actor: User | None, now: datetime) -> bool:
    """Unlock the account; the user signs in again and needs new tokens. Returns False
    when it was already active."""
    was_active = user.active
    user.active = True
    db.session.flush()
    audit.record(
        "user.activate",
        actor=_audit_actor(actor),
        target=user.username,
        details={"was_active": was_active, "at": now},
    )
    return not was_active


def move_to_unit(user: User, unit_code: str, *, actor: User | None, now: datetime) -> bool:
    """Attach the account to another unit, one in force at ``now`` (how an admin moves the
    staff of a unit a reference pack retired). Its sessions end, since what it may see
    changes with its unit. Returns False when it was already there."""
    from ..reference.areas import unit_in_force

    unit = unit_in_force(unit_code.strip(), now)
    if unit is None:
        raise ValidationError(
            N_("Không chuyển được tài khoản."),
            {"unit": N_("Không có đơn vị mã «%(code)s» còn hiệu lực.", code=unit_code)},
        )
    if user.unit_id == unit.id:
        return False
    before = user.unit.code if user.unit else None
    user.unit = unit
    db.session.flush()
    _bump_session_version(user)
    audit.record(
        "user.move",
        actor=_audit_actor(actor),
        target=user.username,
        details={"from_unit": before, "to_unit": unit.code, "at": now},
    )
    return True


def set_password(user: User, password: str, *, actor: User | None, now: datetime) -> None:
    """Change the password and end every session: whoever knew the old one and signed in
    with it is signed out."""
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(
            N_("Không đổi được mật khẩu."),
            {"password": N_("Mật khẩu cần ít nhất %(n)s ký tự.", n=MIN_PASSWORD)},
        )
    user.password_hash = hash_password(password)
    db.session.flush()
    _bump_session_version(user)
    audit.record(
        "user.password_change", actor=_audit_actor(actor), target=user.username, details={"at": now}
    )


@dataclass(frozen=True)
class AccountRow:
    """One line of the account list (``users list`` and the admin page)."""

    id: int
    username: str
    full_name: str
    role: str
    role_label: str
    unit_code: str | None
    unit_name: str | None
    active: bool
    last_login_at: datetime | None
    live_tokens: int
    # The day a reference pack retired the account's unit: the account still works (and
    # sees what its unit handled) until an admin moves it to a unit in force.
    unit_retired_on: date | None = None


def list_accounts(now: datetime) -> list[AccountRow]:
    """Every account with the number of its tokens that still work at ``now``."""
    live = (
        select(ApiToken.user_id, func.count().label("n"))
        .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .group_by(ApiToken.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User, Unit, func.coalesce(live.c.n, 0))
        .outerjoin(Unit, User.unit_id == Unit.id)
        .outerjoin(live, live.c.user_id == User.id)
        .order_by(User.username)
    ).all()
    return [
        AccountRow(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=user.role,
            role_label=user.role_label,
            unit_code=unit.code if unit else None,
            unit_name=unit.name if unit else None,
            active=user.active,
            last_login_at=user.last_login_at,
            live_tokens=int(count),
            unit_retired_on=unit.valid_to if unit else None,
        )
        for user, unit, count in rows
    ]
