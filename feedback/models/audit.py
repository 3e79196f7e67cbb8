"""The append-only audit log of staff actions, and the failed-login counts per user name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class AuditLog(db.Model):
    """What staff did: logins, every case action, calendar, accounts, tokens, imports,
    letters. Written in the same transaction as the change (``services.accounts.audit``); the
    migration installs triggers that refuse UPDATE and DELETE, as for ``case_events``."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_at", "actor_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # No foreign key: the trail must outlive whatever it mentions.
    actor_id: Mapped[int | None] = mapped_column()
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(db.Model):
    """Failed logins per user name (its SHA-256, so mistyped passwords in the name field
    are not kept), shared by every worker: after too many, the name is locked a while."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
