"""Error pages and JSON errors: always a clear 4xx/503 with a Vietnamese message."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, render_template
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..i18n import HTTP_MESSAGES
from ..security.access import wants_json
from ..services.errors import ServiceError

# PostgreSQL: lock_timeout (55P03), statement_timeout (57014), serialization failure
# (40001), deadlock (40P01): the request waited too long or lost a race; it may be retried.
BUSY_STATES = frozenset({"55P03", "57014", "40001", "40P01"})


def _respond(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Any:
    if wants_json():
        return jsonify(error=code, message=message, fields=fields or {}), status
    return render_template("errors/error.html", status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, exc.description or "Lỗi.")
        if status == 400 and exc.description and "CSRF" in exc.description:
            message = "Phiên làm việc đã hết hạn. Vui lòng tải lại trang rồi gửi lại."
        return _respond(status, (exc.name or "error").lower().replace(" ", "_"), message)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Any:
        db.session.rollback()
        return _respond(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(OperationalError)
    def busy(exc: OperationalError) -> Any:
        db.session.rollback()
        reason = str(exc.orig).lower()
        state = getattr(exc.orig, "sqlstate", None)
        if (
            "locked" in reason
            or "could not serialize" in reason
            or "deadlock" in reason
            or state in BUSY_STATES
        ):
            body, status = _respond(503, "busy", HTTP_MESSAGES[503])
            response = make_response(body, status)
            response.headers["Retry-After"] = "2"
            return response
        raise exc
