"""The machines of ``bench/topology.py``: a deployment's shared settings, its web instances
(gunicorn with deploy/gunicorn.conf.py) and scheduler processes, and plain HTTP to them
as nginx would pass it on (X-Forwarded-For and -Proto, TRUSTED_PROXIES=1).

Every process is started in a session of its own (``start_new_session``), so that
``Process.stop`` can end it with whatever it forked (gunicorn's workers outlive a master
killed with SIGKILL for a moment) by the process group id this module created, and
nothing else.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import common

GUNICORN_CONF = common.ROOT / "deploy" / "gunicorn.conf.py"
PUBLIC_URL = "https://phananh.example.gov.vn"
# Variables of the caller's environment a deployment must not inherit (a test run's, a
# developer's): every setting below is the deployment's own.
FOREIGN = ("FEEDBACK_", "MAIL_", "FLASK_", "SMS_", "ZALO_", "RATELIMIT_", "TEST_", "WEB_")
FOREIGN_NAMES = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "IDENTITY_KEY",
    "TRUSTED_PROXIES",
    "PUBLIC_URL",
    "ATTACHMENT_STORAGE",
}


@dataclass
class Deployment:
    """What every machine of one deployment shares: the database, Redis, the keys, the
    rate-limit key prefix (in each instance folder's config.py, where production keeps
    the limits). Intervals of the scheduler are shortened so a run takes minutes."""

    database_url: str
    work: Path
    redis_url: str = "redis://127.0.0.1:6379/13"
    sweep_seconds: int = 2
    deliver_seconds: int = 1
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    identity_key: str = field(default_factory=lambda: _fernet_key())
    prefix: str = field(default_factory=lambda: f"topology-{secrets.token_hex(4)}")

    def instance(self, name: str) -> Path:
        """The instance folder of one machine (FEEDBACK_INSTANCE_PATH), with its config.py."""
        folder = self.work / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.py").write_text(
            "# Written by bench/topology_procs.py: every machine of the deployment shares the\n"
            "# rate-limit counters in Redis under one prefix; the limits are the defaults.\n"
            f"RATELIMIT_KEY_PREFIX = {self.prefix!r}\n"
        )
        return folder

    def env(self, instance: Path, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(FOREIGN) and k not in FOREIGN_NAMES
        }
        env.update(
            FEEDBACK_ENV="production",
            FEEDBACK_INSTANCE_PATH=str(instance),
            FEEDBACK_SCHEDULER="off",
            SECRET_KEY=self.secret_key,
            IDENTITY_KEY=self.identity_key,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            WEB_WORKERS="2",
            TRUSTED_PROXIES="1",
            PUBLIC_URL=PUBLIC_URL,
            ATTACHMENT_STORAGE="database",
            FEEDBACK_SWEEP_SECONDS=str(self.sweep_seconds),
            FEEDBACK_DELIVER_SECONDS=str(self.deliver_seconds),
            PYTHONPATH=str(common.ROOT),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def forget_limits(self) -> int:
        """Delete this deployment's rate-limit counters (only keys under its prefix)."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter(match=f"*{self.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            return len(keys)
        finally:
            client.close()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def check(deployment: Deployment, instance: Path) -> subprocess.Popen[bytes]:
    """``flask --app feedback check`` for one machine, as ExecStartPre runs it (started,
    not awaited: the caller waits for both machines' checks at once)."""
    log = (instance / "check.log").open("wb")
    with log:
        return subprocess.Popen(
            [str(common.BIN / "flask"), "--app", "feedback", "check"],
            cwd=common.ROOT,
            env=deployment.env(instance),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


class Process:
    """A web instance or a scheduler: its own session, its own log in its instance folder."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log: IO[bytes] = log.open("ab")
        self.proc = subprocess.Popen(
            command,
            cwd=common.ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.killed_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, *, group: bool = False) -> None:
        """SIGKILL, as a machine's crash: of this process, or (``group``) of it and every
        process it started (gunicorn's master and workers at once)."""
        if self.proc.poll() is not None:
            return  # gone already (its pid may be another process's by now)
        self.killed_at = time.monotonic()
        if group:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to its process group, then SIGKILL to what is left of the group."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def web(deployment: Deployment, name: str, port: int) -> Process:
    """gunicorn as deploy/feedback-web.service runs it (its config, two sync workers,
    the app preloaded in the master), bound to its own loopback port."""
    instance = deployment.instance(name)
    return Process(
        name,
        [str(common.BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "--preload", "wsgi:app"],
        deployment.env(instance, WEB_BIND=f"127.0.0.1:{port}"),
        instance / "gunicorn.log",
    )


def scheduler(deployment: Deployment, name: str) -> Process:
    """``flask --app feedback scheduler`` as deploy/feedback-scheduler.service runs it; its
    database sessions carry ``application_name`` = its name (to see its advisory lock)."""
    instance = deployment.instance(name)
    url = deployment.database_url
    url += ("&" if "?" in url else "?") + f"application_name={name}"
    return Process(
        name,
        [str(common.BIN / "flask"), "--app", "feedback", "scheduler"],
        deployment.env(instance, DATABASE_URL=url),
        instance / "scheduler.log",
    )


# --- HTTP as nginx passes it on ---------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str]


def call(
    port: int,
    method: str,
    path: str,
    *,
    address: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    """One request on a new connection; the client's ``address`` and https are passed in
    the headers nginx sets. Raises OSError (http.client's errors included) when the
    connection fails or dies."""
    sent = {
        "X-Forwarded-For": address,
        "X-Forwarded-Proto": "https",
        "User-Agent": "topology-bench",
        **(headers or {}),
    }
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            data = resp.read()
        except http.client.HTTPException as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        got = {}
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                got[key.strip()] = val.strip()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, got)
    finally:
        conn.close()


def multipart(field_name: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = "topology" + secrets.token_hex(12)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def wait_ready(process: Process, port: int, timeout: float) -> None:
    try:
        common.wait_listening(port, process.proc, timeout=timeout)
    except RuntimeError as exc:
        raise RuntimeError(f"{process.name}: {exc}\n{process.text()[-3000:]}") from None
