"""The escalation ladder (issue 16): the admin's page to list, add and delete each kind's
steps and to set the chairman's address (feedback.services.reference.ladder, which checks
and audits every change), and the case page's view of one case's ladder.

Admin only: the coordinator and the inspectorate see each case's steps on its page and on
the monitor; who is told is the city's decision, recorded by its administrator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..database import unit_of_work
from ..domain.permissions import CASE_KINDS
from ..i18n import translated, translated_fields
from ..models import Case
from ..security.access import roles
from ..services.errors import NotFound, ServiceError
from ..services.intake.submission import KIND_LABELS
from ..services.reference import ladder as service
from ..services.sla.case_ladder import CaseLadder, case_ladder
from ..services.sla.ladder import AUDIENCE_LABELS, audience_text

bp = Blueprint("ladder", __name__, url_prefix="/quan-tri/chuyen-cap")

STEP_FIELDS = (
    "kind",
    "level",
    "after_working_days",
    "label",
    *(f"notify_{k}" for k in AUDIENCE_LABELS),
)


def _page(
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    return (
        render_template(
            "admin/ladder.html",
            ladders=service.ladders(),
            chairman=service.chairman(),
            kinds=[(k, KIND_LABELS[k]) for k in CASE_KINDS],
            audiences=AUDIENCE_LABELS,
            audience_text=lambda step: audience_text(step, gettext),
            errors=translated_fields(errors or {}),
            form=form or {},
        ),
        status,
    )


@bp.get("")
@roles("admin")
def index() -> Any:
    return _page()[0]


@bp.post("/them")
@roles("admin")
def add() -> Any:
    form = {k: request.form.get(k, "") for k in STEP_FIELDS}
    try:
        with unit_of_work():
            row = service.add_step(
                form, user=current_user._get_current_object(), now=datetime.now(UTC)
            )
            message = gettext(
                "Đã thêm bậc %(level)s cho %(kind)s.",
                level=row.level,
                kind=gettext(KIND_LABELS[row.kind]).lower(),
            )
    except ServiceError as exc:
        return _page(exc.fields or {"ladder": exc.message}, form, exc.status)
    flash(message, "ok")
    return redirect(url_for("ladder.index"), 303)


@bp.post("/xoa")
@roles("admin")
def delete() -> Any:
    step_id = request.form.get("step_id", type=int)
    try:
        with unit_of_work():
            row = service.delete_step(
                step_id, user=current_user._get_current_object(), now=datetime.now(UTC)
            )
            message = gettext(
                "Đã xóa bậc %(level)s của %(kind)s.",
                level=row.level,
                kind=gettext(KIND_LABELS[row.kind]).lower(),
            )
    except NotFound as exc:
        flash(translated(exc.message), "error")
        return redirect(url_for("ladder.index"), 303)
    except ServiceError as exc:
        return _page(exc.fields or {"ladder": exc.message}, status=exc.status)
    flash(message, "ok")
    return redirect(url_for("ladder.index"), 303)


@bp.post("/chu-tich")
@roles("admin")
def chairman() -> Any:
    address = request.form.get("chairman", "")
    try:
        with unit_of_work():
            saved = service.set_chairman(
                address, user=current_user._get_current_object(), now=datetime.now(UTC)
            )
    except ServiceError as exc:
        return _page(exc.fields, {"chairman": address}, exc.status)
    flash(
        gettext("Đã lưu địa chỉ thư của Chủ tịch: %(address)s.", address=saved)
        if saved
        else gettext(
            "Đã bỏ địa chỉ thư của Chủ tịch: các bậc báo Chủ tịch sẽ gửi Thanh tra thành phố."
        ),
        "ok",
    )
    return redirect(url_for("ladder.index"), 303)


@bp.app_context_processor
def ladder_of_case() -> dict[str, Any]:
    def of(case: Case) -> CaseLadder:
        """The case's steps reached and ahead (templates/desk/_escalations.html)."""
        return case_ladder(case, datetime.now(UTC))

    return {"case_ladder": of}
