"""Period reports (quarter, half-year, year) as XLSX and PDF.

``GET /bao-cao/`` lists the reports of this year and the last with their due dates;
``GET /bao-cao/<period>.xlsx`` and ``.pdf`` build the report now
(feedback.services.reports.period and .files, from the shared metrics) and send it as a
download, in the language of the page that asked for it. Inspectors, the coordinator, and
the staff of the two units that compile and submit the reports: Văn phòng HĐND-UBND (VP)
and Phòng Nội vụ (NV).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user

from ..domain.calendar import LOCAL_TZ
from ..domain.permissions import REPORT_ROLES, UNIT_ROLES
from ..i18n import current_language, translated_text
from ..security.access import roles
from ..services.reports import period as reports
from ..services.reports.files import pdf_bytes, xlsx_bytes
from ..services.reports.output import DRAFT_AHEAD_DAYS

bp = Blueprint("reports", __name__, url_prefix="/bao-cao")

REPORT_UNITS = ("VP", "NV")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _check_unit() -> None:
    """Officers and unit heads only of the units that compile the reports."""
    if current_user.role in UNIT_ROLES and (
        current_user.unit is None or current_user.unit.code not in REPORT_UNITS
    ):
        abort(403)


@bp.get("/")
@roles(*REPORT_ROLES)
def index() -> Any:
    _check_unit()
    now = datetime.now(UTC)
    year = now.astimezone(LOCAL_TZ).year
    periods = [*reports.periods_of(year), *reports.periods_of(year - 1)]
    today = now.astimezone(LOCAL_TZ).date()
    rows = [
        {
            "period": p,
            "days_left": (p.due_before - today).days,
            "started": p.start <= today,
            "ended": p.end <= today,
        }
        for p in sorted(periods, key=lambda p: (p.due_before, len(p.key)), reverse=True)
    ]
    return render_template("reports/index.html", rows=rows, ahead=DRAFT_AHEAD_DAYS)


def _send(period_text: str, ext: str) -> Any:
    _check_unit()
    period = reports.parse_period(period_text)  # a bad period is a 422 page
    now = datetime.now(UTC)
    report = reports.build_report(period, now)
    # In the language of the page that asked (?lang=en or the session's choice).
    if ext == "xlsx":
        data, mimetype = xlsx_bytes(report, translated_text), XLSX_TYPE
    else:
        data, mimetype = pdf_bytes(report, translated_text, current_language()), "application/pdf"
    response = send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"bao-cao-{period.key}.{ext}",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<period>.xlsx")
@roles(*REPORT_ROLES)
def xlsx(period: str) -> Any:
    return _send(period, "xlsx")


@bp.get("/<period>.pdf")
@roles(*REPORT_ROLES)
def pdf(period: str) -> Any:
    return _send(period, "pdf")
