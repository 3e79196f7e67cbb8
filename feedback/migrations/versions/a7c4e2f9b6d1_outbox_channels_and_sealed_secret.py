"""outbox channels and sealed secret: SMS and Zalo rows beside e-mail, and the access key
a message carries kept sealed outside its body

Revision ID: a7c4e2f9b6d1
Revises: f3c8a1d6e2b7
Create Date: 2026-12-05 12:40:00

A receipt now carries the citizen's access key (issue 15), but the key must never rest in
clear text (issue 13, finding 3): the body keeps a placeholder and ``secret`` the key,
sealed under the identity key, which the CHECK constraint insists on. ``channel`` existed
(always 'email'); a CHECK now names the three channels.
"""

import sqlalchemy as sa
from alembic import op

revision = "a7c4e2f9b6d1"
down_revision = "f3c8a1d6e2b7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.Text(), nullable=True))
        # op.f: the names are final (the naming convention would prefix them again).
        batch_op.create_check_constraint(
            op.f("ck_notifications_channel"), "channel IN ('email', 'sms', 'zalo')"
        )
        batch_op.create_check_constraint(
            op.f("ck_notifications_secret_sealed"), "secret IS NULL OR secret LIKE 'sealed:%'"
        )


def downgrade() -> None:
    # The old code knows only e-mail: it would mail an SMS or Zalo row to a phone number.
    # Those not yet sent are given up (kept, for the record), never deleted.
    op.execute(
        "UPDATE notifications SET status = 'failed', lease_until = NULL,"
        " last_error = 'downgrade: channel not supported' WHERE channel <> 'email'"
        " AND status IN ('pending', 'sending')"
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_secret_sealed"), type_="check")
        batch_op.drop_constraint(op.f("ck_notifications_channel"), type_="check")
        batch_op.drop_column("secret")
