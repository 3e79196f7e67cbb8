"""The database going away under a running scheduler (issue 8, quick version of
``bench/fault_db_restart.py``): the scheduler process lives on, its next sweeps go on, and
nothing is lost or doubled.

A real ``flask --app feedback scheduler`` process (sweep and delivery every second, the
sweep committing every 20 cases so that it is in the middle of its work for a while) runs
over cases whose every deadline is long past; while it sweeps them the database goes away:

- PostgreSQL: every backend of the test database is terminated
  (``pg_terminate_backend``), as a server restart would do, several times while a sweep is
  half-way through its cases and twice while the scheduler is idle (stale pooled
  connections);
- SQLite: another process holds the file with ``BEGIN EXCLUSIVE``, once for longer than
  the busy timeout (the runs that wait fail with "database is locked") and once for less
  (the sweep waits, then goes on).

Then cases made due after the outages get their milestones from the next sweeps, and every
warning and breach is recorded once per case, its timeline event written once, and each
outbox row for it written once (dedupe keys). The PostgreSQL test runs where
TEST_DATABASE_URL is set, like test_two_schedulers.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import server_database
from smtp_helpers import MailServer, add_staff
from sqlalchemy import select, text
from test_two_schedulers import AREAS, STAFF, scheduler_env, told

from feedback import PROJECT_ROOT
from feedback.domain.sla import Milestone, arrived
from feedback.extensions import db
from feedback.models import Case, CaseEvent, Notification, SlaEvent, SlaPolicy
from feedback.services.intake.submission import Reporter
from feedback.services.reference.policies import load_calendar
from feedback.services.sla.sweep import clock_of, thresholds

CASES = {"postgresql": 200, "sqlite": 100}  # due when the scheduler starts
LATE_CASES = 20  # made due after the outages
BATCH = 20  # the sweep commits every BATCH cases (production: 500)
MID_SWEEP_KILLS = 3
TIMEOUT = 60.0  # for any one condition to come true
MILESTONES = tuple(m.value for m in Milestone)
APP_NAME = "feedback-scheduler"

# ``flask --app feedback scheduler`` with a smaller sweep batch (the first argument).
LAUNCHER = """
import functools
import sys

from flask.cli import main

from feedback.services.sla import sweep as sla_sweep

sla_sweep.sweep = functools.partial(sla_sweep.sweep, batch=int(sys.argv.pop(1)))
sys.argv[0] = "flask"
sys.exit(main())
"""


# --- the scheduler process -------------------------------------------------------------------


class Scheduler:
    """One ``flask scheduler`` subprocess with its log; stopped on exit."""

    def __init__(self, url: str, tmp_path: Path, smtp: MailServer) -> None:
        instance = tmp_path / "scheduler-instance"
        instance.mkdir()
        self.log = tmp_path / "scheduler.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(BATCH), "--app", "feedback", "scheduler"],
                cwd=PROJECT_ROOT,
                env=scheduler_env(url, instance, smtp),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def runs(self, job: str) -> int:
        return len(re.findall(rf'Job "{job} \(.*executed successfully', self.text()))

    def failures(self, job: str) -> int:
        return len(re.findall(rf"feedback\.scheduler job {job} failed", self.text()))

    def successes(self, job: str) -> int:
        """Runs that did not fail (``run_job`` catches the error, so APScheduler reports
        every run as executed)."""
        return self.runs(job) - self.failures(job)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        """Poll until ``condition()`` is truthy; fail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"scheduler exited with {self.process.returncode}:\n{self.tail()}")
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"not after {timeout:.0f} s: {what}\n{self.tail()}")
            time.sleep(0.02)

    def tail(self) -> str:
        return self.text()[-4000:]


# --- data and checks -------------------------------------------------------------------------


def add_cases(app: Flask, make_case: Callable[..., str], count: int, tag: str) -> dict[str, str]:
    """``count`` cases received 30 days ago (every deadline past); returns code -> area."""
    received = datetime.now(UTC) - timedelta(days=30)
    area_of: dict[str, str] = {}
    for number in range(count):
        area = AREAS[number % 2]
        code = make_case(
            now=received + timedelta(minutes=number),
            kind=("feedback", "petition", "suggestion")[number % 3],
            subject=f"Đèn đường hỏng số {tag}{number} trên đường Nguyễn Trãi",
            category_code="6.3b",
            area_code=area,
            reporter=Reporter(name=f"Công dân {tag}{number}", phone="0912000111"),
        )
        area_of[code] = area
    return area_of


def expected(app: Flask, area_of: dict[str, str]) -> tuple[set[Any], set[Any]]:
    """The (case, milestone) pairs due now and the (case, milestone, address) messages."""
    now = datetime.now(UTC)
    events: set[tuple[str, str]] = set()
    with app.app_context():
        calendar = load_calendar()
        policies = {p.kind: p for p in db.session.scalars(select(SlaPolicy))}
        for case in db.session.scalars(select(Case).where(Case.code.in_(area_of))):
            policy = policies[case.kind]
            due = arrived(clock_of(case, policy), thresholds(policy), calendar, now)
            assert len(due) == 4, f"{case.code}: every deadline should be past, got {due}"
            events |= {(case.code, m.value) for m in due}
        db.session.remove()
    notes = {
        (code, milestone, address)
        for code, milestone in events
        for address in told(area_of[code], milestone)
    }
    return events, notes


