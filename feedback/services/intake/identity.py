"""Sealing a denouncer's identity (Law on Denunciations 2018, art. 47: the denouncer's
name, address and anything that identifies them are kept secret).

The identity is stored only as a Fernet token (AES-128-CBC + HMAC-SHA256) under the key
``IDENTITY_KEY`` from configuration, so the database file, its backups and its logs hold
no clear text. Production requires its own key: the session secret may be rotated, this
key must not be lost. Development and tests derive one from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from ...config import is_relaxed


@dataclass(frozen=True)
class Identity:
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def is_empty(self) -> bool:
        return not (self.name or self.phone or self.email)


def _fernet() -> Fernet:
    key = current_app.config.get("IDENTITY_KEY")
    if not key:
        if not is_relaxed(current_app.config):
            raise RuntimeError("IDENTITY_KEY is not configured")
        digest = hashlib.sha256(b"identity:" + current_app.config["SECRET_KEY"].encode()).digest()
        key = base64.urlsafe_b64encode(digest)
    return Fernet(key)


def seal(identity: Identity) -> str | None:
    if identity.is_empty():
        return None
    payload = json.dumps(
        {"name": identity.name, "phone": identity.phone, "email": identity.email},
        ensure_ascii=False,
    ).encode()
    return _fernet().encrypt(payload).decode()


def unseal(token: str | None) -> Identity:
    if not token:
        return Identity()
    try:
        data = json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise RuntimeError("the identity key does not open this record") from exc
    return Identity(data.get("name"), data.get("phone"), data.get("email"))


SEALED_PREFIX = "sealed:"


def identity_of(case: Any) -> Identity:
    """The reporter of ``case``, unsealed when it is a denunciation. Callers check the
    VIEW_IDENTITY permission first."""
    if case.identity_sealed:
        return unseal(case.identity_sealed)
    return Identity(case.reporter_name, case.reporter_phone, case.reporter_email)


def seal_text(text: str) -> str:
    """Any text that must not rest in clear in the database, its WAL or its backups (a
    denouncer's e-mail in the outbox, an API answer holding an access key), marked with
    SEALED_PREFIX so a reader knows to open it and a CHECK constraint can insist on it."""
    return SEALED_PREFIX + _fernet().encrypt(text.encode("utf-8")).decode()


def open_text(stored: str) -> str:
    """The clear text of ``seal_text``'s output, byte for byte; text never sealed is
    returned as it is."""
    if not stored.startswith(SEALED_PREFIX):
        return stored
    try:
        return _fernet().decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode("utf-8")
    except InvalidToken as exc:
        raise RuntimeError("the identity key does not open this record") from exc


def seal_recipient(address: str) -> str:
    """An outbox address that must not sit in clear text (a denouncer's e-mail)."""
    return seal_text(address)


def open_recipient(recipient: str) -> str:
    return open_text(recipient)
