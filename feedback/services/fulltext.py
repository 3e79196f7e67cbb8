"""Word conditions over ``cases.search_text`` answered by the database's word index.

One place knows both engines (migration c7d2e9a4f1b8 builds the indexes, the database keeps
them current): SQLite asks the FTS5 table ``cases_fts`` (rowid = cases.id), PostgreSQL
the GIN index on ``to_tsvector('simple', search_text)``. Both match whole folded syllables,
as the ``LIKE '% word %'`` scan did, so "o ga" finds "ổ gà" and never "ngày"; the caller
folds (feedback.domain.text.fold), so a word is ``[0-9a-z]+`` and carries no syntax of
either query language. Each word is still quoted (FTS5) because FTS5 reads a bare AND,
OR, NOT or NEAR as an operator.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import column, false, func, literal_column, select, table, true
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import Case
from ..models.search_index import FTS_TABLE

_fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))
_SIMPLE = literal_column("'simple'::regconfig")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _checked(words: Iterable[str]) -> list[str]:
    checked = list(dict.fromkeys(words))
    for word in checked:
        if not word.isascii() or not word.isalnum() or word != word.lower():
            raise ValueError(f"not a folded word: {word!r}")
    return checked


def matches(words: Iterable[str], *, every: bool = True) -> ColumnElement[bool]:
    """Cases whose text holds every word (``every``) or at least one of them.

    An empty list is no condition with ``every`` (nothing asked, everything matches) and
    matches nothing without it (no word in common)."""
    checked = _checked(words)
    if not checked:
        return true() if every else false()
    if _dialect() == "sqlite":
        joiner = " AND " if every else " OR "
        expression = joiner.join(f'"{w}"' for w in checked)
        return Case.id.in_(select(_fts.c.rowid).where(_fts.c[FTS_TABLE].match(expression)))
    query = (" & " if every else " | ").join(checked)
    document = func.to_tsvector(_SIMPLE, Case.search_text)
    return document.bool_op("@@")(func.to_tsquery(_SIMPLE, query))
