"""idempotency answers sealed: the stored API answer (which holds an access key) is kept
only as a Fernet token under the identity key

Revision ID: d4e7a1c9b302
Revises: d4f1a7b2c9e3
Create Date: 2026-12-05 11:55:00

``cases`` keeps only a hash of each access key, but ``idempotency_keys.response_body``
kept the first answer to ``POST /api/v1/cases`` (access key included) in clear text for
two days, and so in backups. The rows already written are sealed here, and a CHECK
constraint makes the database refuse an unsealed body from now on (an empty body is the
placeholder of a request still being answered).
"""

import base64
import hashlib

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet
from flask import current_app

revision = "d4e7a1c9b302"
down_revision = "d4f1a7b2c9e3"
branch_labels = None
depends_on = None

PREFIX = "sealed:"
CHECK = "response_body = '' OR response_body LIKE 'sealed:%'"


def _fernet() -> Fernet:
    """A frozen copy of feedback.services.intake.identity's key at this revision
    (IDENTITY_KEY, or in development the key derived from SECRET_KEY), so the migration
    does not change when that code does."""
    key = current_app.config.get("IDENTITY_KEY")
    if not key:
        digest = hashlib.sha256(b"identity:" + current_app.config["SECRET_KEY"].encode()).digest()
        key = base64.urlsafe_b64encode(digest)
    return Fernet(key)


def _rows(bind: sa.Connection) -> list[sa.Row]:
    return list(bind.execute(sa.text("SELECT id, response_body FROM idempotency_keys")))


def upgrade() -> None:
    bind = op.get_bind()
    rows = [r for r in _rows(bind) if r.response_body and not r.response_body.startswith(PREFIX)]
    if rows:
        fernet = _fernet()
        for row in rows:
            sealed = PREFIX + fernet.encrypt(row.response_body.encode("utf-8")).decode()
            bind.execute(
                sa.text("UPDATE idempotency_keys SET response_body = :b WHERE id = :i"),
                {"b": sealed, "i": row.id},
            )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        # op.f: the name is final (the metadata's naming convention would prefix it again).
        batch_op.create_check_constraint(op.f("ck_idempotency_keys_response_sealed"), CHECK)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_idempotency_keys_response_sealed"), type_="check")
    # The code of the previous revision replays the stored body as it is: open them again.
    bind = op.get_bind()
    rows = [r for r in _rows(bind) if r.response_body.startswith(PREFIX)]
    if rows:
        fernet = _fernet()
        for row in rows:
            clear = fernet.decrypt(row.response_body.removeprefix(PREFIX).encode()).decode()
            bind.execute(
                sa.text("UPDATE idempotency_keys SET response_body = :b WHERE id = :i"),
                {"b": clear, "i": row.id},
            )
