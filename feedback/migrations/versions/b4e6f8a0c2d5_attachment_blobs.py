"""attachments' bytes in the database (ATTACHMENT_STORAGE=database)

Revision ID: b4e6f8a0c2d5
Revises: a9d3e5f7b1c2
Create Date: 2026-12-05 13:10:00

Issue 17: with several web machines, a file received by one must be served by the others.
ATTACHMENT_STORAGE=database keeps each attachment's bytes in this table (bytea on
PostgreSQL), written in the attachment row's transaction; local disk stays the default.
"""

import sqlalchemy as sa
from alembic import op

revision = "b4e6f8a0c2d5"
down_revision = "a9d3e5f7b1c2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_blobs",
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_attachment_blobs_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_attachment_blobs")),
    )


def downgrade() -> None:
    op.drop_table("attachment_blobs")
