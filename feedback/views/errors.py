"""Error pages and JSON errors: always a clear 4xx/503 with a Vietnamese message."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, render_template
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from ..database import RETRY_AFTER_SECONDS, is_busy
from ..domain.marks import N_
from ..extensions import db
from ..i18n import HTTP_MESSAGES, translated_fields_text, translated_text
from ..security.access import wants_json
from ..services.errors import ServiceError


def _respond(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Any:
    if wants_json():
        # A page's template translates with |translated; a JSON body is translated here
        # (English when the program asked for it in Accept-Language or ?lang).
        body = {"error": code, "message": translated_text(message)}
        return jsonify(**body, fields=translated_fields_text(fields or {})), status
    return render_template("errors/error.html", status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, exc.description or N_("Lỗi."))
        if status == 400 and exc.description and "CSRF" in exc.description:
            # Marked (N_): the error page shows it with _().
            message = N_("Phiên làm việc đã hết hạn. Vui lòng tải lại trang rồi gửi lại.")
        return _respond(status, (exc.name or "error").lower().replace(" ", "_"), message)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Any:
        db.session.rollback()
        return _respond(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(OperationalError)
    def busy(exc: OperationalError) -> Any:
        db.session.rollback()
        if is_busy(exc):
            body, status = _respond(503, "busy", HTTP_MESSAGES[503])
            response = make_response(body, status)
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        raise exc