def check_exactly_once(app: Flask, events: set[Any], notes: set[Any]) -> dict[str, int]:
    """Every expected milestone recorded once, its timeline event and outbox rows once."""
    with app.app_context():
        code_of = dict(db.session.execute(select(Case.id, Case.code)).all())
        recorded = Counter(
            (code_of[e.case_id], e.milestone) for e in db.session.scalars(select(SlaEvent))
        )
        timeline = Counter(
            (code_of[e.case_id], e.action)
            for e in db.session.scalars(select(CaseEvent).where(CaseEvent.action.in_(MILESTONES)))
        )
        rows = db.session.scalars(select(Notification)).all()
        keys = Counter(n.dedupe_key for n in rows)
        outbox = Counter(
            (code_of.get(n.case_id or 0), n.kind, n.recipient) for n in rows if n.kind in MILESTONES
        )
        statuses = Counter(n.status for n in rows)
        db.session.remove()
    doubled = {k: n for k, n in recorded.items() if n > 1}
    assert doubled == {}, f"milestones recorded twice: {doubled}"
    lost, extra = sorted(events - set(recorded)), sorted(set(recorded) - events)
    assert (lost, extra) == ([], []), f"lost {lost[:10]}, unexpected {extra[:10]}"
    assert {k: n for k, n in timeline.items() if n > 1} == {}
    assert set(timeline) == events
    assert {k: n for k, n in keys.items() if n > 1} == {}
    assert {k: n for k, n in outbox.items() if n > 1} == {}
    assert set(outbox) == notes
    assert "failed" not in statuses, statuses
    return {"milestones": len(recorded), "outbox": len(outbox), **statuses}


