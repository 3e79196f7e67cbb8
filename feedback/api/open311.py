"""Open311 GeoReport v2 under /open311/v2/ (http://wiki.open311.org/GeoReport_v2):
services are the PAPI categories, service requests are cases.

Every resource answers in the format its extension names: ``.json`` (application/json) or
``.xml`` (text/xml, UTF-8 declaration, the specification's element names); errors too,
as ``[{"code": 400, "description": ...}]`` / ``<errors><error>...``, with status 400 (bad
request), 403 (missing or invalid ``api_key``), 404 (unknown resource, service or
request) or 405. The blueprint is CSRF-exempt and never trusts the session cookie
(feedback.security); only POST needs a key.

- ``discovery.{fmt}``; ``services.{fmt}`` (one service per category: code, citizen label,
  official name, group = PAPI content index, ``metadata`` true); ``services/{code}.{fmt}``
  (optional attributes ``kind`` and ``area``).
- ``POST requests.{fmt}``, form-encoded: ``api_key`` (an API token of an operator or the
  coordinator: ``flask users token``), ``service_code``, a location (lat & long,
  address_string or address_id = a ward/commune code), description (at least 10
  characters: the subject is its first line), the reporter's first_name, last_name,
  phone and email (none of them: anonymous), media_url, device_id and account_id (kept at
  the end of the body, staff only), ``attribute[kind]`` (feedback, petition, suggestion,
  complaint, denunciation: a denouncer's identity is sealed by intake and never echoed)
  and ``attribute[area]``. Synchronous (realtime): the answer holds the case code as
  ``service_request_id`` and, in ``service_notice``, the due times and the citizen's
  access key (the JSON API's 201 answer gives it to the same staff callers).
- ``GET requests.{fmt}`` (service_request_id, service_code, start_date, end_date, status
  and the page/page_size extension; by default the last 90 days, at most 1000) and
  ``GET requests/{id}.{fmt}`` show only cases of public categories that are neither
  complaints nor denunciations; any other id is 404, as an unknown one. A request's
  ``description`` is its category's name until the unit head has approved the answer
  (the approval that publishes it on the follow-up and transparency pages); only then
  the subject, redacted (feedback.services.oversight.redact.published_subject): a
  citizen's words are not put out unread, whatever name they hold. Never the body, the
  reporter, the typed street address or media; ``address``/``address_id`` are the
  ward/commune, lat/long are rounded to 3 decimals (about 100 m); ``status`` is closed
  for closed, rejected and merged cases; ``agency_responsible`` is the handling unit,
  ``expected_datetime`` the response due.
- ``tokens/{id}.{fmt}``: no token is ever issued; a listed request's id is its own token.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from ..database import RETRY_AFTER_SECONDS, is_busy, unit_of_work
from ..domain.marks import N_
from ..domain.states import STATUS_LABELS, Status
from ..extensions import csrf, db
from ..i18n import HTTP_MESSAGES, translated_text
from ..models import Case, Category
from ..security.access import public
from ..security.limits import api_limit
from ..services.errors import ServiceError
from ..services.intake.submission import KIND_LABELS
from ..services.oversight.redact import published_subject
from ..services.reference.settings import get_setting
from . import open311_requests
from .open311_requests import Open311Error
from .outputs import iso

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
api_limit(bp)
csrf.exempt(bp)

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CHANGESET = "2024-06-01T00:00:00+07:00"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
UNPUBLISHED = N_("Yêu cầu của người dân, đang được xem xét.")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- writing JSON and XML ----------------------------------------------------------------


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, _ITEMS[element.tag]), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))


def to_xml(root: str, payload: Any) -> str:
    element = ET.Element(root)
    _fill(element, payload)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode")


def _render(payload: Any, root: str, fmt: str, status: int = 200) -> Response:
    if fmt == "xml":
        body = to_xml(root, payload)
    else:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, content_type=CONTENT_TYPES[fmt])


def _format(fmt: str) -> str:
    if fmt not in CONTENT_TYPES:
        raise Open311Error(404, N_("Định dạng chỉ có thể là .json hoặc .xml."))
    return fmt


def _error(status: int, descriptions: list[str]) -> Response:
    fmt = "xml" if request.path.endswith(".xml") else "json"
    payload = [{"code": status, "description": translated_text(d)} for d in descriptions]
    return _render(payload, "errors", fmt, status)


@bp.errorhandler(OperationalError)
def busy(exc: OperationalError) -> Response:
    """A lock held too long (feedback.database): 503 and Retry-After, in this API's error
    format rather than the JSON API's."""
    db.session.rollback()
    if not is_busy(exc):
        raise exc
    response = _error(503, [HTTP_MESSAGES[503]])
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    """Every refusal, ours (Open311Error, with its descriptions) or a service's (its message),
    in the specification's error list; the specification has no 422, so invalid input is 400."""
    db.session.rollback()
    descriptions = exc.descriptions if isinstance(exc, Open311Error) else [exc.message]
    return _error(400 if exc.status >= 422 else exc.status, descriptions)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    response = _error(status, [HTTP_MESSAGES.get(status, HTTP_MESSAGES[400])])
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


# --- discovery and services --------------------------------------------------------------


