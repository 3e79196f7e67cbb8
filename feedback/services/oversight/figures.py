"""The plan's figures for any period, fast at national scale.

A year of a big city is a million cases; reading them on every dashboard request is
seconds of work. Instead each local month is summed once into a rollup row
(``figure_months``: a ``Tally`` per unit, channel, kind, category and area) and a period
is the sum of its months. Rollups hold only what does not move with the clock; what does
(never acknowledged and past due, unanswered and overdue now) is counted live from the
open and unacknowledged cases, which two partial indexes keep small.

A rollup is rebuilt when database triggers have marked its month dirty (any write to a
case or apology letter of that month, by any path) and it is older than
``FIGURES_MAX_AGE_SECONDS`` (default 120: on a busy day the current month is always
dirty, and an inspector can live with figures two minutes old; the scheduler rebuilds
dirty months every minute). With filters the figures are summed from the cases
themselves. A month a period cuts is counted from its cases, or, when fewer days are left
out than kept and its rollup is clean, as the rollup less the days left out. The sum of the
months before the current one is kept in memory until one of them is rebuilt (sums.merged).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from itertools import repeat
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import Integer

from ...database import unit_of_work
from ...domain.calendar import LOCAL_TZ
from ...domain.marks import N_
from ...domain.states import Status
from ...extensions import db
from ...models import Area, Case, CaseRating, Category, Dimension, FigureMonth, Unit
from ...models.case import UNANSWERED_SQL
from .metrics import NO_AREA, UNCLASSIFIED, Summary, Tally, apology_state, category_label
from .sums import BY_ID, Groups, merged, new_groups, without

ROLLUP_VERSION = 4  # bump when the stored form changes: old rows are rebuilt
MONTH_LOCK = 7_302_023  # advisory lock namespace of a month (its key: YYYYMM), see rebuild


def _local(d: date) -> datetime:
    return datetime.combine(d, time(0), LOCAL_TZ)


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def _next_month(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _month_sql() -> ColumnElement[Any]:
    if _dialect() == "sqlite":  # stored as UTC text; Việt Nam is UTC+7 all year
        return func.strftime("%Y-%m", Case.received_at, "+7 hours")
    return func.to_char(func.timezone("Asia/Ho_Chi_Minh", Case.received_at), "YYYY-MM")


def _steps_sql(later: Any, earlier: Any, seconds_per_step: int) -> ColumnElement[Any]:
    if _dialect() == "sqlite":
        # Whole seconds first: julianday's float would put 2 h exactly at 19.999... steps.
        seconds = func.round((func.julianday(later) - func.julianday(earlier)) * 86400, 3)
        return cast(seconds / seconds_per_step, Integer)
    return cast(func.floor(func.extract("epoch", later - earlier) / seconds_per_step), Integer)


def _keys() -> list[ColumnElement[Any]]:
    return [Case.handling_unit_id, Case.channel, Case.kind, Case.category_id, Case.area_id]


def _period(
    lo: datetime | None, hi: datetime | None, *, by_index: bool = True
) -> list[ColumnElement[bool]]:
    """Received in [lo, hi), merged cases left out. ``by_index=False`` hides received_at
    from SQLite's planner (coalesce), which would otherwise walk a year of the
    received_at index instead of a small partial index."""
    received: ColumnElement[Any] = Case.received_at
    if not by_index and _dialect() == "sqlite":
        received = func.coalesce(Case.received_at, Case.received_at)
    found = [Case.status != Status.MERGED.value]
    if lo is not None:
        found.append(received >= lo)
    if hi is not None:
        found.append(received < hi)
    return found


def settled(
    lo: datetime | None, hi: datetime | None, where: Iterable[ColumnElement[bool]] = ()
) -> dict[str, Groups]:
    """Per local month, the tallies of the cases received in [lo, hi) that do not move
    with the clock: receipts, acknowledgements, answers, apologies, ratings."""
    answered_flag = case(
        (Case.answered_at.is_(None), 0),
        (Case.answered_at <= Case.response_due_at, 1),
        else_=2,
    )
    stmt = select(
        _month_sql(),
        *_keys(),
        case(
            (Case.acknowledged_at.is_(None), 0),
            (Case.acknowledged_at <= Case.ack_due_at, 2),
            else_=1,
        ),
        _steps_sql(Case.acknowledged_at, Case.received_at, 360),
        answered_flag,
        _steps_sql(Case.answered_at, Case.received_at, 8640),
        Case.rating,
        apology_state(),
    ).where(*_period(lo, hi), *where)
    by_month: dict[str, list[Any]] = {}
    # Core rows on the session's connection: the ORM's loading layer costs more than the
    # query for a month of cases.
    for row in db.session.connection().execute(stmt).all():
        by_month.setdefault(row[0], []).append(row)
    found = {month: _tally_rows(rows) for month, rows in by_month.items()}
    _add_ratings(found, lo, hi, where)
    return found


def _add_ratings(
    found: dict[str, Groups],
    lo: datetime | None,
    hi: datetime | None,
    where: Iterable[ColumnElement[bool]],
) -> None:
    """The ratings of a case's earlier answers (issue 16: a reopening used to erase
    them), counted in the month and groups of its case. The current answer's rating is
    ``cases.rating``, counted with the case; ``case_ratings`` keeps every answer's, and
    those before the last reopening are added here."""
    stmt = (
        select(_month_sql(), *_keys(), CaseRating.rating)
        .select_from(CaseRating)
        .join(Case, CaseRating.case_id == Case.id)
        .where(CaseRating.answer_no < Case.reopen_count, *_period(lo, hi), *where)
    )
    by_month: dict[str, list[Any]] = {}
    for row in db.session.connection().execute(stmt).all():
        by_month.setdefault(row[0], []).append(row)
    for month, rows in by_month.items():
        groups = found.setdefault(month, new_groups())
        _, *keys, ratings = zip(*rows, strict=True)
        columns = (("total", repeat(None, len(rows))), *zip(BY_ID, keys, strict=True))
        for by, column in columns:
            for (value, r), n in Counter(zip(column, ratings, strict=True)).items():
                _slot(groups, by, value).ratings[r - 1] += n


def _slot(groups: Groups, by: str, value: Any) -> Tally:
    name = "" if value is None else str(value)
    slot = groups[by]
    if name not in slot:
        slot[name] = Tally()
    return slot[name]


def _tally_rows(rows: list[Any]) -> Groups:
    """One month's rows into tallies. Counted column-wise with ``Counter`` (C speed):
    a case's counters take one of 72 shapes and its steps a few hundred values, so each
    breakdown is a handful of counts to spread, not a Python loop over every case."""
    _, *keys, ack, ack_step, answer, answer_step, rating, apology = zip(*rows, strict=True)
    groups = new_groups()
    columns = (("total", repeat(None, len(rows))), *zip(BY_ID, keys, strict=True))
    for by, column in columns:
        keyed = list(column)
        shapes = Counter(zip(keyed, ack, answer, rating, apology, strict=True))
        for (value, a, an, r, late), n in shapes.items():
            t = _slot(groups, by, value)
            t.received += n
            if a:
                t.acknowledged += n
                t.ack_on_time_count += n if a == 2 else 0
            if an:
                t.answered += n
                t.answered_on_time_count += n if an == 1 else 0
            # Late answers are the apology obligations (metrics.answered_late), which a
            # reopening does not undo: the letters page lists the same cases.
            t.late_answers += n if late else 0
            t.late_with_apology += n if late == 2 else 0
            if r:
                t.ratings[r - 1] += n
        for steps, hist_of in ((ack_step, "ack_hist"), (answer_step, "answer_hist")):
            for (value, step), n in Counter(zip(keyed, steps, strict=True)).items():
                if step is not None:
                    hist = getattr(_slot(groups, by, value), hist_of)
                    hist[step] = hist.get(step, 0) + n
    return groups


def moving(
    lo: datetime | None,
    hi: datetime | None,
    now: datetime,
    where: Iterable[ColumnElement[bool]] = (),
) -> Groups:
    """For the whole period, what the clock has changed by ``now``: cases never
    acknowledged and past the acknowledgement due time, and open cases unanswered past
    the response due time (not while a paused clock stands still). Counted in SQL per
    breakdown (``month`` included), on two partial indexes: one row per group comes back,
    not one per case."""
    from ..sla.sweep import pausing_kinds

    paused = and_(Case.status == Status.WAITING_CITIZEN.value, Case.kind.in_(pausing_kinds()))
    queries = (
        ("ack_overdue", [Case.acknowledged_at.is_(None), Case.ack_due_at < now]),
        # The literal predicate of ix_cases_unanswered, so SQLite may use it.
        ("overdue_open", [text(UNANSWERED_SQL), Case.response_due_at < now, ~paused]),
    )
    # One pass over each partial index into a small table of fine groups, then one
    # GROUP BY per breakdown over that table.
    columns = [*_keys(), _month_sql().label("month")]
    fine = union_all(
        *(
            select(
                *columns,
                literal(1 if counter == "ack_overdue" else 0).label("ack_overdue"),
                literal(1 if counter == "overdue_open" else 0).label("overdue_open"),
            ).where(*conditions, *_period(lo, hi, by_index=False), *where)
            for counter, conditions in queries
        )
    ).cte("fine")
    fine = fine.prefix_with("MATERIALIZED")
    names = ("total", *BY_ID, "month")
    keys = [literal(""), *(fine.c[c.name] for c in columns)]
    parts = [
        select(
            literal(by),
            cast(key, String()),
            func.sum(fine.c.ack_overdue),
            func.sum(fine.c.overdue_open),
        ).group_by(key)
        for by, key in zip(names, keys, strict=True)
    ]
    groups = new_groups() | {"month": {}}
    for by, key, ack_overdue, overdue_open in db.session.execute(union_all(*parts)):
        groups[by][key or ""] = Tally(ack_overdue=ack_overdue, overdue_open=overdue_open)
    return groups


# -- rollups -------------------------------------------------------------------------


def _groups_to_json(groups: Groups) -> dict[str, Any]:
    return {
        "v": ROLLUP_VERSION,
        "groups": {by: {k: t.to_json() for k, t in slot.items()} for by, slot in groups.items()},
    }


def _groups_from_json(data: dict[str, Any]) -> Groups:
    return {
        by: {k: Tally.from_json(v) for k, v in slot.items()} for by, slot in data["groups"].items()
    }


def _upsert(values: dict[str, Any], update: Iterable[str]) -> None:
    dialect = postgresql if _dialect() == "postgresql" else sqlite
    stmt = dialect.insert(FigureMonth).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["month"], set_={name: stmt.excluded[name] for name in update}
    )
    db.session.execute(stmt)


def rebuild(month: str, now: datetime) -> Groups:
    """Sum one month again and store it. Commits the session (call it with no pending
    writes of your own).

    ``dirty`` is cleared and committed *before* the cases are read, so a change that
    commits while we read marks the month dirty again. A change already made but not yet
    committed must not slip through either: on PostgreSQL every writer of the month holds a
    shared advisory lock on it (the trigger takes it) and the clearing waits for the
    exclusive one; on SQLite every transaction holds the database's write lock from its
    first statement, so none can be in flight at all. If the lock cannot be had within
    a few seconds (a long import), the month is summed for this caller and not stored."""
    db.session.commit()  # end any read transaction the request had open
    first = _month_start(month)
    try:
        with unit_of_work():
            if _dialect() == "postgresql":
                db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
                db.session.execute(
                    text("SELECT pg_advisory_xact_lock(:ns, :m)"),
                    {"ns": MONTH_LOCK, "m": int(month.replace("-", ""))},
                )
            _upsert({"month": month, "dirty": False}, ["dirty"])
    except OperationalError:
        lo, hi = _local(first), _local(_next_month(first))
        return settled(lo, hi).get(month) or new_groups()
    with unit_of_work():
        groups = settled(_local(first), _local(_next_month(first))).get(month) or new_groups()
        _upsert(
            {"month": month, "dirty": False, "built_at": now, "data": _groups_to_json(groups)},
            ["built_at", "data"],
        )
    # As rollups() would decode it: the next request reuses these tallies (and a sum of
    # months made of them, see _merged) instead of decoding the JSON just written.
    _remember(month, now, groups)
    return groups


# Decoded rollups by (database, month, built_at): a rebuilt month has a new built_at, so
# an entry is never stale; decoding a year of JSON costs more than the rest of a page.
# Only what passed the version check is decoded, so an entry is of ROLLUP_VERSION.
_DECODED: dict[tuple[str, str, datetime], Groups] = {}
_DECODED_MAX = 256


def _remember(month: str, built_at: datetime, groups: Groups) -> None:
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()
    _DECODED[(str(db.session.get_bind().url), month, built_at)] = groups


def rollups(months: list[str], now: datetime) -> dict[str, Groups]:
    """The rollup of each month, rebuilt where it is missing or dirty and too old.
    The tallies returned are shared: read them, never change them.

    The months' stamps are read first and their JSON only for those not decoded yet:
    the driver parses a JSON column on every fetch (0.1-0.2 s for two years)."""
    # Tests change a case and look at once: there, a dirty month is always rebuilt.
    default = 0 if current_app.testing else 120
    max_age = timedelta(seconds=current_app.config.get("FIGURES_MAX_AGE_SECONDS", default))
    url = str(db.session.get_bind().url)
    stamps = {
        month: (dirty, built_at)
        for month, dirty, built_at in db.session.execute(
            select(FigureMonth.month, FigureMonth.dirty, FigureMonth.built_at).where(
                FigureMonth.month.in_(months)
            )
        )
    }

    def usable(month: str) -> bool:
        dirty, built_at = stamps.get(month, (True, None))
        return built_at is not None and (not dirty or now - built_at < max_age)

    wanted = [m for m in months if usable(m) and (url, m, stamps[m][1]) not in _DECODED]
    if wanted:
        stmt = select(FigureMonth.month, FigureMonth.built_at, FigureMonth.data).where(
            FigureMonth.month.in_(wanted)
        )
        for month, built_at, data in db.session.execute(stmt):
            if data is not None and data.get("v") == ROLLUP_VERSION:
                _remember(month, built_at, _groups_from_json(data))
    found: dict[str, Groups] = {}
    for month in months:
        decoded = _DECODED.get((url, month, stamps[month][1])) if usable(month) else None
        found[month] = decoded if decoded is not None else rebuild(month, now)
    return found


def rebuild_dirty(now: datetime, *, limit: int = 24) -> list[str]:
    """The scheduler's job: rebuild the months marked dirty (most recent first)."""
    months = list(
        db.session.scalars(
            select(FigureMonth.month)
            .where(FigureMonth.dirty)
            .order_by(FigureMonth.month.desc())
            .limit(limit)
        )
    )
    for month in months:
        rebuild(month, now)
    return months


