"""Attachments, served only to those allowed to see their case."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, send_file
from flask_babel import gettext
from flask_login import current_user

from ..domain.marks import N_
from ..domain.permissions import (
    BOX_UNIT_ROLES,
    CASE_READER_ROLES,
    CITYWIDE_ROLES,
    CONFIDENTIAL_KINDS,
    Op,
)
from ..extensions import db
from ..models import Attachment, BoxOpening, User
from ..security.access import roles
from ..services.errors import NotFound
from ..services.handling.visibility import ops_for
from ..services.intake.attachments import (
    TYPES,
    download_name,
    open_attachment,
    stored_bytes,
    type_label,
)

bp = Blueprint("files", __name__, url_prefix="/can-bo/tep")

FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
"""The policy of every served file: no script, no fetch, a unique opaque origin."""

PURPOSE_LABELS = {
    "evidence": N_("Tài liệu, hình ảnh kèm theo"),
    "letter_scan": N_("Bản chụp thư"),
    "minutes": N_("Biên bản mở hòm thư"),
}


def _type_label(content_type: str) -> str:
    """The file's kind ("Ảnh PNG") in the page's language."""
    return gettext(type_label(content_type))


@bp.app_context_processor
def attachment_labels() -> dict[str, Any]:
    return {"attachment_type_label": _type_label, "ATTACHMENT_PURPOSE_LABELS": PURPOSE_LABELS}


def may_read(user: User, att: Attachment) -> bool:
    if att.case is not None:
        ops = ops_for(user, att.case)
        # The scan of a denouncer's letter shows who wrote it: it goes with the identity.
        if att.purpose == "letter_scan" and att.case.kind in CONFIDENTIAL_KINDS:
            return Op.VIEW_IDENTITY in ops
        return Op.VIEW in ops
    if att.box_opening_id is None:
        return False
    # Box-opening minutes (no case): the city-wide roles, and the opener unit's own staff.
    if user.role in CITYWIDE_ROLES:
        return True
    if user.role not in BOX_UNIT_ROLES or user.unit_id is None:
        return False
    opening = db.session.get(BoxOpening, att.box_opening_id)
    return opening is not None and opening.box.opener_unit_id == user.unit_id


@bp.get("/<int:attachment_id>")
@roles(*CASE_READER_ROLES)
def download(attachment_id: int) -> Any:
    att = db.session.get(Attachment, attachment_id)
    # Out of reach reads as "not found", so an attachment's existence does not leak.
    if att is None or not may_read(current_user, att):
        abort(404)
    source: Any = None
    data = stored_bytes(att)  # ATTACHMENT_STORAGE=database: the same on every machine
    if data is not None:
        source = io.BytesIO(data)
    else:
        try:
            source = open_attachment(att)
        except NotFound:
            abort(404)
    known = att.content_type in TYPES
    # Only images are shown in the browser. A PDF is a program of sorts (scripts, forms,
    # links) and browsers refuse to render one under a sandbox policy, so it is always a
    # download, opened by the officer's own reader, never on our origin.
    inline = known and att.content_type.startswith("image/")
    response = send_file(
        source,
        mimetype=att.content_type if known else "application/octet-stream",
        as_attachment=not inline,
        download_name=download_name(att),
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    # Whatever a file is, opened on its own it runs no script and loads nothing else.
    response.headers["Content-Security-Policy"] = FILE_POLICY
    return response
