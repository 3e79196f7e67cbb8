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

from sqlalchemy import (
    Interval,
    column,
    false,
    func,
    literal_column,
    select,
    table,
    text,
    true,
)
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
# PostgreSQL reads each match from the table (the GIN index holds no received_at), and
# the walk computes the text's tsvector on every case it passes, so sorting stays the
# cheaper plan much longer: at a million cases 10,000 matches are read and sorted in
# about as long as the walk takes to find 20 of them (1 case in 100 matching).
WALK_FROM_POSTGRESQL = 10_000


def walk_from() -> int:
    """How many matches make walking the cases newest first the better plan."""
    return WALK_FROM if _dialect() == "sqlite" else WALK_FROM_POSTGRESQL


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
    matches nothing without it (no word in common). ``newest_first_walk`` keeps the
    planner from driving the query by the index's matches, so that it walks the
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
    found = document.bool_op("@@")(func.to_tsquery(_SIMPLE, query))
    # "... IS true" is the same test, but no index answers it, so the planner cannot
    # read every match first. Left to itself it follows its estimate, which for words
    # that go together is off several times either way ("tran phu": 27,376 estimated,
    # 166,238 found); once the count has said "many", the walk is what we want.
    return found.is_(true()) if newest_first_walk else found


def newest_first(*, sort_matches: bool) -> list[ColumnElement[object]]:
    """ORDER BY newest received first. ``sort_matches`` (PostgreSQL, few matches): an
    order no index provides, so the planner reads the index's matches and sorts them
    rather than walking every case by time testing each (it mistakes correlated words,
    "yen bien", for common ones: 3.7 s at a million for 10,000 matches)."""
    received: ColumnElement[object] = Case.received_at
    if sort_matches and _dialect() == "postgresql":
        received = Case.received_at + literal_column("interval '0'", Interval)
    return [received.desc(), Case.id.desc()]


def roomy_bitmaps() -> None:
    """PostgreSQL, for this transaction only: room for the exact bitmap of a common
    word's matches. In the default 4 MB the bitmap of 166,000 matches ("tran phu" at a
    million cases) turns lossy and every case of a lossy page has its text's tsvector
    computed again: 0.8-1.9 s to count 10,000 of them, against 0.13-0.25 s in 16 MB."""
    if _dialect() == "postgresql":
        db.session.execute(text("SET LOCAL work_mem = '32MB'"))


def count(words: Iterable[str], *, limit: int | None = None) -> int:
    """How many cases hold every word (at most ``limit``), from the index alone where the
    engine can (FTS5 counts its own rows; PostgreSQL visits the bitmap's heap rows, 0.6 s
    for 62,717 at a million: hence the limit, which stops the visit)."""
    checked = _checked(words)
    if not checked:
        ids = select(Case.id)
    elif _dialect() == "sqlite":
        expression = _fts_expression(checked, True)
        ids = select(_fts.c.rowid).where(_fts.c[FTS_TABLE].match(expression))
    else:
        ids = select(Case.id).where(matches(checked))
    if limit is not None:
        ids = ids.limit(limit)
    return db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
