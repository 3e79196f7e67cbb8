"""The input gate: every request's path, query parameters and form fields are checked
once, before any view or service sees them (issue 13, finding 7).

PostgreSQL refuses a NUL byte in text outright, so before this gate a NUL typed into the
login form, the look-up form, a case address or a note reached the database and came back
as a 500; an integer of twenty digits overflowed an OFFSET the same way. No view can be
trusted to remember every such check, so they are made here, for all of them:

- the path: no control character (no resource has one in its name) → 404; a number in
  the path (``/hom-thu/<int:box_id>``) beyond what a database integer holds → 404;
- query parameters: no control character at all (a parameter is never multi-line text),
  and no integer of more than 18 digits (nothing the service counts is that large);
- form fields: no control character except tab, CR and LF (a letter's body has lines);
  field names: none at all.

A refusal is a 4xx with a message naming the fields: the HTML 400 page in the reader's language, and
on ``/api/`` and ``/open311/`` their own error shapes (the blueprints' error handlers
answer the ServiceError raised here; the JSON API says 422 ``validation_failed``, the
status its document gives for bad parameters). What a field may hold beyond this (no
invisible or direction-changing characters in names and subjects, a phone number's shape)
is the forms' and the services' rule, from ``feedback.domain.text`` and
``feedback.domain.contact``.

JSON bodies are the API's own business: ``feedback.api.inputs`` reads them strictly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain.marks import N_
from ..domain.text import CONTROL_MESSAGE, control_characters
from ..services.errors import NotFound, ServiceError, ValidationError

MAX_DATABASE_INT = 2**63 - 1
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
MESSAGE = N_("Dữ liệu gửi lên không hợp lệ (%(named)s). Vui lòng kiểm tra lại.")
ABSURD_MESSAGE = N_("Số quá lớn.")
NOT_FOUND = N_("Không tìm thấy trang hoặc hồ sơ.")
_ABSURD_INTEGER = re.compile(r"[+-]?0*[0-9]{19,}")
_MAX_NAMED = 5  # fields named in one refusal: enough to act on, short enough to read


class InvalidInput(ServiceError):
    """What the gate refuses on a page or in Open311: 400 with the fields named."""

    status = 400
    code = "invalid_input"


def _shown(name: str) -> str:
    """A field name as it may appear in a message: controls replaced, at most 40 chars."""
    return "".join("?" if control_characters(ch, multiline=False) else ch for ch in name[:40])


def _problems(
    pairs: Iterable[tuple[str, str]], *, multiline: bool, integers: bool
) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        if len(found) >= _MAX_NAMED:
            break
        if control_characters(name, multiline=False) or control_characters(
            value, multiline=multiline
        ):
            found[_shown(name)] = CONTROL_MESSAGE
        elif integers and _ABSURD_INTEGER.fullmatch(value.strip()):
            found[_shown(name)] = ABSURD_MESSAGE
    return found


def _form_pairs() -> list[tuple[str, str]]:
    if request.method not in ("POST", "PUT", "PATCH") or request.mimetype not in FORM_TYPES:
        return []
    try:
        return list(request.form.items(multi=True))
    except RequestEntityTooLarge:
        return []  # the view answers a body over the limit its own way (413, data kept)


def check_input() -> None:
    """``before_request``: raise a ServiceError for input no view should see."""
    if control_characters(request.path, multiline=False):
        raise NotFound(NOT_FOUND)
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not -MAX_DATABASE_INT <= value <= MAX_DATABASE_INT:
            raise NotFound(NOT_FOUND)
    fields = _problems(request.args.items(multi=True), multiline=False, integers=True)
    fields |= _problems(_form_pairs(), multiline=True, integers=False)
    if not fields:
        return
    # The fields' problems are put in the sentence in the reader's language here: a list of
    # any length cannot be a marked template's value and be translated later.
    named = "; ".join(f"{name}: {_(text).rstrip('.')}" for name, text in fields.items())
    message = N_(MESSAGE, named=named)
    if request.path.startswith("/api/"):
        raise ValidationError(message, fields)
    raise InvalidInput(message, fields)
