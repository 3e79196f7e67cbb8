"""Memory per web worker after 10 thousand requests.

gunicorn (2 sync workers) serves ``wsgi:app`` on a fresh database; 8 clients send a mix of
requests: 60 % ``POST /api/v1/cases``, 20 % the citizen's ``GET /api/v1/cases/{code}``
(with ``X-Access-Key``), 10 % ``GET /api/v1/deadlines`` and 10 % the public home page.
Each worker's RSS and PSS (``/proc/PID/smaps_rollup``; PSS splits the pages shared with
the master fairly) are read after start-up and one request each, after 5,000 and after
10,000 requests (a steady figure between the last two means no leak).

    .venv/bin/python -m bench.memory [--engines sqlite,postgresql] [--requests 10000]

Results: bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import urllib.request
from typing import Any

from . import common, loadgen
from .intake import case_payload


def snapshot(master_pid: int) -> dict[str, Any]:
    workers = common.worker_pids(master_pid)
    return {
        "master": common.memory_of(master_pid),
        "workers": {str(pid): common.memory_of(pid) for pid in workers},
    }


def bench_engine(engine: str, total: int, preload: bool = False) -> dict[str, Any]:
    url = common.database_url(engine, "memory")
    common.migrate_and_seed(url)
    created: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_answer(status: int, request_body: bytes, response_body: bytes) -> None:
        if status == 201:
            answer = json.loads(response_body)
            with lock:
                created.append((answer["code"], answer["access_key"]))

    def route(thread: int, seq: int) -> tuple[str, str]:
        rnd = random.Random(thread * 7919 + seq).random()
        if rnd < 0.6 or not created:
            return "POST", "/api/v1/cases"
        if rnd < 0.8:
            code, _ = created[(thread * 31 + seq) % len(created)]
            return "GET", f"/api/v1/cases/{code}"
        if rnd < 0.9:
            return "GET", "/api/v1/deadlines?received_at=2026-02-06T10:00:00%2B07:00&kind=feedback"
        return "GET", "/"

    payload = loadgen.json_body(case_payload)

    def body(thread: int, seq: int) -> tuple[bytes, dict[str, str]]:
        data, headers = payload(thread, seq)
        if created:
            _, key = created[(thread * 31 + seq) % len(created)]
            headers = {**headers, "X-Access-Key": key}
        return data, headers

    extra = ("--preload",) if preload else ()
    with common.gunicorn("wsgi:app", url, log=f"memory-{engine}", extra=extra) as (master, port):
        for _ in range(4):  # reach both workers at least once
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v1/deadlines?received_at=2026-02-06T10:00:00%2B07:00&kind=feedback"
            )
        out: dict[str, Any] = {"engine": engine, "preload": preload, "start": snapshot(master.pid)}
        out["loadavg_before"] = os.getloadavg()[0]
        loads = []
        for label in ("after_half", "after_all"):
            loads.append(
                loadgen.run(
                    port,
                    "/",
                    body,
                    concurrency=8,
                    duration=3600,
                    warmup=0,
                    max_requests=total // 2,
                    on_answer=on_answer,
                    route=route,
                )
            )
            out[label] = snapshot(master.pid)
    out["load"] = loads
    out["requests"] = sum(x["requests"] for x in loads)
    out["statuses"] = [x["statuses"] for x in loads]
    rss = [w["rss_mib"] for w in out["after_all"]["workers"].values()]
    pss = [w["pss_mib"] for w in out["after_all"]["workers"].values()]
    out["summary"] = {"worker_rss_mib": rss, "worker_pss_mib": pss}
    print(engine, out["requests"], "requests; start", out["start"]["workers"], "→ end",
          out["after_all"]["workers"], flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(common.ENGINES))
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument(
        "--preload", action="store_true",
        help="gunicorn --preload: the app is imported once in the master, workers share it",
    )  # fmt: skip
    parser.add_argument("--out", default="memory", help="result name (bench/results/NAME.json)")
    args = parser.parse_args()
    runs = [bench_engine(e, args.requests, args.preload) for e in args.engines.split(",")]
    common.write_result(args.out, {"method": __doc__, "runs": runs})


if __name__ == "__main__":
    main()
