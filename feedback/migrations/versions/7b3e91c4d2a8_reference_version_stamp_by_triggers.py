"""reference_version: a stamp the database itself changes on every write of reference data

Revision ID: 7b3e91c4d2a8
Revises: 5a1d7c3e9f20
Create Date: 2026-11-28 06:00:00

One row whose ``stamp`` is set to a fresh random value by triggers after every INSERT,
UPDATE or DELETE (and, on PostgreSQL, TRUNCATE) of the reference tables, whoever writes
them: the admin pages, ``flask seed``, a bulk ``update()``, psql. A process may keep what
it read of those tables for as long as the stamp it reads is the one it read them under
(feedback.services.reference.cache). Random rather than a counter, so a rolled-back change,
a restored backup or another database of the same name never reuses a stamp for other data.

"""

import sqlalchemy as sa
from alembic import op

revision = "7b3e91c4d2a8"
down_revision = "5a1d7c3e9f20"
branch_labels = None
depends_on = None

# Frozen copy of feedback.services.reference.cache.REFERENCE_TABLES at this revision.
TABLES = (
    "settings",
    "areas",
    "units",
    "dimensions",
    "categories",
    "routing_rules",
    "sla_policies",
    "calendar_overrides",
)
SQLITE_STAMP = "lower(hex(randomblob(16)))"
PG_STAMP = "md5(random()::text || clock_timestamp()::text || txid_current()::text)"


def upgrade():
    op.create_table(
        "reference_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_reference_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_version")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"INSERT INTO reference_version (id, stamp) VALUES (1, {PG_STAMP})")
        op.execute(
            "CREATE FUNCTION bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN UPDATE reference_version SET stamp = {PG_STAMP} WHERE id = 1; "
            "RETURN NULL; END $$"
        )
        for table in TABLES:
            # Statement level: one bump per statement, and TRUNCATE is covered too.
            op.execute(
                f"CREATE TRIGGER {table}_bump_reference_version "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version()"
            )
    else:
        op.execute(f"INSERT INTO reference_version (id, stamp) VALUES (1, {SQLITE_STAMP})")
        for table in TABLES:
            for verb in ("INSERT", "UPDATE", "DELETE"):
                # SQLite has no TRUNCATE; its DELETE without WHERE fires row triggers when
                # there are any.
                op.execute(
                    f"CREATE TRIGGER {table}_bump_reference_version_{verb.lower()} "
                    f"AFTER {verb} ON {table} "
                    f"BEGIN UPDATE reference_version SET stamp = {SQLITE_STAMP} WHERE id = 1; END"
                )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_reference_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_reference_version()")
    else:
        for table in TABLES:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_reference_version_{verb}")
    op.drop_table("reference_version")
