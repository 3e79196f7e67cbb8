""" "Lost my key": a new access key for a case, sent to a contact the citizen gave.

The access key is shown once and stored only as a hash, so it cannot be sent again; a
citizen who lost it (the success page reloaded, the note went missing) asks with the case
code and the phone number or e-mail address on record. When both match, a new key
replaces the old one (which stops working at once) and goes to that contact only, by the
outbox (sealed there, masked in the logs). It is never shown on screen: whoever knows a
code and a phone number must not get the case that way.

The caller answers the same whatever happened, so the page cannot be used to learn
whether a code exists or which contact a case has; the views rate-limit it per address
and per case code. Both outcomes are audited (who asked from where, never the contact
typed, which is personal data).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import func, select

from ...domain.contact import same_phone
from ...extensions import db
from ...models import AuditLog, Case
from ..accounts.audit import record as audit
from ..sla.notify import tell_citizen
from .identity import identity_of
from .submission import hash_access_key, new_access_key

CITIZEN = (None, "Người dân")


def _matching_contact(case: Case, contact: str) -> str | None:
    """ "email" or "phone" when ``contact`` is the case's e-mail address (any case) or its
    phone number (any spelling of it), else None."""
    who = identity_of(case)
    if "@" in contact:
        email = (who.email or "").strip().lower()
        return "email" if email and email == contact.lower() else None
    return "phone" if same_phone(who.phone, contact) else None


REISSUED = "case.access_key_reissued"


def _reissued_since(code: str, since: datetime) -> int:
    return (
        db.session.scalar(
            select(func.count(AuditLog.id)).where(
                AuditLog.action == REISSUED, AuditLog.target == code, AuditLog.at > since
            )
        )
        or 0
    )


def reissue_access_key(code: str, contact: str, *, now: datetime, per_case_day: int = 3) -> bool:
    """Replace the key of case ``code`` and send the new one to ``contact`` when that is
    the case's phone or e-mail on record; True when it did. The caller must not tell the
    citizen which (see the module). Runs inside the caller's unit of work.

    At most ``per_case_day`` new keys a day for one case, counted from the audit log: only
    requests that matched count, so a stranger who knows a code cannot use up its owner's
    budget, and one who knows code and contact cannot flood that phone."""
    code = (code or "").strip().upper()[:24]
    contact = (contact or "").strip()[:200]
    query = select(Case).where(Case.code == code)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two requests at once: one key wins, in order
    case = db.session.scalar(query) if code and contact else None
    channel = _matching_contact(case, contact) if case is not None else None
    kind = "email" if "@" in contact else "phone"
    if case is None or channel is None:
        audit("case.access_key_refused", actor=CITIZEN, target=code, details={"contact": kind})
        return False
    if _reissued_since(case.code, now - timedelta(days=1)) >= per_case_day:
        audit("case.access_key_limited", actor=CITIZEN, target=case.code, details={"contact": kind})
        return False
    key = new_access_key()
    case.access_key_hash = hash_access_key(key)
    tell_citizen(
        case,
        kind="access_key",
        reason=secrets.token_hex(6),  # every request is its own message
        now=now,
        with_due=False,
        access_key=key,
        only=channel,
        text=lazy_gettext(
            "Theo đề nghị gửi từ trang Tra cứu, hồ sơ %(code)s đã được cấp mã tra cứu mới. "
            "Mã tra cứu cũ không còn dùng được. Nếu ông/bà không đề nghị việc này, xin vui "
            "lòng liên hệ cơ quan tiếp nhận.",
            code=case.code,
        ),
    )
    audit(REISSUED, actor=CITIZEN, target=case.code, details={"contact": channel})
    return True
