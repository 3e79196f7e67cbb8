"""late cases in the open: progress updates with a committed day, escalation ladder

Revision ID: e2b7c4d9a6f1
Revises: c16b2f3e4a5d
Create Date: 2026-12-05 14:50:00

Issue 16: an officer who will miss the response deadline tells the citizen where things
stand and the day the unit commits to (progress_updates; the newest day is copied to
cases.committed_due_at, and a passed day is flagged on the monitor). Beyond the first
breach, a ladder of steps per kind (escalation_steps) says who is told N working days
later; each step a case reaches is recorded once per obligation (case_escalations), and
cases.escalation_level keeps the highest for the monitor.

The two new case columns are added, not the table rebuilt: SQLite's batch mode would
drop the triggers the full-text index and the figure rollups hang on ``cases``.
"""

import sqlalchemy as sa
from alembic import op

revision = "e2b7c4d9a6f1"
down_revision = "c16b2f3e4a5d"
branch_labels = None
depends_on = None

KINDS = ("feedback", "petition", "suggestion", "complaint", "denunciation")
# A frozen copy of feedback.models.case.UNANSWERED_SQL, as the index predicate's text.
OPEN_UNANSWERED = (
    "committed_due_at IS NOT NULL AND answered_at IS NULL AND status IN "
    "('received', 'acknowledged', 'in_progress', 'waiting_citizen', 'answered', "
    "'transferred', 'reopened')"
)


def upgrade() -> None:
    op.add_column("cases", sa.Column("committed_due_at", sa.DateTime(timezone=True)))
    op.add_column(
        "cases",
        sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_cases_committed_due",
        "cases",
        ["committed_due_at"],
        unique=False,
        sqlite_where=sa.text(OPEN_UNANSWERED),
        postgresql_where=sa.text(OPEN_UNANSWERED),
    )
    op.create_table(
        "progress_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("committed_on", sa.Date(), nullable=False),
        sa.Column("committed_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(body) > 0", name=op.f("ck_progress_updates_body_not_empty")),
        sa.CheckConstraint(
            "committed_due_at > posted_at", name=op.f("ck_progress_updates_commitment_in_future")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_progress_updates_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_progress_updates_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_updates")),
    )
    op.create_index(
        op.f("ix_progress_updates_case_id"), "progress_updates", ["case_id"], unique=False
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("after_working_days", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("notify_unit_head", sa.Boolean(), nullable=False),
        sa.Column("notify_lead_unit", sa.Boolean(), nullable=False),
        sa.Column("notify_inspectorate", sa.Boolean(), nullable=False),
        sa.Column("notify_chairman", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
            name=op.f("ck_escalation_steps_kind"),
        ),
        sa.CheckConstraint("level >= 1", name=op.f("ck_escalation_steps_level_positive")),
        sa.CheckConstraint(
            "after_working_days >= 0", name=op.f("ck_escalation_steps_delay_nonnegative")
        ),
        sa.CheckConstraint(
            "notify_unit_head OR notify_lead_unit OR notify_inspectorate OR notify_chairman",
            name=op.f("ck_escalation_steps_someone_told"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_steps")),
        sa.UniqueConstraint(
            "kind", "after_working_days", name=op.f("uq_escalation_steps_kind_after_working_days")
        ),
        sa.UniqueConstraint("kind", "level", name=op.f("uq_escalation_steps_kind_level")),
    )
    op.create_table(
        "case_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("obligation", sa.Integer(), nullable=False),
        sa.Column("after_working_days", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handling_unit_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("level >= 1", name=op.f("ck_case_escalations_level_positive")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_escalations_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["handling_unit_id"],
            ["units.id"],
            name=op.f("fk_case_escalations_handling_unit_id_units"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_escalations")),
        sa.UniqueConstraint(
            "case_id",
            "level",
            "obligation",
            name=op.f("uq_case_escalations_case_id_level_obligation"),
        ),
    )
    op.create_index(
        op.f("ix_case_escalations_case_id"), "case_escalations", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_escalations_case_id"), table_name="case_escalations")
    op.drop_table("case_escalations")
    op.drop_table("escalation_steps")
    op.drop_index(op.f("ix_progress_updates_case_id"), table_name="progress_updates")
    op.drop_table("progress_updates")
    op.drop_index("ix_cases_committed_due", table_name="cases")
    with op.batch_alter_table("cases", recreate="never") as batch_op:
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("committed_due_at")
