"""Reading JSON API requests strictly: bodies, their fields and header values.

- Bodies are UTF-8 JSON objects of at most 64 KiB (``MAX_BODY_BYTES``). Unknown fields,
  duplicate keys, ``NaN``/``Infinity`` and wrong JSON types are refused, naming the field.
  ``null`` means "not sent".
- Times sent in (``received_at``) must carry an offset (any offset, ``Z`` included); a time
  without one is refused, never guessed.
- Errors are ServiceErrors, answered as ``{"error": CODE, "message": TEXT, "fields":
  {name: TEXT}}``: 400 ``invalid_json`` / ``invalid_idempotency_key``, 401
  ``unauthorized``, 403 ``forbidden`` (also for a caller sending a staff-only field:
  ``channel``, ``received_at``, ``external_ref``), 413 ``payload_too_large``, 422
  ``validation_failed``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

from ..domain.calendar import LOCAL_TZ
from ..domain.marks import N_
from ..domain.permissions import ON_BEHALF_ROLES
from ..domain.text import control_characters
from ..models import User
from ..services.errors import Forbidden, ServiceError, ValidationError
from ..services.intake.submission import CaseInput, Reporter

MAX_BODY_BYTES = 64 * 1024
STAFF_FIELDS = ("channel", "received_at", "external_ref")
STAFF_CHANNELS = ("hotline", "box", "api")
_EARLIEST = datetime(2000, 1, 1, tzinfo=LOCAL_TZ)
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,200}")


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


# --- the body -----------------------------------------------------------------------------


def read_body(
    content_length: int | None, stream: IO[bytes], mimetype: str, *, allow_empty: bool = False
) -> dict[str, Any]:
    """The request's JSON object, read defensively (size first, then syntax, then shape).
    With ``allow_empty``, no body at all (whatever its content type) reads as ``{}``."""
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(_too_large())
    raw = stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(_too_large())
    if allow_empty and not raw.strip():
        return {}
    if mimetype != "application/json":
        raise InvalidJson(N_("Dữ liệu phải là JSON (Content-Type: application/json)."))
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_no_duplicates
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson(
            N_("Dữ liệu JSON không đọc được (sai cú pháp hoặc không phải UTF-8).")
        ) from None
    if not isinstance(data, dict):
        raise InvalidJson(N_("Dữ liệu phải là một đối tượng JSON ({...})."))
    return data


def _too_large() -> str:
    return N_("Dữ liệu gửi lên vượt quá %(kib)s KiB.", kib=MAX_BODY_BYTES // 1024)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def check_value(kind: str, value: Any) -> str | None:
    """A message when ``value`` is not of the JSON type ``kind`` (None/null is always fine)."""
    if value is None:
        return None
    if kind == "text":
        if not isinstance(value, str):
            return N_("Phải là chuỗi ký tự.")
        if control_characters(value):
            return N_("Không được chứa ký tự điều khiển.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return N_("Chuỗi ký tự không hợp lệ.")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return N_("Phải là số.")
        # 1e400 parses as infinity, and an int of 400 digits cannot become a float.
        if isinstance(value, int) and abs(value) > 10**6:
            return N_("Giá trị ngoài khoảng cho phép.")
        if not math.isfinite(value):
            return N_("Phải là số hữu hạn.")
    elif kind == "bool" and not isinstance(value, bool):
        return N_("Phải là true hoặc false.")
    elif kind == "object" and not isinstance(value, dict):
        return N_("Phải là một đối tượng JSON.")
    return None


def field_errors(
    data: Mapping[str, Any], spec: Mapping[str, str], prefix: str = ""
) -> dict[str, str]:
    """Per-field messages for unknown fields and wrong JSON types (``spec``: name → kind)."""
    errors: dict[str, str] = {}
    for name, value in data.items():
        if name not in spec:
            errors[f"{prefix}{name}"] = N_("Trường không được hỗ trợ.")
            continue
        problem = check_value(spec[name], value)
        if problem:
            errors[f"{prefix}{name}"] = problem
    return errors


def fields_of(data: Mapping[str, Any], spec: Mapping[str, str]) -> dict[str, Any]:
    """Every field of ``spec`` (None when not sent), or a 422 naming each bad one."""
    errors = field_errors(data, spec)
    if errors:
        raise ValidationError(N_("Dữ liệu có trường sai kiểu hoặc không được hỗ trợ."), errors)
    return {name: data.get(name) for name in spec}


# --- a new case ---------------------------------------------------------------------------

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
    "language": "text",
}
_REPORTER = {"name": "text", "phone": "text", "email": "text", "anonymous": "bool"}


def _shape_errors(data: Mapping[str, Any]) -> dict[str, str]:
    errors = field_errors(data, _TOP)
    reporter = data.get("reporter")
    if isinstance(reporter, dict):
        errors.update(field_errors(reporter, _REPORTER, prefix="reporter."))
        email = reporter.get("email")
        if isinstance(email, str) and len(email.strip()) > 200:
            errors.setdefault("reporter.email", N_("Địa chỉ thư điện tử dài quá 200 ký tự."))
    return errors


def _parse_time(value: str) -> datetime | str:
    """An aware datetime, or the message saying why not."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return N_("Thời điểm phải theo ISO 8601, ví dụ 2024-02-02T08:30:00+07:00.")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return N_("Thời điểm phải ghi rõ múi giờ, ví dụ 2024-02-02T08:30:00+07:00.")
    try:
        if parsed < _EARLIEST:
            return N_("Thời điểm tiếp nhận quá xa trong quá khứ.")
    except OverflowError:
        return N_("Thời điểm tiếp nhận quá xa trong quá khứ.")
    return parsed


def case_input(data: Mapping[str, Any], user: User | None) -> CaseInput:
    """Turn a checked JSON object into the intake service's input, or refuse it."""
    errors = _shape_errors(data)
    if errors:
        raise ValidationError(N_("Dữ liệu có trường sai kiểu hoặc không được hỗ trợ."), errors)
    sent = [name for name in STAFF_FIELDS if data.get(name) is not None]
    if sent and (user is None or user.role not in ON_BEHALF_ROLES):
        raise Forbidden(
            N_(
                "Chỉ điện thoại viên 1022, cán bộ mở hòm thư và Văn phòng điều phối được gửi "
                "kênh, thời điểm tiếp nhận và mã tham chiếu ngoài."
            ),
            {name: N_("Không có quyền gửi trường này.") for name in sent},
        )
    channel = data.get("channel") or "api"
    if channel not in STAFF_CHANNELS:
        errors["channel"] = N_("Kênh chỉ được là hotline, box hoặc api.")
    received_at = None
    if data.get("received_at") is not None:
        parsed = _parse_time(data["received_at"])
        if isinstance(parsed, str):
            errors["received_at"] = parsed
        else:
            received_at = parsed
    if errors:
        raise ValidationError(N_("Thông tin chưa hợp lệ, vui lòng kiểm tra lại."), errors)
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
        language=data.get("language") or "vi",  # checked by the intake service
    )


# --- headers ------------------------------------------------------------------------------


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _VISIBLE_ASCII.fullmatch(value):
        raise InvalidIdempotencyKey(
            N_("Idempotency-Key phải gồm 1 đến 200 ký tự ASCII nhìn thấy được."),
            {"Idempotency-Key": N_("Giá trị không hợp lệ.")},
        )
    return value
