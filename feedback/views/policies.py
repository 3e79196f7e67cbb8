"""Administration of SLA policies: every policy period, and a form per policy in force to
change its limits or warning thresholds from a chosen future day (a new row; the old one
ends that day). A change is shown for confirmation first, then written with its audit
record in one transaction (feedback.services.reference.policy_admin)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..database import unit_of_work
from ..domain.deadlines import local_date
from ..extensions import db
from ..i18n import translated_fields
from ..models import SlaPolicy
from ..security.access import roles
from ..services.errors import ServiceError
from ..services.reference.policy_admin import EDITABLE, FIELDS, change_policy, policies

bp = Blueprint("policies", __name__, url_prefix="/quan-tri/thoi-han")


def _page(
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    editing: int | None = None,
    confirm: SlaPolicy | None = None,
    status: int = 200,
) -> Any:
    today = local_date(datetime.now(UTC))
    rows = policies()
    return (
        render_template(
            "admin/policies.html",
            rows=rows,
            in_force=[r for r in rows if r.valid_on(today)],
            fields=FIELDS,
            today=today,
            errors=translated_fields(errors or {}),
            form=form or {},
            editing=editing,
            confirm=confirm,
        ),
        status,
    )


@bp.get("")
@roles("admin")
def index() -> Any:
    return _page()[0]


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


@bp.post("/<int:policy_id>")
@roles("admin")
def change(policy_id: int) -> Any:
    form = {k: request.form.get(k, "") for k in (*EDITABLE, "valid_from", "reason")}
    valid_from = _day(form["valid_from"])
    row = db.session.get(SlaPolicy, policy_id)
    if request.form.get("confirm") != "1":
        # First step: check everything (nothing is written), then ask for confirmation.
        try:
            with unit_of_work():
                change_policy(
                    policy_id,
                    form,
                    valid_from,
                    form["reason"],
                    user=current_user._get_current_object(),
                    now=datetime.now(UTC),
                )
                raise _DryRun
        except _DryRun:
            pass
        except ServiceError as exc:
            return _page(exc.fields or {"reason": exc.message}, form, policy_id, status=422)
        return _page(form=form, editing=policy_id, confirm=row)
    try:
        with unit_of_work():
            new = change_policy(
                policy_id,
                form,
                valid_from,
                form["reason"],
                user=current_user._get_current_object(),
                now=datetime.now(UTC),
            )
            message = _(
                "Đã lưu: %(policy)s áp dụng giá trị mới từ %(day)s; "
                "hồ sơ tiếp nhận trước ngày đó giữ chính sách cũ.",
                policy=_(new.label),
                day=f"{new.valid_from:%d/%m/%Y}",
            )
    except ServiceError as exc:
        return _page(exc.fields or {"reason": exc.message}, form, policy_id, status=422)
    flash(message, "ok")
    return redirect(url_for("policies.index"), 303)


class _DryRun(Exception):
    """Rolls back the checking run of the first step (unit_of_work rolls back on error)."""
