"""Staff search over the cases a user may see: one query for the JSON API
(``GET /api/v1/cases``) and the search page (``/can-bo/tim-kiem/``).

Parameters (each at most once; empty means "no filter"): ``unit``, ``area``, ``category``
(codes), ``status``, ``kind``, ``channel`` (values of the model), ``overdue`` (``1``/``0``),
``open`` (``1`` open cases only, ``0`` finished ones), ``due_days`` (a promise due within N
days), ``queue`` (one of the user's queues, feedback.services.handling.queues: the inbox's
filters, so its export link carries them), ``q`` (words), ``page``, ``per_page``. Every bad
parameter is named in one ValidationError, so a bookmark with a typo gets a 422 that says
what is wrong, never a 500.

Visibility comes first (feedback.services.handling.visibility.visible_condition): a filter narrows
what the user may see, it never widens it. ``q`` matches whole folded syllables of
``Case.search_text`` (subject, body and address, never the reporter), in any order and
with or without diacritics, through the database's word index (FTS5 on SQLite, a GIN
``tsvector`` index on PostgreSQL). Every word must be there: an officer narrowing a search
adds a word to get fewer cases, never more; the matches come newest received first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import True_

from ...domain.marks import N_
from ...domain.permissions import CASE_KINDS
from ...domain.text import fold
from ...extensions import db
from ...models import CHANNELS, STATUSES, Area, Case, Category, Unit, User
from ...models.case import OPEN_STATUS_VALUES
from .. import fulltext
from ..errors import ValidationError
from ..handling.inbox import MAX_DAYS, due_within
from ..handling.queues import QUEUES, queue_condition
from ..handling.visibility import visible_condition
from ..params import choice_params, int_param, page_of, pages, reference_params
from ..sla.sweep import overdue_condition

FILTERS = (
    "unit",
    "status",
    "kind",
    "channel",
    "area",
    "category",
    "overdue",
    "open",
    "due_days",
    "queue",
    "q",
)
PAGING = ("page", "per_page")
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 12

_VALUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("status", STATUSES),
    ("kind", CASE_KINDS),
    ("channel", CHANNELS),
)


@dataclass(frozen=True)
class Criteria:
    """A checked search: reference rows looked up, words folded."""

    unit: Unit | None = None
    area: Area | None = None
    category: Category | None = None
    status: str | None = None
    kind: str | None = None
    channel: str | None = None
    overdue: bool = False
    open: bool | None = None
    due_days: int | None = None
    queue: str | None = None
    words: tuple[str, ...] = ()
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True)
class Results:
    """A page of cases and the total, exact up to the cap (``SEARCH_TOTAL_CAP``); past
    it ``total`` is the cap and ``capped`` says there are more ("hơn 10.000 hồ sơ")."""

    cases: list[Case]
    total: int
    page: int
    per_page: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return pages(self.total, self.per_page)


DEFAULT_TOTAL_CAP = 10_000


def total_cap() -> int:
    """Counted exactly up to here: a common word at a million cases matches 60,000 of
    them, and counting them all costs PostgreSQL 0.6 s for a figure nobody pages through
    (narrowing the search is the way on). Set by SEARCH_TOTAL_CAP."""
    return max(1, int(current_app.config.get("SEARCH_TOTAL_CAP", DEFAULT_TOTAL_CAP)))


# --- reading the parameters ---------------------------------------------------------------


def _single(args: Mapping[str, list[str]], errors: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, given in args.items():
        if name not in FILTERS + PAGING:
            errors[name] = N_("Tham số không được hỗ trợ.")
        elif len(given) != 1:
            errors[name] = N_("Chỉ được truyền một giá trị.")
        elif given[0].strip():
            values[name] = given[0].strip()
    return values


def parse(args: Mapping[str, list[str]], *, default_per_page: int = DEFAULT_PER_PAGE) -> Criteria:
    """Check every parameter (a multi-dict as ``request.args.to_dict(flat=False)``)."""
    errors: dict[str, str] = {}
    p = _single(args, errors)
    found: dict[str, Any] = reference_params(p, errors)
    found.update(choice_params(p, _VALUES, errors))
    overdue = p.get("overdue", "0").lower()
    if overdue not in ("0", "false", "1", "true"):
        errors["overdue"] = N_("Giá trị phải là 1 hoặc 0.")
    is_open = p.get("open")
    if is_open is not None and is_open not in ("0", "1"):
        errors["open"] = N_("Giá trị phải là 1 hoặc 0.")
    due_days = None
    if "due_days" in p:
        due_days = int_param(p, "due_days", default=0, low=0, high=MAX_DAYS, errors=errors)
    queue = p.get("queue")
    if queue is not None and queue not in QUEUES:
        errors["queue"] = N_("Giá trị phải là một trong: %(values)s.", values=", ".join(QUEUES))
    q = p.get("q", "")
    words = fold(q).split()
    if len(q) > MAX_QUERY_CHARS or len(words) > MAX_QUERY_WORDS:
        errors["q"] = N_("Từ khóa tìm kiếm quá dài.")
    page = page_of(p, per_page_default=default_per_page, per_page_max=MAX_PER_PAGE, errors=errors)
    if errors:
        raise ValidationError(N_("Tham số tìm kiếm không hợp lệ."), errors)
    return Criteria(
        **found,
        overdue=overdue in ("1", "true"),
        open=None if is_open is None else is_open == "1",
        due_days=due_days,
        queue=queue,
        words=tuple(dict.fromkeys(words)),
        page=page.number,
        per_page=page.size,
    )


# --- the query ----------------------------------------------------------------------------


def query(
    user: User, criteria: Criteria, now: datetime, *, many_matches: bool = False
) -> Select[tuple[Case]]:
    """The visible cases matching ``criteria``, unordered and unpaged (``many_matches``:
    the words match many cases, see feedback.services.fulltext.matches)."""
    stmt = select(Case).where(visible_condition(user))
    for column, row in (
        (Case.handling_unit_id, criteria.unit),
        (Case.area_id, criteria.area),
        (Case.category_id, criteria.category),
    ):
        if row is not None:
            stmt = stmt.where(column == row.id)
    for column, value in (
        (Case.status, criteria.status),
        (Case.kind, criteria.kind),
        (Case.channel, criteria.channel),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if criteria.overdue:
        stmt = stmt.where(overdue_condition(now))
    if criteria.open is not None:
        still_open = Case.status.in_(OPEN_STATUS_VALUES)
        stmt = stmt.where(still_open if criteria.open else ~still_open)
    if criteria.due_days is not None:
        stmt = stmt.where(due_within(now, criteria.due_days))
    if criteria.queue is not None:
        mine = queue_condition(user, criteria.queue)
        if mine is None:
            raise ValidationError(
                N_("Tham số tìm kiếm không hợp lệ."),
                {"queue": N_("Hàng chờ này không dành cho vai trò của ông/bà.")},
            )
        stmt = stmt.where(mine)
    # Whole syllables (Vietnamese writes each syllable apart): "o ga" must not match
    # "ngay". The database's word index answers it (feedback.services.fulltext).
    if criteria.words:
        stmt = stmt.where(fulltext.matches(criteria.words, newest_first_walk=many_matches))
    return stmt


def _count(stmt: Select[tuple[Case]], limit: int) -> int:
    """How many rows ``stmt`` has, counting no further than ``limit``."""
    ids = stmt.with_only_columns(Case.id).limit(limit).subquery()
    return db.session.scalar(select(func.count()).select_from(ids)) or 0


def run(user: User, criteria: Criteria, now: datetime) -> Results:
    """One page of matches, newest received first, and the total (exact up to the cap).

    The count comes first and picks the plan: few matches are read from the word index
    and sorted, many are found by walking the cases newest first until the page is full
    (feedback.services.fulltext). When nothing but words narrows the search of a citywide
    role, the word index alone counts (a millisecond on SQLite)."""
    cap = total_cap()
    if criteria.words:
        fulltext.roomy_bitmaps()
    words_only = Criteria(words=criteria.words, page=criteria.page, per_page=criteria.per_page)
    if criteria.words and criteria == words_only and isinstance(visible_condition(user), True_):
        counted = fulltext.count(criteria.words, limit=cap + 1)
    else:
        counted = _count(query(user, criteria, now), cap + 1)
    many = bool(criteria.words) and counted > min(fulltext.walk_from(), cap)
    stmt = query(user, criteria, now, many_matches=many)
    rows = db.session.scalars(
        stmt.options(
            selectinload(Case.category), selectinload(Case.area), selectinload(Case.handling_unit)
        )
        .order_by(*fulltext.newest_first(sort_matches=bool(criteria.words) and not many))
        .limit(criteria.per_page)
        .offset((criteria.page - 1) * criteria.per_page)
    ).all()
    return Results(list(rows), min(counted, cap), criteria.page, criteria.per_page, counted > cap)


def search(
    user: User,
    args: Mapping[str, list[str]],
    now: datetime,
    *,
    default_per_page: int = DEFAULT_PER_PAGE,
) -> Results:
    return run(user, parse(args, default_per_page=default_per_page), now)
