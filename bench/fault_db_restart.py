"""Fault test: the PostgreSQL server restarting under a running scheduler.

A ``flask --app feedback scheduler`` process (production settings but for the intervals:
sweep and delivery every 2 s) runs on a fresh bench database holding 2,000 open cases
(built through the intake service, routed to two wards with staff to tell) whose every
deadline is past but whose next SLA check lies far ahead; the cases then become due in
four waves of 20, 50, 15 and 15 % (their ``next_sla_check_at`` set to now). The server is
restarted for real, twice, with ``pg_ctlcluster --skip-systemctl-redirect VERSION CLUSTER
restart``:

1. in the middle of the sweep of wave 2 (1,000 cases: two batches of the sweep), once its
   first batch is committed and while the second is being written;
2. while the scheduler is idle between sweeps (every pooled connection goes stale), after
   which wave 4 becomes due.

Then every case has each of its four milestones (acknowledgement and response, warning
and breach) recorded once, with one timeline event, and one outbox row per person to tell
(dedupe keys); nothing lost, nothing doubled; the scheduler process never exited. Reported:
how long each restart took (the command, and how long the server refused new connections,
probed every 50 ms), when the next successful sweep started and ended, the sweep and
delivery runs that failed.

A restart drops every session on the server, other people's too: before each one the script
waits (up to ``--wait`` seconds) until no other session is open on a ``feedback_test*`` or
``feedback_bench*`` database, and gives up otherwise; whatever happens, it leaves the server
running. Needs root (or the postgres user) and a local cluster (``pg_lsclusters``).

    .venv/bin/python -m bench.fault_db_restart [--cases 2000] [--wait 300]

Results: bench/results/fault_db_restart.json. A quick version runs in the suite
(tests/test_fault_db_restart.py: backends terminated instead of a restart, and SQLite).
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import common

NAME = "db_restart"
APP_NAME = "feedback-scheduler"
MILESTONES = ("ack_warning", "ack_breach", "response_warning", "response_breach")
AREAS = ("00688", "00694")  # Quang Trung and Nguyễn Trãi: UBND-NNNNN handles, QLDT leads
STAFF = {
    ("officer", "UBND-00688"): "can.bo.00688@example.vn",
    ("unit_head", "UBND-00688"): "lanh.dao.00688@example.vn",
    ("officer", "UBND-00694"): "can.bo.00694@example.vn",
    ("unit_head", "UBND-00694"): "lanh.dao.00694@example.vn",
    ("unit_head", "QLDT"): "lanh.dao.qldt@example.vn",
    ("inspector", "TTR"): "thanh.tra@example.vn",
    ("coordinator", "VP"): "van.phong@example.vn",
}
WAVES = (0.2, 0.5, 0.15, 0.15)  # shares of the cases made due in each wave
FAR = datetime(2100, 1, 1, tzinfo=UTC)  # "not due yet" until a wave makes the case due


def told(area: str, milestone: str) -> set[str]:
    """Who the sweep tells, for these staff (services.sla.sweep.Sweeper.recipients)."""
    officer, head = STAFF[("officer", f"UBND-{area}")], STAFF[("unit_head", f"UBND-{area}")]
    if milestone.endswith("breach"):
        return {head, STAFF[("unit_head", "QLDT")], STAFF[("inspector", "TTR")]}
    if milestone == "ack_warning":
        return {officer, head, STAFF[("coordinator", "VP")]}
    return {officer, head}


# --- the server --------------------------------------------------------------------------------


def cluster() -> tuple[str, str]:
    """(version, name) of the local cluster on the port of BENCH_PG_ADMIN_URL."""
    port = re.search(r":(\d+)/", common.PG_ADMIN_URL)
    wanted = port.group(1) if port else "5432"
    for line in subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True
    ).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == wanted:
            return fields[0], fields[1]
    raise SystemExit(f"no local PostgreSQL cluster on port {wanted} (pg_lsclusters)")


def online(version: str, name: str) -> bool:
    out = subprocess.run(
        ["pg_lsclusters", "--no-header", version, name], capture_output=True, text=True
    ).stdout
    return " online " in f" {out} "


def accepting(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def others(admin_dsn: str, ours: str) -> list[str]:
    """Sessions a restart would cut that are not this bench's."""
    import psycopg

    with psycopg.connect(admin_dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT datname, coalesce(application_name, '') FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname <> %s"
            " AND (datname LIKE 'feedback_test%%' OR datname LIKE 'feedback_bench%%')",
            (ours,),
        ).fetchall()
    return [f"{d} ({a})" if a else d for d, a in rows]


