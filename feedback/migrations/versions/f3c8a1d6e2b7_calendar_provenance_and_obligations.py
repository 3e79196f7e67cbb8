"""calendar provenance (override origin, decided years) and SLA events per obligation

Revision ID: f3c8a1d6e2b7
Revises: e5a2c7d9f314
Create Date: 2026-12-05 13:00:00

- ``calendar_overrides.origin``: ``document`` (shipped with the data, the default for the
  rows already there) or ``admin`` (entered on the calendar page).
- ``calendar_years``: a year whose calendar an admin marked decided (ends the autumn
  reminder for it).
- ``cases.obligation`` and ``sla_events.obligation``: warnings and breaches are recorded
  once per (case, milestone, obligation) instead of per due time, so a due time moved by a
  calendar edit (the same promise) is never warned of or breached twice. Existing rows
  take their deadline revision as their obligation: a revision changed whenever a due
  time did, so the old per-due-time rows stay unique under the new key.

SQLite adds the columns with ALTER TABLE (their CHECKs as column constraints), so
``cases`` keeps its figure_months triggers and ``calendar_overrides`` its
reference_version triggers; ``sla_events`` (no triggers) is rebuilt for its key.
"""

import sqlalchemy as sa
from alembic import op

revision = "f3c8a1d6e2b7"
down_revision = "e5a2c7d9f314"
branch_labels = None
depends_on = None

ORIGIN_CHECK = "origin IN ('document', 'admin')"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    if _sqlite():
        op.execute(
            "ALTER TABLE calendar_overrides ADD COLUMN origin VARCHAR(16) "
            "DEFAULT 'document' NOT NULL "
            f"CONSTRAINT ck_calendar_overrides_origin CHECK ({ORIGIN_CHECK})"
        )
        op.execute("ALTER TABLE cases ADD COLUMN obligation INTEGER DEFAULT '0' NOT NULL")
    else:
        op.add_column(
            "calendar_overrides",
            sa.Column("origin", sa.String(16), server_default="document", nullable=False),
        )
        op.create_check_constraint(
            op.f("ck_calendar_overrides_origin"), "calendar_overrides", sa.text(ORIGIN_CHECK)
        )
        op.add_column(
            "cases", sa.Column("obligation", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE cases SET obligation = deadline_rev")

    with op.batch_alter_table("sla_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("obligation", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE sla_events SET obligation = deadline_rev")
    with op.batch_alter_table("sla_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sla_events_case_id_milestone_due_at", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_sla_events_case_id_milestone_obligation"),
            ["case_id", "milestone", "obligation"],
        )

    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name=op.f("ck_calendar_years_year_range")),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_calendar_years_confirmed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )


def downgrade():
    op.drop_table("calendar_years")
    # Back to one row per due time: keep the first row of each (case, milestone, due time).
    op.execute(
        "DELETE FROM sla_events WHERE id NOT IN (SELECT min(id) FROM sla_events "
        "GROUP BY case_id, milestone, due_at)"
    )
    with op.batch_alter_table("sla_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sla_events_case_id_milestone_obligation", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_sla_events_case_id_milestone_due_at"),
            ["case_id", "milestone", "due_at"],
        )
        batch_op.drop_column("obligation")
    if _sqlite():
        op.execute("ALTER TABLE cases DROP COLUMN obligation")
        op.execute("ALTER TABLE calendar_overrides DROP COLUMN origin")
    else:
        op.drop_column("cases", "obligation")
        op.drop_constraint(
            op.f("ck_calendar_overrides_origin"), "calendar_overrides", type_="check"
        )
        op.drop_column("calendar_overrides", "origin")
