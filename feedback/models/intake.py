"""Intake bookkeeping: stored answers for idempotent API posts, and 1022 import batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class IdempotencyKey(db.Model):
    """The first answer to a POST carrying an ``Idempotency-Key``, replayed to retries.

    ``scope`` separates clients (a token's user, or the public), so one client's key cannot
    fetch another's answer; ``request_hash`` refuses the same key reused for another body.
    ``response_body`` holds an access key, so it is stored sealed with the identity key
    (empty only while the first request is still being answered); the database refuses
    anything else."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint(
            "response_body = '' OR response_body LIKE 'sealed:%'", name="response_sealed"
        ),
    )

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
        CheckConstraint("rows_done >= 0 AND rows_done <= rows_total", name="progress"),
        CheckConstraint("status IN ('running', 'done', 'interrupted')", name="status"),
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
    # Progress of a file imported in chunks (services.intake.import1022.import_in_chunks):
    # each chunk commits its cases with these counts, so a page shows how far a running
    # import has come, and a batch a killed process left behind stays "running" with the
    # rows it had committed. A re-run is a new batch; finished_at is set when it is done.
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    rows_total: Mapped[int] = mapped_column(default=0, server_default="0")
    rows_done: Mapped[int] = mapped_column(default=0, server_default="0")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AttachmentBlob(db.Model):
    """An attachment's bytes in the database, when ``ATTACHMENT_STORAGE=database``: every
    web machine reads what any of them received, and a database backup holds the files
    too. Written in the same transaction as its attachment row (no file to clean up after
    a rollback). PostgreSQL ``bytea``, SQLite ``BLOB``; files are at most 10 MiB."""

    __tablename__ = "attachment_blobs"

    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)