def months_with_cases() -> list[str]:
    """Every local month from the first case received to the last."""
    first, last = db.session.execute(
        select(func.min(Case.received_at), func.max(Case.received_at))
    ).one()
    if first is None:
        return []
    return _months(
        first.astimezone(LOCAL_TZ).date(), last.astimezone(LOCAL_TZ).date() + timedelta(days=1)
    )


# -- a period ------------------------------------------------------------------------


def _months(start: date, end: date) -> list[str]:
    found, day = [], start.replace(day=1)
    while day < end:
        found.append(f"{day:%Y-%m}")
        day = _next_month(day)
    return found


def _of_its_time(name: str, valid_to: date | None) -> str:
    """A retired area's or unit's name with the day it ended, so a period spanning a
    reorganisation breaks down by the units of the time (old and new Xã Ngọc Đường stay
    two rows)."""
    if valid_to is None:
        return name
    return N_("%(name)s (đến %(day)s)", name=name, day=f"{valid_to - timedelta(days=1):%d/%m/%Y}")


class _Labels:
    def __init__(self) -> None:
        self.unit = {
            str(i): _of_its_time(n, to)
            for i, n, to in db.session.execute(select(Unit.id, Unit.name, Unit.valid_to))
        }
        self.area = {
            str(i): _of_its_time(n, to)
            for i, n, to in db.session.execute(select(Area.id, Area.name, Area.valid_to))
        }
        self.category: dict[str, str] = {}
        self.dimension: dict[str, str] = {}
        stmt = select(Category.id, Category.code, Category.name, Dimension.name).outerjoin(
            Dimension, Category.dimension_id == Dimension.id
        )
        for cid, code, name, dimension in db.session.execute(stmt):
            self.category[str(cid)] = category_label(code, name)
            self.dimension[str(cid)] = dimension or UNCLASSIFIED

    def of(self, by: str, key: str) -> str:
        if by == "unit":
            return self.unit.get(key, key)
        if by == "category":
            return self.category.get(key, UNCLASSIFIED) if key else UNCLASSIFIED
        if by == "area":
            return self.area.get(key, NO_AREA) if key else NO_AREA
        return key


