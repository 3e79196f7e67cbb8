"""Writing messages to the outbox, in the same transaction as the change that causes them.

The dedupe key names the case, the kind of message and the event (or deadline revision)
that caused it, under a unique constraint: a message is written once, whoever retries.

A citizen's message goes to every contact they gave (issue 15): e-mail, SMS to the phone,
and Zalo (a ZNS template message to the same phone) for the kinds that have an approved
template. Each channel is its own row with its own dedupe key, so a gateway that is down
delays its own messages and nobody else's.

An access key (the receipt, a new key after "lost my key") never rests in clear text: the
body holds ``KEY_SLOT`` and the row's ``secret`` the key sealed under the identity key;
delivery puts the key in at the last moment, and the log-file fallbacks write ``KEY_MASK``.

A citizen's message is written in the language of the page the case was sent from
(``case.language``, issue 15), whatever language the officer acting on it reads: every
fixed part is translated inside ``force_locale(case.language)``, and callers pass their
``text`` as a ``lazy_gettext`` (a LazyString) so it is turned into words there too. Free
text typed by staff (an answer, a question, a reason) goes in as typed.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

from flask import current_app
from flask_babel import LazyString, force_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, text

from ...domain.contact import to_e164
from ...domain.marks import N_
from ...domain.text import unaccent
from ...extensions import db
from ...i18n import format_local_long
from ...models import Case, UTCDateTime
from ..intake.identity import identity_of, seal_recipient, seal_text

# Plain SQL both engines speak, so its compiled form is cached (the dialects'
# insert().on_conflict_do_nothing() has no cache key and was compiled on every call).
_QUEUE = text(
    "INSERT INTO notifications (dedupe_key, case_id, kind, channel, recipient, subject, body,"
    " secret, status, attempts, next_attempt_at, created_at) VALUES (:dedupe_key, :case_id,"
    " :kind, :channel, :recipient, :subject, :body, :secret, 'pending', 0, :next_attempt_at,"
    " :created_at) ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(
    bindparam("next_attempt_at", type_=UTCDateTime()), bindparam("created_at", type_=UTCDateTime())
)
SENDER = N_("Hệ thống tiếp nhận phản ánh, kiến nghị – UBND thành phố Hà Giang")
SIGNATURE = f"\n\n--\n{SENDER}"
"""The Vietnamese signature; a citizen's message carries ``signature()``, in its language."""
KEY_SLOT = "[[MA_TRA_CUU]]"
KEY_MASK = "****"

# What an SMS (and a Zalo message) says, per kind of message: short (a link carries the
# rest), no names, no subject (a phone's lock screen shows it). {code} is the case code.
# Marked for the catalogue and translated where used (``what_happened``).
SMS_TEXTS = {
    "receipt": N_("Đã tiếp nhận hồ sơ {code}."),
    "acknowledged": N_("Hồ sơ {code} đã được tiếp nhận xử lý."),
    "ask_citizen": N_("Hồ sơ {code}: cơ quan đề nghị ông/bà bổ sung thông tin."),
    "answered": N_("Hồ sơ {code} đã có trả lời."),
    "rejected": N_("Hồ sơ {code} không được thụ lý, xem lý do tại trang tra cứu."),
    "merged": N_("Hồ sơ {code} được gộp vào hồ sơ cùng nội dung."),
    "transferred": N_("Hồ sơ {code} đã được chuyển đến cơ quan có thẩm quyền."),
    "reopened": N_("Hồ sơ {code} đã được mở lại để giải quyết tiếp."),
    "apology": N_("Hồ sơ {code}: có thư xin lỗi của cơ quan."),
    "access_key": N_("Mã tra cứu mới của hồ sơ {code}; mã cũ không còn dùng được."),
    "progress": N_("Hồ sơ {code}: cơ quan báo tiến độ và ngày hẹn trả lời."),
}
SMS_DEFAULT = N_("Hồ sơ {code} có thông tin mới.")


def queue(
    *,
    dedupe_key: str,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    case: Case | None = None,
    channel: str = "email",
    secret: str | None = None,
    signed: bool = True,
) -> bool:
    """Add one message unless its key was already written; True when it was written.

    One ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` on the session's connection: a
    retry, or another process writing the same message at the same moment, writes nothing
    and fails nothing. ``secret`` (an access key) is sealed here, never stored in clear."""
    session = db.session
    if case is not None and case.id is None:
        session.flush()  # the row refers to the case by its id
    params = {
        "dedupe_key": dedupe_key,
        "case_id": case.id if case is not None else None,
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body + SIGNATURE if signed else body,
        "secret": seal_text(secret) if secret else None,
        "next_attempt_at": now,
        "created_at": now,
    }
    return session.connection().execute(_QUEUE, params).rowcount == 1


def follow_link(code: str) -> str:
    """The look-up page with the case code filled in (never the key: a URL ends up in
    browser histories and server logs)."""
    base = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return f"{base}/tra-cuu?ma={quote(code)}"


def signature() -> str:
    """The signature under a citizen's e-mail, in the current (forced) language."""
    return f"\n\n--\n{_(SENDER)}"


