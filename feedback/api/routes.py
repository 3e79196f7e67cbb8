"""The JSON API v1 (DESIGN.md, "Public contract of the JSON API").

Thin views: each reads the request, calls one service and answers JSON. Beside them in
feedback.api: inputs (reading bodies: the error shape, the 64 KiB limit), outputs (writing
cases: times in ISO 8601 with Hà Giang's +07:00 offset), cases (creation with idempotency,
reading one case, the list, whose query feedback.services.oversight.search shares with the
search page), actions (acknowledge, transfer, answer, close, reopen, progress) and docs (the
OpenAPI document and its page for people).

Authentication is by bearer token only (``Authorization: Bearer ...``): the blueprint is
CSRF-exempt and feedback.security ignores the session cookie under /api/. A request that
sends an Authorization header the app does not accept gets 401, even on public routes,
rather than being silently treated as a citizen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..database import unit_of_work
from ..domain.marks import N_
from ..domain.permissions import OVERSIGHT_ROLES, SEARCH_ROLES, STAFF_ROLES, Op, roles_holding
from ..extensions import csrf, db
from ..i18n import current_language, translated_fields_text, translated_text
from ..models import User
from ..security.access import public, roles
from ..security.limits import (
    api_limit,
    api_lookup_limit,
    api_submit_limit,
    charge_upload_quota,
    check_upload_quota,
)
from ..services.errors import ServiceError
from ..services.handling.deadlines import preview
from ..services.intake.attachments import read_uploads
from ..services.intake.case_files import add_files
from ..services.oversight.monitor import monitor_page, to_json
from ..services.oversight.monitor_filters import parse_request
from . import actions as api_actions
from . import cases as api_cases
from .docs import openapi_text, page_context
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
    body = {"error": exc.code, "message": translated_text(exc.message)}
    response = _json({**body, "fields": translated_fields_text(exc.fields)}, exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="feedback"'
    return response


def _caller() -> User | None:
    """The token's user; None for a citizen (no Authorization header at all)."""
    if "Authorization" not in request.headers:
        return None
    if not current_user.is_authenticated:
        raise Unauthorized(N_("Mã truy cập (token) không hợp lệ hoặc đã bị thu hồi."))
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _body(*, allow_empty: bool = False) -> dict[str, Any]:
    try:
        return read_body(
            request.content_length, request.stream, request.mimetype, allow_empty=allow_empty
        )
    except RequestEntityTooLarge:
        raise PayloadTooLarge(N_("Dữ liệu gửi lên quá lớn.")) from None


@bp.post("/cases")
@api_submit_limit
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
@api_lookup_limit
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
@api_lookup_limit
@public
def add_attachments(code: str) -> Response:
    """multipart/form-data, one or more ``file`` parts: a staff token that may see the
    case, or the citizen's ``X-Access-Key`` (a use of the key: the look-up's limit, and
    the address's daily upload quota)."""
    user = _caller()
    uploads = read_uploads(request.files.getlist("file"), field="file")
    if user is None:
        check_upload_quota(uploads, field="file")
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
    if user is None:
        charge_upload_quota(uploads)
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


@bp.post("/cases/<code>/progress")
@roles(*roles_holding(Op.PROGRESS, roles=STAFF_ROLES))
def progress(code: str) -> Response:
    return _act(code, "progress")


@bp.get("/deadlines")
@public
def deadlines() -> Response:
    """When a case received at ``received_at`` (default now) of ``kind`` must be
    acknowledged and answered, by the policy and the calendar."""
    found = preview(request.args.get("kind"), request.args.get("received_at"), datetime.now(UTC))
    found["explanation"] = [translated_text(line) for line in found.get("explanation", [])]
    return _json(found)


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


# --- the OpenAPI document and its human-readable page (feedback.api.docs) ----------------


@bp.get("/openapi.json")
@public
def openapi_json() -> Response:
    response = Response(openapi_text(current_language()), mimetype="application/json")
    response.vary.add("Accept-Language")
    return response


@bp.get("/docs")
@public
def docs() -> str:
    """The API documented for people, rendered on the server from the OpenAPI document."""
    return render_template("api/docs.html", **page_context(current_language()))
