"""Pages for citizens: no account, no login."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, redirect, render_template, session, url_for
from sqlalchemy import select

from ..database import unit_of_work
from ..domain.states import STATUS_LABELS, Status
from ..extensions import csrf, db
from ..forms import LookupForm, SubmitCaseForm
from ..models import Area, Case, Category, Dimension
from ..security import public
from ..services.errors import ValidationError
from ..services.intake import (
    CHANNEL_LABELS,
    KIND_LABELS,
    CaseInput,
    Reporter,
    access_key_matches,
    submit_case,
)

bp = Blueprint("public", __name__)

# Service field names → form field names, so a service refusal lands beside its input.
FIELD_MAP = {
    "reporter.name": "reporter_name",
    "reporter.phone": "reporter_phone",
    "reporter.email": "reporter_email",
}


@bp.app_context_processor
def labels() -> dict[str, Any]:
    return {
        "KIND_LABELS": KIND_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
        "STATUS_LABELS": {s.value: label for s, label in STATUS_LABELS.items()},
    }


def _fill_choices(form: SubmitCaseForm) -> None:
    groups: dict[str, list[tuple[str, str]]] = {}
    rows = db.session.execute(
        select(Category, Dimension)
        .join(Dimension, Category.dimension_id == Dimension.id)
        .order_by(Category.sort_order)
    ).all()
    for cat, dim in rows:
        groups.setdefault(f"{dim.code}. {dim.name}", []).append(
            (cat.code, f"{cat.code} – {cat.citizen_label}")
        )
    form.category_code.choices = {"": [("", "— Chưa rõ lĩnh vực (cơ quan sẽ phân loại) —")]}
    form.category_code.choices.update(groups)
    areas = db.session.scalars(select(Area).where(Area.active).order_by(Area.name)).all()
    form.area_code.choices = [("", "— Không rõ / không gắn với địa bàn —")] + [
        (a.code, a.name) for a in areas
    ]


@bp.get("/")
@public
def index() -> str:
    return render_template("public/index.html")


@bp.route("/gui", methods=["GET", "POST"])
@public
@csrf.exempt  # the form checks its own token, so an expired one shows beside the data kept
def submit() -> Any:
    form = SubmitCaseForm()
    _fill_choices(form)
    if form.is_submitted():
        if form.validate():
            data = CaseInput(
                kind=form.kind.data,
                subject=form.subject.data,
                body=form.body.data,
                category_code=form.category_code.data or None,
                area_code=form.area_code.data or None,
                address=form.address.data,
                reporter=Reporter(
                    name=form.reporter_name.data,
                    phone=form.reporter_phone.data,
                    email=form.reporter_email.data,
                    anonymous=bool(form.anonymous.data),
                ),
                channel="web",
            )
            try:
                with unit_of_work():
                    result = submit_case(data, actor=None, now=datetime.now(UTC))
            except ValidationError as exc:
                for name, message in exc.fields.items():
                    field = getattr(form, FIELD_MAP.get(name, name), None)
                    if field is not None:
                        field.errors = [*field.errors, message]
                return render_template("public/submit.html", form=form, error=exc.message), 422
            session["submitted"] = {"code": result.case.code, "key": result.access_key}
            return redirect(url_for("public.submitted", code=result.case.code))
        return render_template("public/submit.html", form=form, error=None), 422
    return render_template("public/submit.html", form=form, error=None)


@bp.get("/gui/da-nhan/<code>")
@public
def submitted(code: str) -> Any:
    """The access key is shown on this page once: it lives in the session only until then."""
    held = session.get("submitted")
    if not held or held.get("code") != code:
        return redirect(url_for("public.lookup"))
    case = db.session.scalar(select(Case).where(Case.code == code))
    if case is None:
        abort(404)
    key = held.get("key")
    held["key"] = None  # shown once; a reload shows the code but no longer the key
    session["submitted"] = held
    return render_template("public/submitted.html", case=case, access_key=key)


@bp.route("/tra-cuu", methods=["GET", "POST"])
@public
@csrf.exempt  # as above: the form validates its own CSRF token
def lookup() -> Any:
    form = LookupForm()
    if form.is_submitted():
        if form.validate():
            code = form.code.data.strip().upper()
            case = db.session.scalar(select(Case).where(Case.code == code))
            if case is not None and access_key_matches(case, form.access_key.data):
                return render_template(
                    "public/status.html",
                    case=case,
                    events=[e for e in case.events if e.public],
                    open_states={s.value for s in Status if s not in _CLOSED},
                )
            form.access_key.errors = ["Mã hồ sơ hoặc mã tra cứu không đúng."]
        return render_template("public/lookup.html", form=form), 422
    return render_template("public/lookup.html", form=form)


_CLOSED = {Status.CLOSED, Status.REJECTED, Status.MERGED}
