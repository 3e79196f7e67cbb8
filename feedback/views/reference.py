"""Reference data for the admin (applied packs, areas by period, successions, accounts
still attached to retired units) and the branding every page wears.

Packs are applied from the command line (``flask --app feedback reference apply FILE``):
a change of the map re-routes open cases and is reviewed before it is run, so the page
shows what was applied and what is left to do, it applies nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy.exc import SQLAlchemyError

from ..models.reference import SINCE_ALWAYS
from ..security.access import roles
from ..services.reference.branding import DEFAULT_CITY, DEFAULT_TAGLINE, Branding, branding_at
from ..services.reference.packs import overview

bp = Blueprint("reference", __name__, url_prefix="/quan-tri/du-lieu-tham-chieu")
FALLBACK = Branding(
    site_name=DEFAULT_CITY,
    tagline=DEFAULT_TAGLINE,
    authority="Ủy ban nhân dân thành phố Hà Giang",
    issuer=DEFAULT_CITY,
    place="TP. Hà Giang",
    province="Tỉnh Hà Giang",
)


def _day(value: date | None) -> str:
    if value is None or value == SINCE_ALWAYS:
        return ""
    return value.strftime("%d/%m/%Y")


@bp.app_context_processor
def branding() -> dict[str, Any]:
    """Today's owner of the service, for the header, the title and the footer."""

    def current() -> Branding:
        try:
            return branding_at(datetime.now(UTC))
        except SQLAlchemyError:
            # An error page (the database down or locked) must still render: without the
            # reading, the base file's name.
            return FALLBACK

    return {"branding": current, "valid_day": _day}


@bp.get("")
@roles("admin")
def index() -> Any:
    return render_template("admin/reference.html", data=overview(datetime.now(UTC)))
