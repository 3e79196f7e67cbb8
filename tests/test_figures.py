"""The dashboard's figures from monthly rollups (feedback.services.oversight.figures): they agree
with the cases counted one by one, for whole and cut months and with filters; the
triggers mark a month dirty whatever writes it; a rebuild never loses a change."""

from __future__ import annotations

import random
import statistics
import time as time_module
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import ApologyLetter, Case, FigureMonth, SlaPolicy
from feedback.services.demo import load_demo
from feedback.services.oversight import figures, metrics

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LOCAL_TZ).date()
ENDED = {"closed", "rejected", "merged"}


@pytest.fixture
def demo(app: Flask) -> Iterator[None]:
    with app.app_context(), unit_of_work():
        load_demo(password="demo-matkhau-thu", now=NOW)
    yield


def _exact_quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 1)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def truth(cases: list[Case], now: datetime) -> dict[str, Any]:
    """The figures of ``cases`` counted one by one, exactly (the definitions' words)."""
    letters = {a.case_id: a.status for a in db.session.scalars(select(ApologyLetter))}
    pausing = set(db.session.scalars(select(SlaPolicy.kind).where(SlaPolicy.pause_when_waiting)))
    acked = [c for c in cases if c.acknowledged_at is not None]
    answered = [c for c in cases if c.answered_at is not None]
    # Answered late: the apology obligation recorded then, which a reopening keeps (one
    # definition, metrics.answered_late; issue 16).
    late = [c for c in cases if c.id in letters]
    overdue = [
        c
        for c in cases
        if c.answered_at is None
        and c.response_due_at < now
        and c.status not in ENDED
        and not (c.status == "waiting_citizen" and c.kind in pausing)
    ]
    ack_hours = [(c.acknowledged_at - c.received_at).total_seconds() / 3600 for c in acked]
    answer_days = [(c.answered_at - c.received_at).total_seconds() / 86400 for c in answered]
    ratings = [c.rating for c in cases if c.rating is not None]
    return {
        "received": len(cases),
        "ack_on_time": _share(
            sum(c.acknowledged_at <= c.ack_due_at for c in acked),
            len(acked) + sum(c.acknowledged_at is None and c.ack_due_at < now for c in cases),
        ),
        "answered_on_time": _share(
            sum(c.answered_at <= c.response_due_at for c in answered), len(answered) + len(overdue)
        ),
        "apology_share": _share(
            sum(letters.get(c.id) in ("issued", "delivered") for c in late), len(late)
        ),
        "late_answers": len(late),
        "ack_hours_median": _exact_quantile(ack_hours, 0.5),
        "ack_hours_p90": _exact_quantile(ack_hours, 0.9),
        "answer_days_median": _exact_quantile(answer_days, 0.5),
        "answer_days_p90": _exact_quantile(answer_days, 0.9),
        "satisfaction": round(statistics.fmean(ratings), 2) if ratings else None,
        "satisfied_share": _share(sum(r >= 4 for r in ratings), len(ratings)),
        "ratings": len(ratings),
        "overdue_open": len(overdue),
    }


def agree(got: dict[str, Any], wanted: dict[str, Any]) -> None:
    for key, value in wanted.items():
        if key.endswith(("_median", "_p90")) and value is not None and got[key] is not None:
            # one 0.1 step of the histogram, then rounding to one decimal
            assert abs(got[key] - value) <= 0.1 + 1e-9, (key, got[key], value)
        else:
            assert got[key] == value, (key, got[key], value)


def cases_between(
    start: date, end: date, keep: Callable[[Case], bool] = lambda c: True
) -> list[Case]:
    lo = datetime.combine(start, time(0), LOCAL_TZ)
    hi = datetime.combine(end, time(0), LOCAL_TZ)
    return [
        c
        for c in db.session.scalars(select(Case))
        if c.status != "merged" and lo <= c.received_at < hi and keep(c)
    ]


