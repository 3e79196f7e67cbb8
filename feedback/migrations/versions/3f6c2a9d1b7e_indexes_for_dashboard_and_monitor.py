"""indexes for the dashboard's period filter and the monitor's open cases

Revision ID: 3f6c2a9d1b7e
Revises: 9da3a5dfb1ea
Create Date: 2026-11-27 06:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "3f6c2a9d1b7e"
down_revision = "9da3a5dfb1ea"
branch_labels = None
depends_on = None

# Frozen copy of feedback.models.case.OPEN_CASES_SQL at this revision.
OPEN_CASES = (
    "status IN ('received', 'acknowledged', 'in_progress', 'waiting_citizen', 'answered', "
    "'transferred', 'reopened')"
)


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_received_at", ["received_at"], unique=False)
        batch_op.create_index(
            "ix_cases_open_response_due",
            ["response_due_at"],
            unique=False,
            sqlite_where=sa.text(OPEN_CASES),
            postgresql_where=sa.text(OPEN_CASES),
        )


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_open_response_due")
        batch_op.drop_index("ix_cases_received_at")
