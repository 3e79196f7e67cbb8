"""cases.language: the language the citizen wrote in, for the messages sent back

Revision ID: a3e8d5c1f9b6
Revises: f7a3c9e1d2b4
Create Date: 2026-12-05 15:40:00

Issue 15: a case submitted from the English page gets its e-mails, SMS and Zalo messages in
English. Existing cases were all written from Vietnamese pages, hence the server default.

Added with a plain ADD COLUMN and no CHECK constraint: on SQLite a constraint would mean
rebuilding ``cases`` (batch mode), which drops the triggers the word index and the figure
rollups hang on. The languages allowed are checked where a case is made (CaseInput).
"""

import sqlalchemy as sa
from alembic import op

revision = "a3e8d5c1f9b6"
down_revision = "f7a3c9e1d2b4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column("language", sa.String(length=8), nullable=False, server_default="vi"),
    )


def downgrade() -> None:
    with op.batch_alter_table("cases", recreate="never") as batch_op:
        batch_op.drop_column("language")
