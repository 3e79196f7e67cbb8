"""The staff desk: the unit's inbox and the case page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from ..database import unit_of_work
from ..domain.permissions import CASE_READER_ROLES, STAFF_ROLES, Op, roles_holding
from ..extensions import db
from ..models import Case, CaseLink
from ..security.access import roles
from ..services.errors import ServiceError
from ..services.handling.deadlines import derive
from ..services.handling.visibility import inbox_query, ops_for
from ..services.intake.duplicates import link_cases
from ..services.intake.identity import identity_of
from ..services.params import page_of

bp = Blueprint("desk", __name__, url_prefix="/can-bo")

PAGE_SIZE = 50


@bp.get("/")
@roles(*CASE_READER_ROLES, "admin")
def inbox() -> Any:
    now = datetime.now(UTC)
    overdue_only = request.args.get("qua_han") == "1"
    page = page_of(request.args, page_name="trang", per_page_default=PAGE_SIZE)
    stmt = inbox_query(current_user, now, overdue_only=overdue_only)
    # One row more than the page: whether a next page exists, without counting them all.
    cases = db.session.scalars(stmt.limit(page.size + 1).offset(page.offset)).all()
    return render_template(
        "desk/inbox.html",
        cases=cases[:PAGE_SIZE],
        has_more=len(cases) > PAGE_SIZE,
        page=page.number,
        now=now,
        overdue_only=overdue_only,
    )


@bp.get("/ho-so/<code>")
@roles(*CASE_READER_ROLES)
def case(code: str) -> Any:
    found = db.session.scalar(select(Case).where(Case.code == code))
    ops = ops_for(current_user, found) if found is not None else frozenset()
    # A case outside the user's reach is "not found", so its existence does not leak.
    if found is None or Op.VIEW not in ops:
        abort(404)
    identity = identity_of(found) if Op.VIEW_IDENTITY in ops else None
    links = db.session.scalars(
        select(CaseLink).where(
            or_(CaseLink.case_id == found.id, CaseLink.linked_case_id == found.id)
        )
    ).all()
    linked = sorted(
        {lk.linked_case.code if lk.case_id == found.id else lk.case.code for lk in links}
    )
    return render_template(
        "desk/case.html",
        deadline_steps=derive(found).steps,
        case=found,
        now=datetime.now(UTC),
        ops=ops,
        identity=identity,
        linked=linked,
        Op=Op,
    )


@bp.post("/ho-so/<code>/lien-ket")
@roles(*roles_holding(Op.LINK, roles=STAFF_ROLES))
def link(code: str) -> Any:
    """Record that this case is about the same matter as another (duplicate hint)."""
    found = db.session.scalar(select(Case).where(Case.code == code))
    if found is None or Op.VIEW not in ops_for(current_user, found):
        abort(404)
    if Op.LINK not in ops_for(current_user, found):
        abort(403)
    other = (request.form.get("link_to") or "").strip().upper()
    try:
        with unit_of_work():
            link_cases(found, other, actor=current_user, now=datetime.now(UTC))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("desk.case", code=code)), 303
    flash(f"Đã liên kết với hồ sơ {other}.", "ok")
    return redirect(url_for("desk.case", code=code)), 303
