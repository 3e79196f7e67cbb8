"""The word index over ``cases.search_text``, which lives outside the models.

Migration c7d2e9a4f1b8 creates it and the database keeps it current: on SQLite an
external-content FTS5 table (``cases_fts`` and the shadow tables FTS5 makes for it,
``cases_fts_data``, ``_idx``, ``_docsize``, ``_config``), on PostgreSQL an expression GIN
index. Neither is a mapped table or column, so the models do not declare them; the schema
comparison (Alembic's autogenerate and tests/test_migrations.py) skips them by name.
"""

from __future__ import annotations

from typing import Any

FTS_TABLE = "cases_fts"
PG_INDEX = "ix_cases_search_text_fts"
# Issue 17 (migration f7a3c9e1d2b4): the inbox's order, an expression index on the open
# cases that neither SQLAlchemy (SQLite) nor Alembic (PostgreSQL's rewritten text) can
# compare with a model, so it too lives in the migration only.
INBOX_ORDER_INDEX = "ix_cases_open_next_due"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: leave the word index out of the comparison."""
    if type_ == "table" and name is not None:
        return name != FTS_TABLE and not name.startswith(FTS_TABLE + "_")
    if type_ == "index":
        return name not in (PG_INDEX, INBOX_ORDER_INDEX)
    return True
