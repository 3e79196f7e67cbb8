"""The citizens of ``bench/topology.py``: submissions with an Idempotency-Key, each from its
own address, sent to the web machines and failed over like a load balancer would, files
added through the API, and the rate-limit probe."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import topology_checks as checks
from .intake import case_payload
from .topology_procs import Process, call, multipart

PNG_HEAD = b"\x89PNG\r\n\x1a\n"
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
RETRY_SECONDS = 60.0


# --- the citizens ------------------------------------------------------------------------------


@dataclass
class Web:
    name: str
    port: int
    process: Process
    down: bool = False


@dataclass
class Submission:
    index: int
    key: str
    email: str
    address: str
    body: bytes
    tries: list[tuple[str, int | str]] = field(default_factory=list)
    last_try_at: datetime | None = None  # when the last try was sent (wall clock, UTC)
    answer: dict[str, Any] | None = None
    answered_by: str | None = None
    codes: set[str] = field(default_factory=set)
    probe_refused: bool = False  # the rate-limit probe's refused request
    file: checks.Upload | None = None

    @property
    def status(self) -> int | str:
        return self.tries[-1][1] if self.tries else 0


def address_of(index: int) -> str:
    """Each citizen its own address (10.0.0.0/8), as a city's are: one address's rate
    limits are the probe's business, not the load's."""
    return f"10.{1 + index // 62500 % 250}.{index // 250 % 250}.{1 + index % 250}"


def submission(run: str, index: int, address: str | None = None) -> Submission:
    payload = case_payload(index % 64, index)
    email = f"topo.{run}.{index}@example.vn"
    payload["reporter"] = {**payload["reporter"], "email": email}  # type: ignore[dict-item]
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Submission(index, f"{run}-{index}", email, address or address_of(index), body)


class Citizens:
    """Sends submissions to the web machines, fails over like a load balancer."""

    def __init__(self, webs: list[Web], attach_every: int, file_bytes: int) -> None:
        self.webs = webs
        self.attach_every = attach_every
        self.file_bytes = file_bytes
        self.lock = threading.Lock()
        self.done = 0

    def pick(self, n: int) -> Web:
        preferred = self.webs[n % len(self.webs)]
        if not preferred.down:
            return preferred
        return next((w for w in self.webs if not w.down), preferred)

    def post(self, web: Web, s: Submission) -> int | str:
        headers = {"Content-Type": "application/json", "Idempotency-Key": s.key}
        try:
            reply = call(
                web.port, "POST", "/api/v1/cases", address=s.address, body=s.body, headers=headers
            )
        except ConnectionRefusedError:
            web.down = True  # the balancer's health check: nobody listens there any more
            return "refused"
        except OSError as exc:
            return type(exc).__name__
        if reply.status == 201:
            answer = json.loads(reply.body)
            s.codes.add(answer["code"])
            if s.answer is None:
                s.answer, s.answered_by = answer, web.name
        return reply.status

    def submit(self, s: Submission) -> None:
        deadline = time.monotonic() + RETRY_SECONDS
        n = s.index
        while True:
            web = self.pick(n)
            s.last_try_at = datetime.now(UTC)
            status = self.post(web, s)
            s.tries.append((web.name, status))
            retry = isinstance(status, str) or status in RETRY_STATUSES
            if status == 201 or not retry or time.monotonic() > deadline:
                break
            n += 1  # the other machine next
            time.sleep(min(0.05 * 2 ** min(len(s.tries), 6), 2.0))
        if s.answer is not None and s.index % self.attach_every == 0:
            self.attach(s)
        with self.lock:
            self.done += 1

    def attach(self, s: Submission) -> None:
        """One file through the API, on the machine that answered. A 503 (busy: the
        request's transaction was rolled back, as the API promises) is tried again after
        its Retry-After, up to five times; a lost connection is not (the file may be in,
        and a second try would add it twice): the outcome is recorded."""
        assert s.answer is not None
        web = next(w for w in self.webs if w.name == s.answered_by)
        data = PNG_HEAD + os.urandom(self.file_bytes - len(PNG_HEAD))
        body, content_type = multipart("file", f"anh-{s.index}.png", data, "image/png")
        upload = checks.Upload(s.answer["code"], web.name, data)
        headers = {"Content-Type": content_type, "X-Access-Key": s.answer["access_key"]}
        path = f"/api/v1/cases/{s.answer['code']}/attachments"
        for _ in range(6):
            try:
                reply = call(web.port, "POST", path, address=s.address, body=body, headers=headers)
            except OSError as exc:
                upload.status = type(exc).__name__
                break
            upload.status = reply.status
            if reply.status == 201:
                upload.attachment_id = json.loads(reply.body)["attachments"][0]["id"]
            if reply.status != 503:
                break
            upload.busy += 1
            time.sleep(float(reply.headers.get("retry-after", "2")))
        s.file = upload


def probe_limits(webs: list[Web], run: str, first: int) -> tuple[list[Submission], dict[str, Any]]:
    """A rate limit used up through web-1 holds on web-2 (Redis is the one counter)."""
    from limits import parse_many

    from feedback.config import defaults

    one, two = webs[0], webs[1]
    config = defaults(".")
    submit_limit = parse_many(config["RATELIMIT_SUBMIT"])[0].amount
    login_limit = parse_many(config["RATELIMIT_LOGIN"])[0].amount
    probes = [submission(run, first + n, "192.0.2.10") for n in range(submit_limit + 1)]
    for s in probes[:-1]:
        s.tries.append((one.name, Citizens([one], 1 << 30, 0).post(one, s)))
    last = probes[-1]
    last.tries.append((two.name, Citizens([two], 1 << 30, 0).post(two, last)))
    last.probe_refused = True
    logins: list[int] = []
    for n in range(login_limit + 1):
        web = one if n < login_limit else two
        reply = call(
            web.port,
            "POST",
            "/can-bo/dang-nhap",
            address="192.0.2.11",
            body=b"username=khong.co.ai&password=sai",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        logins.append(reply.status)
    return probes, {
        "submit_limit": submit_limit,
        "submit_statuses_web1": [s.status for s in probes[:-1]],
        "submit_status_web2_after": last.status,
        "login_limit": login_limit,
        "login_statuses_web1": logins[:-1],
        "login_status_web2_after": logins[-1],
    }
