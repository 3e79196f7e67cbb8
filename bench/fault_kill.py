"""Fault test: ``kill -9`` of a web worker in the middle of a load.

gunicorn (2 sync workers) serves ``wsgi:app`` on a fresh database while 32 clients submit
cases through ``POST /api/v1/cases`` (each body carries a unique e-mail address, so every
request can be found in the database); every few seconds one worker, picked at random, is
killed with SIGKILL and gunicorn's master starts a new one. Afterwards:

- every submission that got a 201 is in the database, under the code it was given, and the
  access key it was given opens it (the stored row is the one that was answered);
- nothing is half-written: every case has its ``submit`` timeline event and its receipt
  e-mail in the outbox; the per-year case counter is not behind the highest code; no
  event or outbox row points at a missing case; SQLite's ``integrity_check`` is ``ok``;
- a case without a 201 exists only for a request whose connection died (committed, then
  the worker was killed before it answered: the citizen retries and an Idempotency-Key
  would replay it); a request refused with an HTTP error left nothing.

    .venv/bin/python -m bench.fault_kill [--engines sqlite,postgresql] [--seconds 30] [--every 5]

Results: bench/results/fault_kill.json. A quick version runs in the suite
(tests/test_fault_kill.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import threading
import time
from typing import Any

from sqlalchemy import create_engine, text

from . import common, loadgen
from .intake import case_payload


class Recorder:
    """What each request (by its unique reporter e-mail) got back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: dict[str, tuple[int, dict[str, Any] | None]] = {}
        self.last_201 = 0.0  # time.monotonic() of the latest 201

    def __call__(self, status: int, request_body: bytes, response_body: bytes) -> None:
        email = json.loads(request_body)["reporter"]["email"]
        answer = None
        if status == 201:
            answer = json.loads(response_body)
        with self.lock:
            self.outcomes[email] = (status, answer)
            if status == 201:
                self.last_201 = max(self.last_201, time.monotonic())


def kill_a_worker(master_pid: int, rng: random.Random) -> int | None:
    workers = common.worker_pids(master_pid)
    if not workers:
        return None
    victim = rng.choice(workers)
    os.kill(victim, signal.SIGKILL)
    return victim


def verify(url: str, outcomes: dict[str, tuple[int, dict[str, Any] | None]]) -> dict[str, Any]:
    """The invariants above; every list of problems must be empty."""
    from feedback.services.intake.submission import hash_access_key

    engine = create_engine(url)
    with engine.connect() as conn:
        cases = {
            r.reporter_email: r
            for r in conn.execute(
                text("SELECT id, code, access_key_hash, reporter_email FROM cases")
            )
        }
        with_submit = set(
            conn.execute(text("SELECT case_id FROM case_events WHERE action = 'submit'")).scalars()
        )
        with_receipt = set(
            conn.execute(text("SELECT case_id FROM notifications WHERE kind = 'receipt'")).scalars()
        )
        orphans = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM case_events e WHERE NOT EXISTS "
                "(SELECT 1 FROM cases c WHERE c.id = e.case_id)) + (SELECT count(*) FROM "
                "notifications n WHERE n.case_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM cases c WHERE c.id = n.case_id))"
            )
        ).scalar_one()
        counters = dict(conn.execute(text("SELECT year, last FROM case_counters")).all())
        integrity = (
            conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
            if engine.dialect.name == "sqlite"
            else "n/a"
        )
    engine.dispose()
    highest: dict[int, int] = {}
    for row in cases.values():
        _, year, number = row.code.split("-")
        highest[int(year)] = max(highest.get(int(year), 0), int(number))
    ok_201 = {e: a for e, (s, a) in outcomes.items() if s == 201}
    missing = [e for e in ok_201 if e not in cases]
    wrong = [
        e for e, a in ok_201.items()
        if e in cases and (cases[e].code != a["code"]
                           or cases[e].access_key_hash != hash_access_key(a["access_key"]))
    ]  # fmt: skip
    dropped = {e for e, (s, _) in outcomes.items() if s == 0}
    refused = {e for e, (s, _) in outcomes.items() if s not in (0, 201)}
    unanswered = [e for e in cases if e not in ok_201]
    problems = {
        "201_missing_in_db": missing,
        "201_with_other_code_or_key": wrong,
        "cases_without_submit_event": [r.code for r in cases.values() if r.id not in with_submit],
        "cases_without_receipt_outbox": [
            r.code for r in cases.values() if r.id not in with_receipt
        ],
        "cases_for_refused_requests": [e for e in unanswered if e in refused],
        "cases_for_unknown_requests": [e for e in unanswered if e not in outcomes],
        "counter_behind_codes": [y for y, n in highest.items() if counters.get(y, 0) < n],
        "orphan_rows": [orphans] if orphans else [],
        "integrity_check": [] if integrity in ("ok", "n/a") else [integrity],
    }
    return {
        "requests": len(outcomes),
        "answered_201": len(ok_201),
        "connection_failed": len(dropped),
        "http_errors": {
            str(s): sum(1 for x, _ in outcomes.values() if x == s)
            for s in sorted({s for s, _ in outcomes.values()} - {0, 201})
        },
        "cases_in_db": len(cases),
        "committed_but_unanswered": len([e for e in unanswered if e in dropped]),
        "problems": {k: v[:20] for k, v in problems.items()},
        "ok": not any(problems.values()),
    }


def run(url: str, *, seconds: float, every: float, clients: int, log: str) -> dict[str, Any]:
    recorder = Recorder()
    kills: list[dict[str, Any]] = []
    rng = random.Random(8)
    with common.gunicorn("wsgi:app", url, log=log) as (master, port):
        stop = threading.Event()

        def killer() -> None:
            t0 = time.monotonic()
            while not stop.wait(every):
                pid = kill_a_worker(master.pid, rng)
                kills.append({"at_s": round(time.monotonic() - t0, 1), "pid": pid})

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        load = loadgen.run(
            port, "/api/v1/cases", loadgen.json_body(case_payload),
            concurrency=clients, duration=seconds, warmup=0, on_answer=recorder,
        )  # fmt: skip
        stop.set()
        thread.join()
    result = verify(url, recorder.outcomes)
    return {"kills": kills, "load": load, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(common.ENGINES))
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    runs = []
    for engine in args.engines.split(","):
        url = common.database_url(engine, "fault")
        common.migrate_and_seed(url)
        result = run(url, seconds=args.seconds, every=args.every, clients=args.clients,
                     log=f"fault-{engine}")  # fmt: skip
        print(engine, {k: v for k, v in result.items() if k not in ("load", "problems")},
              "problems:", {k: len(v) for k, v in result["problems"].items() if v})  # fmt: skip
        runs.append({"engine": engine, **result})
    common.write_result("fault_kill", {"method": __doc__, "runs": runs})
    if not all(r["ok"] for r in runs):
        raise SystemExit("fault test FAILED: see bench/results/fault_kill.json")


if __name__ == "__main__":
    main()