class Counts:
    """Row counts read over a connection of the test's own (not the app's pool)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def events(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM sla_events").fetchone()[0])


# --- PostgreSQL: every backend terminated ------------------------------------------------------


def terminate_all(admin: Any) -> list[tuple[str, str, bool, str]]:
    """What a server restart does to the database's sessions: end every backend but ours.
    Returns (application, state, in a transaction, last query) for each one ended."""
    rows = admin.execute(
        "SELECT application_name, coalesce(state, ''), xact_start IS NOT NULL,"
        " left(coalesce(query, ''), 120), pg_terminate_backend(pid)"
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'"
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows if r[4]]


@pytest.mark.parametrize(
    "database_url",
    server_database("terminating backends needs PostgreSQL: set TEST_DATABASE_URL"),
    indirect=True,
)
def test_postgresql_backends_terminated_under_the_scheduler_lose_and_double_nothing(
    app: Flask,
    database_url: str,
    make_case: Callable[..., str],
    smtp: MailServer,
    tmp_path: Path,
) -> None:
    import psycopg

    assert database_url.startswith("postgresql")
    for (role, unit), address in STAFF.items():
        add_staff(app, role, unit, address)
    area_of = add_cases(app, make_case, CASES["postgresql"], "a")
    events, notes = expected(app, area_of)

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    killed: list[list[tuple[str, str, bool, str]]] = []
    with (
        psycopg.connect(dsn, autocommit=True) as admin,
        Scheduler(f"{database_url}?application_name={APP_NAME}", tmp_path, smtp) as scheduler,
    ):
        counts = Counts(admin)

        # 1. While a sweep is half-way through the due cases (some batches committed, the
        #    rest not), end its connection; each time the next run goes on from there.
        mid_sweep = 0
        last = 0
        while mid_sweep < MID_SWEEP_KILLS:
            seen = scheduler.wait(
                lambda last=last: (n := counts.events()) > last and n,
                "the sweep makes progress",
            )
            if seen >= len(events):
                break
            ended = terminate_all(admin)
            killed.append(ended)
            last = counts.events()
            if last < len(events) and any(a == APP_NAME and x for a, _, x, _ in ended):
                mid_sweep += 1
        scheduler.wait(lambda: counts.events() == len(events), "every milestone recorded")

        # 2. Idle: every pooled connection of the scheduler goes stale; the next sweeps
        #    (and deliveries) must still succeed.
        for _ in range(2):
            before = scheduler.successes("sweep")
            killed.append(terminate_all(admin))
            scheduler.wait(
                lambda before=before: scheduler.successes("sweep") >= before + 2,
                "two sweeps succeed after the connections were ended",
            )

        # 3. Cases due after the outages get their milestones from the next sweeps.
        late = add_cases(app, make_case, LATE_CASES, "b")
        late_events, late_notes = expected(app, late)
        total = len(events) + len(late_events)
        scheduler.wait(lambda: counts.events() == total, "the late cases recorded")
        before = scheduler.successes("sweep")
        scheduler.wait(lambda: scheduler.successes("sweep") >= before + 2, "two more sweeps")
        assert scheduler.process.poll() is None, "the scheduler died"
        log = scheduler.text()

    outcome = check_exactly_once(app, events | late_events, notes | late_notes)
    sweep_failures = len(re.findall(r"job sweep failed", log))
    hit = [e for ended in killed for e in ended if e[0] == APP_NAME]
    print(
        f"\npostgresql: {len(killed)} outages ending {sum(map(len, killed))} backends "
        f"({len(hit)} of the scheduler, {sum(1 for e in hit if e[2])} in a transaction); "
        f"{mid_sweep} while a sweep was half-way; {sweep_failures} sweeps failed and were "
        f"retried; {outcome}"
    )
    assert mid_sweep >= 1, f"no outage hit a sweep half-way: {killed}"
    assert sweep_failures >= 1, "a sweep cut off half-way should have failed and been logged"
    assert "OperationalError" in log  # the failures were the connections ending, logged


# --- SQLite: the file locked by another process ------------------------------------------------


class FileLock:
    """``BEGIN EXCLUSIVE`` on the database file from a connection of the test's own, held
    for ``seconds`` in a thread; ``acquired`` is set once the lock is held."""

    def __init__(self, path: str, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self.acquired = threading.Event()
        self.held_for = 0.0
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()

    def _hold(self) -> None:
        # No busy handler: SQLite's sleeps between retries would never land in the short
        # gap between two batches of a sweep; a tight loop of attempts does.
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        deadline = time.monotonic() + TIMEOUT
        try:
            while True:
                try:
                    connection.execute("BEGIN EXCLUSIVE")
                    break
                except sqlite3.OperationalError:
                    if time.monotonic() > deadline:
                        raise
            began = time.monotonic()
            self.acquired.set()
            time.sleep(self.seconds)
            connection.execute("ROLLBACK")
            self.held_for = time.monotonic() - began
        finally:
            connection.close()

    def join(self) -> float:
        self.thread.join(timeout=self.seconds + TIMEOUT)
        assert not self.thread.is_alive(), "the lock was never taken"
        return self.held_for


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_file_locked_under_the_scheduler_loses_and_doubles_nothing(
    app: Flask,
    database_url: str,
    make_case: Callable[..., str],
    smtp: MailServer,
    tmp_path: Path,
) -> None:
    assert database_url.startswith("sqlite:///")
    path = database_url.removeprefix("sqlite:///")
    for (role, unit), address in STAFF.items():
        add_staff(app, role, unit, address)
    area_of = add_cases(app, make_case, CASES["sqlite"], "a")
    events, notes = expected(app, area_of)

    reader = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        with Scheduler(database_url, tmp_path, smtp) as scheduler:
            counts = Counts(reader)
            scheduler.wait(lambda: counts.events() > 0, "the first sweep commits a batch")

            # 1. Locked for longer than the busy timeout (5 s), taken as soon as the sweep
            #    lets go of the write lock (often between two of its batches, else after
            #    it): the runs that wait for it fail with "database is locked"; the next
            #    ones go on.
            long_lock = FileLock(path, 7.5)
            assert long_lock.acquired.wait(TIMEOUT), "the long lock was never taken"
            at_lock = counts.events()
            held = long_lock.join()
            scheduler.wait(lambda: scheduler.failures("sweep") >= 1, "a sweep failed")
            scheduler.wait(lambda: counts.events() == len(events), "every milestone recorded")

            # 2. Locked for less than the busy timeout: the sweep waits, then goes on.
            before = scheduler.successes("sweep")
            failed = scheduler.failures("sweep")
            short_lock = FileLock(path, 2.0)
            assert short_lock.acquired.wait(TIMEOUT), "the short lock was never taken"
            short_held = short_lock.join()
            late = add_cases(app, make_case, LATE_CASES, "b")
            late_events, late_notes = expected(app, late)
            total = len(events) + len(late_events)
            scheduler.wait(lambda: counts.events() == total, "the late cases recorded")
            scheduler.wait(
                lambda: scheduler.successes("sweep") >= before + 2, "sweeps after the lock"
            )
            assert scheduler.process.poll() is None, "the scheduler died"
            log = scheduler.text()
            short_failures = scheduler.failures("sweep") - failed
    finally:
        reader.close()

    outcome = check_exactly_once(app, events | late_events, notes | late_notes)
    print(
        f"\nsqlite: file locked {held:.1f} s ({at_lock} of {len(events)} milestones recorded "
        f"when it was taken), then {short_held:.1f} s; "
        f"{len(re.findall(r'job sweep failed', log))} sweeps failed on the lock, "
        f"{short_failures} on the short one; {outcome}"
    )
    assert "database is locked" in log


def test_postgresql_connections_use_tcp_keepalives(app: Flask) -> None:
    """A vanished server must not hold a job forever on a dead socket."""
    from feedback.database import PG_KEEPALIVES
    from feedback.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            # SQLite has no socket; what matters there is that nothing was passed to it.
            assert db.session.execute(text("SELECT 1")).scalar() == 1
            return
        raw = db.session.connection().connection.dbapi_connection
        params = raw.info.get_parameters()
        for key, value in PG_KEEPALIVES.items():
            assert params.get(key) == str(value), (key, params)
