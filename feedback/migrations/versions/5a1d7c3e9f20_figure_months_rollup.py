"""figure_months: the dashboard's monthly rollup, kept honest by triggers

Revision ID: 5a1d7c3e9f20
Revises: 3f6c2a9d1b7e
Create Date: 2026-11-27 06:25:00

Triggers on ``cases`` and ``apology_letters`` mark the local month (Asia/Ho_Chi_Minh,
UTC+7 all year) of every case a change touches as dirty, whichever code path wrote it.
"""

import sqlalchemy as sa
from alembic import op

revision = "5a1d7c3e9f20"
down_revision = "3f6c2a9d1b7e"
branch_labels = None
depends_on = None

# The columns a figure depends on (not next_sla_check_at, search_text, ...).
WATCHED = (
    "status, kind, channel, handling_unit_id, category_id, area_id, received_at, "
    "ack_due_at, response_due_at, acknowledged_at, answered_at, rating"
)
# Frozen copy of feedback.models.case.UNANSWERED_SQL at this revision.
UNANSWERED = (
    "answered_at IS NULL AND status IN ('received', 'acknowledged', 'in_progress', "
    "'waiting_citizen', 'answered', 'transferred', 'reopened')"
)
SQLITE_MONTH = "strftime('%Y-%m', {ref}.received_at, '+7 hours')"


def _sqlite_mark(month_sql: str) -> str:
    return f"UPDATE figure_months SET dirty = 1 WHERE month = {month_sql} AND dirty = 0;"


def _sqlite_triggers() -> list[str]:
    new, old = SQLITE_MONTH.format(ref="NEW"), SQLITE_MONTH.format(ref="OLD")
    letter_month = "(SELECT {m} FROM cases WHERE cases.id = {ref}.case_id)"
    return [
        f"CREATE TRIGGER figure_months_case_insert AFTER INSERT ON cases "
        f"BEGIN {_sqlite_mark(new)} END",
        f"CREATE TRIGGER figure_months_case_update AFTER UPDATE OF {WATCHED} ON cases "
        f"BEGIN {_sqlite_mark(old)} {_sqlite_mark(new)} END",
        f"CREATE TRIGGER figure_months_case_delete AFTER DELETE ON cases "
        f"BEGIN {_sqlite_mark(old)} END",
        "CREATE TRIGGER figure_months_letter_insert AFTER INSERT ON apology_letters BEGIN "
        + _sqlite_mark(letter_month.format(m=SQLITE_MONTH.format(ref="cases"), ref="NEW"))
        + " END",
        "CREATE TRIGGER figure_months_letter_update AFTER UPDATE OF status, case_id "
        "ON apology_letters BEGIN "
        + _sqlite_mark(letter_month.format(m=SQLITE_MONTH.format(ref="cases"), ref="OLD"))
        + " "
        + _sqlite_mark(letter_month.format(m=SQLITE_MONTH.format(ref="cases"), ref="NEW"))
        + " END",
        "CREATE TRIGGER figure_months_letter_delete AFTER DELETE ON apology_letters BEGIN "
        + _sqlite_mark(letter_month.format(m=SQLITE_MONTH.format(ref="cases"), ref="OLD"))
        + " END",
    ]


SQLITE_NAMES = (
    "figure_months_case_insert",
    "figure_months_case_update",
    "figure_months_case_delete",
    "figure_months_letter_insert",
    "figure_months_letter_update",
    "figure_months_letter_delete",
)


# Advisory lock namespace of the months (feedback.services.oversight.figures.MONTH_LOCK).
MONTH_LOCK = 7_302_023


def _pg_statements() -> list[str]:
    # Every writer of a month holds a *shared* advisory lock on it until it commits (writers
    # never wait for each other); a rebuild takes the *exclusive* lock before it clears the
    # mark, so no change can be in flight, unseen, while a month is summed. "AND NOT dirty":
    # once a month is dirty, further writers find no row to update and take no row lock.
    mark = (
        f"PERFORM pg_advisory_xact_lock_shared({MONTH_LOCK}, to_char({{t}}, 'YYYYMM')::int); "
        "UPDATE figure_months SET dirty = true WHERE month = to_char({t}, 'YYYY-MM') AND NOT dirty;"
    )
    local = "{ref}.received_at AT TIME ZONE 'Asia/Ho_Chi_Minh'"
    case_body = (
        "BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
        + mark.format(t=local.format(ref="OLD"))
        + " END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        + mark.format(t=local.format(ref="NEW"))
        + " END IF; RETURN NULL; END"
    )
    letter_local = (
        "(SELECT cases.received_at AT TIME ZONE 'Asia/Ho_Chi_Minh' FROM cases "
        "WHERE cases.id = {ref}.case_id)"
    )
    letter_body = (
        "BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
        + mark.format(t=letter_local.format(ref="OLD"))
        + " END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        + mark.format(t=letter_local.format(ref="NEW"))
        + " END IF; RETURN NULL; END"
    )
    return [
        "CREATE FUNCTION figure_months_case_touch() RETURNS trigger LANGUAGE plpgsql AS $$ "
        + case_body
        + " $$",
        f"CREATE TRIGGER figure_months_case AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} "
        "ON cases FOR EACH ROW EXECUTE FUNCTION figure_months_case_touch()",
        "CREATE FUNCTION figure_months_letter_touch() RETURNS trigger LANGUAGE plpgsql AS $$ "
        + letter_body
        + " $$",
        "CREATE TRIGGER figure_months_letter AFTER INSERT OR DELETE OR UPDATE OF status, case_id "
        "ON apology_letters FOR EACH ROW EXECUTE FUNCTION figure_months_letter_touch()",
    ]


def upgrade():
    op.create_table(
        "figure_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.CheckConstraint("month LIKE '____-__'", name=op.f("ck_figure_months_month_format")),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_figure_months")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_unanswered",
            ["response_due_at"],
            unique=False,
            sqlite_where=sa.text(UNANSWERED),
            postgresql_where=sa.text(UNANSWERED),
        )
        batch_op.create_index(
            "ix_cases_unacknowledged",
            ["ack_due_at"],
            unique=False,
            sqlite_where=sa.text("acknowledged_at IS NULL"),
            postgresql_where=sa.text("acknowledged_at IS NULL"),
        )
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_triggers() if dialect == "sqlite" else _pg_statements():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS figure_months_case ON cases")
        op.execute("DROP TRIGGER IF EXISTS figure_months_letter ON apology_letters")
        op.execute("DROP FUNCTION IF EXISTS figure_months_case_touch()")
        op.execute("DROP FUNCTION IF EXISTS figure_months_letter_touch()")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_unacknowledged")
        batch_op.drop_index("ix_cases_unanswered")
    op.drop_table("figure_months")
