"""import batches record their progress (1022 files imported in chunks)

Revision ID: a9d3e5f7b1c2
Revises: c7d2e9a4f1b8
Create Date: 2026-12-05 13:00:00

Issue 17: a 100,000-row 1022 file is imported in chunks of 500 rows, each chunk its own
transaction, so no lock is held for the whole file. The batch row records how many rows
of how many are done and whether the run finished, for the progress on the page. Batches
imported before this were one transaction each: they are 'done' (server default); their
row counts are the sum of their outcomes.
"""

import sqlalchemy as sa
from alembic import op

revision = "a9d3e5f7b1c2"
down_revision = "c7d2e9a4f1b8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_batches") as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="done", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rows_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE import_batches SET rows_total = imported + already_present + rejected, "
        "rows_done = imported + already_present + rejected, finished_at = created_at"
    )
    with op.batch_alter_table("import_batches") as batch_op:
        # op.f: the names are final (the naming convention would prefix them again).
        batch_op.create_check_constraint(
            op.f("ck_import_batches_progress"), "rows_done >= 0 AND rows_done <= rows_total"
        )
        batch_op.create_check_constraint(
            op.f("ck_import_batches_status"), "status IN ('running', 'done', 'interrupted')"
        )


def downgrade() -> None:
    with op.batch_alter_table("import_batches") as batch_op:
        batch_op.drop_constraint(op.f("ck_import_batches_status"), type_="check")
        batch_op.drop_constraint(op.f("ck_import_batches_progress"), type_="check")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("rows_done")
        batch_op.drop_column("rows_total")
        batch_op.drop_column("status")