def labels_of(case: Case) -> dict[str, str]:
    category = case.category
    return {
        "unit": case.handling_unit.name,
        "channel": case.channel,
        "kind": case.kind,
        "category": f"{category.code} {category.name}" if category else metrics.UNCLASSIFIED,
        "dimension": category.dimension.name
        if category and category.dimension
        else metrics.UNCLASSIFIED,
        "area": case.area.name if case.area else metrics.NO_AREA,
        "month": case.received_at.astimezone(LOCAL_TZ).strftime("%Y-%m"),
    }


def check(summary: metrics.Summary, cases: list[Case]) -> None:
    agree(summary.totals(), truth(cases, NOW))
    for by in ("unit", "channel", "kind", "category", "dimension", "area", "month"):
        groups: dict[str, list[Case]] = {}
        for c in cases:
            groups.setdefault(labels_of(c)[by], []).append(c)
        got = dict(summary.breakdown(by))
        assert set(got) == set(groups), by
        for key, members in groups.items():
            agree(got[key], truth(members, NOW))


def _first_of_month(months_back: int) -> date:
    day = TODAY.replace(day=1)
    for _ in range(months_back):
        day = (day - timedelta(days=1)).replace(day=1)
    return day


PERIODS = {
    "everything": lambda: (date(2000, 1, 1), TODAY + timedelta(days=1)),
    "whole months": lambda: (_first_of_month(5), _first_of_month(0)),
    "cut months": lambda: (_first_of_month(4) + timedelta(days=9), TODAY - timedelta(days=3)),
    "one day": lambda: (TODAY - timedelta(days=2), TODAY - timedelta(days=1)),
}


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_figures_agree_with_the_cases_counted_one_by_one(
    app: Flask, demo: None, period: str
) -> None:
    start, end = PERIODS[period]()
    with app.app_context():
        cases = cases_between(start, end)
        assert cases or period == "one day"
        for _ in range(2):  # the second time from the stored rollups
            check(figures.summarise(start, end, NOW), cases)
            db.session.commit()


def test_filtered_figures_are_summed_from_the_cases(app: Flask, demo: None) -> None:
    start, end = date(2000, 1, 1), TODAY + timedelta(days=1)
    with app.app_context():
        for condition, keep in (
            (Case.kind == "complaint", lambda c: c.kind == "complaint"),
            (Case.channel == "hotline", lambda c: c.channel == "hotline"),
        ):
            check(
                figures.summarise(start, end, NOW, where=[condition]),
                cases_between(start, end, keep),
            )


def _month_of(case: Case) -> str:
    return case.received_at.astimezone(LOCAL_TZ).strftime("%Y-%m")


def _rollup(month: str) -> FigureMonth | None:
    db.session.expire_all()
    return db.session.get(FigureMonth, month)


def test_rollups_are_stored_once_and_reused_while_clean(app: Flask, demo: None) -> None:
    start, end = _first_of_month(3), _first_of_month(0)
    with app.app_context():
        figures.summarise(start, end, NOW)
        db.session.commit()
        rows = {r.month: (r.dirty, r.built_at) for r in db.session.scalars(select(FigureMonth))}
        assert len(rows) == 3 and not any(dirty for dirty, _ in rows.values())
        figures.summarise(start, end, NOW + timedelta(minutes=5))
        db.session.commit()
        again = {r.month: (r.dirty, r.built_at) for r in db.session.scalars(select(FigureMonth))}
    assert again == rows  # nothing rebuilt


def test_triggers_mark_the_month_of_every_change_dirty(app: Flask, demo: None) -> None:
    with app.app_context():
        case = db.session.scalars(
            select(Case)
            .where(Case.status == "closed", Case.id.notin_(select(ApologyLetter.case_id)))
            .order_by(Case.received_at)
        ).first()
        assert case is not None
        month, case_id = _month_of(case), case.id
        figures.rebuild(month, NOW)
        assert _rollup(month).dirty is False

        # A column no figure reads: the month stays clean.
        with unit_of_work():
            db.session.execute(update(Case).where(Case.id == case_id).values(next_sla_check_at=NOW))
        assert _rollup(month).dirty is False

        # A rating written by a bulk UPDATE, bypassing every service: dirty.
        with unit_of_work():
            db.session.execute(update(Case).where(Case.id == case_id).values(rating=1))
        assert _rollup(month).dirty is True

        figures.rebuild(month, NOW)
        with unit_of_work():
            db.session.add(ApologyLetter(case_id=case_id, status="owed", owed_since=NOW))
        assert _rollup(month).dirty is True


