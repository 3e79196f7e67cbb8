"""Intake: turning what a citizen said, on any channel, into a routed case with deadlines."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import LazyString, lazy_gettext
from flask_babel import gettext as _
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from ...domain.codes import case_code
from ...domain.contact import PHONE_MESSAGE, is_phone
from ...domain.deadlines import local_date
from ...domain.marks import N_
from ...domain.permissions import CASE_KINDS, CONFIDENTIAL_KINDS
from ...domain.states import Status
from ...domain.text import (
    CONTROL_MESSAGE,
    DISGUISE_MESSAGE,
    control_characters,
    disguising_characters,
    fold,
)
from ...extensions import db
from ...i18n import format_local_long
from ...models import CHANNELS, Area, Case, CaseEvent, Category, Unit, User
from ..errors import ValidationError
from ..reference import cache as reference_cache
from ..reference.cache import Reference
from ..sla.notify import tell_citizen
from .attachments import Upload, store_upload
from .identity import Identity, seal

KIND_LABELS = {
    "feedback": N_("Phản ánh"),
    "petition": N_("Kiến nghị"),
    "suggestion": N_("Góp ý"),
    "complaint": N_("Khiếu nại"),
    "denunciation": N_("Tố cáo"),
}
"""Vietnamese, as stored and compared; marked so pages can show them translated (``_()``)."""
CHANNEL_LABELS = {
    "web": N_("Cổng trực tuyến"),
    "hotline": N_("Tổng đài 1022"),
    "box": N_("Hòm thư góp ý"),
    "api": N_("Kết nối API"),
    "email": N_("Thư điện tử"),
    "in_person": N_("Trực tiếp"),
}
RECEIVED_NOTES = {
    "web": N_("Tiếp nhận qua cổng trực tuyến."),
    "hotline": N_("Tiếp nhận qua tổng đài 1022."),
    "box": N_("Tiếp nhận qua hòm thư góp ý."),
    "api": N_("Tiếp nhận qua kết nối api."),
    "email": N_("Tiếp nhận qua thư điện tử."),
    "in_person": N_("Tiếp nhận qua trực tiếp."),
}
"""The first event's note per channel, as it has always been stored (the channel's label in
lower case), marked whole so the timeline shows it in the reader's language."""
# Crockford's alphabet: no I, L, O, U, so a key read aloud or copied by hand survives.
_KEY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CLOCK_SKEW = timedelta(minutes=2)
# Shown in lists and to staff: no invisible or direction-changing characters (the domain's
# rule, which the web forms apply too).
DISGUISE_CHECKED = frozenset({"subject", "reporter.name"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Reporter:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    anonymous: bool = False


@dataclass
class CaseInput:
    kind: str
    subject: str
    body: str
    category_code: str | None = None
    area_code: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    reporter: Reporter = field(default_factory=Reporter)
    channel: str = "web"
    received_at: datetime | None = None
    external_ref: str | None = None
    box_opening_id: int | None = None
    uploads: Sequence[Upload] = ()
    link_to: str | None = None  # a staff member's "same matter as" this case code
    # The language the citizen wrote from (issue 15): their messages are written in it.
    language: str = "vi"


@dataclass
class Submitted:
    case: Case
    access_key: str | None  # None when an existing case was returned (idempotent replay)
    created: bool


def new_access_key() -> str:
    # 80 random bits, five per character: uniform over the alphabet, one call to the OS.
    bits = int.from_bytes(secrets.token_bytes(10), "big")
    raw = "".join(_KEY_ALPHABET[(bits >> (5 * i)) & 31] for i in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_access_key(key: str) -> str:
    cleaned = re.sub(r"[\s\-]", "", key or "").upper()
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    return "-".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))


def hash_access_key(key: str) -> str:
    return hashlib.sha256(normalise_access_key(key).encode()).hexdigest()


def access_key_matches(case: Case, key: str) -> bool:
    return hmac.compare_digest(case.access_key_hash, hash_access_key(key))


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def validate(
    data: CaseInput, now: datetime, ref: Reference | None = None
) -> tuple[Category | None, Area | None]:
    """Check everything before anything is written; collect every problem at once."""
    errors: dict[str, str] = {}
    texts = {
        "subject": data.subject,
        "body": data.body,
        "address": data.address,
        "external_ref": data.external_ref,
        "reporter.name": data.reporter.name,
        "reporter.phone": data.reporter.phone,
        "reporter.email": data.reporter.email,
    }
    for name, value in texts.items():
        if control_characters(value):
            errors[name] = CONTROL_MESSAGE
        elif name in DISGUISE_CHECKED and disguising_characters(value):
            errors[name] = DISGUISE_MESSAGE
    if data.kind not in CASE_KINDS:
        errors["kind"] = N_("Loại hồ sơ không hợp lệ.")
    if data.channel not in CHANNELS:
        errors["channel"] = N_("Kênh tiếp nhận không hợp lệ.")
    if data.language not in current_app.config["FEEDBACK_LANGUAGES"]:
        # No CHECK constraint guards cases.language (see its migration): this is the guard.
        errors["language"] = N_("Ngôn ngữ không được hỗ trợ (vi hoặc en).")
    subject = (data.subject or "").strip()
    if len(subject) < 5:
        errors["subject"] = N_("Tiêu đề cần ít nhất 5 ký tự.")
    elif len(subject) > 200:
        errors["subject"] = N_("Tiêu đề dài quá 200 ký tự.")
    body = (data.body or "").strip()
    if len(body) < 10:
        errors["body"] = N_("Nội dung cần ít nhất 10 ký tự để cơ quan hiểu và xử lý được.")
    elif len(body) > 10000:
        errors["body"] = N_("Nội dung dài quá 10.000 ký tự.")
    if data.address and len(data.address) > 300:
        errors["address"] = N_("Địa chỉ dài quá 300 ký tự.")
    category = area = None
    if data.category_code or data.area_code:
        ref = ref or reference_cache.current()
    if data.category_code:
        row = ref.categories.get(data.category_code) if ref else None
        if row is None:
            errors["category_code"] = N_("Lĩnh vực không tồn tại.")
        else:
            category = reference_cache.attach(Category, row)
    if data.area_code and ref is not None:
        area, problem = _area_at(data, now, ref)
        if problem:
            errors["area_code"] = problem
    if data.lat is not None and not -90 <= data.lat <= 90:
        errors["lat"] = N_("Vĩ độ phải nằm trong khoảng -90 đến 90.")
    if data.lon is not None and not -180 <= data.lon <= 180:
        errors["lon"] = N_("Kinh độ phải nằm trong khoảng -180 đến 180.")
    rep = data.reporter
    if not rep.anonymous:
        # Online a name is asked for; a caller or a letter may give only a phone number.
        if not _clean(rep.name) and data.channel in {"web", "api"}:
            errors["reporter.name"] = N_("Vui lòng cho biết họ tên, hoặc chọn gửi ẩn danh.")
        # Online and by phone we need a way to answer; a letter may carry only a name and
        # the address on its envelope.
        if data.channel != "box" and not _clean(rep.phone) and not _clean(rep.email):
            errors["reporter.phone"] = N_(
                "Vui lòng để lại số điện thoại hoặc thư điện tử để cơ quan trả lời, "
                "hoặc chọn gửi ẩn danh."
            )
        if _clean(rep.phone) and not is_phone(rep.phone):
            errors["reporter.phone"] = PHONE_MESSAGE
        if len(rep.email or "") > 200:
            errors["reporter.email"] = N_("Địa chỉ thư điện tử dài quá 200 ký tự.")
        elif _clean(rep.email) and not _EMAIL.match((rep.email or "").strip()):
            errors["reporter.email"] = N_("Địa chỉ thư điện tử không hợp lệ.")
        if rep.name and len(rep.name) > 120:
            errors["reporter.name"] = N_("Họ tên dài quá 120 ký tự.")
    if data.received_at is not None:
        if data.received_at.tzinfo is None:
            errors["received_at"] = N_("Thời điểm tiếp nhận phải có múi giờ.")
        elif data.received_at > now + CLOCK_SKEW:
            errors["received_at"] = N_("Thời điểm tiếp nhận không được ở tương lai.")
    if data.external_ref is not None and not (0 < len(data.external_ref.strip()) <= 64):
        errors["external_ref"] = N_("Mã tham chiếu ngoài phải có từ 1 đến 64 ký tự.")
    if errors:
        raise ValidationError(N_("Thông tin chưa hợp lệ, vui lòng kiểm tra lại."), errors)
    return category, area


def _area_at(data: CaseInput, now: datetime, ref: Reference) -> tuple[Area | None, str]:
    """The area of ``data.area_code`` in force on the day the case is received (codes are
    reused by later areas: 00694 was Phường Nguyễn Trãi, then Phường Hà Giang 1), or why
    not: an area abolished by then is refused with its name and the day it ended."""
    when = data.received_at if data.received_at and data.received_at.tzinfo else now
    day = reference_cache.local_day(min(when, now))
    row = ref.area_on(data.area_code or "", day)
    if row is not None:
        return reference_cache.attach(Area, row), ""
    known = ref.area_known(data.area_code or "")
    if known is None:
        return None, N_("Xã, phường không tồn tại.")
    if known["valid_to"] is not None and known["valid_to"] <= day:
        ended = known["valid_to"].strftime("%d/%m/%Y")
        return None, N_(
            "%(name)s không còn là đơn vị hành chính từ ngày %(ended)s; "
            "vui lòng chọn xã, phường hiện nay.",
            name=known["name"],
            ended=ended,
        )
    return None, N_("Xã, phường chưa có hiệu lực vào thời điểm tiếp nhận.")


# Plain SQL that SQLite (3.35+) and PostgreSQL both speak, so SQLAlchemy caches its
# compiled form: the dialects' insert().on_conflict_do_update() has no cache key and was
# compiled afresh on every submission.
_NEXT_NUMBER = text(
    "INSERT INTO case_counters (year, last) VALUES (:year, 1) "
    "ON CONFLICT (year) DO UPDATE SET last = case_counters.last + 1 RETURNING last"
)


def next_case_code(now: datetime, ref: Reference) -> str:
    """HG-2026-000123: city prefix, year, a per-year sequence taken atomically. The year
    is Hà Giang's (a case sent at 00:30 on 1 January belongs to the new year), not UTC's."""
    year = local_date(now).year
    number = db.session.connection().execute(_NEXT_NUMBER, {"year": year}).scalar_one()
    city = ref.setting("city_code", "HG")
    return case_code(city, year, number)


def _existing(channel: str, external_ref: str | None) -> Case | None:
    if external_ref is None:
        return None
    return db.session.scalar(
        select(Case).where(Case.channel == channel, Case.external_ref == external_ref)
    )


def submit_case(data: CaseInput, *, actor: User | None, now: datetime) -> Submitted:
    """Create, route and time a case in one transaction, with its first event and the
    receipt message to the citizen. Replaying the same (channel, external_ref) returns the
    case already made."""
    if data.external_ref is not None:
        data.external_ref = data.external_ref.strip()
    # One reading of the reference data (category, area, rules, units, settings, policy,
    # calendar) for the whole submission: see feedback.services.reference.cache.
    ref = reference_cache.current()
    category, area = validate(data, now, ref)
    found = _existing(data.channel, data.external_ref)
    if found is not None:
        return Submitted(found, None, created=False)

    # A sender whose clock runs a little fast is believed up to CLOCK_SKEW, then clamped:
    # a case is never received after it was entered.
    received_at = min(data.received_at or now, now)
    routed = ref.route(category, area, received_at)
    deadlines = ref.deadlines_for(data.kind, received_at)
    day = reference_cache.local_day(received_at)
    handling_row = ref.unit_on(routed.handling_unit_code, day)
    lead_row = ref.unit_on(routed.lead_unit_code, day) if routed.lead_unit_code else None
    if handling_row is None:
        raise ValidationError(N_("Chưa nạp dữ liệu đơn vị; hãy chạy lệnh seed."))
    handling = reference_cache.attach(Unit, handling_row)
    lead = reference_cache.attach(Unit, lead_row) if lead_row is not None else None
    rep = data.reporter
    identity = Identity(
        None if rep.anonymous else _clean(rep.name),
        None if rep.anonymous else _clean(rep.phone),
        None if rep.anonymous else _clean(rep.email),
    )
    # A denouncer's identity is never stored in clear text (see services.intake.identity).
    confidential = data.kind in CONFIDENTIAL_KINDS
    shown = Identity() if confidential else identity
    key = new_access_key()
    case = Case(
        code=next_case_code(now, ref),
        access_key_hash=hash_access_key(key),
        kind=data.kind,
        status=Status.RECEIVED.value,
        channel=data.channel,
        external_ref=data.external_ref,
        subject=data.subject.strip(),
        body=data.body.strip(),
        category=category,
        area=area,
        address=_clean(data.address),
        lat=data.lat,
        lon=data.lon,
        anonymous=rep.anonymous,
        reporter_name=shown.name,
        reporter_phone=shown.phone,
        reporter_email=shown.email,
        identity_sealed=seal(identity) if confidential else None,
        handling_unit=handling,
        lead_unit=lead,
        needs_triage=routed.needs_triage,
        routing_reason=routed.reason,
        received_at=received_at,
        box_opening_id=data.box_opening_id,
        next_sla_check_at=now,
        search_text=fold(" ".join(p for p in (data.subject, data.body, data.address or "") if p)),
        ack_due_at=deadlines.ack_due_at,
        response_due_at=deadlines.response_due_at,
        created_by_id=actor.id if actor else None,
        created_at=now,
        updated_at=now,
        language=data.language,
    )
    label = KIND_LABELS[case.kind]
    # Lazy: put into words in the citizen's language by tell_citizen.
    receipt = lazy_gettext(
        "Hệ thống đã tiếp nhận %(kind)s «%(subject)s» với mã hồ sơ %(code)s. Cơ quan sẽ "
        "phản hồi việc tiếp nhận trước %(due)s.",
        kind=LazyString(lambda: _(label).lower()),
        subject=case.subject,
        code=case.code,
        due=LazyString(format_local_long, case.ack_due_at),
    )
    # A savepoint, so a lost race on (channel, external_ref) undoes only this case, not the
    # caller's other work (a CSV batch keeps its good rows), and so do refused files or a
    # refused link. Without any of them nothing in here can fail but the database itself,
    # and then the caller's whole transaction is rolled back anyway: no savepoint needed.
    guarded = data.external_ref is not None or bool(data.uploads) or bool(data.link_to)
    try:
        with db.session.begin_nested() if guarded else nullcontext():
            db.session.add(case)
            db.session.add(_submit_event(case, actor, now, handling, lead, routed.reason))
            db.session.flush()
            # The key goes with the receipt (sealed in the outbox, masked in the logs):
            # the citizen who loses the success page still has it.
            tell_citizen(
                case, kind="receipt", reason="submit", text=receipt, now=now, access_key=key
            )
            for upload in data.uploads:
                purpose = "letter_scan" if data.channel == "box" else "evidence"
                store_upload(upload, case=case, purpose=purpose, actor=actor, now=now)
            if data.link_to and actor is not None:
                from .duplicates import link_cases

                link_cases(case, data.link_to, actor=actor, now=now)
    except IntegrityError:
        if not guarded:
            raise
        found = _existing(data.channel, data.external_ref)
        if found is None:
            raise
        return Submitted(found, None, created=False)
    return Submitted(case, key, created=True)


def _submit_event(
    case: Case, actor: User | None, now: datetime, handling: Unit, lead: Unit | None, reason: str
) -> CaseEvent:
    return CaseEvent(
        case=case,
        at=now,
        actor_id=actor.id if actor else None,
        actor_label=actor.display_name if actor else "Người dân",
        action="submit",
        from_status=None,
        to_status=Status.RECEIVED.value,
        public=True,
        note=RECEIVED_NOTES[case.channel],
        data={
            "handling_unit": handling.code,
            "lead_unit": lead.code if lead else None,
            "needs_triage": case.needs_triage,
            "routing_reason": reason,
        },
    )
