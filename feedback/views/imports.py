"""Batch import of entries forwarded by the provincial 1022 system."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired

from ..database import unit_of_work
from ..domain.permissions import IMPORT_ROLES
from ..extensions import csrf, db
from ..i18n import translated
from ..models import User
from ..security.access import roles
from ..services.errors import NotFound, ValidationError
from ..services.intake.import1022 import (
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    REQUIRED_COLUMNS,
    batch_for,
    import_1022,
    recent_batches,
)
from .forms.common import Form

bp = Blueprint("imports", __name__, url_prefix="/can-bo/nhap-1022")

RECENT = 20


class ImportForm(Form):
    file = FileField(
        _l("Tệp CSV từ hệ thống 1022"),
        validators=[FileRequired(_l("Vui lòng chọn tệp CSV để nhập."))],
    )


def _page(form: ImportForm, error: str | None = None) -> str:
    return render_template(
        "imports/upload.html",
        form=form,
        error=error,
        batches=recent_batches(current_user._get_current_object(), RECENT),
        columns=COLUMNS,
        required=REQUIRED_COLUMNS,
        max_mb=MAX_BYTES // (1024 * 1024),
        max_rows=MAX_ROWS,
    )


@bp.route("/", methods=["GET", "POST"])
@roles(*IMPORT_ROLES)
@csrf.exempt  # ImportForm validates its own CSRF token, so its error shows on the page
def upload() -> Any:
    form = ImportForm()
    if not form.is_submitted():
        return _page(form)
    if not form.validate():
        return _page(form), 422
    storage = form.file.data
    data = storage.read(MAX_BYTES + 1)  # one byte over the limit is enough to refuse
    try:
        with unit_of_work():
            batch = import_1022(
                data,
                storage.filename or "1022.csv",
                actor=current_user._get_current_object(),
                now=datetime.now(UTC),
            )
            batch_id = batch.id
    except ValidationError as exc:
        return _page(form, error=translated(exc.message)), 422
    return redirect(url_for("imports.batch", batch_id=batch_id), code=303)


@bp.get("/lo/<int:batch_id>")
@roles(*IMPORT_ROLES)
def batch(batch_id: int) -> Any:
    try:
        found = batch_for(current_user._get_current_object(), batch_id)
    except NotFound:
        abort(404)
    uploader = db.session.get(User, found.uploaded_by_id) if found.uploaded_by_id else None
    return render_template("imports/batch.html", batch=found, uploader=uploader)
