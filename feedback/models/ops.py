"""Operational tables: the notification outbox and the suggestion-box register."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .reference import Area, Unit, in_list
from .types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .case import Case

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class Notification(db.Model):
    """The outbox. A row is written in the same transaction as the change that causes it;
    ``dedupe_key`` makes a second write of the same message impossible."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(in_list("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # Deterministic, so a message re-sent after a crash inside the SMTP window carries
    # the same Message-ID and receivers can drop the copy.
    message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case | None] = relationship()


class SuggestionBox(db.Model):
    """A hòm thư góp ý at a ward/commune office or a village/residential-group house."""

    __tablename__ = "suggestion_boxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    location: Mapped[str] = mapped_column(String(300))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    opener_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    area: Mapped[Area] = relationship()
    opener_unit: Mapped[Unit] = relationship()


class BoxOpening(db.Model):
    __tablename__ = "box_openings"
    __table_args__ = (
        CheckConstraint("letter_count >= 0", name="letter_count_nonnegative"),
        CheckConstraint(in_list("status", ("open", "closed")), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    box_id: Mapped[int] = mapped_column(ForeignKey("suggestion_boxes.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    witnesses: Mapped[str] = mapped_column(Text)  # one name per line; at least two
    letter_count: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    box: Mapped[SuggestionBox] = relationship()


class IdempotencyKey(db.Model):
    """The first answer to a POST carrying an ``Idempotency-Key``, replayed to retries.

    ``scope`` separates clients (a token's user, or the public), so one client's key cannot
    fetch another's answer; ``request_hash`` refuses the same key reused for another body."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportBatch(db.Model):
    """One CSV batch from the provincial 1022 system, with its line-by-line report."""

    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint("imported >= 0 AND already_present >= 0 AND rejected >= 0", name="counts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported: Mapped[int] = mapped_column(default=0)
    already_present: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FailedAddress(db.Model):
    """An address the mail server refused for good: not retried for ever, shown to admins."""

    __tablename__ = "failed_addresses"

    address: Mapped[str] = mapped_column(String(300), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditLog(db.Model):
    """What staff did: logins, every case action, calendar, accounts, tokens, imports,
    letters. Written in the same transaction as the change (``services.audit``); the
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


class FigureMonth(db.Model):
    """The dashboard's figures of one local month, so a year at national scale is read
    as twelve rows rather than a million cases (``feedback.services.figures``).

    Holds only what does not move with the clock (receipts, acknowledgements, answers,
    ratings, apologies); "overdue now" is always counted live. Database triggers on
    ``cases`` and ``apology_letters`` set ``dirty`` whenever a change touches the month,
    whatever path wrote it; a rebuild clears ``dirty`` *before* it reads, so a change
    that lands during the rebuild leaves the month dirty again.
    """

    __tablename__ = "figure_months"
    __table_args__ = (CheckConstraint("month LIKE '____-__'", name="month_format"),)

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    dirty: Mapped[bool] = mapped_column(default=True)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
