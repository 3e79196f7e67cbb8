"""The production topology on loopback: two web machines, two schedulers, one PostgreSQL,
one Redis; one web machine and one scheduler killed in the middle (issue 17).

What runs, each as a process of its own on 127.0.0.1 (bench/topology_procs.py):

- two web instances, each gunicorn with deploy/gunicorn.conf.py (two sync workers,
  ``--preload``) on its own port and with its own instance folder, as if on its own
  machine; each passes ``flask --app feedback check`` first, as ExecStartPre does;
- two ``flask --app feedback scheduler`` processes (sweep every 2 s, outbox every 1 s
  instead of 60/30 s, so a run takes minutes), each with its own instance folder (mail
  and SMS go to its mail.log / sms.log: no mail server);
- the settings of deploy/feedback.env.example: FEEDBACK_ENV=production, random
  SECRET_KEY and IDENTITY_KEY shared by the four, ATTACHMENT_STORAGE=database,
  REDIS_URL (a Redis database of its own, ``--redis-db``, keys under a prefix of this
  run, deleted at the end), TRUSTED_PROXIES=1 with the client's address in
  X-Forwarded-For as nginx sets it, default rate limits.

What happens:

1. A fresh database ``feedback_bench_topology`` (the test: its own) is migrated and
   seeded; staff with e-mail addresses and ``--due`` cases received 30 days ago are
   written (not yet due: their next SLA check lies in 2100).
2. Rate limits: RATELIMIT_SUBMIT (10 a minute) used up by one address through web-1,
   then its next submission through web-2 is refused with 429; the same for
   RATELIMIT_LOGIN on the login page.
3. ``--submissions`` citizens' submissions (``POST /api/v1/cases`` with an
   Idempotency-Key, each from its own address) spread over both web machines by
   ``--clients`` threads; every ``--attach-every``-th adds a file through the API
   (``X-Access-Key``) on the machine that answered. A failed connection or a 409/429/5xx
   is retried with the same key on the other machine, as a load balancer would, for up
   to 60 s. While this runs, the due cases become due in four waves (10, 30, 50, 70 % of
   the load), web-1 is killed at 35 % (SIGKILL of its gunicorn master and workers at
   once, as a machine dies: the master alone would leave its sync workers serving while
   clients keep coming) and scheduler-1 at 50 % (SIGKILL, right after the third wave
   became due: when it is seen sweeping, else in whatever it is doing two sweep
   intervals later).
4. When the load is done and the schedulers have caught up: checks, printed, and the
   exit status is non-zero when any fails:
   - every submission answered 201 is one case (by its reporter's unique e-mail),
     under the code and access key of the answer, its Idempotency-Key pointing at it;
     no case twice, none for a refused request; every submission answered in the end;
   - every milestone of every due case recorded once, one timeline event each, one
     outbox row per person to tell (bench/fault_db_restart.verify);
   - every outbox row once per dedupe key; every sent row in a scheduler's mail.log or
     sms.log once; rows the killed scheduler had claimed stay leased for 5 minutes
     (then the survivor sends them, with the same Message-ID): counted apart, or
     awaited with ``--drain-leases``;
   - every file answered 201 through web-1 (dead by then) is served byte-identical by
     web-2 to a coordinator signed in there, and no instance folder holds a file.

    .venv/bin/python -m bench.topology [--submissions 2000] [--clients 16] [--due 400]

Results: bench/results/topology.json. A small run is in the suite: tests/test_topology.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import common
from . import topology_checks as checks
from .fault_db_restart import AREAS, FAR, STAFF, Db
from .topology_load import Citizens, Web, probe_limits, submission
from .topology_procs import Deployment, Process, check, wait_ready
from .topology_procs import scheduler as start_scheduler
from .topology_procs import web as start_web

PASSWORD = "bench-mat-khau-topology-1"
COORDINATOR = "topo.vanphong"
WAVES = (0.10, 0.30, 0.50, 0.70)  # the share of the load done when each wave becomes due
KILL_WEB_AT = 0.35
KILL_SCHEDULER_AT = WAVES[2]


# --- the data: staff and cases that will come due ----------------------------------------------


def setup(deployment: Deployment, due: int) -> dict[int, str]:
    """Staff with e-mail addresses (the coordinator with a known password) and ``due``
    cases received 30 days ago, not due before 2100; returns case id -> area code.
    Written in this process by the intake service, with the deployment's keys."""
    from feedback import create_app
    from feedback.config import normalise_database_url

    saved = os.environ.get("FEEDBACK_INSTANCE_PATH")
    os.environ["FEEDBACK_INSTANCE_PATH"] = str(deployment.instance("setup"))
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": normalise_database_url(deployment.database_url),
                "FEEDBACK_ENV": "production",
                "SECRET_KEY": deployment.secret_key,
                "IDENTITY_KEY": deployment.identity_key,
                "FEEDBACK_SCHEDULER": "off",
                "RATELIMIT_ENABLED": False,
                "ATTACHMENT_STORAGE": "database",
            }
        )
    finally:
        if saved is None:
            os.environ.pop("FEEDBACK_INSTANCE_PATH", None)
        else:
            os.environ["FEEDBACK_INSTANCE_PATH"] = saved
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Case
    from feedback.services.accounts.users import create_user
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    received = datetime.now(UTC) - timedelta(days=30)
    area_of: dict[int, str] = {}
    with app.app_context():
        for n, ((role, unit), address) in enumerate(STAFF.items()):
            name = COORDINATOR if role == "coordinator" else f"topo.{role}.{n}"
            with unit_of_work():
                create_user(
                    name, role, PASSWORD, unit_code=unit, full_name=f"Cán bộ {n}", email=address
                )
        for n in range(due):
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
            db.session.query(Case).filter(Case.id.in_(list(area_of) or [0])).update(
                {Case.next_sla_check_at: FAR}, synchronize_session=False
            )
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return area_of


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Options:
    submissions: int = 2000
    clients: int = 16
    due: int = 400
    attach_every: int = 10
    file_bytes: int = 64 * 1024
    drain_leases: bool = False
    redis_url: str = "redis://127.0.0.1:6379/13"
    settle_timeout: float = 180.0
    start_timeout: float = 120.0


