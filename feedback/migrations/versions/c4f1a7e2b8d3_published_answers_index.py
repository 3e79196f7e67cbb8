"""the public page's answered cases, newest answer first

Revision ID: c4f1a7e2b8d3
Revises: a3e8d5c1f9b6
Create Date: 2026-12-05 15:50:00

Issue 17, measured on a million cases (BENCHMARKS.md, helper h18): the transparency page
(/cong-khai/) lists the answered cases the public may see, newest answer first, and no
index served that order: every page read and sorted the year's answered cases (0.4-0.9 s,
more for deep pages by OFFSET). ix_cases_published_answers (answered_at, id) holds only
the cases the page may list (answered or closed, with an answer, neither a complaint nor a
denunciation); the page walks it backwards from a cursor.

Created with a plain CREATE INDEX, not in batch mode: SQLite's batch mode would rebuild
``cases`` and drop the triggers the word index and the figure rollups hang on.
"""

import sqlalchemy as sa
from alembic import op

revision = "c4f1a7e2b8d3"
down_revision = "a3e8d5c1f9b6"
branch_labels = None
depends_on = None

# Frozen copy of feedback.models.case.PUBLISHED_SQL.
PUBLISHED = (
    "answered_at IS NOT NULL AND status IN ('answered', 'closed') "
    "AND kind NOT IN ('complaint', 'denunciation')"
)


def upgrade() -> None:
    op.create_index(
        "ix_cases_published_answers",
        "cases",
        ["answered_at", "id"],
        unique=False,
        sqlite_where=sa.text(PUBLISHED),
        postgresql_where=sa.text(PUBLISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_published_answers", table_name="cases")
