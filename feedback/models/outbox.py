"""The notification outbox, and the addresses the mail server refused for good."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .reference import in_list
from .types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .case import Case


OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
# E-mail (SMTP), SMS (an HTTP gateway) and Zalo ZNS template messages.
OUTBOX_CHANNELS = ("email", "sms", "zalo")


class Notification(db.Model):
    """The outbox. A row is written in the same transaction as the change that causes it;
    ``dedupe_key`` makes a second write of the same message impossible."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(in_list("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint(in_list("channel", OUTBOX_CHANNELS), name="channel"),
        # An access key travels in a message but never rests in clear text: the body holds
        # a placeholder and the key sits here, sealed under the identity key.
        CheckConstraint("secret IS NULL OR secret LIKE 'sealed:%'", name="secret_sealed"),
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
    # The sealed access key the body's placeholder stands for (a receipt, a new key), or
    # None. Put in at the moment of sending, masked in the log files.
    secret: Mapped[str | None] = mapped_column(Text)
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


class FailedAddress(db.Model):
    """An address the mail server refused for good: not retried for ever, shown to admins."""

    __tablename__ = "failed_addresses"

    address: Mapped[str] = mapped_column(String(300), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
