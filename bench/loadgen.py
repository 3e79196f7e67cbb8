"""A small closed-loop HTTP load generator: N threads, each sending one request after the
other over loopback with ``http.client`` (a new connection per request: gunicorn's sync
workers close the connection after each answer anyway).

Chosen over wrk so the bench needs nothing outside the virtualenv; it costs client CPU on
the same machine, which the floor run pays too (the ratio compares like with like).
Latency is measured from just before the connection is opened to the end of the body,
so it includes time queued in the server's listen backlog.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

Body = Callable[[int, int], tuple[bytes, dict[str, str]]]  # (thread, seq) -> body, headers


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def run(
    port: int,
    path: str,
    body: Body,
    *,
    concurrency: int = 32,
    duration: float = 20.0,
    warmup: float = 3.0,
    max_requests: int | None = None,
    method: str = "POST",
    on_answer: Callable[[int, bytes, bytes], None] | None = None,
    route: Callable[[int, int], tuple[str, str]] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Load ``path`` for ``warmup`` + ``duration`` seconds (or until ``max_requests``
    measured requests); only answers that complete inside the measured window count.
    ``on_answer(status, request_body, response_body)`` sees every outcome, warm-up
    included (status 0: no answer, the connection failed). ``route(thread, seq)`` may pick
    (method, path) per request instead of the fixed ``method`` and ``path``; setting
    ``stop`` ends the load early."""
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    done = stop if stop is not None else threading.Event()
    last = [measure_from]

    def worker(index: int) -> None:
        seq = 0
        while not done.is_set():
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            seq += 1
            payload, headers = body(index, seq)
            verb, target = route(index, seq) if route is not None else (method, path)
            if verb == "GET":
                payload = None
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(verb, target, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                status, error = resp.status, None
            except Exception as exc:
                status, data, error = 0, b"", type(exc).__name__
            t1 = time.perf_counter()
            if on_answer is not None:
                on_answer(status, payload or b"", data)
            if t0 >= measure_from and t1 <= stop_at:
                with lock:
                    last[0] = max(last[0], t1)
                    if error:
                        errors[error] += 1
                    else:
                        statuses[str(status)] += 1
                        latencies.append(t1 - t0)
                    if (
                        max_requests is not None
                        and len(latencies) + sum(errors.values()) >= max_requests
                    ):
                        done.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = (last[0] if done.is_set() else min(time.perf_counter(), stop_at)) - measure_from
    latencies.sort()
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies) + sum(errors.values()),
        "ok": ok,
        "rps": round(ok / elapsed, 1) if elapsed > 0 else None,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "non_2xx": sum(n for s, n in statuses.items() if not s.startswith("2")),
        "latency_ms": {
            "p50": ms(percentile(latencies, 0.50)),
            "p90": ms(percentile(latencies, 0.90)),
            "p99": ms(percentile(latencies, 0.99)),
            "max": ms(latencies[-1] if latencies else None),
        },
    }


def json_body(make: Callable[[int, int], dict[str, Any]]) -> Body:
    headers = {"Content-Type": "application/json"}
    return lambda i, n: (json.dumps(make(i, n), ensure_ascii=False).encode(), headers)
