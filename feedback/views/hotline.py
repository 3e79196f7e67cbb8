"""The 1022 hotline desk: entering a call while the caller is on the line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..database import unit_of_work
from ..domain.permissions import HOTLINE_ROLES
from ..extensions import csrf, db
from ..i18n import LOCAL_TZ, parse_local_datetime, translated, translated_fields
from ..models import Case, Category
from ..security.access import roles
from ..services.errors import ServiceError
from ..services.intake.attachments import read_uploads
from ..services.intake.duplicates import find_similar
from ..services.intake.submission import CaseInput, Reporter, submit_case
from .forms.choices import area_choices, category_groups
from .forms.common import HotlineForm
from .forms.errors import attach_errors

bp = Blueprint("hotline", __name__, url_prefix="/can-bo/1022")

MAX_CALL_AGE = timedelta(days=30)
FIELD_MAP = {
    "reporter.name": "caller_name",
    "reporter.phone": "caller_phone",
    "reporter.email": "caller_phone",
    "category_code": "category",
    "received_at": "call_started_at",
}


def category_code_of(text: str | None) -> str | None:
    """'6.3c – Thu gom rác thải' or '6.3c' → '6.3c'."""
    return (text or "").split("–")[0].split(" ")[0].strip() or None


def _form() -> HotlineForm:
    form = HotlineForm()
    form.area_code.choices = area_choices()
    if not form.call_started_at.data:
        form.call_started_at.data = datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    return form


def _render(form: HotlineForm, status: int = 200, **extra: Any) -> Any:
    return (
        render_template("hotline/desk.html", form=form, categories=category_groups(), **extra),
        status,
    )


def _check(form: HotlineForm, now: datetime) -> datetime | None:
    """Field checks the service cannot know about (the call-start text, the datalist)."""
    ok = True
    started = parse_local_datetime(form.call_started_at.data)
    if started is None:
        form.call_started_at.errors = [_("Thời điểm không hợp lệ (ngày/tháng/năm giờ:phút).")]
        ok = False
    elif started > now + timedelta(minutes=1):
        form.call_started_at.errors = [_("Cuộc gọi không thể bắt đầu ở tương lai.")]
        ok = False
    elif now - started > MAX_CALL_AGE:
        form.call_started_at.errors = [_("Cuộc gọi đã quá 30 ngày; hãy nhập theo lô 1022.")]
        ok = False
    code = category_code_of(form.category.data)
    if code and db.session.scalar(select(Category.id).where(Category.code == code)) is None:
        form.category.errors = [_("Chọn lĩnh vực trong danh sách gợi ý.")]
        ok = False
    if not form.anonymous.data and not (form.caller_phone.data or "").strip():
        form.caller_phone.errors = [
            *form.caller_phone.errors,
            _("Cần số điện thoại để trả lời, hoặc đánh dấu người gọi ẩn danh."),
        ]
        ok = False
    return min(started, now) if ok and started else None


@bp.route("/", methods=["GET", "POST"])
@roles(*HOTLINE_ROLES)
@csrf.exempt  # HotlineForm checks its own CSRF token; an expired one keeps the typed call
def desk() -> Any:
    form = _form()
    if not form.is_submitted():
        return _render(form)
    now = datetime.now(UTC)
    valid = form.validate()
    started = _check(form, now)
    try:
        # A photo or document the caller sent along (Zalo, e-mail) while on the line.
        uploads = read_uploads(request.files.getlist("attachments"))
    except ServiceError as exc:
        uploads, valid = [], False
        form.attachments_error = translated(exc.fields.get("attachments", exc.message))  # type: ignore[attr-defined]
    if not valid or started is None:
        return _render(form, 422)
    hints = find_similar(
        category_code_of(form.category.data),
        form.area_code.data or None,
        f"{form.subject.data} {form.body.data}",
        viewer=current_user,
        now=now,
    )
    if request.form.get("action") == "check":
        return _render(form, hints=hints, checked=True)
    anonymous = bool(form.anonymous.data)
    data = CaseInput(
        kind=form.kind.data,
        subject=form.subject.data,
        body=form.body.data,
        category_code=category_code_of(form.category.data),
        area_code=form.area_code.data or None,
        address=form.address.data,
        reporter=Reporter(
            name=form.caller_name.data,
            phone=form.caller_phone.data,
            anonymous=anonymous,
        ),
        channel="hotline",
        received_at=started.astimezone(UTC),
        link_to=(form.link_to.data or "").strip().upper() or None,
        uploads=uploads,
    )
    try:
        with unit_of_work():
            result = submit_case(data, actor=current_user, now=now)
    except ServiceError as exc:
        attach_errors(form, translated_fields(exc.fields), FIELD_MAP)
        return _render(form, 422, error=translated(exc.message), hints=hints)
    case = db.session.scalar(select(Case).where(Case.code == result.case.code))
    return render_template("hotline/done.html", case=case, access_key=result.access_key)