def _feed(summary: Summary, groups: Groups, labels: _Labels) -> None:
    """Add groups (a month's, a merged sum of months', or the live part, which carries its
    own ``month`` breakdown) to the summary, under the groups' labels. The month rows of
    stored or settled months are added apart, from each month's total (see summarise)."""
    total = groups["total"].get("")
    if total is not None:
        summary.total.add(total)
    for key, tally in groups.get("month", {}).items():
        summary.add("month", key, tally)
    for by in BY_ID:
        for key, tally in groups[by].items():
            summary.add(by, labels.of(by, key), tally)
    for key, tally in groups["category"].items():
        summary.add("dimension", labels.dimension.get(key, UNCLASSIFIED), tally)


def _cut_month(month: str, start: date, end: date, today: date, now: datetime) -> list[Groups]:
    """The groups of the days [start, end) keeps of a month it cuts. With fewer days left
    out than kept (a period of whole years or months from a day near a month's start) and
    the month over and its rollup clean: the rollup less the days left out, fewer cases to
    read (issue 17: a cut month cost a dashboard of two years 0.4 s). A dirty rollup, even
    one young enough to serve, may lack a recent change of the days left out, which the
    subtraction would then take from the days kept: those are counted from the cases."""
    first = _month_start(month)
    after = _next_month(first)
    inside = (max(start, first), min(end, after))
    outside = [(a, b) for a, b in ((first, inside[0]), (inside[1], after)) if a < b]
    kept_days = (inside[1] - inside[0]).days
    if after <= today and sum((b - a).days for a, b in outside) < kept_days:
        rest: Groups | None = rollups([month], now)[month]
        if db.session.scalar(select(FigureMonth.dirty).where(FigureMonth.month == month)):
            rest = None
        for a, b in outside if rest is not None else ():
            left_out = settled(_local(a), _local(b)).get(month)
            if rest is not None and left_out is not None:
                rest = without(rest, left_out)
        if rest is not None:
            return [rest]
    return list(settled(_local(inside[0]), _local(inside[1])).values())


