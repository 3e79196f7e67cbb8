"""The streamed case export at scale (issue 17): time to the first byte, total time and
the serving worker's memory growth, for the CSV and the XLSX of every case.

It runs on a database ``bench/scale.py`` grew (``--db``, default ``scale``: the 1 million
cases of a full run), served by gunicorn with one sync worker (``wsgi:app``, production
mode). A client logs in through the login form as the bench coordinator (created if
missing) and downloads ``/can-bo/xuat/cases.csv`` and ``.xlsx`` without filters, reading
the body as it comes; meanwhile the worker's RSS is read from ``/proc`` every 0.2 s. The
growth is the peak during the download minus the RSS just before it (after one small
warm-up export, so imports and caches are already paid).

    .venv/bin/python -m bench.export_memory [--engines sqlite,postgresql] [--db scale]
        [--formats csv,xlsx]

Results: bench/results/export_memory.json. Targets: the export completes, RSS grows by
less than 50 MiB, first byte in under 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from . import common
from .scale import COORDINATOR, PASSWORD


def _login(port: int) -> str:
    """The session cookie of the bench coordinator, through the real login form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"X-Forwarded-Proto": "https"}
    conn.request("GET", "/can-bo/dang-nhap", headers=headers)
    page = conn.getresponse()
    html = page.read().decode()
    cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_all("Set-Cookie") or [])
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert token is not None, html[:500]
    body = urlencode({"username": COORDINATOR, "password": PASSWORD, "csrf_token": token[1]})
    conn.request(
        "POST",
        "/can-bo/dang-nhap",
        body=body,
        headers={
            **headers,
            "Cookie": cookies,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 302, answer.status
    session = "; ".join(c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or [])
    conn.close()
    return session or cookies


def _download(port: int, cookie: str, path: str, worker: int) -> dict[str, Any]:
    peak = {"rss": 0.0}
    before = common.memory_of(worker)["rss_mib"]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak["rss"] = max(peak["rss"], common.memory_of(worker)["rss_mib"])
            except OSError:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie, "X-Forwarded-Proto": "https"})
    answer = conn.getresponse()
    first = answer.read(1)
    first_byte = time.perf_counter() - t0
    size = len(first)
    while chunk := answer.read(1 << 16):
        size += len(chunk)
    total = time.perf_counter() - t0
    done.set()
    sampler.join()
    after = common.memory_of(worker)["rss_mib"]
    conn.close()
    return {
        "status": answer.status,
        "rows": int(answer.headers.get("X-Total-Count") or 0),
        "bytes": size,
        "first_byte_s": round(first_byte, 3),
        "total_s": round(total, 1),
        "rss_before_mib": before,
        "rss_peak_mib": max(peak["rss"], after),
        "rss_growth_mib": round(max(peak["rss"], after) - before, 1),
    }


@contextlib.contextmanager
def _server(url: str, engine: str) -> Iterator[tuple[int, int, str]]:
    """One worker serving ``wsgi:app``: gunicorn (one sync worker) when installed (the
    ``bench`` extra), else Werkzeug's single-threaded server in a process of its own.
    Yields (the pid serving requests, port, which)."""
    if (common.BIN / "gunicorn").exists():
        with common.gunicorn("wsgi:app", url, workers=1, extra=("--timeout", "3600"),
                             log=f"export_memory_{engine}") as (proc, port):  # fmt: skip
            yield common.worker_pids(proc.pid)[0], port, "gunicorn -w 1"
        return
    port = common.free_port()
    code = ("from werkzeug.serving import run_simple; from wsgi import app; "
            f"run_simple('127.0.0.1', {port}, app, threaded=False)")  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=common.ROOT, env=common.env_for(url),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        common.wait_listening(port, proc)
        yield proc.pid, port, "werkzeug run_simple, one process, one thread"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def bench_engine(
    engine: str, name: str, formats: tuple[str, ...] = ("csv", "xlsx")
) -> dict[str, Any]:
    url = common.existing_url(engine, name)
    with contextlib.suppress(subprocess.CalledProcessError):  # there from bench.scale
        common.flask(url, "users", "create", COORDINATOR, "--role", "coordinator", "--unit",
                     "VP", "--password", PASSWORD)  # fmt: skip
    out: dict[str, Any] = {"engine": engine, "database": name}
    with _server(url, engine) as (worker, port, server):
        out["server"] = server
        cookie = _login(port)
        warm = _download(port, cookie, "/can-bo/xuat/cases.csv?status=rejected", worker)
        out["warm_up"] = warm
        for ext in formats:
            out[ext] = _download(port, cookie, f"/can-bo/xuat/cases.{ext}", worker)
            print(engine, ext, out[ext], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(common.ENGINES))
    parser.add_argument("--db", default="scale", help="the database bench.scale grew")
    parser.add_argument("--out", default="export_memory")
    parser.add_argument(
        "--formats", default="csv,xlsx", help="which files (a million rows take ~30 min each)"
    )
    args = parser.parse_args()
    formats = tuple(args.formats.split(","))
    runs = [bench_engine(e, args.db, formats) for e in args.engines.split(",")]
    common.write_result(args.out, {"method": __doc__, "runs": runs})


if __name__ == "__main__":
    main()
