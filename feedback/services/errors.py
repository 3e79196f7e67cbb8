"""The refusals services raise, one hierarchy for every caller.

A ServiceError carries an HTTP status, a code for machines, a Vietnamese message for people
and per-field messages; the pages put it on the form or the error page, the JSON API and
Open311 in their own error shapes, the commands on stderr. A refusal writes nothing: the
unit of work rolls back. Modules add subclasses with their own code (``InvalidMove``,
``Open311Error``), never a parallel class of the same name."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal the user can act on: a code for machines, a Vietnamese message for people,
    and per-field messages for forms and the API."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(ServiceError):
    status = 422
    code = "validation_failed"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The thing moved on: another user acted first, or it is closed (a case, a box's
    opening), or its counts disagree. Every such refusal is this class, so one
    ``except Conflict`` (the API's 409, a form's message) catches them all."""

    status = 409
    code = "conflict"