MACHINES = ("setup", "web-1", "web-2", "scheduler-1", "scheduler-2")


def preflight(deployment: Deployment, names: Sequence[str], timeout: float) -> None:
    """``flask check`` of every web machine at once; refuses to go on unless each exits 0."""
    procs = {name: check(deployment, deployment.instance(name)) for name in names}
    for name, proc in procs.items():
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = -9
        if code != 0:
            text = (deployment.work / name / "check.log").read_text(errors="replace")
            raise RuntimeError(f"flask check failed on {name} ({code}):\n{text[-3000:]}")


def run(
    database_url: str, work: Path, options: Options, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """The whole run on a migrated, seeded database; returns the figures and ``ok``."""
    for name in MACHINES:  # a previous run's logs would count as this run's deliveries
        shutil.rmtree(work / name, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(database_url, work, redis_url=options.redis_url)
    run_id = deployment.prefix.removeprefix("topology-")
    dsn = re.sub(r"^postgresql\+psycopg://", "postgresql://", database_url)
    db = Db(dsn)
    t0 = time.monotonic()
    timeline: list[dict[str, Any]] = []

    def note(event: str, **data: Any) -> None:
        timeline.append({"at_s": round(time.monotonic() - t0, 1), "event": event, **data})
        log(f"{timeline[-1]['at_s']:7.1f} s  {event} {data or ''}")

    area_of = setup(deployment, options.due)
    note("database ready", due_cases=len(area_of))
    ports = [common.free_port(), common.free_port()]
    names = ["web-1", "web-2"]
    started: list[Process] = []
    conductor: Conductor | None = None
    try:
        preflight(deployment, names, options.start_timeout)
        note("flask check passed on both web machines")
        webs = []
        for name, port in zip(names, ports, strict=True):
            process = start_web(deployment, name, port)
            started.append(process)
            webs.append(Web(name, port, process))
        for w in webs:
            wait_ready(w.process, w.port, options.start_timeout)
        schedulers = [start_scheduler(deployment, f"scheduler-{n}") for n in (1, 2)]
        started += schedulers
        note("two web machines and two schedulers started", ports=ports)

        probes, limits = probe_limits(webs, run_id, options.submissions)
        note("rate limits probed", **limits)

        citizens = Citizens(webs, options.attach_every, options.file_bytes)
        subs = [submission(run_id, i) for i in range(options.submissions)]
        conductor = Conductor(
            db, area_of, webs[0], schedulers[0], citizens, len(subs), note, deployment.sweep_seconds
        )
        conductor.start()
        load_began = time.monotonic()
        with ThreadPoolExecutor(options.clients) as pool:
            list(pool.map(citizens.submit, subs))
        load_s = round(time.monotonic() - load_began, 1)
        conductor.finish()
        note("load done", answered_201=sum(s.answer is not None for s in subs))

        settled = checks.settle(db, area_of, options, note)
        downloads = checks.download_through(
            webs[1], COORDINATOR, PASSWORD, [s.file for s in subs if s.file]
        )
        note(
            "files downloaded through web-2",
            **{k: v for k, v in downloads.items() if not isinstance(v, list)},
        )
        result = checks.verify_all(
            db,
            area_of,
            subs + probes,
            limits,
            downloads,
            settled,
            deployment,
            webs=[w.process for w in webs],
            schedulers=schedulers,
        )
    finally:
        if conductor is not None:
            conductor.abort.set()
            conductor.stop.set()
            conductor.join(timeout=30)
        for process in started:
            process.stop()
        try:
            deployment.forget_limits()
        except Exception as exc:  # Redis gone: nothing of ours to delete, nothing to fail
            log(f"could not delete the rate-limit keys: {exc}")
    assert conductor is not None
    result.update(
        {
            "options": options.__dict__,
            "kills": conductor.kills,
            "load_s": load_s,
            "run_s": round(time.monotonic() - t0, 1),
            "timeline": timeline,
        }
    )
    return result


class Conductor(threading.Thread):
    """Makes cases due and kills a web machine and a scheduler as the load progresses."""

    def __init__(
        self,
        db: Db,
        area_of: dict[int, str],
        web: Web,
        scheduler: Process,
        citizens: Citizens,
        total: int,
        note: Callable[..., None],
        sweep_seconds: int,
    ) -> None:
        super().__init__(daemon=True)
        ids = sorted(area_of)
        bounds = [round(len(ids) * k / len(WAVES)) for k in range(len(WAVES) + 1)]
        self.waves = [ids[a:b] for a, b in itertools.pairwise(bounds)]
        self.db, self.web, self.scheduler = db, web, scheduler
        self.citizens, self.total, self.note = citizens, total, note
        self.sweep_seconds = sweep_seconds
        self.kills: list[dict[str, Any]] = []
        self.stop = threading.Event()  # the load ended: what is left of the plan, at once
        self.abort = threading.Event()  # the run failed: nothing more
        self.error: BaseException | None = None

    def progress(self) -> float:
        return self.citizens.done / max(1, self.total)

    def at(self, share: float) -> None:
        """Wait until ``share`` of the load is done (or the load ended: then at once)."""
        while not self.stop.is_set() and self.progress() < share:
            time.sleep(0.05)

    def run(self) -> None:
        try:
            # In this order: the scheduler is killed right after a wave became due, to be
            # caught sweeping it if it is the one that took the sweep's lock.
            plan = [
                (WAVES[0], "wave", 0),
                (WAVES[1], "wave", 1),
                (KILL_WEB_AT, "web", 0),
                (WAVES[2], "wave", 2),
                (KILL_SCHEDULER_AT, "scheduler", 0),
                (WAVES[3], "wave", 3),
            ]
            for share, what, k in plan:
                self.at(share)
                if self.abort.is_set():
                    return
                if what == "wave":
                    self.db.make_due(self.waves[k])
                    self.note(f"wave {k + 1} due", cases=len(self.waves[k]))
                elif what == "web":
                    self.kill_web()
                else:
                    self.kill_scheduler()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def kill_web(self) -> None:
        # The master and its workers at once, as when the machine dies: SIGKILL of the
        # master alone leaves its sync workers serving while connections keep coming
        # (a worker looks for its parent only when no client is waiting).
        workers = common.worker_pids(self.web.process.pid)
        self.web.process.kill(group=True)
        self.kills.append(
            {
                "what": "web-1: gunicorn master and workers (SIGKILL)",
                "pid": self.web.process.pid,
                "its_workers": workers,
                "load_done": round(self.progress(), 2),
            }
        )
        self.note("web-1 killed", **self.kills[-1])

    def kill_scheduler(self) -> None:
        # Up to two sweep intervals: the wave is swept by whichever scheduler's timer
        # fires first, so scheduler-1 is not always the one.
        wait = 2.0 * self.sweep_seconds + 1.0
        doing = checks.wait_busy(self.db, self.scheduler.name, seconds=wait)
        self.scheduler.kill()
        self.kills.append(
            {
                "what": "scheduler-1 (SIGKILL)",
                "pid": self.scheduler.pid,
                "doing": doing,
                "load_done": round(self.progress(), 2),
            }
        )
        self.note("scheduler-1 killed", **self.kills[-1])

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=60)
        if self.error is not None:
            raise self.error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--due", type=int, default=400, help="cases made due during the run")
    parser.add_argument("--attach-every", type=int, default=10)
    parser.add_argument("--file-kib", type=int, default=64)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument(
        "--drain-leases",
        action="store_true",
        help="wait out the killed scheduler's 5-minute leases",
    )
    args = parser.parse_args()
    url = common.database_url("postgresql", "topology")
    common.migrate_and_seed(url)
    options = Options(
        args.submissions,
        args.clients,
        args.due,
        args.attach_every,
        args.file_kib * 1024,
        args.drain_leases,
        f"redis://127.0.0.1:6379/{args.redis_db}",
    )
    work = common.INSTANCE / "topology"
    result = run(url, work, options)
    common.write_result("topology", {"method": __doc__, **result})
    print(checks.summary(result))
    if not result["ok"]:
        raise SystemExit("topology run FAILED: see bench/results/topology.json")


if __name__ == "__main__":
    main()
