"""Helpers shared by the bench scripts: databases, servers, the machine, results.

Every script here is run from the repository root with the project's virtualenv:
``.venv/bin/python -m bench.<script>``. Databases are never the developer's own:
SQLite files live under ``instance/bench/`` and PostgreSQL databases are created (and
dropped first) under names starting with ``feedback_bench`` on the server given by
``BENCH_PG_ADMIN_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS = BENCH_DIR / "results"
INSTANCE = ROOT / "instance" / "bench"
LOGS = INSTANCE / "logs"  # server logs (instance/ is never committed)
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ENGINES = ("sqlite", "postgresql")

# A fixed key pair for the bench only (production mode needs both; never reuse them).
BENCH_SECRET = "bench-only-secret-key-0123456789-abcdefghijklmnop"
BENCH_IDENTITY_KEY = "Jm1ZqKc6b3s5pX0cH7v0qk3m1yqUu0Yf2m9Gx3mV6so="


def database_url(engine: str, name: str) -> str:
    """A fresh, empty database for ``name`` (an existing one is removed first)."""
    if engine == "sqlite":
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path = INSTANCE / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if engine == "postgresql":
        import psycopg

        dbname = f"feedback_bench_{name}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"postgresql+psycopg://{base.split('://', 1)[1]}/{dbname}"
    raise SystemExit(f"unknown engine {engine!r}")


def existing_url(engine: str, name: str) -> str:
    if engine == "sqlite":
        return f"sqlite:///{INSTANCE / f'{name}.sqlite'}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"postgresql+psycopg://{base.split('://', 1)[1]}/feedback_bench_{name}"


# The load comes from one address (127.0.0.1), where a city's citizens come from many: the
# rate limits stay switched on (their cost is measured) but far above what a bench sends.
BENCH_LIMITS = """\
# Written by bench/common.py: rate limits out of the way of a one-address load.
RATELIMIT_SUBMIT = "1000000/minute"
RATELIMIT_LOOKUP = "1000000/minute"
RATELIMIT_LOGIN = "1000000/minute"
RATELIMIT_API = "1000000/minute"
"""


def write_instance_config(instance: Path) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(BENCH_LIMITS)


def env_for(url: str, **extra: str) -> dict[str, str]:
    """The environment of a production-mode app on ``url`` (no scheduler in the web
    workers, as wsgi.py recommends for several workers; rate limits raised, see above)."""
    write_instance_config(INSTANCE)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        FEEDBACK_ENV="production",
        SECRET_KEY=BENCH_SECRET,
        IDENTITY_KEY=BENCH_IDENTITY_KEY,
        FEEDBACK_SCHEDULER="off",
        FEEDBACK_INSTANCE_PATH=str(INSTANCE),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def flask(url: str, *args: str) -> str:
    out = subprocess.run(
        [str(BIN / "flask"), "--app", "feedback", *args],
        env=env_for(url),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def migrate_and_seed(url: str) -> None:
    flask(url, "db", "upgrade")
    flask(url, "seed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(
    app: str, url: str, *, workers: int = 2, extra: tuple[str, ...] = (), log: str = "gunicorn"
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``gunicorn -w WORKERS APP`` on a free loopback port; stopped (SIGTERM, then KILL)
    on exit. Yields (master process, port)."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = open(LOGS / f"{log}.log", "ab")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "5", *extra, app],
        cwd=ROOT, env=env_for(url), stdout=logfile, stderr=logfile,
    )  # fmt: skip
    try:
        wait_listening(port, proc)
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logfile.close()


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see instance/bench/logs/")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/__bench_ping__", timeout=2)
        except urllib.error.HTTPError:
            return  # any HTTP answer (404) means a worker is serving
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise RuntimeError("server did not start in time")


def worker_pids(master_pid: int) -> list[int]:
    """The children of a gunicorn master (its workers)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(master_pid):
            found.append(int(status.parent.name))
    return sorted(found)


def memory_of(pid: int) -> dict[str, float]:
    """RSS and PSS (proportional set size: shared pages split between sharers) in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"Rss", "Pss", "Private_Dirty", "Shared_Clean"}:
            out[name.lower() + "_mib"] = round(int(rest.split()[0]) / 1024, 1)
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_total_gib": round(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
        ),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        # Other work on the machine during the run skews every timing: check this first.
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:
        info["postgresql"] = f"unreachable: {exc.__class__.__name__}"
    try:
        import gunicorn as g

        info["gunicorn"] = g.__version__
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps({"machine": machine(), **data}, indent=2, ensure_ascii=False, default=str)
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return path
