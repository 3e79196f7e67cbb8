"""The staff desk: the unit's inbox and the case page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..domain.permissions import Op
from ..extensions import db
from ..models import Case
from ..security import roles
from ..services.identity import identity_of
from ..services.visibility import inbox_query, ops_for

bp = Blueprint("desk", __name__, url_prefix="/can-bo")

CASE_READERS = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector")
PAGE_SIZE = 50


@bp.get("/")
@roles(*CASE_READERS, "admin")
def inbox() -> Any:
    now = datetime.now(UTC)
    overdue_only = request.args.get("qua_han") == "1"
    page = max(1, request.args.get("trang", 1, type=int) or 1)
    stmt = inbox_query(current_user, now, overdue_only=overdue_only)
    cases = db.session.scalars(stmt.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    return render_template(
        "desk/inbox.html",
        cases=cases[:PAGE_SIZE],
        has_more=len(cases) > PAGE_SIZE,
        page=page,
        now=now,
        overdue_only=overdue_only,
    )


@bp.get("/ho-so/<code>")
@roles(*CASE_READERS)
def case(code: str) -> Any:
    found = db.session.scalar(select(Case).where(Case.code == code))
    ops = ops_for(current_user, found) if found is not None else frozenset()
    # A case outside the user's reach is "not found", so its existence does not leak.
    if found is None or Op.VIEW not in ops:
        abort(404)
    identity = identity_of(found) if Op.VIEW_IDENTITY in ops else None
    return render_template(
        "desk/case.html", case=found, now=datetime.now(UTC), ops=ops, identity=identity
    )
