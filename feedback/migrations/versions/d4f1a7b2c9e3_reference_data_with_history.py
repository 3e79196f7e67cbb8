"""reference data with history: validity dates on areas, units and routing rules;
successions and applied packs

Revision ID: d4f1a7b2c9e3
Revises: c89a5ed38e24
Create Date: 2026-12-05 12:00:00

The map changes with reorganisations (Resolution 1684/NQ-UBTVQH15 from 1 July 2025):
rows are retired (``valid_to``) and new ones added, never renamed in place, so a code may
be reused by a later area or unit and the unique keys become (code, valid_from). Existing
rows are valid "since always" (0001-01-01). SQLite rebuilds the three tables and a
rebuild drops their triggers: the reference_version triggers of 7b3e91c4d2a8 are made
again afterwards (frozen copy below). ``reference_packs`` (whose settings brand the pages)
joins the tables whose writes change the stamp, so the per-process reading sees a pack.
"""

import sqlalchemy as sa
from alembic import op

revision = "d4f1a7b2c9e3"
down_revision = "c89a5ed38e24"
branch_labels = None
depends_on = None

SINCE_ALWAYS = "0001-01-01"
VALID_PERIOD = "valid_to IS NULL OR valid_to > valid_from"
DATED = ("areas", "units", "routing_rules")
# Frozen copy of 7b3e91c4d2a8's SQLite trigger body.
SQLITE_STAMP = "lower(hex(randomblob(16)))"


def _sqlite_triggers(tables: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL keeps a table's triggers through ALTER TABLE
    for table in tables:
        for verb in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_bump_reference_version_{verb.lower()} "
                f"AFTER {verb} ON {table} "
                f"BEGIN UPDATE reference_version SET stamp = {SQLITE_STAMP} WHERE id = 1; END"
            )


def _dated_columns(batch_op, table: str) -> None:
    batch_op.add_column(
        sa.Column("valid_from", sa.Date(), server_default=SINCE_ALWAYS, nullable=False)
    )
    batch_op.add_column(sa.Column("valid_to", sa.Date(), nullable=True))
    batch_op.create_check_constraint("valid_period", sa.text(VALID_PERIOD))


def upgrade():
    with op.batch_alter_table("areas", schema=None) as batch_op:
        _dated_columns(batch_op, "areas")
        batch_op.drop_constraint("uq_areas_code", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_areas_code_valid_from"), ["code", "valid_from"]
        )
    with op.batch_alter_table("units", schema=None) as batch_op:
        _dated_columns(batch_op, "units")
        batch_op.drop_constraint("uq_units_code", type_="unique")
        batch_op.drop_constraint("uq_units_area_id_function", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_units_code_valid_from"), ["code", "valid_from"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_units_area_id_function_valid_from"),
            ["area_id", "function", "valid_from"],
        )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_index("uq_routing_rules_general")
        _dated_columns(batch_op, "routing_rules")
        batch_op.drop_constraint("uq_routing_rules_category_id_area_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_routing_rules_category_id_area_id_valid_from"),
            ["category_id", "area_id", "valid_from"],
        )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.create_index(
            "uq_routing_rules_general",
            ["category_id", "valid_from"],
            unique=True,
            sqlite_where=sa.text("area_id IS NULL"),
            postgresql_where=sa.text("area_id IS NULL"),
        )
    _sqlite_triggers(DATED)

    op.create_table(
        "reference_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_packs")),
        sa.UniqueConstraint(
            "name", "effective_from", name=op.f("uq_reference_packs_name_effective_from")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER reference_packs_bump_reference_version "
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON reference_packs "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version()"
        )
    _sqlite_triggers(("reference_packs",))
    op.create_table(
        "reference_successions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("from_area_id", sa.Integer(), nullable=True),
        sa.Column("to_area_id", sa.Integer(), nullable=True),
        sa.Column("from_unit_id", sa.Integer(), nullable=True),
        sa.Column("to_unit_id", sa.Integer(), nullable=True),
        sa.Column("certainty", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("pack_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('area', 'unit')", name=op.f("ck_reference_successions_kind")),
        sa.CheckConstraint(
            "certainty IN ('certain', 'assumed', 'ambiguous', 'unknown')",
            name=op.f("ck_reference_successions_certainty"),
        ),
        sa.CheckConstraint(
            "(kind = 'area' AND from_unit_id IS NULL AND to_unit_id IS NULL"
            " AND from_area_id IS NOT NULL)"
            " OR (kind = 'unit' AND from_area_id IS NULL AND to_area_id IS NULL"
            " AND from_unit_id IS NOT NULL)",
            name=op.f("ck_reference_successions_one_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["from_area_id"], ["areas.id"], name=op.f("fk_reference_successions_from_area_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["to_area_id"], ["areas.id"], name=op.f("fk_reference_successions_to_area_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["from_unit_id"], ["units.id"], name=op.f("fk_reference_successions_from_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"], ["units.id"], name=op.f("fk_reference_successions_to_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["pack_id"],
            ["reference_packs.id"],
            name=op.f("fk_reference_successions_pack_id_reference_packs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_successions")),
        sa.UniqueConstraint(
            "from_area_id",
            "to_area_id",
            name=op.f("uq_reference_successions_from_area_id_to_area_id"),
        ),
        sa.UniqueConstraint(
            "from_unit_id",
            "to_unit_id",
            name=op.f("uq_reference_successions_from_unit_id_to_unit_id"),
        ),
    )


def downgrade():
    """Back to one row per code: only possible while no pack has added a second one."""
    op.drop_table("reference_successions")
    op.drop_table("reference_packs")
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_index("uq_routing_rules_general")
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_constraint("uq_routing_rules_category_id_area_id_valid_from", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_routing_rules_category_id_area_id"), ["category_id", "area_id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_routing_rules_valid_period"), type_="check")
        batch_op.drop_column("valid_to")
        batch_op.drop_column("valid_from")
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.create_index(
            "uq_routing_rules_general",
            ["category_id"],
            unique=True,
            sqlite_where=sa.text("area_id IS NULL"),
            postgresql_where=sa.text("area_id IS NULL"),
        )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_constraint("uq_units_area_id_function_valid_from", type_="unique")
        batch_op.drop_constraint("uq_units_code_valid_from", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_units_code"), ["code"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_units_area_id_function"), ["area_id", "function"]
        )
        batch_op.drop_constraint(batch_op.f("ck_units_valid_period"), type_="check")
        batch_op.drop_column("valid_to")
        batch_op.drop_column("valid_from")
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_constraint("uq_areas_code_valid_from", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_areas_code"), ["code"])
        batch_op.drop_constraint(batch_op.f("ck_areas_valid_period"), type_="check")
        batch_op.drop_column("valid_to")
        batch_op.drop_column("valid_from")
    _sqlite_triggers(DATED)