def wait_alone(admin_dsn: str, ours: str, limit: float) -> float:
    """Wait until nobody else has a session on a test or bench database; the seconds waited."""
    t0 = time.monotonic()
    while found := others(admin_dsn, ours):
        if time.monotonic() - t0 > limit:
            raise SystemExit(
                f"not restarting PostgreSQL: other sessions after {limit:.0f} s: {found}"
            )
        print(f"waiting: {len(found)} other sessions on test/bench databases {found[:3]}")
        time.sleep(5)
    return time.monotonic() - t0


def restart(version: str, name: str, dsn: str) -> tuple[dict[str, float], datetime]:
    """Restart the cluster while a thread probes it with new connections every 50 ms.
    Returns the timings and the wall-clock time it accepted connections again."""
    probes: list[tuple[float, bool]] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set() or not probes or not probes[-1][1]:
            probes.append((time.monotonic(), accepting(dsn)))
            if time.monotonic() - t0 > 120:
                return
            time.sleep(0.05)

    t0 = time.monotonic()
    wall0 = datetime.now()
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
            check=True,
            capture_output=True,
        )
    finally:
        command = time.monotonic() - t0
        done.set()
        thread.join()
    down = next((t for t, ok in probes if not ok), None)
    up = next((t for t, ok in probes if ok and down is not None and t > down), None)
    if up is None or not probes[-1][1]:
        raise RuntimeError("PostgreSQL did not come back within 120 s")
    timing = {
        "command_s": round(command, 2),
        "refused_from_s": round((down or t0) - t0, 2),
        "accepting_again_s": round(up - t0, 2),
        "unavailable_s": round(up - (down or t0), 2),
    }
    return timing, wall0 + timedelta(seconds=up - t0)


def ensure_up(version: str, name: str) -> None:
    if not online(version, name):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], check=False
        )
    subprocess.run(["pg_lsclusters"], check=False)


# --- the database ------------------------------------------------------------------------------


