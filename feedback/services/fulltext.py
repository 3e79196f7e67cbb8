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


# Above this many matches a page of the newest is found faster by walking the cases
# newest first and keeping those in the index's answer than by reading every match and
# sorting them (SQLite; measured at 100k cases: 2 ms against 200 ms for 10,000 matches).
WALK_FROM = 500


def _fts_expression(words: list[str], every: bool) -> str:
    return (" AND " if every else " OR ").join(f'"{w}"' for w in words)


def matches(
    words: Iterable[str],
    *,
    every: bool = True,
    newest_first_walk: bool = False,
    per_row: bool = False,
) -> ColumnElement[bool]:
    """Cases whose text holds every word (``every``) or at least one of them.

    An empty list is no condition with ``every`` (nothing asked, everything matches) and
    matches nothing without it (no word in common). ``newest_first_walk`` (SQLite) keeps
    the planner from driving the query by the matches' ids, so that it walks the
    received_at index and stops at the page's end: the better plan when many cases match
    (``count`` says how many). ``per_row`` (SQLite) asks the index about each row the
    other conditions leave (FTS5 seeks the row's id in each word's list) instead of
    collecting every match first: for a few candidates and common words (the duplicate
    hints: a letter's words OR-ed, 60 % of a million cases) it is 3.7 s against
    milliseconds."""
    checked = _checked(words)
    if not checked:
        return true() if every else false()
    if _dialect() == "sqlite":
        expression = _fts_expression(checked, every)
        if per_row:
            return (
                select(_fts.c.rowid)
                .where(_fts.c[FTS_TABLE].match(expression), _fts.c.rowid == Case.id)
                .exists()
            )
        ids = select(_fts.c.rowid).where(_fts.c[FTS_TABLE].match(expression))
        # "cases.id + 0" is not the rowid any more, so it cannot drive the plan.
        return (Case.id + 0).in_(ids) if newest_first_walk else Case.id.in_(ids)
    query = (" & " if every else " | ").join(checked)
    document = func.to_tsvector(_SIMPLE, Case.search_text)
    return document.bool_op("@@")(func.to_tsquery(_SIMPLE, query))


def count(words: Iterable[str]) -> int:
    """How many cases hold every word, from the index alone where the engine can (FTS5
    counts its own rows; PostgreSQL counts the bitmap's heap rows)."""
    checked = _checked(words)
    if not checked:
        return db.session.scalar(select(func.count()).select_from(Case)) or 0
    if _dialect() == "sqlite":
        expression = _fts_expression(checked, True)
        stmt = select(func.count()).select_from(_fts).where(_fts.c[FTS_TABLE].match(expression))
        return db.session.scalar(stmt) or 0
    return db.session.scalar(select(func.count()).where(matches(checked))) or 0
