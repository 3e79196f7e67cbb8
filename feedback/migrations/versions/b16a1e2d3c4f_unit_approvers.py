"""unit approvers: who approves a unit's answers while it has no head

Revision ID: b16a1e2d3c4f
Revises: a7c4e2f9b6d1
Create Date: 2026-12-05 12:40:00

Issue 16: a unit without a head (the environment company) could not answer at all. A
row here names the account that approves in the head's place; with no row the
coordinator does. Keyed by unit code so a reference pack re-issuing the unit keeps it.
"""

import sqlalchemy as sa
from alembic import op

revision = "b16a1e2d3c4f"
down_revision = "a7c4e2f9b6d1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_approvers",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_unit_approvers_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_unit_approvers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("unit_code", name=op.f("pk_unit_approvers")),
    )


def downgrade() -> None:
    op.drop_table("unit_approvers")
