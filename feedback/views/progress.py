"""Progress updates from the desk (issue 16): the case page's form and its POST route.

The form lives in ``desk/_progress.html``, fed by ``progress_panel(case, ops)``; the
citizen's page asks ``citizen_promise(case)`` for the day the unit committed to. A refused
update comes back on the case page itself, with the officer's text and day kept and each
message beside its field (the case page's other actions flash and redirect, which would
lose a long text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from ..database import unit_of_work
from ..domain.permissions import STAFF_ROLES, Op, roles_holding
from ..extensions import db
from ..models import Case, ProgressUpdate
from ..security.access import roles
from ..services.errors import Forbidden, ServiceError
from ..services.handling import progress
from ..services.handling.moves import NO_RIGHT
from ..services.handling.visibility import ops_for
from ..services.intake.attachments import read_uploads
from . import desk

bp = Blueprint("progress", __name__, url_prefix="/can-bo")


@dataclass
class ProgressPanel:
    """What ``desk/_progress.html`` shows: past updates, and the form when it is offered."""

    updates: list[ProgressUpdate]
    can_post: bool
    urgent: bool
    missed: bool
    first_day: date
    last_day: date
    photos: dict[int, list[int]] = field(default_factory=dict)  # update id → attachment ids
    max_photos: int = progress.MAX_PHOTOS
    accept: str = ",".join(progress.PHOTO_TYPES)
    body: str = ""
    committed_on: str = ""
    message: str = ""  # a refusal not tied to one field
    errors: dict[str, str] = field(default_factory=dict)


def panel(case: Case, ops: frozenset[Op]) -> ProgressPanel:
    now = datetime.now(UTC)
    can_post = Op.PROGRESS in ops and progress.is_open(case)
    first, last = progress.day_range(now)
    found = ProgressPanel(
        updates=progress.updates_of(case),
        can_post=can_post,
        urgent=can_post and progress.update_wanted(case, now),
        missed=progress.promise_missed(case, now),
        first_day=first,
        last_day=last,
        photos=progress.photo_ids(case),
    )
    kept = g.get("progress_form")
    if kept is not None:  # the refused post of this request: show it again
        found.body, found.committed_on = kept["body"], kept["committed_on"]
        found.errors, found.message = kept["errors"], kept["message"]
    return found


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {"progress_panel": panel, "citizen_promise": progress.committed_day}


@bp.post("/ho-so/<code>/cap-nhat-tien-do", endpoint="post")
@roles(*roles_holding(Op.PROGRESS, roles=STAFF_ROLES))
def post(code: str) -> Any:
    user = current_user._get_current_object()
    found = db.session.scalar(select(Case).where(Case.code == code))
    ops = ops_for(user, found) if found is not None else frozenset()
    if found is None or Op.VIEW not in ops:
        abort(404)  # a case outside the user's reach is not found: its existence does not leak
    if Op.PROGRESS not in ops:
        return _refuse(NO_RIGHT)
    # A body past MAX_CONTENT_LENGTH never gets here: the CSRF check reads the form first
    # and the app's 413 page answers.
    body = request.form.get("body", "")
    day_text = request.form.get("committed_on", "")
    try:
        photos = read_uploads(
            request.files.getlist("photos"), field="photos", max_count=progress.MAX_PHOTOS
        )
        with unit_of_work():
            day = progress.parse_day(day_text)
            progress.post_progress(found, user, datetime.now(UTC), body, day, photos)
    except Forbidden as exc:
        return _refuse(exc.message)
    except ServiceError as exc:
        return _again(code, body, day_text, exc)
    said = gettext(
        "Đã đăng cập nhật tiến độ hồ sơ %(code)s, hẹn trả lời trước hết ngày %(day)s; "
        "người gửi được thông báo.",
        code=code,
        day=day.strftime(progress.DAY_FORMAT),
    )
    flash(said, "ok")
    return redirect(url_for("desk.case", code=code, _anchor="tien-do"), 303)


def _again(code: str, body: str, day_text: str, exc: ServiceError) -> Any:
    """The case page again, with what was typed and each message beside its field (the
    browser does not keep chosen files: the form says so). The messages stay marked:
    ``desk/_progress.html`` shows them in the page's language."""
    g.progress_form = {
        "body": body,
        "committed_on": day_text,
        "errors": dict(exc.fields),
        "message": exc.message,
    }
    db.session.expire_all()  # the rolled-back unit of work: read the case afresh
    return desk.case(code), exc.status


def _refuse(message: str) -> Any:
    return render_template("errors/error.html", status=403, message=message), 403
