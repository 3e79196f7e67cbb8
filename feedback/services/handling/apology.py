"""The apology owed for a late answer: an obligation the moment a case is answered after
its response due time, visible until the letter is issued (``letters`` issues and writes it)."""

from __future__ import annotations

from datetime import datetime

from ...database import insert_once
from ...models import ApologyLetter, Case


def owe_if_late(case: Case, answered_at: datetime) -> bool:
    """Record the obligation once per case (unique key); True when it is new."""
    if answered_at <= case.response_due_at:
        return False
    created = insert_once(
        ApologyLetter,
        ["case_id"],
        case_id=case.id,
        status="owed",
        owed_since=answered_at,
        late_by_seconds=int((answered_at - case.response_due_at).total_seconds()),
    )
    return created is not None
