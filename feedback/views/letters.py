"""Apology letters for late answers: the list of obligations, issuing, delivery, the PDF.

``GET /can-bo/thu-xin-loi/`` lists what the user may see (``?trang_thai=owed|issued|
delivered``); ``POST .../<id>/ban-hanh`` issues, ``POST .../<id>/da-gui`` records the
delivery, ``GET .../<id>.pdf`` sends the letter. A letter out of the user's reach is a
404; an action the user may not take is a 403. feedback.services.handling.letters decides.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_login import current_user

from ..database import unit_of_work
from ..domain.marks import N_
from ..domain.permissions import LETTER_ISSUER_ROLES, LETTER_ROLES
from ..i18n import translated
from ..security.access import roles
from ..services.errors import Forbidden, NotFound, ServiceError
from ..services.handling import letters

bp = Blueprint("letters", __name__, url_prefix="/can-bo/thu-xin-loi")

PAGE_SIZE = 100


@bp.get("/")
@roles(*LETTER_ROLES)
def index() -> Any:
    status = request.args.get("trang_thai") or None
    status = status if status in letters.STATUS_LABELS else None
    try:
        after = letters.parse_cursor(request.args.get("sau"))
    except ServiceError as exc:
        return render_template("errors/error.html", status=422, message=exc.message), 422
    page = letters.letters_page(current_user, status, after, PAGE_SIZE)
    found = page.letters
    rows = [
        {
            "letter": letter,
            "issue": letter.status == "owed" and letters.may_issue(current_user, letter),
            "deliver": letter.status == "issued" and letters.may_deliver(current_user, letter),
            "pdf": letter.status != "owed" and letters.may_generate(current_user, letter),
        }
        for letter in found
    ]
    return render_template(
        "letters/index.html",
        rows=rows,
        status=status,
        statuses=letters.STATUS_LABELS,
        delivery=letters.DELIVERY,
        late_text=lambda seconds: letters.late_text(seconds, gettext),
        next_cursor=page.next_cursor,
        first_page=after is None,
        params={"trang_thai": status} if status else {},
    )


def _act(letter_id: int, action: str) -> Any:
    """Run one change in a unit of work; 404/403 as pages, other refusals flashed."""
    now = datetime.now(UTC)
    try:
        with unit_of_work():
            letter = letters.get_letter(current_user, letter_id)
            if action == "issue":
                letters.issue(letter, current_user, now)
                message = N_(
                    "Đã ban hành thư xin lỗi số %(number)s (hồ sơ %(code)s).",
                    number=letter.number,
                    code=letter.case.code,
                )
            else:
                via = request.form.get("via", "")
                letters.deliver(letter, current_user, now, via)
                message = N_(
                    "%(done)s thư xin lỗi số %(number)s (hồ sơ %(code)s).",
                    done=letters.DELIVERY[via],
                    number=letter.number,
                    code=letter.case.code,
                )
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return redirect(url_for("letters.index")), 303
    flash(translated(message), "ok")
    return redirect(url_for("letters.index", trang_thai=letter.status)), 303


@bp.post("/<int:letter_id>/ban-hanh")
@roles(*LETTER_ISSUER_ROLES)
def issue(letter_id: int) -> Any:
    return _act(letter_id, "issue")


@bp.post("/<int:letter_id>/da-gui")
@roles(*LETTER_ROLES)
def deliver(letter_id: int) -> Any:
    return _act(letter_id, "deliver")


@bp.get("/<int:letter_id>.pdf")
@roles(*LETTER_ROLES)
def pdf(letter_id: int) -> Any:
    letter = letters.get_letter(current_user, letter_id)
    data = letters.letter_pdf_for(current_user, letter)
    safe = (letter.number or str(letter.id)).replace("/", "-")
    response = send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"thu-xin-loi-{safe}.pdf",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
