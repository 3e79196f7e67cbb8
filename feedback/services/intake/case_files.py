"""Adding files to a case after it was entered (the citizen's further evidence, a photo the
caller sent later), with its event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...domain.marks import N_, Said
from ...domain.states import OPEN_STATUSES
from ...extensions import db
from ...models import Attachment, Case, CaseEvent, User
from ..errors import Conflict, ValidationError
from .attachments import CaseFilesFull, Upload, store_upload


def add_files(
    case: Case, uploads: Sequence[Upload], *, actor: User | None, now: datetime
) -> list[Attachment]:
    """Store ``uploads`` on an open case with one event. The case's quota (files and bytes
    in all) is enforced by store_upload for every channel; a refusal here (413) comes
    before the caller commits, so the files already written in this call go with it."""
    if not uploads:
        raise ValidationError(N_("Chưa có tệp nào."), {"file": N_("Chọn ít nhất một tệp.")})
    if case.status not in {s.value for s in OPEN_STATUSES}:
        raise Conflict(N_("Hồ sơ đã kết thúc, không nhận thêm tệp."))
    try:
        stored = [
            store_upload(u, case=case, purpose="evidence", actor=actor, now=now) for u in uploads
        ]
    except CaseFilesFull as exc:
        raise CaseFilesFull(exc.message, {"file": exc.message}) from None
    note = N_(
        "Bổ sung %(count)s tệp: %(names)s",
        count=len(stored),
        names=", ".join(a.original_name for a in stored),
    )
    db.session.add(
        CaseEvent(
            case=case,
            at=now,
            actor_id=actor.id if actor else None,
            actor_label=actor.display_name if actor else "Người dân",
            action="attach",
            public=actor is None,
            note=note,
            # The template and values, so the timeline shows the note translated
            # (CaseEvent.shown_note); the stored note is the Vietnamese text as before.
            data={"attachments": [a.id for a in stored], "note_said": _said(note)},
        )
    )
    db.session.flush()
    return stored


def _said(note: Said) -> dict[str, Any]:
    return {"t": note.template, "v": dict(note.values)}
