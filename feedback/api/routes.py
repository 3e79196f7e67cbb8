"""The JSON API v1 (DESIGN.md, "Public contract of the JSON API").

Thin views: each reads the request, calls one service and answers JSON. The services:
api_input (reading bodies: the error shape, the 64 KiB limit), api_views (writing cases:
times in ISO 8601 with Hà Giang's +07:00 offset), api_cases (creation with idempotency,
reading one case, the list), search (the list's query, shared with the search page) and
api_actions (acknowledge, transfer, answer, close, reopen).

Authentication is by bearer token only (``Authorization: Bearer ...``): the blueprint is
CSRF-exempt and feedback.security ignores the session cookie under /api/. A request that
sends an Authorization header the app does not accept gets 401, even on public routes,
rather than being silently treated as a citizen.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..database import unit_of_work
from ..domain.permissions import OVERSIGHT_ROLES, SEARCH_ROLES, STAFF_ROLES, Op, roles_holding
from ..extensions import csrf, db
from ..models import User
from ..security.access import public, roles
from ..security.limits import api_limit
from ..services.errors import ServiceError
from ..services.handling.deadlines import preview
from ..services.intake.attachments import read_uploads
from ..services.intake.case_files import add_files
from ..services.oversight.monitor import monitor_page, to_json
from ..services.oversight.monitor_filters import parse_request
from . import actions as api_actions
from . import cases as api_cases
from .inputs import PayloadTooLarge, Unauthorized, read_body
from .outputs import dumps

bp = Blueprint("api", __name__, url_prefix="/api/v1")
api_limit(bp)
csrf.exempt(bp)


def _json(payload: Any, status: int = 200) -> Response:
    body = payload if isinstance(payload, str) else dumps(payload)
    return Response(body, status=status, mimetype="application/json")


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    response = _json({"error": exc.code, "message": exc.message, "fields": exc.fields}, exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="feedback"'
    return response


def _caller() -> User | None:
    """The token's user; None for a citizen (no Authorization header at all)."""
    if "Authorization" not in request.headers:
        return None
    if not current_user.is_authenticated:
        raise Unauthorized("Mã truy cập (token) không hợp lệ hoặc đã bị thu hồi.")
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _body(*, allow_empty: bool = False) -> dict[str, Any]:
    try:
        return read_body(
            request.content_length, request.stream, request.mimetype, allow_empty=allow_empty
        )
    except RequestEntityTooLarge:
        raise PayloadTooLarge("Dữ liệu gửi lên quá lớn.") from None


@bp.post("/cases")
@public
def create_case() -> Response:
    user = _caller()
    data = _body()
    answer = api_cases.create(
        data,
        user=user,
        idempotency_key=request.headers.get("Idempotency-Key"),
        now=datetime.now(UTC),
    )
    response = _json(answer.body, answer.status)
    response.headers["Location"] = url_for("api.get_case", code=answer.code)
    return response


@bp.get("/cases/<code>")
@public
def get_case(code: str) -> Response:
    user = _caller()
    if user is not None:
        return _json(api_cases.staff_case(code, user, datetime.now(UTC)))
    return _json(api_cases.public_case(code, request.headers.get("X-Access-Key")))


@bp.get("/cases")
@roles(*SEARCH_ROLES)
def list_cases() -> Response:
    user = current_user._get_current_object()
    return _json(api_cases.search(user, request.args.to_dict(flat=False), datetime.now(UTC)))


@bp.post("/cases/<code>/attachments")
@public
def add_attachments(code: str) -> Response:
    """multipart/form-data, one or more ``file`` parts: a staff token that may see the
    case, or the citizen's ``X-Access-Key``."""
    user = _caller()
    uploads = read_uploads(request.files.getlist("file"), field="file")
    with unit_of_work():
        if user is not None:
            case = api_cases.case_for_staff(code, user)
        else:
            case = api_cases.case_for_citizen(code, request.headers.get("X-Access-Key"))
        stored = add_files(case, uploads, actor=user, now=datetime.now(UTC))
        body = {
            "attachments": [
                {
                    "id": a.id,
                    "filename": a.original_name,
                    "content_type": a.content_type,
                    "size": a.size_bytes,
                    "sha256": a.sha256,
                }
                for a in stored
            ]
        }
    return _json(body, 201)


# --- staff actions (feedback.api.actions) -----------------------------------------


def _act(code: str, action: str) -> Response:
    outcome = api_actions.perform(
        action,
        code,
        _body(allow_empty=action in api_actions.BODY_OPTIONAL),
        user=current_user._get_current_object(),
        now=datetime.now(UTC),
    )
    return _json(outcome.payload, outcome.status)


@bp.post("/cases/<code>/acknowledge")
@roles(*roles_holding(Op.ACKNOWLEDGE, roles=STAFF_ROLES))
def acknowledge(code: str) -> Response:
    return _act(code, "acknowledge")


@bp.post("/cases/<code>/transfer")
@roles(*roles_holding(Op.TRANSFER, roles=STAFF_ROLES))
def transfer(code: str) -> Response:
    return _act(code, "transfer")


