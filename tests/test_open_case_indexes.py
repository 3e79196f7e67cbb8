"""The open-case indexes of issue 17 (migration f7a3c9e1d2b4) answer the queries they were
made for: the inbox's first page, the navigation's queue counts and the duplicate hints.

At a million cases a query the planner cannot answer from one of them reads every case
(the inbox 1.5 s, the queue counts 0.4-0.9 s each, on SQLite; the hints 0.37 s on
PostgreSQL). SQLite only uses a partial index when the query states the index's WHERE in
the same words, values included: these tests read the plans, so a query rewritten with
bound values fails here before it is slow in production. PostgreSQL, whose planner
prefers a sequential scan of a test's few rows, is asked with sequential scans off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import Select, func, select, text

from feedback.extensions import db
from feedback.models import Case, User
from feedback.services.handling import inbox, queues
from feedback.services.intake import duplicates


def _plan(stmt: Select[Any]) -> str:
    """The plan of ``stmt`` as text, its values bound as the application binds them."""
    bind = db.session.get_bind()
    compiled = stmt.compile(bind, compile_kwargs={"render_postcompile": True})
    driver = db.session.connection().connection.driver_connection
    assert driver is not None
    if bind.dialect.name == "sqlite":
        values = [compiled.params[n] for n in compiled.positiontup or []]
        rows = driver.execute("EXPLAIN QUERY PLAN " + str(compiled), values).fetchall()
        return "\n".join(str(row[-1]) for row in rows)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    with driver.cursor() as cursor:
        cursor.execute("EXPLAIN " + str(compiled), compiled.params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _answered_by(plan: str, *indexes: str) -> bool:
    """The plan reads ``cases`` through one of ``indexes`` and nowhere scans it whole
    (which of several fitting indexes the planner takes depends on its statistics)."""
    lines = plan.splitlines()
    whole = [line for line in lines if line.strip() == "SCAN cases" or "Seq Scan on cases" in line]
    return not whole and any(index in plan for index in indexes)


OPEN = ("ix_cases_open_next_due", "ix_cases_open_status", "ix_cases_open_response_due")


def test_the_inbox_queues_and_hints_use_the_open_case_indexes(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    make_case()
    coordinator_id, _ = make_user("coordinator", unit_code="VP")
    now = datetime.now(UTC)
    with app.app_context():
        coordinator = db.session.get(User, coordinator_id)
        assert coordinator is not None
        page = inbox.inbox_page(coordinator, inbox.parse({}), now, 50)
        assert _answered_by(_plan(page), *OPEN), _plan(page)
        after = inbox.parse({"sau": inbox.cursor_of(db.session.scalars(page).one())})
        deep = inbox.inbox_page(coordinator, after, now, 50)
        assert _answered_by(_plan(deep), *OPEN), _plan(deep)
        for key, indexes in (
            ("phan-loai", OPEN),
            ("chuyen-ve", OPEN),
            ("duyet", ("ix_cases_drafts_pending",)),
        ):
            condition = queues.queue_condition(coordinator, key)
            assert condition is not None
            plan = _plan(select(func.count(Case.id)).where(condition))
            assert _answered_by(plan, *indexes), (key, plan)
        plan = _plan(duplicates._candidates("6.3b", "00694", now))
        assert _answered_by(plan, "ix_cases_open_place"), plan
        db.session.rollback()


def test_the_navigation_counts_the_units_the_list_shows(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    """headless_count (the coordinator's navigation, EXISTS per unit) agrees with the
    list of units without a head (which counts each unit's open cases)."""
    make_case()
    make_user("officer", unit_code="UBND-00694")
    with app.app_context():
        now = datetime.now(UTC)
        listed = queues.headless_units(now)
        assert listed and queues.headless_count(now) == len(listed)
        assert any(n > 0 for _, _, n in listed)
