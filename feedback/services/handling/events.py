"""Appending an event to a case's timeline: the lowest step of case handling.

Every move (``moves.move``), every action without a move (notes, drafts, letters) and every
recomputed deadline (``deadlines.recompute``) is written here, so this module imports no
other module of handling: moves and deadlines both build on it without needing each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...extensions import db
from ...models import Case, CaseEvent, User


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
    """Append one event (flushed, so its id exists) and let the case's ``events`` reload."""
    event = CaseEvent(
        case_id=case.id,
        at=now,
        actor_id=user.id if user else None,
        actor_label=label or (user.display_name if user else "Người dân"),
        action=action,
        from_status=from_status,
        to_status=to_status,
        public=public,
        note=note,
        data=data or {},
    )
    db.session.add(event)
    db.session.flush()
    db.session.expire(case, ["events"])
    return event
