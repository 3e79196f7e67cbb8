"""Staff search across the cases a user may see (feedback.services.oversight.search, the same query
as ``GET /api/v1/cases``).

A GET form, so a search is a bookmarkable address and needs no CSRF token. Bad parameters
(a tampered bookmark) get the form back with each problem named and status 422. Results
never show who reported a case, whatever the kind and the role: the reporter is on the
case page, for those the permission table allows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..domain.permissions import SEARCH_ROLES
from ..domain.states import STATUS_LABELS
from ..extensions import db
from ..i18n import translated, translated_fields
from ..models import Area, Unit
from ..security.access import roles
from ..services.errors import ValidationError
from ..services.intake.submission import CHANNEL_LABELS, KIND_LABELS
from ..services.oversight.search import FILTERS, Results, search
from ..services.sla.sweep import is_overdue
from .forms.choices import category_groups

bp = Blueprint("search", __name__, url_prefix="/can-bo/tim-kiem")

PAGE_SIZE = 50


def _choices() -> dict[str, Any]:
    units = db.session.scalars(select(Unit).where(Unit.active).order_by(Unit.name)).all()
    areas = db.session.scalars(select(Area).where(Area.active).order_by(Area.name)).all()
    return {
        "units": [(u.code, u.name) for u in units],
        "areas": [(a.code, a.name) for a in areas],
        "categories": category_groups(),
        "statuses": [(s.value, label) for s, label in STATUS_LABELS.items()],
        "kinds": list(KIND_LABELS.items()),
        "channels": list(CHANNEL_LABELS.items()),
    }


@bp.get("/")
@roles(*SEARCH_ROLES)
def index() -> Any:
    now = datetime.now(UTC)
    args = request.args.to_dict(flat=False)
    # ?lang=en is the language switch's (feedback.i18n), not a search parameter.
    args.pop("lang", None)
    # What the form shows back: the first value of each known parameter.
    given = {name: (args.get(name) or [""])[0] for name in FILTERS}
    results: Results | None = None
    errors: dict[str, str] = {}
    message = None
    try:
        results = search(current_user, args, now, default_per_page=PAGE_SIZE)
    except ValidationError as exc:
        errors, message = translated_fields(exc.fields), translated(exc.message)
    # Paging links keep the filters and the page size, and nothing else.
    keep = {k: v for k, v in given.items() if v.strip()}
    if results is not None and "per_page" in args:
        keep["per_page"] = str(results.per_page)
    page = render_template(
        "search/index.html",
        given=given,
        keep=keep,
        results=results,
        errors=errors,
        message=message,
        now=now,
        is_overdue=is_overdue,
        **_choices(),
    )
    return page, 422 if errors else 200
