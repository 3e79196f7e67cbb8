"""Appending an event to a case's timeline: the lowest step of case handling.

Every move (``moves.move``), every action without a move (notes, drafts, letters) and every
recomputed deadline (``deadlines.recompute``) is written here, so this module imports no
other module of handling: moves and deadlines both build on it without needing each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain.marks import N_, Said
from ...extensions import db
from ...models import Case, CaseEvent, User

CITIZEN = N_("Người dân")


def record(
    case: Case,
    action: str,
    *,
    user: User | None,
    now: datetime,
    note: str,
    public: bool = False,
    data: dict[str, Any] | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    label: str | None = None,
) -> CaseEvent:
    """Append one event (flushed, so its id exists) and let the case's ``events`` reload.

    A note made from a marked template (``N_(template, **values)``) is stored as the
    Vietnamese text, as every note is, and its template and values are kept in ``data``,
    so the timeline can show it in the reader's language (``CaseEvent.shown_note``)."""
    data = dict(data or {})
    if isinstance(note, Said):
        data["note_said"] = {"t": note.template, "v": _plain(note.values)}
    event = CaseEvent(
        case_id=case.id,
        at=now,
        actor_id=user.id if user else None,
        actor_label=label or (user.display_name if user else CITIZEN),
        action=action,
        from_status=from_status,
        to_status=to_status,
        public=public,
        note=note,
        data=data,
    )
    db.session.add(event)
    db.session.flush()
    db.session.expire(case, ["events"])
    return event


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON keeps them: numbers and texts as they are, anything else as its text."""
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in values.items()}
