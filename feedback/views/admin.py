"""Administration: the working calendar's overrides (more to come: units, routing, users)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import holidays
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ..database import unit_of_work
from ..domain.calendar import HOLIDAY_LANGUAGE
from ..extensions import db
from ..models import CalendarOverride
from ..security.access import roles
from ..services.errors import ServiceError
from ..services.reference.calendar import add_override, remove_override

bp = Blueprint("admin", __name__, url_prefix="/quan-tri")


def _page(
    year: int,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    overrides = db.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)).all()
    package = sorted(holidays.country_holidays("VN", years=year, language=HOLIDAY_LANGUAGE).items())
    return (
        render_template(
            "admin/calendar.html",
            overrides=overrides,
            package=package,
            year=year,
            errors=errors or {},
            form=form or {},
        ),
        status,
    )


@bp.get("/lich")
@roles("admin")
def calendar() -> Any:
    year = request.args.get("nam", type=int) or datetime.now(UTC).year
    return _page(max(2000, min(year, 2100)))


@bp.post("/lich")
@roles("admin")
def calendar_add() -> Any:
    form = {k: request.form.get(k, "") for k in ("day", "kind", "source", "note")}
    try:
        day = date.fromisoformat(form["day"])
    except ValueError:
        return _page(datetime.now(UTC).year, {"day": "Nhập ngày dạng năm-tháng-ngày."}, form, 422)
    try:
        with unit_of_work():
            moved = add_override(
                day, form["kind"], form["source"], form["note"], now=datetime.now(UTC)
            )
    except ServiceError as exc:
        return _page(day.year, exc.fields or {"day": exc.message}, form, exc.status)
    flash(
        f"Đã lưu điều chỉnh ngày {day:%d/%m/%Y}; {moved} hồ sơ đang mở được tính lại thời hạn.",
        "ok",
    )
    return redirect(url_for("admin.calendar", nam=day.year), 303)


@bp.post("/lich/<int:override_id>/xoa")
@roles("admin")
def calendar_remove(override_id: int) -> Any:
    try:
        with unit_of_work():
            moved = remove_override(override_id, now=datetime.now(UTC))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.calendar"), 303)
    flash(f"Đã bỏ điều chỉnh; {moved} hồ sơ đang mở được tính lại thời hạn.", "ok")
    return redirect(url_for("admin.calendar"), 303)
