"""The JSON API's case logic: strict reading of bodies and query strings, serialisation,
and idempotent creation (DESIGN.md, "Public contract of the JSON API (v1)").

Conventions every answer follows:

- Times are written in ISO 8601 with the offset of Hà Giang (Asia/Ho_Chi_Minh, always
  +07:00: no daylight saving time), to the second, e.g. ``2024-02-19T23:59:59+07:00``:
  the local wall-clock time a Vietnamese integrator and the citizen reason in, with the
  offset that makes it an unambiguous instant. Times sent in (``received_at``) must carry
  an offset too (any offset, ``Z`` included); a time without one is refused, never guessed.
- Bodies are UTF-8 JSON objects of at most 64 KiB (``MAX_BODY_BYTES``). Unknown fields,
  duplicate keys, ``NaN``/``Infinity`` and wrong JSON types are refused, naming the field.
  ``null`` means "not sent".
- Errors are ``{"error": CODE, "message": TEXT, "fields": {name: TEXT}}`` with a 4xx:
  400 ``invalid_json`` / ``invalid_idempotency_key``, 401 ``unauthorized``, 403
  ``forbidden`` (also for a caller sending a staff-only field: ``channel``,
  ``received_at``, ``external_ref``), 404 ``not_found``, 413 ``payload_too_large``, 422
  ``validation_failed`` / ``idempotency_key_reused``.

Idempotency: a ``POST /cases`` carrying ``Idempotency-Key`` stores its answer (status and
exact body) in ``idempotency_keys`` in the same transaction as the case; the unique
(scope, key) constraint makes two concurrent first requests create one case, the loser
replaying the winner's answer. Only answers that wrote a case are stored: a refused request
writes nothing, so it may be retried with the same key once corrected.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, literal, or_, select
from sqlalchemy.exc import IntegrityError

from ..database import unit_of_work
from ..domain.calendar import LOCAL_TZ
from ..domain.permissions import Op
from ..domain.states import OPEN_STATUSES, Status
from ..domain.text import fold
from ..extensions import db
from ..models import (
    CASE_KINDS,
    CHANNELS,
    STATUSES,
    Area,
    Case,
    Category,
    IdempotencyKey,
    Unit,
    User,
)
from .errors import Conflict, Forbidden, NotFound, ServiceError, ValidationError
from .identity import identity_of
from .intake import CaseInput, Reporter, Submitted, access_key_matches, hash_access_key, submit_case
from .visibility import ops_for, visible_cases

MAX_BODY_BYTES = 64 * 1024
STAFF_FIELDS = ("channel", "received_at", "external_ref")
INTAKE_ROLES = frozenset({"operator", "clerk", "coordinator"})
"""Roles whose tokens may send STAFF_FIELDS (they enter calls, letters and batches)."""
STAFF_CHANNELS = ("hotline", "box", "api")
LIST_ROLES = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector")
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
_EARLIEST = datetime(2000, 1, 1, tzinfo=LOCAL_TZ)
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,200}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,7}")
_CODE = re.compile(r"[0-9A-Z._\-]{1,32}")
"""Case, unit, area and category codes: anything else cannot exist, so is not looked up."""


class InvalidJson(ServiceError):
    status = 400
    code = "invalid_json"


class InvalidIdempotencyKey(ServiceError):
    status = 400
    code = "invalid_idempotency_key"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class IdempotencyKeyReused(ServiceError):
    status = 422
    code = "idempotency_key_reused"


# --- reading the request ------------------------------------------------------------------


def read_body(content_length: int | None, stream: IO[bytes], mimetype: str) -> dict[str, Any]:
    """The request's JSON object, read defensively (size first, then syntax, then shape)."""
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Dữ liệu gửi lên vượt quá {MAX_BODY_BYTES // 1024} KiB.")
    raw = stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Dữ liệu gửi lên vượt quá {MAX_BODY_BYTES // 1024} KiB.")
    if mimetype != "application/json":
        raise InvalidJson("Dữ liệu phải là JSON (Content-Type: application/json).")
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_no_duplicates
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson(
            "Dữ liệu JSON không đọc được (sai cú pháp hoặc không phải UTF-8)."
        ) from None
    if not isinstance(data, dict):
        raise InvalidJson("Dữ liệu phải là một đối tượng JSON ({...}).")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


_TOP = {
    "kind": "text",
    "subject": "text",
    "body": "text",
    "category_code": "text",
    "area_code": "text",
    "address": "text",
    "lat": "number",
    "lon": "number",
    "reporter": "object",
    "channel": "text",
    "received_at": "text",
    "external_ref": "text",
}
_REPORTER = {"name": "text", "phone": "text", "email": "text", "anonymous": "bool"}


def _check_value(kind: str, value: Any) -> str | None:
    """A message when ``value`` is not of the JSON type ``kind`` (None/null is always fine)."""
    if value is None:
        return None
    if kind == "text":
        if not isinstance(value, str):
            return "Phải là chuỗi ký tự."
        if _CONTROL.search(value):
            return "Không được chứa ký tự điều khiển."
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Chuỗi ký tự không hợp lệ."
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "Phải là số."
        # 1e400 parses as infinity, and an int of 400 digits cannot become a float.
        if isinstance(value, int) and abs(value) > 10**6:
            return "Giá trị ngoài khoảng cho phép."
        if not math.isfinite(value):
            return "Phải là số hữu hạn."
    elif kind == "bool" and not isinstance(value, bool):
        return "Phải là true hoặc false."
    elif kind == "object" and not isinstance(value, dict):
        return "Phải là một đối tượng JSON."
    return None


def _shape_errors(data: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, value in data.items():
        if name not in _TOP:
            errors[name] = "Trường không được hỗ trợ."
            continue
        problem = _check_value(_TOP[name], value)
        if problem:
            errors[name] = problem
    reporter = data.get("reporter")
    if isinstance(reporter, dict):
        for name, value in reporter.items():
            if name not in _REPORTER:
                errors[f"reporter.{name}"] = "Trường không được hỗ trợ."
                continue
            problem = _check_value(_REPORTER[name], value)
            if problem:
                errors[f"reporter.{name}"] = problem
        email = reporter.get("email")
        if isinstance(email, str) and len(email.strip()) > 200:
            errors.setdefault("reporter.email", "Địa chỉ thư điện tử dài quá 200 ký tự.")
    return errors


def _parse_time(value: str) -> datetime | str:
    """An aware datetime, or the message saying why not."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return "Thời điểm phải theo ISO 8601, ví dụ 2024-02-02T08:30:00+07:00."
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return "Thời điểm phải ghi rõ múi giờ, ví dụ 2024-02-02T08:30:00+07:00."
    try:
        if parsed < _EARLIEST:
            return "Thời điểm tiếp nhận quá xa trong quá khứ."
    except OverflowError:
        return "Thời điểm tiếp nhận quá xa trong quá khứ."
    return parsed


def case_input(data: Mapping[str, Any], user: User | None) -> CaseInput:
    """Turn a checked JSON object into the intake service's input, or refuse it."""
    errors = _shape_errors(data)
    if errors:
        raise ValidationError("Dữ liệu có trường sai kiểu hoặc không được hỗ trợ.", errors)
    sent = [name for name in STAFF_FIELDS if data.get(name) is not None]
    if sent and (user is None or user.role not in INTAKE_ROLES):
        raise Forbidden(
            "Chỉ điện thoại viên 1022, cán bộ mở hòm thư và Văn phòng điều phối được gửi "
            "kênh, thời điểm tiếp nhận và mã tham chiếu ngoài.",
            {name: "Không có quyền gửi trường này." for name in sent},
        )
    channel = data.get("channel") or "api"
    if channel not in STAFF_CHANNELS:
        errors["channel"] = "Kênh chỉ được là hotline, box hoặc api."
    received_at = None
    if data.get("received_at") is not None:
        parsed = _parse_time(data["received_at"])
        if isinstance(parsed, str):
            errors["received_at"] = parsed
        else:
            received_at = parsed
    if errors:
        raise ValidationError("Thông tin chưa hợp lệ, vui lòng kiểm tra lại.", errors)
    rep = data.get("reporter") or {}
    lat, lon = data.get("lat"), data.get("lon")
    return CaseInput(
        kind=data.get("kind") or "",
        subject=data.get("subject") or "",
        body=data.get("body") or "",
        category_code=(data.get("category_code") or "").strip() or None,
        area_code=(data.get("area_code") or "").strip() or None,
        address=data.get("address"),
        lat=float(lat) if lat is not None else None,
        lon=float(lon) if lon is not None else None,
        reporter=Reporter(
            name=rep.get("name"),
            phone=rep.get("phone"),
            email=rep.get("email"),
            anonymous=bool(rep.get("anonymous")),
        ),
        channel=channel,
        received_at=received_at,
        external_ref=data.get("external_ref"),
    )


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _VISIBLE_ASCII.fullmatch(value):
        raise InvalidIdempotencyKey(
            "Idempotency-Key phải gồm 1 đến 200 ký tự ASCII nhìn thấy được.",
            {"Idempotency-Key": "Giá trị không hợp lệ."},
        )
    return value


# --- serialisation ------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else None


def _ref(row: Unit | Area | Category | None) -> dict[str, str] | None:
    return {"code": row.code, "name": row.name} if row is not None else None


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def is_overdue(case: Case, now: datetime) -> bool:
    if Status(case.status) not in OPEN_STATUSES:
        return False
    return case.response_due_at < now or (case.acknowledged_at is None and case.ack_due_at < now)


def created_view(case: Case, access_key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": case.code}
    if access_key:
        out["access_key"] = access_key
    out.update(
        status=case.status,
        kind=case.kind,
        channel=case.channel,
        received_at=iso(case.received_at),
        ack_due_at=iso(case.ack_due_at),
        response_due_at=iso(case.response_due_at),
        category=_ref(case.category),
        area=_ref(case.area),
        handling_unit=_ref(case.handling_unit),
        lead_unit=_ref(case.lead_unit),
    )
    return out


def _answer(case: Case) -> str | None:
    return case.answer_body if case.status in (Status.ANSWERED, Status.CLOSED) else None


def public_view(case: Case) -> dict[str, Any]:
    """What the holder of the access key sees: never the reporter, never staff names."""
    return {
        "code": case.code,
        "status": case.status,
        "kind": case.kind,
        "received_at": iso(case.received_at),
        "ack_due_at": iso(case.ack_due_at),
        "response_due_at": iso(case.response_due_at),
        "handling_unit": _ref(case.handling_unit),
        "answer": _answer(case),
        "timeline": [
            {
                "at": iso(e.at),
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "note": e.note,
            }
            for e in case.events
            if e.public
        ],
    }


def staff_view(case: Case, user: User, now: datetime) -> dict[str, Any]:
    """The case as ``user``'s role allows: the reporter only with the VIEW_IDENTITY
    permission (never a denouncer's, except for inspectors: feedback.domain.permissions)."""
    out = created_view(case, None)
    out.update(
        external_ref=case.external_ref,
        subject=case.subject,
        body=case.body,
        address=case.address,
        lat=case.lat,
        lon=case.lon,
        needs_triage=case.needs_triage,
        routing_reason=case.routing_reason,
        assigned_to=case.assigned_to.display_name if case.assigned_to else None,
        acknowledged_at=iso(case.acknowledged_at),
        answered_at=iso(case.answered_at),
        closed_at=iso(case.closed_at),
        answer=case.answer_body,
        overdue=is_overdue(case, now),
        created_at=iso(case.created_at),
        updated_at=iso(case.updated_at),
    )
    if Op.VIEW_IDENTITY in ops_for(user, case):
        identity = identity_of(case)
        out["reporter"] = {
            "anonymous": case.anonymous,
            "name": identity.name,
            "phone": identity.phone,
            "email": identity.email,
        }
    out["timeline"] = [
        {
            "at": iso(e.at),
            "actor_label": e.actor_label,
            "action": e.action,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "public": e.public,
            "note": e.note,
        }
        for e in case.events
    ]
    return out


def summary_view(case: Case, now: datetime) -> dict[str, Any]:
    """One row of a list: no reporter data, whatever the kind."""
    return {
        "code": case.code,
        "status": case.status,
        "kind": case.kind,
        "channel": case.channel,
        "subject": case.subject,
        "category": _ref(case.category),
        "area": _ref(case.area),
        "handling_unit": _ref(case.handling_unit),
        "needs_triage": case.needs_triage,
        "received_at": iso(case.received_at),
        "ack_due_at": iso(case.ack_due_at),
        "response_due_at": iso(case.response_due_at),
        "overdue": is_overdue(case, now),
    }


# --- creating -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    code: str


def _request_hash(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _answer_for(result: Submitted) -> Answer:
    status = 201 if result.created else 200
    return Answer(status, dumps(created_view(result.case, result.access_key)), result.case.code)


def _stored(scope: str, key: str) -> IdempotencyKey | None:
    return db.session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )


def _replay(stored: IdempotencyKey, request_hash: str) -> Answer:
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "Idempotency-Key này đã được dùng cho một yêu cầu có nội dung khác.",
            {"Idempotency-Key": "Đã dùng cho nội dung khác; hãy tạo khóa mới."},
        )
    code = db.session.scalar(select(Case.code).where(Case.id == stored.case_id)) or ""
    return Answer(stored.status_code, stored.response_body, code)


def create(
    data: Mapping[str, Any], *, user: User | None, idempotency_key: str | None, now: datetime
) -> Answer:
    """Submit the case in one transaction; with a key, store or replay the answer."""
    key = check_idempotency_key(idempotency_key)
    payload = case_input(data, user)
    if key is None:
        with unit_of_work():
            return _answer_for(submit_case(payload, actor=user, now=now))
    scope = f"user:{user.id}" if user is not None else "public"
    request_hash = _request_hash(data)
    stored = _stored(scope, key)
    if stored is not None:
        answer = _replay(stored, request_hash)
        db.session.rollback()  # end the read transaction (SQLite holds its write lock)
        return answer
    try:
        with unit_of_work():
            # Claim the key first: a concurrent twin blocks here on the unique index (on
            # PostgreSQL) or never starts (SQLite's BEGIN IMMEDIATE), and loses below.
            record = IdempotencyKey(
                scope=scope,
                key=key,
                request_hash=request_hash,
                status_code=0,
                response_body="",
                created_at=now,
            )
            db.session.add(record)
            db.session.flush()
            result = submit_case(payload, actor=user, now=now)
            answer = _answer_for(result)
            record.status_code = answer.status
            record.response_body = answer.body
            record.case_id = result.case.id
            return answer
    except IntegrityError:
        stored = _stored(scope, key)
        if stored is None:
            raise Conflict(
                "Yêu cầu trùng với một yêu cầu khác đang xử lý; vui lòng gửi lại."
            ) from None
        answer = _replay(stored, request_hash)
        db.session.rollback()
        return answer


# --- reading ------------------------------------------------------------------------------


def _case_by_code(code: str) -> Case | None:
    code = (code or "").strip().upper()
    if not _CODE.fullmatch(code):  # also keeps NUL and the like away from PostgreSQL
        return None
    return db.session.scalar(select(Case).where(Case.code == code))


def staff_case(code: str, user: User, now: datetime) -> dict[str, Any]:
    return staff_view(case_for_staff(code, user), user, now)


def case_for_staff(code: str, user: User) -> Case:
    case = _case_by_code(code)
    if case is None or Op.VIEW not in ops_for(user, case):
        raise NotFound("Không tìm thấy hồ sơ.")
    return case


def case_for_citizen(code: str, access_key: str | None) -> Case:
    """The same 404 for an unknown code, a missing key and a wrong key."""
    case = _case_by_code(code)
    key = (access_key or "")[:64]
    if case is None:
        hash_access_key(key)  # the same work either way
        raise NotFound("Không tìm thấy hồ sơ, hoặc mã tra cứu không đúng.")
    if not key or not access_key_matches(case, key):
        raise NotFound("Không tìm thấy hồ sơ, hoặc mã tra cứu không đúng.")
    return case


def public_case(code: str, access_key: str | None) -> dict[str, Any]:
    return public_view(case_for_citizen(code, access_key))


_LIST_PARAMS = ("unit", "status", "kind", "channel", "area", "category", "overdue", "q")
_PAGING = ("page", "per_page")


def _single(args: Mapping[str, list[str]], errors: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, given in args.items():
        if name not in _LIST_PARAMS + _PAGING:
            errors[name] = "Tham số không được hỗ trợ."
        elif len(given) != 1:
            errors[name] = "Chỉ được truyền một giá trị."
        elif given[0].strip():
            values[name] = given[0].strip()
    return values


def _by_code(model: type[Unit] | type[Area] | type[Category], code: str) -> Any:
    return db.session.scalar(select(model).where(model.code == code))


def search(user: User, args: Mapping[str, list[str]], now: datetime) -> dict[str, Any]:
    """Staff search over the cases the user may see; every bad parameter is named."""
    errors: dict[str, str] = {}
    p = _single(args, errors)
    stmt = visible_cases(user)
    for name, model, column, message in (
        ("unit", Unit, Case.handling_unit_id, "Không có đơn vị mã này."),
        ("area", Area, Case.area_id, "Không có xã, phường mã này."),
        ("category", Category, Case.category_id, "Không có lĩnh vực mã này."),
    ):
        if name in p:
            row = _by_code(model, p[name]) if _CODE.fullmatch(p[name].upper()) else None
            if row is None:
                errors[name] = message
            else:
                stmt = stmt.where(column == row.id)
    for name, allowed, column in (
        ("status", STATUSES, Case.status),
        ("kind", CASE_KINDS, Case.kind),
        ("channel", CHANNELS, Case.channel),
    ):
        if name in p:
            if p[name] in allowed:
                stmt = stmt.where(column == p[name])
            else:
                errors[name] = f"Giá trị phải là một trong: {', '.join(allowed)}."
    overdue = p.get("overdue", "0").lower()
    if overdue in ("1", "true"):
        stmt = stmt.where(
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            or_(
                Case.response_due_at < now,
                Case.acknowledged_at.is_(None) & (Case.ack_due_at < now),
            ),
        )
    elif overdue not in ("0", "false"):
        errors["overdue"] = "Giá trị phải là 1 hoặc 0."
    q = p.get("q", "")
    words = fold(q).split()
    if len(q) > 200 or len(words) > 12:
        errors["q"] = "Từ khóa tìm kiếm quá dài."
    else:
        # Whole syllables (Vietnamese writes each syllable apart): "o ga" must not match
        # "ngay". Folded to [0-9a-z], a word holds nothing LIKE would treat specially.
        padded = literal(" ") + Case.search_text + literal(" ")
        for word in dict.fromkeys(words):
            stmt = stmt.where(padded.like(f"% {word} %"))
    page = _int_param(p, "page", 1, 1, 1_000_000, errors)
    per_page = _int_param(p, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE, errors)
    if errors:
        raise ValidationError("Tham số tìm kiếm không hợp lệ.", errors)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(Case.received_at.desc(), Case.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return {
        "items": [summary_view(c, now) for c in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


def _int_param(
    p: Mapping[str, str], name: str, default: int, low: int, high: int, errors: dict[str, str]
) -> int:
    if name not in p:
        return default
    text = p[name]
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        errors[name] = f"Phải là số nguyên từ {low} đến {high}."
        return default
    return int(text)
