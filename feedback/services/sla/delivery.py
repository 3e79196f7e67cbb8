"""Delivering the outbox: SMTP when configured, a log file under instance/ otherwise; SMS
and Zalo rows through their adapters (services.sla.channels), with the same leases,
back-off and permanent failures.

Rows are claimed with a lease (status 'sending', lease_until) by a conditional UPDATE, so
two schedulers never send the same row at the same time, and a process that dies while
sending gives the row back when its lease runs out. A send that fails is retried with
exponential back-off; an address the server refuses for good is marked failed and never
retried.

SMTP cannot be exactly-once: between the server's "250 OK" and our UPDATE to 'sent' a
crash loses the knowledge that the mail left. We choose at-least-once (the row is sent
again after its lease) and make the copy harmless: the Message-ID is derived from the
row's dedupe key, so the receiving side sees the same message twice, never two messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
from collections import Counter
from datetime import datetime, timedelta
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from ...extensions import db
from ...models import FailedAddress, Notification
from ..intake.identity import SEALED_PREFIX, open_recipient, open_text
from .channels import Refused, Sms, TryLater, Zalo
from .notify import KEY_MASK, KEY_SLOT

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH = 100


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes, at most 2 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 120))


def message_id(note: Notification) -> str:
    digest = hashlib.sha256(note.dedupe_key.encode()).hexdigest()[:32]
    return f"<{digest}@feedback.hagiang.gov.vn>"


def claim(now: datetime, limit: int = BATCH) -> list[int]:
    """Take up to ``limit`` due rows under a lease (until ``now + LEASE``, which identifies
    this claim); returns the ids this process owns."""
    due = or_(
        and_(Notification.status == "pending", Notification.next_attempt_at <= now),
        and_(Notification.status == "sending", Notification.lease_until < now),
    )
    stmt = select(Notification.id).where(due).order_by(Notification.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(stmt))
    owned: list[int] = []
    for note_id in ids:
        taken = db.session.execute(
            update(Notification)
            .where(Notification.id == note_id, due)
            .values(status="sending", lease_until=now + LEASE, attempts=Notification.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            owned.append(note_id)
    db.session.commit()  # the lease is visible to others before the slow part starts
    return owned


def _build(note: Notification, recipient: str, body: str) -> MIMEText:
    # The legacy API on purpose: the modern EmailMessage folds long encoded subjects and
    # drops the space at the fold (CPython gh-144156), "tiếp nhận" arriving as "tiếpnhận".
    msg = MIMEText(body, "plain", "utf-8")
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = recipient
    msg["Subject"] = Header(note.subject, "utf-8")
    msg["Message-ID"] = note.message_id or message_id(note)
    msg["Date"] = format_datetime(note.created_at)
    return msg


class Transport:
    """SMTP when MAIL_SERVER is set, else a log file (development)."""

    def __init__(self) -> None:
        cfg = current_app.config
        self.server = cfg.get("MAIL_SERVER")
        self.port = int(cfg.get("MAIL_PORT") or 25)
        self.tls = bool(cfg.get("MAIL_USE_TLS"))
        self.username, self.password = cfg.get("MAIL_USERNAME"), cfg.get("MAIL_PASSWORD")
        self.log_path = Path(current_app.instance_path) / "mail.log"
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Transport:
        if self.server:
            self.smtp = smtplib.SMTP(self.server, self.port, timeout=30)
            if self.tls:
                self.smtp.starttls()
            if self.username:
                self.smtp.login(self.username, self.password or "")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.smtp.quit()

    def send(self, build: Any, *, confidential: bool = False) -> None:
        """``build(key_text)`` makes the message: with the real access key for the mail
        server, with KEY_MASK for the log, which is not a mailbox."""
        if self.smtp is not None:
            self.smtp.send_message(build(None))
            return
        msg = build(KEY_MASK)
        with self.log_path.open("a", encoding="utf-8") as log:
            if confidential:
                # A log is not a mailbox: a denouncer's address never lands in it.
                msg.replace_header("To", "undisclosed-recipients:;")
            log.write(msg.as_string() + "\n" + "=" * 72 + "\n")


def _finish(note_id: int, now: datetime, **values: Any) -> None:
    # Only the lease holder may finish the row: a send that outlived its lease lost it to
    # another process, whose lease_until differs from ours.
    db.session.execute(
        update(Notification)
        .where(
            Notification.id == note_id,
            Notification.status == "sending",
            Notification.lease_until == now + LEASE,
        )
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver(now: datetime, limit: int = BATCH) -> dict[str, int]:
    summary: Counter[str] = Counter()
    ids = claim(now, limit)
    if not ids:
        return {}
    # Phone channels first and on their own: a mail server that is down must not hold
    # back an SMS, nor a gateway that is down an e-mail.
    channel_of = dict(
        db.session.execute(
            select(Notification.id, Notification.channel).where(Notification.id.in_(ids))
        ).all()
    )
    phone_ids = [i for i in ids if channel_of.get(i) in ("sms", "zalo")]
    ids = [i for i in ids if i not in set(phone_ids)]
    if phone_ids:
        adapters = {"sms": Sms(), "zalo": Zalo()}
        for note_id in phone_ids:
            note = db.session.get(Notification, note_id)
            if note is not None:
                summary[_deliver_phone(adapters[note.channel], note, now)] += 1
    if not ids:
        return dict(summary)
    try:
        transport = Transport().__enter__()
    except (OSError, smtplib.SMTPException) as exc:
        # The server is down: give every claimed row back for a later try, nothing lost.
        for note_id in ids:
            note = db.session.get(Notification, note_id)
            _finish(
                note_id,
                now,
                status="pending",
                last_error=f"máy chủ thư: {exc}"[:500],
                next_attempt_at=now + backoff(note.attempts if note else 1),
            )
        summary["deferred"] += len(ids)
        return dict(summary)
    try:
        for note_id in ids:
            note = db.session.get(Notification, note_id)
            if note is None:
                continue
            summary[_deliver_one(transport, note, now)] += 1
    finally:
        transport.__exit__(None, None, None)
    return dict(summary)


def _failed_key(note: Notification, address: str) -> str:
    """How a refused address is remembered: in clear for staff and citizens (admins need to
    see it), as a hash for a sealed (denouncer's) address, which must not sit in clear."""
    if note.recipient.startswith(SEALED_PREFIX):
        return "sha256:" + hashlib.sha256(address.strip().lower().encode()).hexdigest()
    return address


def _safe_error(exc: BaseException, note: Notification, address: str) -> str:
    text = str(exc)
    if note.recipient.startswith(SEALED_PREFIX):
        text = text.replace(address, "[địa chỉ được bảo mật]")
    return text[:500]


def _deliver_one(transport: Transport, note: Notification, now: datetime) -> str:
    try:
        recipient = open_recipient(note.recipient)
    except RuntimeError as exc:
        # Sealed under another key: this row cannot be sent, the others still can.
        _finish(note.id, now, status="failed", last_error=str(exc)[:500])
        return "failed"
    key = _failed_key(note, recipient)
    if db.session.get(FailedAddress, key) is not None:
        _finish(note.id, now, status="failed", last_error="địa chỉ đã bị từ chối trước đó")
        return "skipped"
    note.message_id = note.message_id or message_id(note)
    secret, problem = _open_secret(note)

    def build(shown: str | None) -> MIMEText:
        return _build(note, recipient, note.body.replace(KEY_SLOT, shown or secret or KEY_MASK))

    try:
        transport.send(build, confidential=note.recipient.startswith(SEALED_PREFIX))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            # A permanent refusal (5xx): never retried, remembered for the next messages.
            error = _safe_error(exc, note, recipient)
            db.session.merge(FailedAddress(address=key, reason=error, failed_at=now))
            _finish(note.id, now, status="failed", last_error=error, message_id=note.message_id)
            return "failed"
        return _retry(note, now, _safe_error(exc, note, recipient))  # 4xx: greylisting, full
    except (OSError, smtplib.SMTPException) as exc:
        return _retry(note, now, _safe_error(exc, note, recipient))
    _finish(
        note.id, now, status="sent", sent_at=now, message_id=note.message_id, last_error=problem
    )
    return "sent"


def _retry(note: Notification, now: datetime, error: str) -> str:
    gave_up = note.attempts >= MAX_ATTEMPTS
    _finish(
        note.id,
        now,
        status="failed" if gave_up else "pending",
        last_error=error,
        next_attempt_at=now + backoff(note.attempts),
        message_id=note.message_id,
    )
    return "failed" if gave_up else "retry"


def _deliver_phone(adapter: Sms | Zalo, note: Notification, now: datetime) -> str:
    """One SMS or Zalo row: sent, retried with back-off, or failed for good."""
    try:
        recipient = open_recipient(note.recipient)
    except RuntimeError as exc:
        _finish(note.id, now, status="failed", last_error=str(exc)[:500])
        return "failed"
    secret, problem = _open_secret(note)
    confidential = note.recipient.startswith(SEALED_PREFIX)
    try:
        if isinstance(adapter, Zalo):
            adapter.send(
                to=recipient,
                template_id=note.subject,
                data_json=note.body,
                dedupe_id=note.dedupe_key,
                key=secret,
                confidential=confidential,
                at=now,
            )
        else:
            adapter.send(
                to=recipient,
                body=note.body,
                dedupe_id=note.dedupe_key,
                key=secret,
                confidential=confidential,
                at=now,
            )
    except Refused as exc:
        _finish(note.id, now, status="failed", last_error=_safe_error(exc, note, recipient))
        return "failed"
    except TryLater as exc:
        return _retry(note, now, _safe_error(exc, note, recipient))
    _finish(note.id, now, status="sent", sent_at=now, last_error=problem)
    return "sent"


def _open_secret(note: Notification) -> tuple[str | None, str | None]:
    """The access key a message carries, and why not when the identity key cannot open it
    (sealed under another key): the message still goes, with the key masked, since the
    code and the link are worth having and "lost my key" gives a new one."""
    if not note.secret:
        return None, None
    try:
        return open_text(note.secret), None
    except RuntimeError as exc:
        return None, f"gửi không kèm mã tra cứu: {exc}"[:500]
