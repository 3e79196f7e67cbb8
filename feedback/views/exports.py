"""CSV and XLSX exports of filtered case lists, without confidential fields.

``GET /can-bo/xuat/cases.csv`` and ``/cases.xlsx`` take the staff search's filters
(``unit``, ``status``, ``kind``, ``channel``, ``area``, ``category``, ``overdue``, ``q``)
and export what the search would list to the same user (feedback.services.oversight.exports says
which columns, and which never). Every staff role but admin; bad parameters are a 422.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user

from ..domain.permissions import SEARCH_ROLES
from ..security.access import roles
from ..services.errors import ValidationError
from ..services.oversight import exports

bp = Blueprint("exports", __name__, url_prefix="/can-bo/xuat")

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _prepare() -> tuple[exports.Export, datetime]:
    now = datetime.now(UTC)
    try:
        criteria = exports.parse(request.args.to_dict(flat=False))
        return exports.prepare(current_user, criteria, now), now
    except ValidationError as exc:
        # Name each bad parameter: the address is usually a bookmark or a script's.
        named = "; ".join(f"{name}: {text}" for name, text in exc.fields.items())
        raise ValidationError(f"{exc.message} {named}".strip(), exc.fields) from None


def _headers(name: str, total: int) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Total-Count": str(total),
    }


@bp.get("/cases.csv")
@roles(*SEARCH_ROLES)
def cases_csv() -> Any:
    export, now = _prepare()
    body = stream_with_context(chunk.encode("utf-8") for chunk in exports.csv_chunks(export))
    return Response(
        body, content_type=CSV_TYPE, headers=_headers(exports.filename("csv", now), export.total)
    )


@bp.get("/cases.xlsx")
@roles(*SEARCH_ROLES)
def cases_xlsx() -> Any:
    export, now = _prepare()
    return Response(
        exports.xlsx_bytes(export),
        content_type=XLSX_TYPE,
        headers=_headers(exports.filename("xlsx", now), export.total),
    )
