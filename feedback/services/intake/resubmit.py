"""The citizen's web form sent twice: one case, not two.

A connection that dies after the case is committed (a phone losing signal on the way
back) leaves the citizen without the success page; pressing "Gửi" again must not file
the same matter a second time. The form carries a one-time token (``form_token``,
rendered into a hidden field when the form is shown). The first POST with it stores, in
the same transaction as the case, a row in ``idempotency_keys`` (scope ``web``, the
store the JSON API's ``Idempotency-Key`` uses: unique (scope, key), purged by the
scheduler after two days); a second POST with the same token and the same content finds
it and gets the same case back, access key included, so the success page it shows is the
one the citizen never saw.

- The key column holds a hash of the token and the content, never the token itself: the
  same token with other content (the citizen went back, changed the text and sent again)
  is a new submission and files a new case.
- The access key, which ``cases`` keeps only as a hash, rests in the stored answer sealed
  with the identity key (``seal_text``; the table refuses anything unsealed), for as long
  as the row lives. A replay is possible only while the form's CSRF token is valid (four
  hours), which is shorter.
- Two concurrent first POSTs: on SQLite BEGIN IMMEDIATE lets one in at a time, and the
  second finds the first's row; on PostgreSQL the second blocks on the unique index and,
  once the first commits, fails there, its case rolled back, and replays the first.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...database import unit_of_work
from ...domain.marks import N_
from ...extensions import db
from ...models import Case, IdempotencyKey
from ..errors import Conflict
from .identity import open_text, seal_text
from .submission import CaseInput, submit_case

WEB_SCOPE = "web"
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,64}")


@dataclass(frozen=True)
class WebReceipt:
    """What the success page shows: the case code, the access key (None if it cannot be
    shown again) and whether this POST repeated an earlier one."""

    code: str
    access_key: str | None
    repeated: bool


def form_token() -> str:
    """A new one-time token for a form about to be shown."""
    return secrets.token_urlsafe(24)


def usable_token(value: str | None) -> str | None:
    """The posted token, or None when there is none or it is not one of ours (the form
    then still works, without the protection against a repeat)."""
    value = (value or "").strip()
    return value if _TOKEN.fullmatch(value) else None


def _digests(token: str, data: CaseInput) -> tuple[str, str]:
    """(key, content hash): the content is what the citizen typed and chose."""
    who = data.reporter
    content = json.dumps(
        [
            data.kind,
            data.category_code,
            data.area_code,
            data.address,
            data.subject,
            data.body,
            who.name,
            who.phone,
            who.email,
            bool(who.anonymous),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    content_hash = hashlib.sha256(content.encode("utf-8")).hexdigest()
    key = hashlib.sha256(f"{token}\n{content_hash}".encode()).hexdigest()
    return key, content_hash


def _stored(key: str) -> IdempotencyKey | None:
    return db.session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == WEB_SCOPE, IdempotencyKey.key == key)
    )


def _replay(stored: IdempotencyKey) -> WebReceipt:
    answer = json.loads(open_text(stored.response_body)) if stored.response_body else {}
    code = answer.get("code") or db.session.scalar(
        select(Case.code).where(Case.id == stored.case_id)
    )
    return WebReceipt(code=code or "", access_key=answer.get("access_key"), repeated=True)


def submit_web_once(token: str | None, data: CaseInput, now: datetime) -> WebReceipt:
    """File the citizen's case, or return the one an earlier POST of the same form filed.
    Runs its own transaction (and, after losing a race, a second one to read the
    winner's answer)."""
    if token is None:
        with unit_of_work():
            result = submit_case(data, actor=None, now=now)
            return WebReceipt(result.case.code, result.access_key, repeated=False)
    key, content_hash = _digests(token, data)
    try:
        with unit_of_work():
            stored = _stored(key)
            if stored is not None:
                return _replay(stored)
            result = submit_case(data, actor=None, now=now)
            answer = {"code": result.case.code, "access_key": result.access_key}
            db.session.add(
                IdempotencyKey(
                    scope=WEB_SCOPE,
                    key=key,
                    request_hash=content_hash,
                    status_code=303,
                    response_body=seal_text(json.dumps(answer)),  # it holds the access key
                    case_id=result.case.id,
                    created_at=now,
                )
            )
            db.session.flush()
            return WebReceipt(result.case.code, result.access_key, repeated=False)
    except IntegrityError:
        with unit_of_work():
            stored = _stored(key)
            if stored is None:
                raise Conflict(
                    N_("Hồ sơ trùng với một lần gửi khác đang được xử lý; vui lòng bấm Gửi lại.")
                ) from None
            return _replay(stored)


def earlier_answer(token: str | None, data: CaseInput) -> WebReceipt | None:
    """The answer an earlier POST of this very form got, if one filed a case; None
    otherwise. Reads only: for a repeat whose files are no longer at hand (the public
    form's kept files are removed once their case holds them), which must still get the
    first case back rather than a refusal."""
    if token is None:
        return None
    key, _ = _digests(token, data)
    with unit_of_work():
        stored = _stored(key)
        return _replay(stored) if stored is not None else None
