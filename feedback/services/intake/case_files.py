"""Adding files to a case after it was entered (the citizen's further evidence, a photo the
caller sent later), with its event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import current_app

from ...domain.states import OPEN_STATUSES
from ...extensions import db
from ...models import Attachment, Case, CaseEvent, User
from ..errors import Conflict, ValidationError
from .attachments import Upload, store_upload

MAX_PER_CASE_FACTOR = 4  # a case may gather up to 4 × ATTACHMENT_MAX_COUNT files in all


def add_files(
    case: Case, uploads: Sequence[Upload], *, actor: User | None, now: datetime
) -> list[Attachment]:
    if not uploads:
        raise ValidationError("Chưa có tệp nào.", {"file": "Chọn ít nhất một tệp."})
    if case.status not in {s.value for s in OPEN_STATUSES}:
        raise Conflict("Hồ sơ đã kết thúc, không nhận thêm tệp.")
    limit = MAX_PER_CASE_FACTOR * int(current_app.config.get("ATTACHMENT_MAX_COUNT", 5))
    if len(case.attachments) + len(uploads) > limit:
        raise ValidationError(
            f"Mỗi hồ sơ có tối đa {limit} tệp.",
            {"file": f"Hồ sơ đã có {len(case.attachments)} tệp."},
        )
    stored = [store_upload(u, case=case, purpose="evidence", actor=actor, now=now) for u in uploads]
    db.session.add(
        CaseEvent(
            case=case,
            at=now,
            actor_id=actor.id if actor else None,
            actor_label=actor.display_name if actor else "Người dân",
            action="attach",
            public=actor is None,
            note=f"Bổ sung {len(stored)} tệp: " + ", ".join(a.original_name for a in stored),
            data={"attachments": [a.id for a in stored]},
        )
    )
    db.session.flush()
    return stored
