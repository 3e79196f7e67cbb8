"""kill -9 of a web worker in the middle of a load (issue 8, quick version of
``bench/fault_kill.py``): every submission that got a 201 is in the database with the code
and access key it was given, and nothing is half-written.

The app is served in a real subprocess on loopback: gunicorn with 2 workers when it is
installed (``pip install -e '.[bench]'``), a worker killed with SIGKILL twice while 8
clients submit cases; without gunicorn, the threaded Werkzeug server is killed with SIGKILL
and started again on the same database. After each kill the load goes on until a new
submission is answered 201 (bounded: 25 s at most); then the database is checked.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, loadgen  # noqa: E402
from bench.fault_kill import Recorder, verify  # noqa: E402
from bench.intake import case_payload  # noqa: E402

HAVE_GUNICORN = importlib.util.find_spec("gunicorn") is not None
KILLS = 2
FIRST_KILL_AFTER = 1.5  # seconds of load before the first kill
LIMIT = 25.0  # the load never runs longer than this


def _env(url: str, instance: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        FEEDBACK_ENV="test",
        FEEDBACK_SCHEDULER="off",
        FEEDBACK_INSTANCE_PATH=str(instance),
        PYTHONPATH=str(ROOT),
    )
    return env


def _start(url: str, instance: Path, port: int) -> subprocess.Popen[bytes]:
    if HAVE_GUNICORN:
        command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                   "--graceful-timeout", "2", "wsgi:app"]  # fmt: skip
    else:
        command = [
            sys.executable, "-c",
            "from werkzeug.serving import run_simple; from wsgi import app; "
            f"run_simple('127.0.0.1', {port}, app, threaded=True)",
        ]  # fmt: skip
    log = open(instance / "server.log", "ab")  # noqa: SIM115 - the server keeps it open
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(url, instance), stdout=log, stderr=log)
    common.wait_listening(port, proc)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kill_9_of_a_web_worker_loses_no_answered_submission(
    database_url: str, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    common.write_instance_config(instance)  # one client address: limits out of the way
    port = common.free_port()
    server = {"proc": _start(database_url, instance, port)}
    recorder = Recorder()
    killed: list[int] = []
    killed_at: list[float] = []
    stop = threading.Event()
    rng = random.Random(9)

    def kill() -> None:
        proc = server["proc"]
        if HAVE_GUNICORN:
            victim = rng.choice(common.worker_pids(proc.pid))
            os.kill(victim, signal.SIGKILL)
        else:
            victim = proc.pid
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed.append(victim)
        killed_at.append(time.monotonic())
        if not HAVE_GUNICORN:
            server["proc"] = _start(database_url, instance, port)

    def recovered() -> bool:
        """Wait (bounded) until a submission made after the last kill is answered 201."""
        while not stop.wait(0.1):
            if recorder.last_201 > killed_at[-1] + 0.5:
                return True
        return False

    def killer() -> None:
        try:
            if stop.wait(FIRST_KILL_AFTER):
                return
            for _ in range(KILLS):
                kill()
                if not recovered():
                    return
        finally:
            stop.set()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        load = loadgen.run(
            port,
            "/api/v1/cases",
            loadgen.json_body(case_payload),
            concurrency=8,
            duration=LIMIT,
            warmup=0,
            on_answer=recorder,
            stop=stop,
        )
    finally:
        stop.set()
        thread.join()
        _stop(server["proc"])

    assert len(killed) == KILLS, ("not every planned kill happened", killed, load)
    result = verify(database_url, recorder.outcomes)
    assert result["problems"] == {k: [] for k in result["problems"]}, result
    assert result["answered_201"] >= 20, (result, load)
    assert result["cases_in_db"] == result["answered_201"] + result["committed_but_unanswered"]
    # Submissions went on after the last kill: the service recovered by itself.
    assert recorder.last_201 > killed_at[-1], (recorder.last_201, killed_at)
