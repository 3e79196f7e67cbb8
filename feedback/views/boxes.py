"""Suggestion boxes: the register, openings and letter transcription.

Pages work without JavaScript: the duplicate check is a second submit button that shows
the form again with similar open cases, each with a "link to this case" choice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..database import unit_of_work
from ..domain.calendar import LOCAL_TZ
from ..domain.permissions import (
    BOX_CORRECTOR_ROLES,
    BOX_OPENER_ROLES,
    BOX_READER_ROLES,
    BOX_REGISTER_ROLES,
    BOX_UNIT_REGISTER_ROLES,
    OPENING_READER_ROLES,
)
from ..extensions import csrf, db
from ..i18n import parse_local_datetime, translated, translated_fields
from ..models import Area, BoxOpening, Case, SuggestionBox, Unit, User
from ..security.access import roles
from ..services.errors import ServiceError, ValidationError
from ..services.handling.visibility import can_view
from ..services.intake import attachments
from ..services.intake.box_correction import correct_letter_count
from ..services.intake.boxes import (
    MAX_OPENING_AGE,
    BoxInput,
    OpeningInput,
    can_open,
    can_see_box,
    close_opening,
    create_box,
    deactivate_box,
    may_register,
    minutes_of,
    opening_problems,
    record_opening,
    transcribe_letter,
    transcribed_cases,
    transcribed_count,
    transcribed_counts,
    visible_boxes,
    visible_openings,
)
from ..services.intake.duplicates import find_similar
from ..services.reference.areas import areas_in_force
from .forms.boxes import BoxForm, LetterForm, OpeningForm
from .forms.choices import area_choices, category_choices
from .forms.errors import attach_errors
from .forms.formdata import case_input

bp = Blueprint("boxes", __name__, url_prefix="/can-bo/hom-thu")

# Service field names → form field names, so a refusal lands beside its input.
LETTER_FIELDS = {
    "reporter.name": "reporter_name",
    "reporter.phone": "reporter_phone",
    "reporter.email": "reporter_email",
    "uploads": "scan",
}


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _now() -> datetime:
    return datetime.now(UTC)


def _box_or_404(box_id: int) -> SuggestionBox:
    box = db.session.get(SuggestionBox, box_id)
    # A box outside the user's reach is "not found", as a case is on the desk.
    if box is None or not can_see_box(_user(), box):
        abort(404)
    return box


def _opening_or_404(opening_id: int, *, to_act: bool = False) -> BoxOpening:
    opening = db.session.get(BoxOpening, opening_id)
    if opening is None or not can_see_box(_user(), opening.box):
        abort(404)
    if to_act and not can_open(_user(), opening.box):
        abort(403)
    return opening


def _areas() -> list[Area]:
    return areas_in_force(datetime.now(UTC))


def _uploads(name: str) -> list[attachments.Upload]:
    files = [f for f in request.files.getlist(name) if f and f.filename]
    return attachments.read_uploads(files, field=name) if files else []


# --- the register -----------------------------------------------------------------------


@bp.get("/")
@roles(*BOX_READER_ROLES)
def index() -> Any:
    boxes = db.session.scalars(visible_boxes(_user())).all()
    return render_template("boxes/index.html", boxes=boxes, can_register=may_register(_user()))


@bp.route("/them", methods=["GET", "POST"])
@roles(*BOX_REGISTER_ROLES, *BOX_UNIT_REGISTER_ROLES)
@csrf.exempt  # the form checks its own token, so an expired one shows beside the data kept
def new_box() -> Any:
    user = _user()
    if not may_register(user):
        abort(403)
    form = BoxForm()
    own = user.unit if user.role in BOX_UNIT_REGISTER_ROLES else None
    form.area_code.choices = [("", _("— Chọn xã, phường —"))] + [(a.code, a.name) for a in _areas()]
    if own is not None:  # a clerk registers his own unit's boxes: the opener is fixed
        form.opener_unit_code.choices = [("", _("%(unit)s (đơn vị của ông/bà)", unit=own.name))]
        if own.area is not None and not form.is_submitted():
            form.area_code.data = own.area.code
    else:
        units = db.session.scalars(select(Unit).where(Unit.active).order_by(Unit.name)).all()
        form.opener_unit_code.choices = [
            ("", _("Mặc định: UBND của xã, phường nơi đặt hòm thư"))
        ] + [(u.code, u.name) for u in units]
    if not form.is_submitted():
        return render_template("boxes/new.html", form=form, error=None)
    if form.validate():
        data = BoxInput(
            code=form.code.data,
            location=form.location.data,
            area_code=form.area_code.data,
            opener_unit_code=form.opener_unit_code.data or None,
        )
        try:
            with unit_of_work():
                box = create_box(data, actor=_user(), now=_now())
                box_id, code = box.id, box.code
        except ValidationError as exc:
            attach_errors(form, translated_fields(exc.fields))
            page = render_template("boxes/new.html", form=form, error=translated(exc.message))
            return page, 422
        flash(_("Đã thêm hòm thư %(code)s vào sổ.", code=code), "success")
        return redirect(url_for("boxes.box", box_id=box_id), 303)
    return render_template("boxes/new.html", form=form, error=None), 422


@bp.post("/<int:box_id>/ngung-su-dung")
@roles(*BOX_REGISTER_ROLES)
def deactivate(box_id: int) -> Any:
    box = _box_or_404(box_id)
    with unit_of_work():
        changed = deactivate_box(box, actor=_user(), now=_now())
    if changed:
        flash(_("Hòm thư %(code)s đã ngừng sử dụng.", code=box.code), "success")
    else:
        flash(_("Hòm thư %(code)s đã ngừng sử dụng từ trước.", code=box.code), "info")
    return redirect(url_for("boxes.box", box_id=box_id), 303)


@bp.get("/<int:box_id>")
@roles(*BOX_READER_ROLES)
def box(box_id: int) -> Any:
    found = _box_or_404(box_id)
    openings = visible_openings(_user(), found)
    return render_template(
        "boxes/box.html",
        box=found,
        openings=openings,
        counts=transcribed_counts([o.id for o in openings]),
        can_open=can_open(_user(), found),
        can_register=_user().role in BOX_REGISTER_ROLES,  # retiring a box: the city only
        can_read_openings=_user().role in OPENING_READER_ROLES,
    )


# --- openings ---------------------------------------------------------------------------


def _opening_page(form: OpeningForm, found: SuggestionBox, error: str | None, status: int) -> Any:
    now = _now()
    return (
        render_template(
            "boxes/opening_new.html",
            form=form,
            accept=attachments.ACCEPT,
            box=found,
            error=error,
            max_local=now.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M"),
            min_local=(now - MAX_OPENING_AGE).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M"),
        ),
        status,
    )


@bp.route("/<int:box_id>/mo", methods=["GET", "POST"])
@roles(*BOX_OPENER_ROLES)
@csrf.exempt  # as above: the form validates its own CSRF token
def record(box_id: int) -> Any:
    found = _box_or_404(box_id)
    if not can_open(_user(), found):
        abort(403)
    form = OpeningForm()
    if not found.active:
        return _opening_page(
            form,
            found,
            _("Hòm thư %(code)s đã ngừng sử dụng; không ghi nhận lần mở mới.", code=found.code),
            409,
        )
    if not form.is_submitted():
        form.opened_at.data = _now().astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
        return _opening_page(form, found, None, 200)
    now = _now()
    form_ok = form.validate()
    minutes: list[attachments.Upload] = []
    upload_errors: dict[str, str] = {}
    try:
        minutes = _uploads("minutes")
    except ValidationError as exc:
        upload_errors = translated_fields(exc.fields) or {"minutes": translated(exc.message)}
    data = OpeningInput(
        opened_at=parse_local_datetime(form.opened_at.data),
        witnesses=form.witnesses.data or "",
        letter_count=form.letter_count.data if not form.letter_count.errors else None,
        minutes=minutes[0] if minutes else None,
        note=form.note.data or "",
    )
    message = _("Chưa ghi nhận được lần mở hòm thư, vui lòng kiểm tra các mục được đánh dấu.")
    if form_ok and not upload_errors:
        try:
            with unit_of_work():
                opening = record_opening(found, data, actor=_user(), now=now)
                opening_id = opening.id
        except ServiceError as exc:
            attach_errors(form, translated_fields(exc.fields))
            return _opening_page(form, found, translated(exc.message), exc.status)
        flash(_("Đã ghi nhận lần mở hòm thư. Hãy nhập từng lá thư thành hồ sơ."), "success")
        return redirect(url_for("boxes.opening", opening_id=opening_id), 303)
    # Show every problem at once: the service's checks for what the form could read, the
    # form's own for what it could not.
    attach_errors(form, upload_errors)
    problems = opening_problems(found, data, actor=_user(), now=now)
    attach_errors(form, {k: v for k, v in problems.items() if not getattr(form, k).errors})
    return _opening_page(form, found, message, 422)


def _opening_view(
    found: BoxOpening,
    error: str | None = None,
    status: int = 200,
    correction: dict[str, Any] | None = None,
) -> Any:
    user = _user()
    cases = transcribed_cases(found)
    return (
        render_template(
            "boxes/opening.html",
            opening=found,
            box=found.box,
            opener=db.session.get(User, found.opened_by_id),
            witnesses=found.witnesses.splitlines(),
            minutes=minutes_of(found),
            cases=cases,
            readable={c.id for c in cases if can_view(user, c)},
            count=len(cases),
            can_act=can_open(user, found.box),
            can_correct=user.role in BOX_CORRECTOR_ROLES and found.status == "open",
            correction=correction or {"given": {}, "errors": {}},
            error=error,
        ),
        status,
    )


@bp.get("/lan-mo/<int:opening_id>")
@roles(*OPENING_READER_ROLES)
def opening(opening_id: int) -> Any:
    return _opening_view(_opening_or_404(opening_id))


@bp.post("/lan-mo/<int:opening_id>/dong")
@roles(*BOX_OPENER_ROLES)
def close(opening_id: int) -> Any:
    found = _opening_or_404(opening_id, to_act=True)
    try:
        with unit_of_work():
            close_opening(found, actor=_user(), now=_now())
    except ServiceError as exc:
        return _opening_view(found, translated(exc.message), exc.status)
    flash(_("Đã đóng lần mở hòm thư: số hồ sơ khớp với số thư trong biên bản."), "success")
    return redirect(url_for("boxes.opening", opening_id=opening_id), 303)


@bp.post("/lan-mo/<int:opening_id>/so-thu")
@roles(*BOX_CORRECTOR_ROLES)
def correct_count(opening_id: int) -> Any:
    found = _opening_or_404(opening_id)
    given = {k: request.form.get(k, "") for k in ("letter_count", "reason")}
    text = given["letter_count"].strip()
    count = int(text) if text.isdigit() and len(text) <= 6 else None
    try:
        with unit_of_work():
            correct_letter_count(
                found, letter_count=count, reason=given["reason"], actor=_user(), now=_now()
            )
    except ServiceError as exc:
        fields = translated_fields(exc.fields) if isinstance(exc, ValidationError) else {}
        correction = {"given": given, "errors": fields}
        return _opening_view(found, translated(exc.message), exc.status, correction)
    flash(_("Đã sửa số thư trong biên bản thành %(n)s.", n=found.letter_count), "success")
    return redirect(url_for("boxes.opening", opening_id=opening_id), 303)


# --- transcription ----------------------------------------------------------------------


def _fill_letter_choices(form: LetterForm, opened_at: datetime | None = None) -> None:
    """A letter is received when its box is opened: the areas in force then are offered."""
    form.category_code.choices = category_choices()
    form.area_code.choices = area_choices(opened_at)


def _hints(form: LetterForm, now: datetime) -> list[Any]:
    text = f"{form.subject.data or ''} {form.body.data or ''}"
    return find_similar(
        form.category_code.data or None,
        form.area_code.data or None,
        text,
        viewer=_user(),
        now=now,
    )


def _letter_page(
    form: LetterForm,
    found: BoxOpening,
    *,
    hints: list[Any] | None = None,
    checked: bool = False,
    created: Case | None = None,
    access_key: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Any:
    return (
        render_template(
            "boxes/transcribe.html",
            access_key=access_key,
            form=form,
            accept=attachments.ACCEPT,
            opening=found,
            box=found.box,
            count=transcribed_count(found.id),
            hints=hints or [],
            hint_codes={h.code for h in hints or []},
            checked=checked,
            created=created,
            error=error,
        ),
        status,
    )


@bp.route("/lan-mo/<int:opening_id>/nhap-thu", methods=["GET", "POST"])
@roles(*BOX_OPENER_ROLES)
@csrf.exempt  # as above: the form validates its own CSRF token
def transcribe(opening_id: int) -> Any:
    found = _opening_or_404(opening_id, to_act=True)
    form = LetterForm()
    _fill_letter_choices(form, found.opened_at)
    now = _now()
    if not form.is_submitted():
        if found.status != "open":
            flash(_("Lần mở hòm thư này đã đóng; không nhập thêm thư được."), "error")
            return redirect(url_for("boxes.opening", opening_id=opening_id), 303)
        form.area_code.data = found.box.area.code
        created, access_key = None, None
        if code := request.args.get("vua_tao"):
            created = db.session.scalar(
                select(Case).where(Case.code == code, Case.box_opening_id == found.id)
            )
            # The key is shown once, on the first page after the save (only its hash is
            # kept): the clerk prints the reply slip for the letter's writer from it.
            slip = session.pop("box_slip", None)
            if created is not None and slip and slip.get("code") == created.code:
                access_key = slip.get("key")
        return _letter_page(form, found, created=created, access_key=access_key)
    if found.status != "open":
        return _letter_page(
            form,
            found,
            error=_("Lần mở hòm thư này đã đóng; không nhập thêm thư được."),
            status=409,
        )
    if request.form.get("action") == "check":
        # Reading only: nothing is written, so the hints need no valid form.
        return _letter_page(form, found, hints=_hints(form, now), checked=True)
    form_ok = form.validate()
    scans: list[attachments.Upload] = []
    try:
        scans = _uploads("scan")
    except ValidationError as exc:
        attach_errors(
            form, translated_fields(exc.fields) or {"scan": translated(exc.message)}, LETTER_FIELDS
        )
        form_ok = False
    if not scans and not form.scan.errors:
        attach_errors(form, {"scan": _("Vui lòng đính kèm bản quét hoặc ảnh chụp lá thư.")})
        form_ok = False
    message = _("Chưa lưu được hồ sơ, vui lòng kiểm tra các mục được đánh dấu.")
    if not form_ok:
        return _letter_page(form, found, hints=_hints(form, now), error=message, status=422)
    data = case_input(
        form,
        uploads=scans,
        link_to=(form.link_to.data or "").strip() or None,
    )
    try:
        with unit_of_work():
            result = transcribe_letter(found, data, actor=_user(), now=now)
            code = result.case.code
        session["box_slip"] = {"code": code, "key": result.access_key}
    except ServiceError as exc:
        attach_errors(form, translated_fields(exc.fields), LETTER_FIELDS)
        status = 422 if exc.status in (400, 404) else exc.status
        error = translated(exc.message)
        return _letter_page(form, found, hints=_hints(form, now), error=error, status=status)
    return redirect(url_for("boxes.transcribe", opening_id=opening_id, vua_tao=code), 303)