def test_a_change_that_lands_during_a_rebuild_leaves_the_month_dirty(
    app: Flask, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_settled = figures.settled
    with app.app_context():
        case = db.session.scalars(
            select(Case).where(Case.rating.is_(None), Case.status == "closed")
        ).first()
        assert case is not None
        month, case_id = _month_of(case), case.id

        def settled_after_a_change(*args: Any, **kwargs: Any) -> Any:
            # Lands after dirty was cleared and committed, before the cases are read.
            db.session.execute(update(Case).where(Case.id == case_id).values(rating=5))
            monkeypatch.setattr(figures, "settled", real_settled)
            return real_settled(*args, **kwargs)

        monkeypatch.setattr(figures, "settled", settled_after_a_change)
        figures.rebuild(month, NOW)
        assert _rollup(month).dirty is True
        first = (
            _first_of_month(0) if month == f"{TODAY:%Y-%m}" else date.fromisoformat(month + "-01")
        )
        after = (first + timedelta(days=32)).replace(day=1)
        summary = figures.summarise(first, after, NOW)
        assert summary.totals()["ratings"] == sum(
            c.rating is not None for c in cases_between(first, after)
        )


def test_a_dirty_rollup_is_served_until_it_is_older_than_the_max_age(
    app: Flask, demo: None
) -> None:
    app.config["FIGURES_MAX_AGE_SECONDS"] = 120
    with app.app_context():
        case = db.session.scalars(
            select(Case).where(Case.rating.is_(None), Case.status == "closed")
        ).first()
        assert case is not None
        first = date.fromisoformat(_month_of(case) + "-01")
        after = (first + timedelta(days=32)).replace(day=1)
        before = figures.summarise(first, after, NOW).totals()["ratings"]
        db.session.commit()
        with unit_of_work():
            db.session.execute(update(Case).where(Case.id == case.id).values(rating=4))
        # Within two minutes of the build the (dirty) rollup still answers ...
        stale = figures.summarise(first, after, NOW + timedelta(seconds=60)).totals()["ratings"]
        db.session.commit()
        # ... after that it is rebuilt.
        fresh = figures.summarise(first, after, NOW + timedelta(seconds=180)).totals()["ratings"]
    assert (before, stale, fresh) == (before, before, before + 1)


def test_the_scheduler_job_rebuilds_the_dirty_months(app: Flask, demo: None) -> None:
    with app.app_context():
        figures.summarise(date(2000, 1, 1), TODAY + timedelta(days=1), NOW)
        db.session.commit()
        assert figures.rebuild_dirty(NOW) == []
        with unit_of_work():
            db.session.execute(update(Case).values(rating=3))
        dirty = set(db.session.scalars(select(FigureMonth.month).where(FigureMonth.dirty)))
        assert dirty
        assert set(figures.rebuild_dirty(NOW)) == dirty
        assert not list(db.session.scalars(select(FigureMonth).where(FigureMonth.dirty)))


def test_quantiles_from_histograms_are_within_one_step_of_the_exact_ones() -> None:
    rng = random.Random(7)
    for n in (1, 2, 3, 10, 101, 1000):
        hours = [rng.uniform(0, 60) for _ in range(n)]
        tally = metrics.Tally()
        for h in hours:
            step = int(h / metrics.ACK_STEP_HOURS)
            tally.ack_hist[step] = tally.ack_hist.get(step, 0) + 1
        for q in (0.5, 0.9):
            got = metrics.quantile(tally.ack_hist, metrics.ACK_STEP_HOURS, q)
            exact = _exact_quantile(hours, q)
            assert got is not None and exact is not None
            assert abs(got - exact) <= 0.1 + 1e-9, (n, q, got, exact)
    assert metrics.quantile({}, 0.1, 0.5) is None


def test_a_tally_survives_its_json_form() -> None:
    tally = metrics.Tally(received=5, acknowledged=4, ack_on_time_count=3, answered=2)
    tally.ratings = [0, 1, 0, 2, 1]
    tally.ack_hist = {12: 2, 15: 1, 240: 1}
    tally.answer_hist = {30: 2}
    again = metrics.Tally.from_json(tally.to_json())
    assert again == tally
    assert again.as_dict() == tally.as_dict()


def test_a_running_scheduler_rebuilds_dirty_months(app: Flask, demo: None) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from feedback.scheduler import configure

    with app.app_context():
        figures.summarise(date(2000, 1, 1), TODAY + timedelta(days=1), NOW)
        db.session.commit()
        with unit_of_work():
            db.session.execute(update(Case).values(rating=2))
        dirty = set(db.session.scalars(select(FigureMonth.month).where(FigureMonth.dirty)))
        db.session.remove()  # SQLite: hold no lock while the job runs
    assert dirty
    app.config.update(FEEDBACK_FIGURES_SECONDS=1, FEEDBACK_SWEEP_SECONDS=3600)
    scheduler = configure(app, BackgroundScheduler(timezone="UTC"))
    scheduler.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        left = dirty
        while left and datetime.now(UTC) < deadline:
            with app.app_context():
                left = set(db.session.scalars(select(FigureMonth.month).where(FigureMonth.dirty)))
                db.session.remove()
            if left:
                time_module.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    assert not left
    with app.app_context():
        ratings = figures.summarise(date(2000, 1, 1), TODAY + timedelta(days=1), NOW).totals()
        assert ratings["satisfaction"] == 2.0


def test_the_figures_command_rebuilds_every_month_with_progress(app: Flask, demo: None) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["figures", "--all"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        months = figures.months_with_cases()
        stored = {r.month: r.dirty for r in db.session.scalars(select(FigureMonth))}
    assert months and set(months) <= set(stored) and not any(stored.values())
    assert f"{len(months)}/{len(months)} tháng" in result.output
    again = runner.invoke(args=["figures"])
    assert again.exit_code == 0 and '"rebuilt": []' in again.output


def test_a_change_in_flight_is_waited_for_before_a_month_is_summed(app: Flask, demo: None) -> None:
    """A writer whose change is made but not committed when a rebuild starts: the rebuild
    waits for it (PostgreSQL: the month's advisory lock; SQLite: the write lock), so the
    stored month holds the change and is clean. Without the wait it would be summed
    without the change and marked clean: stale until the month changed again."""
    import threading

    with app.app_context():
        case = db.session.scalars(
            select(Case).where(Case.rating.is_(None), Case.status == "closed")
        ).first()
        assert case is not None
        month, case_id = _month_of(case), case.id
        figures.rebuild(month, NOW)
        with unit_of_work():  # committed: the month is dirty, so the writer takes no row lock
            db.session.execute(update(Case).where(Case.id == case_id).values(rating=1))
        assert _rollup(month).dirty is True
        db.session.remove()
        engine = db.engine
    writer = engine.connect()
    in_flight = writer.begin()
    writer.execute(update(Case).where(Case.id == case_id).values(rating=5))
    done: list[str] = []

    def rebuild() -> None:
        with app.app_context():
            figures.rebuild(month, NOW)
            done.append(month)
            db.session.remove()

    thread = threading.Thread(target=rebuild)
    thread.start()
    try:
        thread.join(1.0)
        assert thread.is_alive() and not done, "the rebuild did not wait for the writer"
    finally:
        in_flight.commit()
        writer.close()
    thread.join(20)
    assert done == [month]
    with app.app_context():
        row = _rollup(month)
        assert row is not None and row.dirty is False
        total = metrics.Tally.from_json(row.data["groups"]["total"][""])
        first = date.fromisoformat(month + "-01")
        after = (first + timedelta(days=32)).replace(day=1)
        fives = sum(c.rating == 5 for c in cases_between(first, after))
        assert total.ratings[4] == fives and fives >= 1
