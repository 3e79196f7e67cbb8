"""The schema is made only by migrations, and the migrations match the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError


def test_single_head(app: Flask) -> None:
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


def test_models_match_migrations(db: Any) -> None:
    from feedback.extensions import db as database

    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, database.metadata)
    assert diff == [], diff


def test_case_events_are_append_only(db: Any, make_case: Any) -> None:
    code = make_case()
    with db.engine.connect() as conn:
        for sql in (
            "UPDATE case_events SET note = 'sửa' WHERE case_id = "
            f"(SELECT id FROM cases WHERE code = '{code}')",
            f"DELETE FROM case_events WHERE case_id = (SELECT id FROM cases WHERE code = '{code}')",
        ):
            try:
                conn.execute(text(sql))
                conn.commit()
            except DatabaseError as exc:
                conn.rollback()
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"the database accepted: {sql}")
