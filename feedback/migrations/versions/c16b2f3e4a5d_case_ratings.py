"""case ratings: every answer's rating kept, not only the current one

Revision ID: c16b2f3e4a5d
Revises: b4e6f8a0c2d5
Create Date: 2026-12-05 13:20:00

Issue 16: reopening a case set ``cases.rating`` back to NULL, so the dashboard lost the
citizen's rating of the first answer. A row per (case, answer) keeps each. Backfilled
from the timeline's ``rate`` events (each event's answer is the number of reopenings
before it), which hold the ratings a reopening cleared.
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "c16b2f3e4a5d"
down_revision = "b4e6f8a0c2d5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("answer_no", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("answer_no >= 0", name=op.f("ck_case_ratings_answer_no_nonnegative")),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_case_ratings_rating_range")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_ratings_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_ratings")),
        sa.UniqueConstraint("case_id", "answer_no", name=op.f("uq_case_ratings_case_id_answer_no")),
    )
    with op.batch_alter_table("case_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_ratings_case_id"), ["case_id"], unique=False)

    bind = op.get_bind()
    events = bind.execute(
        sa.text(
            "SELECT id, case_id, action, at, data, note FROM case_events "
            "WHERE action IN ('rate', 'reopen') ORDER BY case_id, id"
        )
    ).all()
    reopened: dict[int, int] = {}
    rows = []
    seen: set[tuple[int, int]] = set()
    for _id, case_id, action, at, data, _note in events:
        if action == "reopen":
            reopened[case_id] = reopened.get(case_id, 0) + 1
            continue
        if isinstance(data, str):
            data = json.loads(data or "{}")
        if isinstance(at, str):  # SQLite: the stored UTC text
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        rating = (data or {}).get("rating")
        answer_no = reopened.get(case_id, 0)
        if isinstance(rating, int) and 1 <= rating <= 5 and (case_id, answer_no) not in seen:
            seen.add((case_id, answer_no))
            rows.append(
                {"case_id": case_id, "answer_no": answer_no, "rating": rating, "rated_at": at}
            )
    if rows:
        table = sa.table(
            "case_ratings",
            sa.column("case_id", sa.Integer()),
            sa.column("answer_no", sa.Integer()),
            sa.column("rating", sa.Integer()),
            sa.column("rated_at", sa.DateTime(timezone=True)),
        )
        op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table("case_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_ratings_case_id"))
    op.drop_table("case_ratings")
