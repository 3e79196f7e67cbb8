"""The staff desk: the unit's inbox and the case page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..database import unit_of_work
from ..domain.deadlines import local_date
from ..domain.permissions import (
    APPROVER_FALLBACK_ROLES,
    APPROVER_SETTER_ROLES,
    CASE_READER_ROLES,
    NAMED_APPROVER_ROLES,
    STAFF_ROLES,
    Op,
    roles_holding,
)
from ..domain.promises import ack_limit_text
from ..domain.routing import reason_message
from ..extensions import db
from ..i18n import translated
from ..models import Case, CaseLink, User
from ..security.access import roles
from ..services.errors import ServiceError
from ..services.handling import inbox, queues
from ..services.handling.approvers import set_approver
from ..services.handling.deadlines import derive
from ..services.handling.visibility import ops_for
from ..services.intake.duplicates import link_cases
from ..services.intake.identity import identity_of
from ..services.reference.policies import case_policy, to_domain_policy
from .workflow import refusal

bp = Blueprint("desk", __name__, url_prefix="/can-bo")

PAGE_SIZE = 50


@bp.get("/", endpoint="inbox")
@roles(*CASE_READER_ROLES, "admin")
def inbox_page() -> Any:
    """The user's cases in the order of work (nearest due first), open ones by default,
    with the filters of issue 16; pages continue from a cursor (``sau``)."""
    now = datetime.now(UTC)
    try:
        chosen = inbox.parse(request.args)
        cases = db.session.scalars(
            inbox.inbox_page(current_user, chosen, now, PAGE_SIZE).options(
                selectinload(Case.category), selectinload(Case.area)
            )
        ).all()
    except ServiceError as exc:
        return render_template("errors/error.html", status=422, message=exc.message), 422
    shown = cases[:PAGE_SIZE]
    limits: dict[tuple[str, int, Any], str] = {}

    def ack_limit(c: Case) -> str:
        """The kind's own acknowledgement limit (24 giờ, 10 ngày làm việc…), memoised
        per kind, round and day of receipt: one policy look-up per distinct one."""
        key = (c.kind, c.round or 1, local_date(c.received_at))
        if key not in limits:
            limits[key] = ack_limit_text(to_domain_policy(case_policy(c)), gettext)
        return limits[key]

    return render_template(
        "desk/inbox.html",
        cases=shown,
        next_cursor=inbox.cursor_of(shown[-1]) if len(cases) > PAGE_SIZE else None,
        chosen=chosen,
        params=chosen.params(),
        export_params=chosen.export_params(),
        first_page=chosen.after is None,
        ack_limit=ack_limit,
        now=now,
        queues=queues.queues_of(current_user),
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
        routing_reason=reason_message(found.routing_reason),
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
        flash(translated(exc.message), "error")
        return redirect(url_for("desk.case", code=code)), 303
    flash(gettext("Đã liên kết với hồ sơ %(code)s.", code=other), "ok")
    return redirect(url_for("desk.case", code=code)), 303


QUEUE_PAGES = {
    "phan-loai": ("workflow.triage", {}),
    "thu-xin-loi": ("letters.index", {"trang_thai": "owed"}),
    "don-vi": ("desk.headless_units", {}),
}
"""Queues with a page of their own (where the work is done); the others filter the inbox."""


@bp.app_context_processor
def waiting_strip() -> dict[str, Any]:
    def waiting_on_me() -> list[tuple[str, int, str]]:
        """(label, count, link) of every queue of the signed-in user, counted when the
        page's navigation asks (one COUNT each)."""
        if not current_user.is_authenticated:
            return []
        found = []
        for w in queues.waiting_on(current_user, datetime.now(UTC)):
            endpoint, params = QUEUE_PAGES.get(w.key, ("desk.inbox", {"cho": w.key}))
            found.append((gettext(w.label), w.count, url_for(endpoint, **params)))
        return found

    return {"waiting_on_me": waiting_on_me}


@bp.get("/don-vi-chua-co-lanh-dao")
@roles(*APPROVER_SETTER_ROLES)
def headless_units() -> Any:
    """Units that work cases with no active head, and who approves their answers."""
    now = datetime.now(UTC)
    rows = queues.headless_units(now)
    candidates = {
        unit.id: db.session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                or_(
                    User.role.in_(APPROVER_FALLBACK_ROLES),
                    (User.unit_id == unit.id) & User.role.in_(NAMED_APPROVER_ROLES),
                ),
            )
            .order_by(User.role, User.full_name, User.username)
        ).all()
        for unit, _, _ in rows
    }
    return render_template("desk/headless_units.html", rows=rows, candidates=candidates)


@bp.post("/don-vi-chua-co-lanh-dao")
@roles(*APPROVER_SETTER_ROLES)
def name_approver() -> Any:
    try:
        with unit_of_work():
            set_approver(
                request.form.get("unit_code", ""),
                request.form.get("username", ""),
                actor=current_user,
                now=datetime.now(UTC),
            )
    except ServiceError as exc:
        flash(refusal(exc), "error")
    else:
        flash(gettext("Đã cập nhật người phê duyệt của đơn vị."), "ok")
    return redirect(url_for("desk.headless_units"), 303)