class Db:
    """Short psycopg sessions on the bench database (the server comes and goes)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def query(self, sql: str, params: Any = None) -> list[Any]:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=5, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def count(self, sql: str, params: Any = None) -> int:
        return int(self.query(sql, params)[0][0])

    def recorded(self, ids: list[int]) -> int:
        return self.count("SELECT count(*) FROM sla_events WHERE case_id = ANY(%s)", (ids,))

    def make_due(self, ids: list[int]) -> None:
        self.query("UPDATE cases SET next_sla_check_at = now() WHERE id = ANY(%s)", (ids,))

    def sweeping(self) -> bool:
        """A sweep has been at work for a moment: its advisory lock (services.sla.sweep.LOCK_KEY,
        held until the first batch commits) is held by a transaction older than 0.2 s."""
        from feedback.services.sla.sweep import LOCK_KEY

        return bool(
            self.count(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"
                " AND l.objid = %s AND a.datname = current_database()"
                " AND now() - a.xact_start > interval '200 milliseconds'",
                (LOCK_KEY,),
            )
        )

    def scheduler_idle(self) -> bool:
        rows = self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = %s AND xact_start IS NOT NULL",
            (APP_NAME,),
        )
        return rows[0][0] == 0


def build(url: str, cases: int) -> tuple[dict[int, str], float]:
    """Staff with e-mail addresses and ``cases`` cases received 30 days ago (every deadline
    past), none due yet. Returns case id -> area, and the seconds it took."""
    from bench.scale import make_app
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Case
    from feedback.services.accounts.users import create_user
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    t0 = time.perf_counter()
    app = make_app(url)
    received = datetime.now(UTC) - timedelta(days=30)
    area_of: dict[int, str] = {}
    with app.app_context():
        for n, ((role, unit), address) in enumerate(STAFF.items()):
            with unit_of_work():
                create_user(f"{role}.bench{n}", role, "bench-mat-khau-1", unit_code=unit,
                            full_name=f"Cán bộ {n}", email=address)  # fmt: skip
        for n in range(cases):
            area = AREAS[n % 2]
            with unit_of_work():
                case = submit_case(
                    CaseInput(
                        kind=("feedback", "petition", "suggestion")[n % 3],
                        subject=f"Đèn đường hỏng số {n} trên đường Nguyễn Trãi",
                        body="Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
                        category_code="6.3b",
                        area_code=area,
                        reporter=Reporter(name=f"Công dân {n}", phone="0912000111"),
                    ),
                    actor=None,
                    now=received + timedelta(seconds=n),
                ).case
                area_of[case.id] = area
        with unit_of_work():
            db.session.query(Case).update({Case.next_sla_check_at: FAR})
        db.session.remove()
        db.engine.dispose()
    return area_of, time.perf_counter() - t0


def verify(db: Db, area_of: dict[int, str]) -> dict[str, Any]:
    """Exactly once: milestones, their timeline events and outbox rows."""
    events = db.query("SELECT case_id, milestone, due_at FROM sla_events")
    per_event: dict[tuple[int, str], int] = {}
    for case_id, milestone, _due in events:
        per_event[(case_id, milestone)] = per_event.get((case_id, milestone), 0) + 1
    expected = {(c, m) for c in area_of for m in MILESTONES}
    timeline = db.query(
        "SELECT case_id, action, count(*) FROM case_events WHERE action = ANY(%s)"
        " GROUP BY case_id, action",
        (list(MILESTONES),),
    )
    per_timeline = {(c, a): n for c, a, n in timeline}
    outbox = db.query(
        "SELECT case_id, kind, recipient, count(*) FROM notifications WHERE kind = ANY(%s)"
        " GROUP BY case_id, kind, recipient",
        (list(MILESTONES),),
    )
    per_note = {(c, k, r): n for c, k, r, n in outbox}
    expected_notes = {(c, m, address) for c, m in expected for address in told(area_of[c], m)}
    keys_doubled = db.count(
        "SELECT count(*) FROM (SELECT dedupe_key FROM notifications GROUP BY dedupe_key"
        " HAVING count(*) > 1) AS d"
    )
    statuses = dict(db.query("SELECT status, count(*) FROM notifications GROUP BY status"))
    return {
        "cases": len(area_of),
        "milestones_expected": len(expected),
        "milestones_recorded": len(events),
        "milestones_duplicated": sum(n - 1 for n in per_event.values()),
        "milestones_lost": len(expected - set(per_event)),
        "milestones_unexpected": len(set(per_event) - expected),
        "timeline_events": sum(per_timeline.values()),
        "timeline_duplicated": sum(n - 1 for n in per_timeline.values()),
        "timeline_lost": len(expected - set(per_timeline)),
        "outbox_expected": len(expected_notes),
        "outbox_rows": sum(per_note.values()),
        "outbox_duplicated": sum(n - 1 for n in per_note.values()) + keys_doubled,
        "outbox_lost": len(expected_notes - set(per_note)),
        "outbox_unexpected": len(set(per_note) - expected_notes),
        "outbox_status": statuses,
    }


# --- the run -----------------------------------------------------------------------------------


@dataclass
class SweepRun:
    start: datetime
    end: datetime | None = None
    ok: bool = True


class Scheduler:
    def __init__(self, url: str, log: Path) -> None:
        instance = common.INSTANCE / "fault_db_restart"
        instance.mkdir(parents=True, exist_ok=True)
        (instance / "mail.log").unlink(missing_ok=True)
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(common.BIN / "flask"), "--app", "feedback", "scheduler"],
                cwd=common.ROOT,
                env=common.env_for(
                    f"{url}?application_name={APP_NAME}",
                    FEEDBACK_INSTANCE_PATH=str(instance),
                    FEEDBACK_SWEEP_SECONDS="2",
                    FEEDBACK_DELIVER_SECONDS="2",
                    PYTHONUNBUFFERED="1",
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int | None:
        """Stop it; returns the exit code if it had exited by itself (None: it was alive)."""
        code = self.process.poll()
        if code is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return code

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def count(self, job: str, what: str) -> int:
        """Runs of ``job`` that "failed", or ran ("runs": ended, either way)."""
        if what == "failed":
            return len(re.findall(rf"feedback\.scheduler job {job} failed", self.text()))
        return len(re.findall(rf'Job "{job} \(.*executed successfully', self.text()))

    def sweeps(self) -> list[SweepRun]:
        """Every sweep run in the log, in order (one at a time: max_instances=1)."""
        runs: list[SweepRun] = []
        for line in self.text().splitlines():
            if not line[:4].isdigit():
                continue
            at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            if 'Running job "sweep (' in line:
                runs.append(SweepRun(at))
            elif runs and runs[-1].end is None:
                if "feedback.scheduler job sweep failed" in line:
                    runs[-1].ok = False
                elif 'Job "sweep (' in line and "executed successfully" in line:
                    runs[-1].end = at
        return [r for r in runs if r.end is not None]

    def successes(self, job: str) -> int:
        return self.count(job, "runs") - self.count(job, "failed")

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 180) -> float:
        """Poll until ``condition()``; errors reading the database count as "not yet"."""
        import psycopg

        t0 = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the scheduler exited with {self.process.returncode}")
            try:
                if condition():
                    return time.monotonic() - t0
            except psycopg.OperationalError:
                pass
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"not after {timeout:.0f} s: {what}")
            time.sleep(0.05)


def run(cases: int, wait_limit: float) -> dict[str, Any]:
    from feedback.services.sla.sweep import BATCH

    version, name = cluster()
    url = common.database_url("postgresql", NAME)
    dbname = f"feedback_bench_{NAME}"
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    admin = common.PG_ADMIN_URL
    common.migrate_and_seed(url)
    area_of, build_s = build(url, cases)
    print(f"{cases} cases built in {build_s:.0f} s")
    ids = sorted(area_of)
    bounds = [0]
    for share in WAVES:
        bounds.append(min(len(ids), bounds[-1] + round(share * len(ids))))
    bounds[-1] = len(ids)
    wave_ids = [ids[a:b] for a, b in itertools.pairwise(bounds)]
    db = Db(dsn)
    common.LOGS.mkdir(parents=True, exist_ok=True)
    scheduler = Scheduler(url, common.LOGS / "fault-db-restart-scheduler.log")
    restarts: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    t_start = time.monotonic()

    def note(what: str, **data: Any) -> None:
        timeline.append({"at_s": round(time.monotonic() - t_start, 2), "what": what, **data})
        print(f"{timeline[-1]['at_s']:7.2f} s  {what} {data or ''}")

    def wave(k: int) -> None:
        db.make_due(wave_ids[k])
        note(f"wave {k + 1} due", cases=len(wave_ids[k]))

    def recorded(k: int) -> float:
        t0 = time.monotonic()
        scheduler.wait(lambda: db.recorded(wave_ids[k]) == 4 * len(wave_ids[k]), f"wave {k + 1}")
        note(f"wave {k + 1} recorded", after_s=round(time.monotonic() - t0, 2))
        return time.monotonic()

    def restart_now(when: str, k: int, waited: float) -> float:
        failed = scheduler.count("sweep", "failed"), scheduler.count("deliver", "failed")
        done = db.recorded(wave_ids[k])
        note(f"restart ({when})", wave=k + 1, milestones_of_the_wave_recorded=done)
        began = datetime.now()  # the scheduler logs local wall-clock times
        timing, up_wall = restart(version, name, admin)
        up = time.monotonic() - (datetime.now() - up_wall).total_seconds()
        note("server accepting again", **timing)

        def succeeded() -> SweepRun | None:
            return next((r for r in scheduler.sweeps() if r.ok and r.start >= began), None)

        scheduler.wait(succeeded, "a successful sweep after the restart")
        run = succeeded()
        assert run is not None and run.end is not None
        restarts.append(
            {
                "when": when,
                "waited_for_other_sessions_s": round(waited, 1),
                "wave": k + 1,
                "milestones_of_the_wave_recorded_at_restart": done,
                "milestones_of_the_wave": 4 * len(wave_ids[k]),
                **timing,
                "first_successful_sweep_started_after_up_s": round(
                    (run.start - up_wall).total_seconds(), 2
                ),
                "first_successful_sweep_done_after_up_s": round(
                    (run.end - up_wall).total_seconds(), 2
                ),
                "sweeps_failed": scheduler.count("sweep", "failed") - failed[0],
                "deliveries_failed": scheduler.count("deliver", "failed") - failed[1],
            }
        )
        note("a sweep succeeded", **restarts[-1])
        return up

    result: dict[str, Any] = {"cases": cases, "waves": [len(w) for w in wave_ids]}
    exit_code: int | None = None
    try:
        scheduler.wait(lambda: scheduler.count("sweep", "runs") >= 1, "the first sweep", 60)
        note("scheduler sweeping")
        wave(0)
        recorded(0)

        # Restart 1: in the middle of the sweep of wave 2, once its first batch of BATCH
        # cases is committed (the rest is not), or at least under way (a smaller wave).
        waited = wait_alone(admin, dbname, wait_limit)
        wave(1)
        full = 4 * len(wave_ids[1])
        if len(wave_ids[1]) > BATCH:
            scheduler.wait(lambda: 0 < db.recorded(wave_ids[1]) < full, "a batch of wave 2")
        else:
            scheduler.wait(db.sweeping, "the sweep of wave 2 under way")
        up = restart_now("during the sweep of wave 2", 1, waited)
        restarts[-1]["wave_recorded_after_up_s"] = round(recorded(1) - up, 2)

        # Restart 2: the scheduler idle between two sweeps (its pooled connections go
        # stale); the last wave becomes due after it.
        wave(2)
        recorded(2)
        time.sleep(3)
        waited = wait_alone(admin, dbname, wait_limit)
        try:
            scheduler.wait(db.scheduler_idle, "the scheduler idle", 30)
        except RuntimeError:  # the delivery may be busy: restart all the same
            note("the scheduler was not idle for 30 s: restarting all the same")
        up = restart_now("between sweeps, idle", 2, waited)
        wave(3)
        restarts[-1]["next_wave_recorded_after_up_s"] = round(recorded(3) - up, 2)

        # A few more sweeps over everything: nothing may be recorded again.
        more = scheduler.successes("sweep") + 3
        scheduler.wait(lambda: scheduler.successes("sweep") >= more, "three more sweeps", 60)
        note("three more sweeps done")
    finally:
        exit_code = scheduler.stop()
        ensure_up(version, name)
    log = scheduler.text()
    result.update(
        {
            "postgresql_cluster": f"{version}/{name}",
            "build_s": round(build_s, 1),
            "run_s": round(time.monotonic() - t_start, 1),
            "scheduler_alive_to_the_end": exit_code is None,
            "restarts": restarts,
            "sweep_runs": scheduler.count("sweep", "runs"),
            "sweep_failures": scheduler.count("sweep", "failed"),
            "deliver_runs": scheduler.count("deliver", "runs"),
            "deliver_failures": scheduler.count("deliver", "failed"),
            "errors_logged": sorted(
                set(re.findall(r"^(?:sqlalchemy\.exc|psycopg)\.\w+(?:\.\w+)?: .{0,80}", log, re.M))
            )[:10],
            "timeline": timeline,
            **verify(db, area_of),
        }
    )
    result["ok"] = (
        result["scheduler_alive_to_the_end"]
        and len(restarts) == 2
        and result["milestones_duplicated"] == result["milestones_lost"] == 0
        and result["milestones_unexpected"] == 0
        and result["timeline_duplicated"] == result["timeline_lost"] == 0
        and result["outbox_duplicated"] == result["outbox_lost"] == 0
        and result["outbox_unexpected"] == 0
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for others")
    args = parser.parse_args()
    result = run(args.cases, args.wait)
    common.write_result("fault_db_restart", {"method": __doc__, **result})
    r = result
    print(
        f"postgresql: {r['cases']} cases in waves of {r['waves']}, 2 restarts: "
        + "; ".join(
            f"{x['when']}: refused connections for {x['unavailable_s']} s (the command took"
            f" {x['command_s']} s), {x['sweeps_failed']}"
            f" sweeps failed, the next started {x['first_successful_sweep_started_after_up_s']}"
            f" s and succeeded {x['first_successful_sweep_done_after_up_s']} s after"
            for x in r["restarts"]
        )
        + f" | milestones {r['milestones_recorded']}/{r['milestones_expected']}"
        f" duplicated={r['milestones_duplicated']} lost={r['milestones_lost']};"
        f" outbox {r['outbox_rows']}/{r['outbox_expected']} duplicated={r['outbox_duplicated']}"
        f" lost={r['outbox_lost']}; timeline duplicated={r['timeline_duplicated']}"
        f" lost={r['timeline_lost']}; scheduler alive: {r['scheduler_alive_to_the_end']}"
    )
    if not result["ok"]:
        raise SystemExit("fault test FAILED: see bench/results/fault_db_restart.json")


if __name__ == "__main__":
    main()
