"""The apology owed for a late answer: an obligation the moment a case is answered after
its response due time, visible until the letter is issued (``letters`` issues and writes it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from ...extensions import db
from ...models import ApologyLetter, Case


def owe_if_late(case: Case, answered_at: datetime) -> bool:
    """Record the obligation once per case (unique key); True when it is new."""
    if answered_at <= case.response_due_at:
        return False
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created = db.session.execute(
        insert(ApologyLetter)
        .values(
            case_id=case.id,
            status="owed",
            owed_since=answered_at,
            late_by_seconds=int((answered_at - case.response_due_at).total_seconds()),
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
        .returning(ApologyLetter.id)
    ).scalar_one_or_none()
    return created is not None
