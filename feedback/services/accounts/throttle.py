"""Login throttling per user name, stored in the database so every worker sees one count.

Any name can be locked, existing or not, so a lock tells nothing about which accounts
exist. Each function runs in the caller's unit of work and writes its audit record there."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from ...domain.marks import N_
from ...extensions import db
from ...models import LoginThrottle
from . import audit

LOCKED_MESSAGE = N_(
    "Đăng nhập sai quá nhiều lần với tên đăng nhập này. Vui lòng thử lại sau %(minutes)s phút "
    "hoặc liên hệ quản trị hệ thống."
)
"""Filled in with the minutes left (``gettext(LOCKED_MESSAGE, minutes=…)``)."""


def _throttle_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def locked_until(username: str, now: datetime) -> datetime | None:
    """When a lock on this user name ends, if it is locked now."""
    until = db.session.scalar(
        select(LoginThrottle.locked_until).where(LoginThrottle.key == _throttle_key(username))
    )
    return until if until is not None and until > now else None


def refuse_if_locked(username: str, now: datetime) -> int | None:
    """Seconds the name stays locked (and an audit record of the refusal), or None."""
    until = locked_until(username, now)
    if until is None:
        return None
    audit.record("auth.login_locked", actor=(None, username[:64]))
    return max(1, int((until - now).total_seconds()) + 1)


def note_failure(
    username: str,
    now: datetime,
    *,
    max_failures: int,
    window: timedelta,
    lockout: timedelta,
) -> bool:
    """Count a failed login; True when it locks the name. One atomic upsert, so
    concurrent workers never lose a count."""
    table = LoginThrottle.__table__
    key = _throttle_key(username)
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(key=key, failures=1, window_start=now, locked_until=None)
    stale = table.c.window_start < now - window
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "window_start": case((stale, stmt.excluded.window_start), else_=table.c.window_start),
        },
    ).returning(table.c.failures)
    failures = db.session.execute(stmt).scalar_one()
    locked = failures >= max_failures
    if locked:
        db.session.execute(
            update(table)
            .where(table.c.key == key)
            .values(failures=0, window_start=now, locked_until=now + lockout)
        )
    audit.record("auth.login_failed", actor=(None, username[:64]), details={"locked": locked})
    return locked


def clear_failures(username: str) -> None:
    db.session.execute(
        LoginThrottle.__table__.delete().where(LoginThrottle.key == _throttle_key(username))
    )
