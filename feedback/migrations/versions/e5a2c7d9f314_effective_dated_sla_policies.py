"""effective-dated SLA policies; complaint round, complexity class and suspension on cases

Revision ID: e5a2c7d9f314
Revises: d4e7a1c9b302
Create Date: 2026-12-05 12:30:00

Laws change limits on a given day (the law amending the Laws on Reception of Citizens,
Complaints and Denunciations, in force 1 July 2026) and admins change warning thresholds
from a chosen day: ``sla_policies`` rows get ``valid_from``/``valid_to`` and a complaint
``round``, and the unique key becomes (kind, round, valid_from). Existing rows are valid
"since always". SQLite rebuilds ``sla_policies`` and a rebuild drops its triggers: the
reference_version triggers of 7b3e91c4d2a8 are made again (frozen copy below).

``cases`` only gains columns: SQLite adds them with ALTER TABLE (their CHECKs as column
constraints), so the table is not rebuilt and keeps its figure_months triggers.
"""

import sqlalchemy as sa
from alembic import op

revision = "e5a2c7d9f314"
down_revision = "d4e7a1c9b302"
branch_labels = None
depends_on = None

SINCE_ALWAYS = "0001-01-01"
# Frozen copy of 7b3e91c4d2a8's SQLite trigger body.
SQLITE_STAMP = "lower(hex(randomblob(16)))"
CASE_CHECKS = {
    "complexity": "complexity IN ('normal', 'complex', 'especially_complex')",
    "complex_matches": "is_complex = (complexity <> 'normal')",
    "round": "round = 1 OR (round = 2 AND kind = 'complaint')",
    "only_complaints_suspend": "suspended_since IS NULL OR kind = 'complaint'",
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_triggers() -> None:
    if not _sqlite():
        return  # PostgreSQL keeps a table's triggers through ALTER TABLE
    for verb in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER IF NOT EXISTS sla_policies_bump_reference_version_{verb.lower()} "
            f"AFTER {verb} ON sla_policies "
            f"BEGIN UPDATE reference_version SET stamp = {SQLITE_STAMP} WHERE id = 1; END"
        )


def upgrade():
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column("valid_from", sa.Date(), server_default=SINCE_ALWAYS, nullable=False)
        )
        batch_op.add_column(sa.Column("valid_to", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "suspension_stops_clock", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.drop_constraint("uq_sla_policies_kind", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_sla_policies_kind_round_valid_from"), ["kind", "round", "valid_from"]
        )
        batch_op.create_check_constraint(
            "round", sa.text("round = 1 OR (round = 2 AND kind = 'complaint')")
        )
        batch_op.create_check_constraint(
            "valid_period", sa.text("valid_to IS NULL OR valid_to > valid_from")
        )
    _sqlite_triggers()

    if _sqlite():
        # ALTER TABLE ADD COLUMN (no rebuild); SQLite checks column CHECKs on old rows too.
        op.execute(
            "ALTER TABLE cases ADD COLUMN complexity VARCHAR(24) DEFAULT 'normal' NOT NULL "
            f"CONSTRAINT ck_cases_complexity CHECK ({CASE_CHECKS['complexity']})"
        )
        op.execute("UPDATE cases SET complexity = 'complex' WHERE is_complex")
        op.execute(
            "ALTER TABLE cases ADD COLUMN round INTEGER DEFAULT 1 NOT NULL "
            f"CONSTRAINT ck_cases_round CHECK ({CASE_CHECKS['round']})"
        )
        op.execute(
            "ALTER TABLE cases ADD COLUMN suspended_since DATETIME "
            "CONSTRAINT ck_cases_only_complaints_suspend "
            f"CHECK ({CASE_CHECKS['only_complaints_suspend']}) "
            "CONSTRAINT ck_cases_complex_matches "
            f"CHECK ({CASE_CHECKS['complex_matches']})"
        )
    else:
        op.add_column(
            "cases",
            sa.Column("complexity", sa.String(24), server_default="normal", nullable=False),
        )
        op.execute("UPDATE cases SET complexity = 'complex' WHERE is_complex")
        op.add_column("cases", sa.Column("round", sa.Integer(), server_default="1", nullable=False))
        op.add_column(
            "cases", sa.Column("suspended_since", sa.DateTime(timezone=True), nullable=True)
        )
        for name, sql in CASE_CHECKS.items():
            op.create_check_constraint(op.f(f"ck_cases_{name}"), "cases", sa.text(sql))


def downgrade():
    if _sqlite():
        # A column's own CHECKs go with it (complex_matches is attached to suspended_since).
        for column in ("suspended_since", "round", "complexity"):
            op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
    else:
        for name in CASE_CHECKS:
            op.drop_constraint(op.f(f"ck_cases_{name}"), "cases", type_="check")
        for column in ("suspended_since", "round", "complexity"):
            op.drop_column("cases", column)

    # One row per kind again: the one in force now (the latest first-round row).
    op.execute(
        "DELETE FROM sla_policies WHERE round <> 1 OR id NOT IN ("
        "SELECT p.id FROM sla_policies p WHERE p.round = 1 AND p.valid_from = ("
        "SELECT max(q.valid_from) FROM sla_policies q WHERE q.kind = p.kind AND q.round = 1))"
    )
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_sla_policies_valid_period"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_sla_policies_round"), type_="check")
        batch_op.drop_constraint("uq_sla_policies_kind_round_valid_from", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_sla_policies_kind"), ["kind"])
        batch_op.drop_column("suspension_stops_clock")
        batch_op.drop_column("valid_to")
        batch_op.drop_column("valid_from")
        batch_op.drop_column("round")
    _sqlite_triggers()
