"""revocable sessions and expiring tokens: users.session_version, api_tokens.expires_at

Revision ID: c89a5ed38e24
Revises: 7b3e91c4d2a8
Create Date: 2026-12-05 11:50:00

A session cookie carries the user's session version from login; bumping the version
(logout, password change, deactivation) ends every session issued before. Tokens get an
expiry: existing ones are given 90 days from their creation (the default
API_TOKEN_TTL_DAYS), so an old token that was never meant to live forever stops too.
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "c89a5ed38e24"
down_revision = "7b3e91c4d2a8"
branch_labels = None
depends_on = None

# Frozen at this revision: the default of feedback.config's API_TOKEN_TTL_DAYS.
BACKFILL_TTL = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="1", nullable=False)
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))

    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        bind.execute(
            tokens.update()
            .where(tokens.c.id == row.id)
            .values(expires_at=row.created_at + BACKFILL_TTL)
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_check_constraint(
            op.f("ck_api_tokens_expires_after_created"), "expires_at > created_at"
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_tokens_expires_after_created"), type_="check")
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
