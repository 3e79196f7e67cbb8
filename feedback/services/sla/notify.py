"""Writing messages to the outbox, in the same transaction as the change that causes them.

The dedupe key names the case, the kind of message and the event (or deadline revision)
that caused it, under a unique constraint: a message is written once, whoever retries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text

from ...extensions import db
from ...i18n import format_local_long
from ...models import Case, UTCDateTime
from ..intake.identity import identity_of, seal_recipient

# Plain SQL both engines speak, so its compiled form is cached (the dialects'
# insert().on_conflict_do_nothing() has no cache key and was compiled on every call).
_QUEUE = text(
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
) -> bool:
    """Add one message unless its key was already written; True when it was written.

    One ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` on the session's connection: a
    retry, or another process writing the same message at the same moment, writes nothing
    and fails nothing."""
    session = db.session
    if case is not None and case.id is None:
        session.flush()  # the row refers to the case by its id
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
    return session.connection().execute(_QUEUE, params).rowcount == 1


def tell_citizen(
    case: Case, *, kind: str, reason: str, text: str, now: datetime, with_due: bool = True
) -> None:
    """A message to the reporter, if they left an e-mail address. A denouncer's address is
    sealed in the outbox and the message names nobody."""
    email = identity_of(case).email
    if not email:
        return
    recipient = seal_recipient(email) if case.identity_sealed else email
    queue(
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
