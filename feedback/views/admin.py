"""Administration: the working calendar's overrides and the staff accounts (lock, unlock,
revoke API tokens, end sessions). Areas, units and routing change by reference packs,
applied from the command line; their admin page (what was applied) is views/reference.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..database import unit_of_work
from ..domain.deadlines import local_date
from ..extensions import db
from ..i18n import translated, translated_fields
from ..models import CalendarOverride, User
from ..security.access import roles
from ..services.accounts import users as accounts
from ..services.errors import ServiceError
from ..services.reference import calendar as calendar_service

bp = Blueprint("admin", __name__, url_prefix="/quan-tri")


def _page(
    year: int,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    now = datetime.now(UTC)
    overrides = db.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)).all()
    return (
        render_template(
            "admin/calendar.html",
            overrides=overrides,
            days=calendar_service.year_overview(year),
            readiness=calendar_service.calendar_readiness(year, now),
            reminders=calendar_service.pending_reminders(now),
            year=year,
            errors=translated_fields(errors or {}),
            form=form or {},
        ),
        status,
    )


def _confirm(preview: calendar_service.Preview, action: str, fields: dict[str, str]) -> Any:
    """The confirmation step: what the change is and how many open cases it re-times."""
    return render_template(
        "admin/calendar_confirm.html", preview=preview, action=action, fields=fields
    )


def _confirmed() -> bool:
    return request.form.get("confirm") == "1"


@bp.get("/lich")
@roles("admin")
def calendar() -> Any:
    year = request.args.get("nam", type=int) or local_date(datetime.now(UTC)).year
    return _page(max(2000, min(year, 2100)))


@bp.post("/lich")
@roles("admin")
def calendar_add() -> Any:
    """First post: the preview to confirm; second post (confirm=1): save and re-time."""
    form = {k: request.form.get(k, "") for k in ("day", "kind", "source", "note")}
    now = datetime.now(UTC)
    try:
        day = date.fromisoformat(form["day"])
    except ValueError:
        return _page(local_date(now).year, {"day": _("Nhập ngày dạng năm-tháng-ngày.")}, form, 422)
    try:
        if not _confirmed():
            preview = calendar_service.preview_add(
                day, form["kind"], form["source"], form["note"], now=now
            )
            return _confirm(preview, url_for("admin.calendar_add"), form)
        with unit_of_work():
            moved = calendar_service.add_override(
                day,
                form["kind"],
                form["source"],
                form["note"],
                now=now,
                actor=current_user._get_current_object(),
            )
    except ServiceError as exc:
        return _page(day.year, exc.fields or {"day": exc.message}, form, exc.status)
    flash(
        _(
            "Đã lưu điều chỉnh ngày %(day)s; %(n)s hồ sơ đang mở được tính lại thời hạn.",
            day=f"{day:%d/%m/%Y}",
            n=moved,
        ),
        "ok",
    )
    return redirect(url_for("admin.calendar", nam=day.year), 303)


@bp.post("/lich/<int:override_id>/xoa")
@roles("admin")
def calendar_remove(override_id: int) -> Any:
    now = datetime.now(UTC)
    try:
        if not _confirmed():
            preview = calendar_service.preview_remove(override_id, now=now)
            return _confirm(preview, url_for("admin.calendar_remove", override_id=override_id), {})
        with unit_of_work():
            moved = calendar_service.remove_override(
                override_id, now=now, actor=current_user._get_current_object()
            )
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return redirect(url_for("admin.calendar"), 303)
    flash(_("Đã bỏ điều chỉnh; %(n)s hồ sơ đang mở được tính lại thời hạn.", n=moved), "ok")
    return redirect(url_for("admin.calendar"), 303)


@bp.post("/lich/nam")
@roles("admin")
def calendar_year() -> Any:
    """Mark a year's calendar decided (its notice adds no override): ends the reminder."""
    form = {k: request.form.get(k, "") for k in ("year", "source", "note")}
    now = datetime.now(UTC)
    try:
        year = int(form["year"])
    except ValueError:
        return _page(local_date(now).year, {"year": _("Nhập năm, ví dụ 2027.")}, form, 422)
    try:
        with unit_of_work():
            calendar_service.confirm_year(
                year,
                form["source"],
                form["note"],
                now=now,
                actor=current_user._get_current_object(),
            )
    except ServiceError as exc:
        return _page(max(2000, min(year, 2100)), exc.fields, form, exc.status)
    flash(_("Đã ghi lịch năm %(year)s là đã có văn bản.", year=year), "ok")
    return redirect(url_for("admin.calendar", nam=year), 303)


@bp.get("/tai-khoan")
@roles("admin")
def accounts_page() -> Any:
    return render_template(
        "admin/users.html", accounts=accounts.list_accounts(datetime.now(UTC)), me=current_user.id
    )


def _change_account(user_id: int, change: Callable[[User, User, datetime], str]) -> Any:
    """One button of the account list: load the account (404), run one service, which
    writes the change and its audit record in one transaction, flash what it did."""
    actor = current_user._get_current_object()
    try:
        with unit_of_work():
            user = db.session.get(User, user_id)
            if user is None:
                abort(404)
            message = change(user, actor, datetime.now(UTC))
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return redirect(url_for("admin.accounts_page"), 303)
    flash(message, "ok")
    return redirect(url_for("admin.accounts_page"), 303)


_ACCOUNT = "/tai-khoan/<int(max=2147483647):user_id>"


@bp.post(f"{_ACCOUNT}/khoa")
@roles("admin")
def account_deactivate(user_id: int) -> Any:
    def run(user: User, actor: User, now: datetime) -> str:
        accounts.deactivate_user(user, actor=actor, now=now)
        return _(
            "Đã khóa tài khoản %(name)s: phiên đăng nhập và mã API ngừng ngay.",
            name=user.username,
        )

    return _change_account(user_id, run)


@bp.post(f"{_ACCOUNT}/mo-khoa")
@roles("admin")
def account_activate(user_id: int) -> Any:
    def run(user: User, actor: User, now: datetime) -> str:
        accounts.activate_user(user, actor=actor, now=now)
        return _("Đã mở khóa tài khoản %(name)s; người dùng cần đăng nhập lại.", name=user.username)

    return _change_account(user_id, run)


@bp.post(f"{_ACCOUNT}/thu-hoi-ma")
@roles("admin")
def account_revoke_tokens(user_id: int) -> Any:
    def run(user: User, actor: User, now: datetime) -> str:
        count = accounts.revoke_tokens(user, actor=actor, now=now)
        return _("Đã thu hồi %(n)s mã API của %(name)s.", n=count, name=user.username)

    return _change_account(user_id, run)


@bp.post(f"{_ACCOUNT}/ket-thuc-phien")
@roles("admin")
def account_end_sessions(user_id: int) -> Any:
    def run(user: User, actor: User, now: datetime) -> str:
        accounts.end_sessions(user, actor=actor, now=now)
        return _("Đã kết thúc mọi phiên đăng nhập của %(name)s.", name=user.username)

    return _change_account(user_id, run)
