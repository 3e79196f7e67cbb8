"""CSV and XLSX exports of filtered case lists, without confidential fields.

``GET /can-bo/xuat/cases.csv`` and ``/cases.xlsx`` take the staff search's filters
(``unit``, ``status``, ``kind``, ``channel``, ``area``, ``category``, ``overdue``, ``q``)
and export what the search would list to the same user (feedback.services.oversight.exports says
which columns, and which never), all of it, streamed. The header and the label columns are
in the language of the page that asked (``?lang=en`` or the session's choice). Every staff
role but admin; bad parameters are a 422; every export is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user

from ..database import unit_of_work
from ..domain.permissions import SEARCH_ROLES
from ..i18n import current_language, translated_fields_text, translated_text
from ..security.access import roles
from ..services.errors import ValidationError
from ..services.oversight import exports

bp = Blueprint("exports", __name__, url_prefix="/can-bo/xuat")

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _prepare(extension: str) -> tuple[exports.Export, datetime]:
    """Check the filters, count the rows and write the audit row (committed before the
    first byte, so an interrupted download is still on record)."""
    now = datetime.now(UTC)
    args = request.args.to_dict(flat=False)
    # ?lang=en is the language switch's (feedback.i18n): it says the file's language. The
    # language is settled now, before the first byte: the session that remembers it is
    # saved with the headers, not after the streamed body.
    args.pop("lang", None)
    current_language()
    try:
        criteria = exports.parse(args)
        with unit_of_work():
            export = exports.prepare(current_user, criteria, now)
            exports.record(export, args, extension, actor=current_user, now=now)
        return export, now
    except ValidationError as exc:
        # Name each bad parameter: the address is usually a bookmark or a script's. In
        # the reader's language here: the sentence is put together from its parts.
        # Plain text (translated_text): the sentence is joined here and shown as one.
        fields = translated_fields_text(exc.fields)
        named = "; ".join(f"{name}: {text}" for name, text in fields.items())
        raise ValidationError(f"{translated_text(exc.message)} {named}".strip(), fields) from None


def _headers(name: str, total: int) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Total-Count": str(total),
        # A proxy that buffered the file would undo the streaming (nginx).
        "X-Accel-Buffering": "no",
    }


@bp.get("/cases.csv")
@roles(*SEARCH_ROLES)
def cases_csv() -> Any:
    export, now = _prepare("csv")
    chunks = exports.csv_chunks(export, translated_text)
    body = stream_with_context(chunk.encode("utf-8") for chunk in chunks)
    return Response(
        body, content_type=CSV_TYPE, headers=_headers(exports.filename("csv", now), export.total)
    )


@bp.get("/cases.xlsx")
@roles(*SEARCH_ROLES)
def cases_xlsx() -> Any:
    export, now = _prepare("xlsx")
    return Response(
        stream_with_context(exports.xlsx_chunks(export, translated_text)),
        content_type=XLSX_TYPE,
        headers=_headers(exports.filename("xlsx", now), export.total),
    )