def summarise(
    start: date | None,
    end: date | None,
    now: datetime,
    *,
    where: Iterable[ColumnElement[bool]] = (),
) -> Summary:
    """The figures of the cases received on local days [start, end) (None: unbounded)
    and matching ``where`` (conditions on ``Case`` columns)."""
    where = list(where)
    lo = _local(start) if start is not None else None
    hi = _local(end) if end is not None else None
    labels = _Labels()
    summary = Summary()
    by_month: dict[str, list[Groups]] = {}
    stored: dict[str, Groups] = {}  # decoded rollups of months before the current one
    if where or start is None or end is None:
        for month, groups in settled(lo, hi, where).items():
            by_month.setdefault(month, []).append(groups)
    else:
        today = now.astimezone(LOCAL_TZ).date()
        whole, cut = [], []
        for month in _months(start, end):
            first = _month_start(month)
            after = _next_month(first)
            if first > today:
                continue  # nothing has been received yet
            # A month the period covers, or whose rest lies in the future (no cases yet).
            if start <= first and (after <= end or end > today):
                whole.append(month)
            else:
                cut.append(month)
        for month in cut:
            by_month.setdefault(month, []).extend(_cut_month(month, start, end, today, now))
        for month, groups in rollups(whole, now).items():
            by_month.setdefault(month, []).append(groups)
            if month != f"{today:%Y-%m}":
                stored[month] = groups
    for month in sorted(by_month):
        for groups in by_month[month]:
            total = groups["total"].get("")
            if total is not None and total.received:  # an empty month is not a group
                summary.add("month", month, total)
    if stored:  # the sum of months that no longer change, kept (see sums.merged)
        _feed(summary, merged([stored[m] for m in sorted(stored)]), labels)
    for month in sorted(by_month):
        for groups in by_month[month]:
            if stored.get(month) is not groups:
                _feed(summary, groups, labels)
    _feed(summary, moving(lo, hi, now, where), labels)
    return summary