@bp.post("/cases/<code>/answer")
@roles(*roles_holding(Op.DRAFT_ANSWER, Op.APPROVE_ANSWER, roles=STAFF_ROLES))
def answer(code: str) -> Response:
    return _act(code, "answer")


@bp.post("/cases/<code>/close")
@roles(*roles_holding(Op.CLOSE, roles=STAFF_ROLES))
def close(code: str) -> Response:
    return _act(code, "close")


@bp.post("/cases/<code>/reopen")
@roles(*roles_holding(Op.REOPEN, roles=STAFF_ROLES))
def reopen(code: str) -> Response:
    return _act(code, "reopen")


@bp.get("/deadlines")
@public
def deadlines() -> Response:
    """When a case received at ``received_at`` (default now) of ``kind`` must be
    acknowledged and answered, by the policy and the calendar."""
    return _json(
        preview(request.args.get("kind"), request.args.get("received_at"), datetime.now(UTC))
    )


@bp.get("/oversight/breaches")
@roles(*OVERSIGHT_ROLES)
def oversight_breaches() -> Response:
    """The overdue or at-risk open cases (the breach monitor), filters as on the page, one
    page (``page``, ``per_page``) at a time, with the counts of all of them."""
    filters, page = parse_request(request.args.to_dict())
    result = monitor_page(datetime.now(UTC), filters, page.number, page.size)
    return _json(
        {
            "items": [to_json(row) for row in result.rows],
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "pages": result.pages,
            "counts": result.counts,
        }
    )


# --- the OpenAPI document and its human-readable page --------------------------------------

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "data" / "openapi.json"
"""The OpenAPI 3.1 document of this API, kept true by tests/test_openapi.py."""
_METHODS = ("get", "post", "put", "patch", "delete")


@cache
def openapi_text() -> str:
    return OPENAPI_PATH.read_text(encoding="utf-8")


def openapi_document() -> dict[str, Any]:
    return json.loads(openapi_text())  # type: ignore[no-any-return]


@bp.get("/openapi.json")
@public
def openapi_json() -> Response:
    return Response(openapi_text(), mimetype="application/json")


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type_text(schema: dict[str, Any]) -> str:
    """A schema as a reader says it: ``string | null``, ``Ref``, ``mảng Attachment``."""
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"])
    kind = schema.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for k in kinds:
        if k == "array":
            words.append("mảng " + _type_text(schema.get("items", {})))
        elif k == "string" and schema.get("format") in ("date-time", "binary"):
            words.append(f"string ({schema['format']})")
        elif k:
            words.append(str(k))
    text = " | ".join(words)
    if "enum" in schema:
        text += ": " + ", ".join("null" if v is None else str(v) for v in schema["enum"])
    if "const" in schema:
        text += f" = {schema['const']}"
    return text


def _limits(schema: dict[str, Any]) -> str:
    labels = (
        ("minLength", "ít nhất {} ký tự"),
        ("maxLength", "tối đa {} ký tự"),
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
        ("pattern", "mẫu {}"),
    )
    return "; ".join(label.format(schema[key]) for key, label in labels if key in schema)


def _fields(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(doc, schema)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type_text(prop),
            "required": name in required,
            "limits": _limits(prop),
            "description": _resolve(doc, prop).get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    base = doc["servers"][0]["url"]
    out = []
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method not in item:
                continue
            op = item[method]
            body = None
            if "requestBody" in op:
                request_body = _resolve(doc, op["requestBody"])
                media, content = next(iter(request_body["content"].items()))
                body = {
                    "media": media,
                    "required": request_body.get("required", False),
                    "schema": _type_text(content["schema"]),
                    "example": (
                        json.dumps(content["example"], ensure_ascii=False, indent=2)
                        if "example" in content
                        else None
                    ),
                }
            responses = []
            for status, response in op["responses"].items():
                named = response["$ref"].rsplit("/", 1)[-1] if "$ref" in response else None
                response = _resolve(doc, response)
                content = response.get("content", {})
                schema = next(iter(content.values()))["schema"] if content else None
                responses.append(
                    {
                        "status": status,
                        "description": response.get("description", ""),
                        "schema": _type_text(schema) if schema else named or "",
                    }
                )
            params = [_resolve(doc, p) for p in op.get("parameters", [])]
            out.append(
                {
                    "id": op.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": base + path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "auth": [
                        "Bearer token" if "bearerAuth" in req else "không cần"
                        for req in op.get("security", doc.get("security", [{}]))
                    ],
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type_text(p.get("schema", {})),
                            "limits": _limits(p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in params
                    ],
                    "body": body,
                    "responses": responses,
                }
            )
    return out


@bp.get("/docs")
@public
def docs() -> str:
    """The API documented for people, rendered on the server from the OpenAPI document."""
    doc = openapi_document()
    schemas = [
        {
            "name": name,
            "description": schema.get("description", ""),
            "type": _type_text(schema),
            "fields": _fields(doc, schema),
        }
        for name, schema in doc["components"]["schemas"].items()
    ]
    return render_template(
        "api/docs.html", info=doc["info"], operations=_operations(doc), schemas=schemas
    )
