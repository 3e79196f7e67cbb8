"""Writing messages to the outbox, in the same transaction as the change that causes them.

The dedupe key names the case, the kind of message and the event (or deadline revision)
that caused it, under a unique constraint: a message is written once, whoever retries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, text

from ..extensions import db
from ..i18n import format_local_long
from ..models import Case, Notification, UTCDateTime
from .identity import identity_of, seal_recipient

# Plain SQL both engines speak, so its compiled form is cached (the dialects'
# insert().on_conflict_do_nothing() has no cache key and was compiled on every call).
_QUEUE_ONCE = text(
    "INSERT INTO notifications (dedupe_key, case_id, kind, channel, recipient, subject, body,"
    " status, attempts, next_attempt_at, created_at) VALUES (:dedupe_key, :case_id, :kind,"
    " 'email', :recipient, :subject, :body, 'pending', 0, :next_attempt_at, :created_at)"
    " ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(
    bindparam("next_attempt_at", type_=UTCDateTime()), bindparam("created_at", type_=UTCDateTime())
)
SIGNATURE = "\n\n--\nHệ thống tiếp nhận phản ánh, kiến nghị – UBND thành phố Hà Giang"


def queue(
    *,
    dedupe_key: str,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    case: Case | None = None,
) -> Notification | None:
    """Add one message unless its key was already written (then None)."""
    if db.session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)):
        return None
    note = Notification(
        dedupe_key=dedupe_key,
        case=case,
        kind=kind,
        channel="email",
        recipient=recipient,
        subject=subject,
        body=body + SIGNATURE,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(note)
    return note


def queue_once(
    *,
    dedupe_key: str,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    case: Case | None = None,
) -> bool:
    """What :func:`queue` does, for callers that need no instance back: one
    ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` instead of a SELECT and an ORM
    insert. True when the row was written."""
    session = db.session
    if session.autoflush:
        session.flush()  # as the SELECT of queue() would: the case gets its id
    if case is not None and case.id is None:  # not flushed (no_autoflush): the ORM way
        return (
            queue(
                dedupe_key=dedupe_key,
                recipient=recipient,
                subject=subject,
                body=body,
                kind=kind,
                now=now,
                case=case,
            )
            is not None
        )
    params = {
        "dedupe_key": dedupe_key,
        "case_id": case.id if case is not None else None,
        "kind": kind,
        "recipient": recipient,
        "subject": subject,
        "body": body + SIGNATURE,
        "next_attempt_at": now,
        "created_at": now,
    }
    return session.connection().execute(_QUEUE_ONCE, params).rowcount == 1


def tell_citizen(
    case: Case, *, kind: str, reason: str, text: str, now: datetime, with_due: bool = True
) -> None:
    """A message to the reporter, if they left an e-mail address. A denouncer's address is
    sealed in the outbox and the message names nobody."""
    email = identity_of(case).email
    if not email:
        return
    recipient = seal_recipient(email) if case.identity_sealed else email
    queue_once(
        dedupe_key=f"case:{case.code}:{kind}:{reason}",
        recipient=recipient,
        subject=f"[{case.code}] {case.subject}"[:300],
        body=(
            f"Kính gửi ông/bà,\n\n{text}\n\n"
            + (f"Hạn trả lời: {format_local_long(case.response_due_at)}.\n" if with_due else "")
            + "Ông/bà theo dõi hồ sơ bằng mã hồ sơ và mã tra cứu tại trang Tra cứu."
        ),
        kind=kind,
        now=now,
        case=case,
    )