def what_happened(kind: str, code: str) -> str:
    """The SMS's and Zalo's one sentence, in the current (forced) language."""
    return _(SMS_TEXTS.get(kind, SMS_DEFAULT)).format(code=code)


def sms_text(kind: str, code: str, *, with_key: bool) -> str:
    """The short text of one SMS: what happened, the key when it carries one, the link;
    without diacritics when SMS_UNACCENTED is on (case and punctuation stay)."""
    what = what_happened(kind, code)
    key = " " + _("Mã tra cứu: %(key)s", key=KEY_SLOT) + "." if with_key else ""
    message = f"{what}{key} " + _("Tra cứu: %(link)s", link=follow_link(code))
    return unaccent(message) if current_app.config.get("SMS_UNACCENTED", True) else message


def zalo_template(kind: str) -> str | None:
    return (current_app.config.get("ZALO_TEMPLATE_IDS") or {}).get(kind)


def zalo_data(kind: str, code: str, *, with_key: bool) -> str:
    """The ZNS template_data, as JSON: the parameters every template of this service is
    registered with (README): case_code, message, link, and access_key where it applies."""
    data = {
        "case_code": code,
        "message": what_happened(kind, code),
        "link": follow_link(code),
    }
    if with_key:
        data["access_key"] = KEY_SLOT
    return json.dumps(data, ensure_ascii=False)


def _email_body(case: Case, text: str, with_due: bool, with_key: bool) -> str:
    salutation = _("Kính gửi ông/bà,")  # outside the f-string, where pybabel finds it
    lines = [f"{salutation}\n\n{text}\n"]
    if with_due:
        lines.append(_("Hạn trả lời: %(due)s.", due=format_local_long(case.response_due_at)))
    if with_key:
        code_line = _("Mã hồ sơ: %(code)s", code=case.code)
        key_line = _("Mã tra cứu: %(key)s", key=KEY_SLOT)
        lines.append(f"{code_line}\n{key_line}")
    lines.append(
        _(
            "Ông/bà theo dõi hồ sơ bằng mã hồ sơ và mã tra cứu tại trang Tra cứu: %(link)s",
            link=follow_link(case.code),
        )
    )
    return "\n".join(lines) + signature()


def joined(*parts: str | LazyString, sep: str = "\n\n") -> LazyString:
    """Parts of a message (translated texts and staff's words), joined when the message
    is written, in its language; empty parts are left out."""
    return LazyString(lambda: sep.join(filter(None, (str(p) for p in parts))))


def tell_citizen(
    case: Case,
    *,
    kind: str,
    reason: str,
    text: str | LazyString,
    now: datetime,
    with_due: bool = True,
    access_key: str | None = None,
    only: str | None = None,
) -> int:
    """A message to the reporter on every contact they left: e-mail, SMS, and Zalo when a
    template is configured for ``kind``. A denouncer's addresses are sealed in the outbox
    and no message names anybody. ``access_key`` goes in sealed (see the module).
    ``only`` ("email" or "phone") restricts it to one contact: a new key goes only to the
    contact that asked for it. Returns the number of rows written.

    Written in ``case.language``: ``text`` (a LazyString from ``lazy_gettext``, or plain
    text) is turned into words inside ``force_locale``, as every fixed part is."""
    with force_locale(case.language or "vi"):
        return _tell(case, kind, reason, str(text), now, with_due, access_key, only)


def _tell(
    case: Case,
    kind: str,
    reason: str,
    text: str,
    now: datetime,
    with_due: bool,
    access_key: str | None,
    only: str | None,
) -> int:
    who = identity_of(case)
    sealed = bool(case.identity_sealed)
    base = f"case:{case.code}:{kind}:{reason}"
    with_key = access_key is not None
    written = 0

    def address(value: str) -> str:
        return seal_recipient(value) if sealed else value

    email = (who.email or "").strip()
    if email and only in (None, "email"):
        written += queue(
            dedupe_key=base,  # e-mail keeps the key it always had
            recipient=address(email),
            subject=f"[{case.code}] {case.subject}"[:300],
            body=_email_body(case, text, with_due, with_key),
            kind=kind,
            now=now,
            case=case,
            secret=access_key,
            signed=False,  # _email_body signs it, in the citizen's language
        )
    phone = to_e164(who.phone)
    if phone and only in (None, "phone"):
        written += queue(
            dedupe_key=f"{base}:sms",
            recipient=address(phone),
            subject=f"[{case.code}] {kind}"[:300],
            body=sms_text(kind, case.code, with_key=with_key),
            kind=kind,
            now=now,
            case=case,
            channel="sms",
            secret=access_key,
            signed=False,
        )
        template = zalo_template(kind)
        if template:  # the same contact: a phone that may read Zalo rather than SMS
            written += queue(
                dedupe_key=f"{base}:zalo",
                recipient=address(phone),
                subject=template,
                body=zalo_data(kind, case.code, with_key=with_key),
                kind=kind,
                now=now,
                case=case,
                channel="zalo",
                secret=access_key,
                signed=False,
            )
    return written