@bp.get("/discovery.<fmt>")
@public
def discovery(fmt: str) -> Response:
    authority = get_setting("city_authority", "Ủy ban nhân dân thành phố Hà Giang")
    document = {
        "changeset": CHANGESET,
        "contact": _("%(authority)s — Văn phòng HĐND-UBND, tổng đài 1022.", authority=authority),
        "key_service": _(
            "api_key là mã API của tài khoản cán bộ (điện thoại viên 1022 hoặc "
            "Văn phòng điều phối), do quản trị cấp bằng lệnh «flask users token»."
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": request.host_url.rstrip("/") + (bp.url_prefix or ""),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return _render(document, "discovery", _format(fmt))


def _keywords(category: Category) -> str:
    tags = [category.code]
    for name in (category.name, category.name_en):
        tags += [t.strip() for t in re.split(r"[,;]", name) if t.strip()]
    return ", ".join(dict.fromkeys(tags))


@bp.get("/services.<fmt>")
@public
def services(fmt: str) -> Response:
    fmt = _format(fmt)
    rows = db.session.scalars(
        select(Category)
        .options(selectinload(Category.dimension))
        .order_by(Category.sort_order, Category.code)
    )
    listing = [
        {
            "service_code": c.code,
            "service_name": c.citizen_label,
            "description": f"{c.name} ({c.name_en})",
            "metadata": True,
            "type": "realtime",
            "keywords": _keywords(c),
            "group": c.dimension.name,
        }
        for c in rows
    ]
    return _render(listing, "services", fmt)


def _attribute(code: str, order: int, description: str, values: list[Any]) -> dict[str, Any]:
    return {
        "variable": True,
        "code": code,
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": None,
        "order": order,
        "description": description,
        "values": values,
    }


@bp.get("/services/<code>.<fmt>")
@public
def service_definition(code: str, fmt: str) -> Response:
    fmt = _format(fmt)
    category = open311_requests.find_category(code)
    if category is None:
        raise Open311Error(404, open311_requests.unknown_service(code))
    kinds = [{"key": k, "name": _(label)} for k, label in KIND_LABELS.items()]
    areas = [{"key": a.code, "name": a.name} for a in open311_requests.areas()]
    where = _("Xã, phường nơi xảy ra sự việc (như address_id), để chuyển đúng UBND, Công an.")
    definition = {
        "service_code": category.code,
        "attributes": [
            _attribute("kind", 1, _("Loại đơn; mặc định: phản ánh (feedback)."), kinds),
            _attribute("area", 2, where, areas),
        ],
    }
    return _render(definition, "service_definition", fmt)


# --- service requests --------------------------------------------------------------------


def request_view(case: Case) -> dict[str, Any]:
    """One request as GET shows it: no reporter, body, typed address or media, ever."""
    closed = case.status in open311_requests.CLOSED
    updated = case.closed_at if closed and case.closed_at else case.updated_at
    area = case.area
    return {
        "service_request_id": case.code,
        "status": "closed" if closed else "open",
        "status_notes": _(STATUS_LABELS[Status(case.status)]),
        "service_name": case.category.citizen_label if case.category else None,
        "service_code": case.category.code if case.category else None,
        "description": published_subject(case)
        or (case.category.citizen_label if case.category else _(UNPUBLISHED)),
        "agency_responsible": case.handling_unit.name,
        "service_notice": translated_text(open311_requests.notice(case)),
        "requested_datetime": iso(case.received_at),
        "updated_datetime": iso(updated),
        "expected_datetime": iso(case.response_due_at),
        "address": area.name if area else None,
        "address_id": area.code if area else None,
        "zipcode": None,
        "lat": round(case.lat, 3) if case.lat is not None else None,
        "long": round(case.lon, 3) if case.lon is not None else None,
        "media_url": None,
    }


@bp.post("/requests.<fmt>")
@public
def create_request(fmt: str) -> Response:
    fmt = _format(fmt)
    with unit_of_work():
        case, key = open311_requests.create_request(
            request.form.to_dict(flat=False), datetime.now(UTC)
        )
        notice = translated_text(open311_requests.notice(case))
        if key:
            notice += " " + _("Mã tra cứu của người dân: %(key)s.", key=key)
        answer = [{"service_request_id": case.code, "service_notice": notice, "account_id": None}]
    return _render(answer, "service_requests", fmt)


@bp.get("/requests.<fmt>")
@public
def requests(fmt: str) -> Response:
    fmt = _format(fmt)
    found = open311_requests.query_requests(request.args.to_dict(flat=False), datetime.now(UTC))
    return _render([request_view(c) for c in found], "service_requests", fmt)


@bp.get("/requests/<code>.<fmt>")
@public
def one_request(code: str, fmt: str) -> Response:
    fmt = _format(fmt)
    return _render([request_view(open311_requests.one_request(code))], "service_requests", fmt)


@bp.get("/tokens/<token>.<fmt>")
@public
def token(token: str, fmt: str) -> Response:
    fmt = _format(fmt)
    case = open311_requests.one_request(token)
    return _render([{"service_request_id": case.code, "token": token}], "service_requests", fmt)


@bp.route("/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@public
def not_found(rest: str = "") -> Response:
    """Anything else under /open311/v2/: 405 for a known resource asked with the wrong
    method, else 404, in the specification's error format."""
    adapter = current_app.create_url_adapter(request)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _values = adapter.match(method=method) if adapter else ("", {})
        except HTTPException:
            continue
        if endpoint != "open311.not_found":
            allowed.append(method)
    if allowed:
        response = _error(405, [HTTP_MESSAGES[405]])
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _error(404, [N_("Không có tài nguyên này trong GeoReport v2.")])
