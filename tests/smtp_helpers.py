"""A real SMTP server for tests (aiosmtpd), and staff accounts with e-mail addresses.

``MailServer`` binds 127.0.0.1 on a free port, records every message it accepts (parsed
with the modern e-mail policy, so headers come back decoded) and every RCPT it sees, can
refuse chosen addresses with a given reply, and can be stopped and started again on the
same port to play a mail server that goes down and comes back.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

PASSWORD = "mat-khau-thu-nghiem-1"
_names = itertools.count()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content())


@dataclass
class RecordingHandler:
    """aiosmtpd handler: refuses the addresses in ``refuse`` (address -> SMTP reply) at
    RCPT, stores everything else."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rcpt_seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            self.rcpt_seen.append(address)
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, content)
            )
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    def start(self) -> MailServer:
        assert self.controller is None, "already running"
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def rcpt_seen(self) -> list[str]:
        with self.handler.lock:
            return list(self.handler.rcpt_seen)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received if address in m.rcpt_tos]

    def config(self) -> dict[str, Any]:
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port}


def mail_log_text(path: Any) -> str:
    """instance/mail.log as a reader sees it: headers and decoded bodies. On disk the
    bodies are base64, where a search of the raw bytes finds no text at all, secret or not."""
    texts = []
    for chunk in Path(path).read_text(encoding="utf-8").split("\n" + "=" * 72 + "\n"):
        if not chunk.strip():
            continue
        message = email.message_from_string(chunk, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        texts.append(str(message) + "\n" + (str(body.get_content()) if body else ""))
    return "\n".join(texts)


def add_staff(app: Flask, role: str, unit_code: str | None, email_address: str) -> int:
    """A staff account with an e-mail address; call it outside any open unit of work."""
    from feedback.database import unit_of_work
    from feedback.services.accounts.users import create_user

    name = f"{role}_mail{next(_names)}"
    with app.app_context(), unit_of_work():
        user = create_user(
            name,
            role,
            PASSWORD,
            unit_code=unit_code,
            full_name=f"Cán bộ {name}",
            email=email_address,
        )
        return int(user.id)
