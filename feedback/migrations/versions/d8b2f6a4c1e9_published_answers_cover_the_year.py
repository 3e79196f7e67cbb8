"""the public page's index covers the year it filters by

Revision ID: d8b2f6a4c1e9
Revises: c4f1a7e2b8d3
Create Date: 2026-12-05 18:20:00

Issue 17. The transparency page of a past year walks ix_cases_published_answers newest
answer first, and passes every answer given since that year before it finds the year's
(at a million cases, 0.45-0.55 s for last year's first page): each passed entry cost a
visit to the table to read received_at. With received_at and category_id in the index
after (answered_at, id), the year and the public categories are checked in the index
itself, and only the twenty cases shown are read from the table. (answered_at, id) stays
the leading order, and id is unique, so the page's order and cursor are unchanged.

Created with a plain CREATE INDEX, not in batch mode: SQLite's batch mode would rebuild
``cases`` and drop the triggers the word index and the figure rollups hang on.
"""

import sqlalchemy as sa
from alembic import op

revision = "d8b2f6a4c1e9"
down_revision = "c4f1a7e2b8d3"
branch_labels = None
depends_on = None

# Frozen copy of feedback.models.case.PUBLISHED_SQL.
PUBLISHED = (
    "answered_at IS NOT NULL AND status IN ('answered', 'closed') "
    "AND kind NOT IN ('complaint', 'denunciation')"
)


def _create(columns: list[str]) -> None:
    op.create_index(
        "ix_cases_published_answers",
        "cases",
        columns,
        unique=False,
        sqlite_where=sa.text(PUBLISHED),
        postgresql_where=sa.text(PUBLISHED),
    )


def upgrade() -> None:
    op.drop_index("ix_cases_published_answers", table_name="cases")
    _create(["answered_at", "id", "received_at", "category_id"])


def downgrade() -> None:
    op.drop_index("ix_cases_published_answers", table_name="cases")
    _create(["answered_at", "id"])
