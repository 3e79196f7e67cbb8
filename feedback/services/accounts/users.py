"""Staff accounts: creation, password checks (argon2id) and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from ...extensions import db
from ...models import ROLES, ApiToken, Unit, User
from ...models.user import UNIT_BOUND_ROLES
from ..errors import ValidationError

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
) -> User:
    errors: dict[str, str] = {}
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").isalnum()
    ):
        errors["username"] = "Tên đăng nhập chỉ gồm chữ, số, dấu chấm hoặc gạch dưới."
    elif db.session.scalar(select(User).where(func.lower(User.username) == username)):
        errors["username"] = "Tên đăng nhập đã tồn tại."
    if role not in ROLES:
        errors["role"] = f"Vai trò phải là một trong: {', '.join(ROLES)}."
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự."
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            errors["unit"] = f"Không có đơn vị mã «{unit_code}»."
    elif role in UNIT_BOUND_ROLES:
        errors["unit"] = "Vai trò này cần gắn với một đơn vị (--unit)."
    if errors:
        raise ValidationError("Không tạo được tài khoản.", errors)
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


def issue_token(user: User, now: datetime, name: str = "") -> str:
    token = "fbk_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user, token_hash=_token_hash(token), prefix=token[:10], name=name, created_at=now
        )
    )
    db.session.flush()
    return token


def user_for_token(token: str, now: datetime) -> User | None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = now
    return row.user
