"""Open311 GeoReport v2: reading and writing service requests (cases). What is accepted
and what may leave is decided in feedback.api.open311's docstring; in short: POST needs
an operator's or the coordinator's API token as ``api_key``; GET lists only cases of
public categories that are neither complaints nor denunciations."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from ..domain.marks import N_
from ..domain.permissions import HIDDEN_KINDS, OPEN311_POST_ROLES
from ..domain.states import Status
from ..domain.text import control_characters
from ..extensions import db
from ..i18n import format_local_long
from ..models import Area, Case, Category, User
from ..services.accounts.users import user_for_token
from ..services.errors import ServiceError
from ..services.intake.submission import KIND_LABELS, CaseInput, Reporter, submit_case
from ..services.params import Page, csv_param, datetime_param, page_of, text_param
from ..services.reference.areas import areas_in_force

Params = dict[str, list[str]]
CLOSED = (Status.CLOSED.value, Status.REJECTED.value, Status.MERGED.value)
WINDOW = timedelta(days=90)
DEFAULT_LIMIT, MAX_PAGE_SIZE, MAX_IDS = 1000, 100, 100
_CODE = re.compile(r"[0-9A-Za-z._\-]{1,32}")
_NUMBER = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{1,20})?")
_URL = re.compile(r"https?://[^\s<>\"\x00-\x1f\x7f]{1,490}")
_ATTRIBUTE = re.compile(r"attribute\[([^\]]{0,64})\](\[\])?")
_FIELD_NAMES = {
    "subject": "description",
    "body": "description",
    "address": "address_string",
    "lon": "long",
    "area_code": "address_id",
    "category_code": "service_code",
    "kind": "attribute[kind]",
    "reporter.name": "first_name/last_name",
    "reporter.phone": "phone",
    "reporter.email": "email",
}


class Open311Error(ServiceError):
    """A refusal with the specification's own status (400, 403 or 404) and one or more
    descriptions, its error list. A ServiceError like every other refusal, so whatever
    catches those (the blueprint's one handler, a caller) catches this too."""

    def __init__(self, status: int, *descriptions: str) -> None:
        unique = list(dict.fromkeys(descriptions)) or [N_("Yêu cầu không hợp lệ.")]
        super().__init__(unique[0])
        self.status = status
        self.code = {403: "forbidden", 404: "not_found"}.get(status, "invalid")
        self.descriptions = unique


# --- lookups ----------------------------------------------------------------------------


def find_category(code: str) -> Category | None:
    if not _CODE.fullmatch(code):
        return None
    return db.session.scalar(select(Category).where(Category.code == code))


def areas() -> list[Area]:
    """The areas in force today (address_id and attribute[area] take only these)."""
    return sorted(areas_in_force(datetime.now(UTC)), key=lambda a: a.code)


# --- POST requests -----------------------------------------------------------------------


def _coordinate(text: str, name: str, limit: int, errors: list[str]) -> float | None:
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not -limit <= value <= limit:
        errors.append(
            N_("%(name)s phải là số thập phân từ -%(limit)s đến %(limit)s.", name=name, limit=limit)
        )
        return None
    return value


def _attributes(params: Params, errors: list[str]) -> dict[str, str]:
    allowed = {"kind": set(KIND_LABELS), "area": {a.code for a in areas()}}
    found: dict[str, str] = {}
    for key, values in params.items():
        m = _ATTRIBUTE.fullmatch(key)
        if not key.startswith("attribute"):
            continue
        code = m.group(1) if m else key
        value = values[0].strip() if len(values) == 1 else ""
        if code not in allowed:
            errors.append(
                N_("Thuộc tính «%(code)s» không có trong định nghĩa dịch vụ.", code=code[:40])
            )
        elif value not in allowed[code]:
            errors.append(
                N_(
                    "attribute[%(code)s] phải là đúng một giá trị trong định nghĩa dịch vụ.",
                    code=code,
                )
            )
        else:
            found[code] = value
    return found


def _subject(description: str, category: Category) -> str:
    first = next((line.strip() for line in description.splitlines() if line.strip()), "")
    first = re.sub(r"\s+", " ", first)
    if len(first) < 5:
        first = f"{category.citizen_label}: {first}".rstrip(": ")
    return first if len(first) <= 200 else first[:199].rstrip() + "…"


def _staff(api_key: str, now: datetime) -> User:
    user = user_for_token(api_key, now) if api_key else None
    if user is None:
        raise Open311Error(403, N_("Thiếu hoặc sai api_key: không thể tạo yêu cầu."))
    if user.role not in OPEN311_POST_ROLES:
        raise Open311Error(
            403,
            N_(
                "api_key này không được tạo yêu cầu "
                "(chỉ điện thoại viên 1022 và Văn phòng điều phối)."
            ),
        )
    return user


def _extras(params: Params, errors: list[str]) -> list[str]:
    lines = []
    media = text_param(params, "media_url")
    if media and not _URL.fullmatch(media):
        errors.append(N_("media_url phải là một địa chỉ http(s) không quá 500 ký tự."))
    elif media:
        lines.append(f"Tư liệu (media_url): {media}")
    for name, label in (("device_id", "Thiết bị"), ("account_id", "Tài khoản")):
        value = text_param(params, name)
        if len(value) > 200 or control_characters(value, multiline=False):
            errors.append(N_("%(name)s không hợp lệ (tối đa 200 ký tự).", name=name))
        elif value:
            lines.append(f"{label} ({name}): {value}")
    return lines


def create_request(params: Params, now: datetime) -> tuple[Case, str | None]:
    """The new case and the citizen's access key; Open311Error when refused."""
    user = _staff(text_param(params, "api_key"), now)
    code = text_param(params, "service_code")
    if not code:
        raise Open311Error(400, N_("Thiếu service_code."))
    category = find_category(code)
    if category is None:
        raise Open311Error(404, unknown_service(code))
    errors: list[str] = []
    attributes = _attributes(params, errors)
    lat_text, lon_text = text_param(params, "lat"), text_param(params, "long")
    lat = _coordinate(lat_text, "lat", 90, errors) if lat_text else None
    lon = _coordinate(lon_text, "long", 180, errors) if lon_text else None
    if bool(lat_text) != bool(lon_text):
        errors.append(N_("lat và long phải được gửi cùng nhau."))
    address, area = text_param(params, "address_string"), text_param(params, "address_id")
    if area and attributes.get("area", area) != area:
        errors.append(N_("address_id và attribute[area] chỉ hai xã, phường khác nhau."))
    area = area or attributes.get("area", "")
    if area and not (_CODE.fullmatch(area) and area in {a.code for a in areas()}):
        errors.append(N_("address_id phải là mã một xã, phường (xem attribute[area])."))
    if not (lat_text and lon_text) and not address and not area:
        errors.append(N_("Cần vị trí: lat và long, hoặc address_string, hoặc address_id."))
    description = (params.get("description") or [""])[0].strip()
    if len(description) < 10:
        errors.append(N_("description cần ít nhất 10 ký tự để cơ quan hiểu và xử lý được."))
    elif len(description) > 4000:
        errors.append(N_("description dài quá 4000 ký tự."))
    extras = _extras(params, errors)
    if errors:
        raise Open311Error(400, *errors)
    given = (text_param(params, "last_name"), text_param(params, "first_name"))
    name = " ".join(p for p in given if p)
    phone, email = text_param(params, "phone"), text_param(params, "email")
    data = CaseInput(
        kind=attributes.get("kind", "feedback"),
        subject=_subject(description, category),
        body="\n\n".join([description, "\n".join(extras)]) if extras else description,
        category_code=category.code,
        area_code=area or None,
        address=address or None,
        lat=lat,
        lon=lon,
        reporter=Reporter(
            name=name or None,
            phone=phone or None,
            email=email or None,
            anonymous=not (name or phone or email),
        ),
        channel="api",
    )
    try:
        submitted = submit_case(data, actor=user, now=now)
    except ServiceError as exc:
        fields = [
            N_("%(field)s: %(message)s", field=_FIELD_NAMES.get(k, k), message=v)
            for k, v in exc.fields.items()
        ]
        raise Open311Error(400, *(fields or [exc.message])) from None
    return submitted.case, submitted.access_key


def notice(case: Case) -> str:
    """The promised times, marked: the view shows it with ``translated``."""
    return N_(
        "Hồ sơ %(code)s: cơ quan xác nhận tiếp nhận trước %(ack)s và trả lời trước %(due)s.",
        code=case.code,
        ack=format_local_long(case.ack_due_at),
        due=format_local_long(case.response_due_at),
    )


def unknown_service(code: str) -> str:
    return N_("Không có dịch vụ (service_code) «%(code)s».", code=code[:40])


# --- GET requests ------------------------------------------------------------------------


def listed() -> Select[tuple[Case]]:
    """The cases Open311 may show: public categories, no complaints, no denunciations."""
    return (
        select(Case)
        .join(Category, Case.category_id == Category.id)
        .where(Category.public.is_(True), Case.kind.not_in(HIDDEN_KINDS))
        .options(
            selectinload(Case.category),
            selectinload(Case.area),
            selectinload(Case.handling_unit),
        )
    )


def _window(params: Params, now: datetime) -> tuple[datetime, datetime]:
    start, end = datetime_param(params, "start_date"), datetime_param(params, "end_date")
    if start and end:
        if not start <= end <= start + WINDOW:
            raise Open311Error(400, N_("end_date phải sau start_date và không quá 90 ngày."))
        return start, end
    if start:
        return start, start + WINDOW
    end = end or now
    return end - WINDOW, end


def _paging(params: Params) -> Page:
    """Without ``page`` and ``page_size`` the specification's default: up to 1000 rows."""
    if not text_param(params, "page") and not text_param(params, "page_size"):
        return Page(1, DEFAULT_LIMIT)
    return page_of(
        params, per_page_default=MAX_PAGE_SIZE, per_page_max=MAX_PAGE_SIZE, size_name="page_size"
    )


def query_requests(params: Params, now: datetime) -> list[Case]:
    """The listed cases the query selects; a bad parameter is a ValidationError (its
    message names the parameter), answered 400 in the specification's format."""
    page = _paging(params)
    stmt = listed()
    ids = csv_param(params, "service_request_id", limit=MAX_IDS)
    if ids:
        stmt = stmt.where(Case.code.in_([i for i in ids if _CODE.fullmatch(i)]))
    else:
        codes = csv_param(params, "service_code")
        unknown = [c for c in codes if find_category(c) is None]
        if unknown:
            raise Open311Error(400, unknown_service(unknown[0]))
        statuses = csv_param(params, "status")
        if set(statuses) - {"open", "closed"}:
            raise Open311Error(400, N_("status chỉ nhận open, closed."))
        start, end = _window(params, now)
        stmt = stmt.where(Case.received_at >= start, Case.received_at <= end)
        if codes:
            stmt = stmt.where(Category.code.in_(codes))
        if set(statuses) == {"open"}:
            stmt = stmt.where(Case.status.not_in(CLOSED))
        elif set(statuses) == {"closed"}:
            stmt = stmt.where(Case.status.in_(CLOSED))
    stmt = stmt.order_by(Case.received_at.desc(), Case.id.desc())
    stmt = stmt.limit(page.size).offset(page.offset)
    return list(db.session.scalars(stmt))


def one_request(code: str) -> Case:
    """A listed case, or 404 (unknown and hidden cases are answered alike)."""
    case = db.session.scalar(listed().where(Case.code == code)) if _CODE.fullmatch(code) else None
    if case is None:
        raise Open311Error(
            404, N_("Không có yêu cầu (service_request_id) «%(code)s».", code=code[:40])
        )
    return case
