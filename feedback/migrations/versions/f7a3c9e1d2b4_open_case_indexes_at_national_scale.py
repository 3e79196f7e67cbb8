"""open-case indexes at national scale: duplicate hints, the inbox's order, the queues

Revision ID: f7a3c9e1d2b4
Revises: e2b7c4d9a6f1
Create Date: 2026-12-05 15:30:00

Issue 17, measured on a million cases (BENCHMARKS.md). Every index is partial: it holds
the open cases (about 10 % of a city's history) or the drafts awaiting approval (a
handful), so it stays small however many closed cases pile up, and costs writes only
while a case is open.

- ix_cases_open_place (category_id, area_id, received_at): the duplicate hints look for
  open cases of one category and area received in the last 180 days; PostgreSQL read all
  98,000 open cases through ix_cases_open_response_due to keep 176 (0.37 s -> 0.03 s).
- ix_cases_open_next_due (the nearest due time, id): the inbox's order and its cursor;
  the first page sorted every open case (1.5 s on SQLite) and is now an index walk.
- ix_cases_open_status (status, needs_triage): the triage and sent-back queues, counted
  on every page's navigation, without reading the cases.
- ix_cases_drafts_pending (handling_unit_id): drafts not yet answered, the approval queue.

Created one by one with plain CREATE INDEX, not in batch mode: SQLite's batch mode would
rebuild ``cases`` and drop the triggers the word index and the figure rollups hang on.
"""

import sqlalchemy as sa
from alembic import op

revision = "f7a3c9e1d2b4"
down_revision = "e2b7c4d9a6f1"
branch_labels = None
depends_on = None

# Frozen copies of feedback.models.case.OPEN_CASES_SQL and of the inbox's next_due().
OPEN_CASES = (
    "status IN ('received', 'acknowledged', 'in_progress', 'waiting_citizen', 'answered', "
    "'transferred', 'reopened')"
)
NEXT_DUE = "(CASE WHEN acknowledged_at IS NULL THEN ack_due_at ELSE response_due_at END)"
DRAFTS_PENDING = "answer_draft IS NOT NULL AND answered_at IS NULL"


def upgrade() -> None:
    for name, columns in (
        ("ix_cases_open_place", ["category_id", "area_id", "received_at"]),
        ("ix_cases_open_next_due", [sa.text(NEXT_DUE), "id"]),
        ("ix_cases_open_status", ["status", "needs_triage"]),
    ):
        op.create_index(
            name,
            "cases",
            columns,
            unique=False,
            sqlite_where=sa.text(OPEN_CASES),
            postgresql_where=sa.text(OPEN_CASES),
        )
    op.create_index(
        "ix_cases_drafts_pending",
        "cases",
        ["handling_unit_id"],
        unique=False,
        sqlite_where=sa.text(DRAFTS_PENDING),
        postgresql_where=sa.text(DRAFTS_PENDING),
    )


def downgrade() -> None:
    for name in (
        "ix_cases_drafts_pending",
        "ix_cases_open_status",
        "ix_cases_open_next_due",
        "ix_cases_open_place",
    ):
        op.drop_index(name, table_name="cases")
