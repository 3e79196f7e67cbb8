"""A stand-in for the SMS gateway and for Zalo's ZNS endpoint: a real HTTP server on
127.0.0.1 (a free port) that records every request (path, headers, JSON body) and answers
from a script of replies, then with its default reply. ``stop()`` and ``start()`` on the
same port play a gateway that goes down (connection refused) and comes back."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smtp_helpers import free_port


@dataclass
class Request:
    """One request as received; header names lower-cased (HTTP ignores their case)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"status": "queued"})
    delay: float = 0.0  # seconds to wait before answering (a slow gateway)


class Gateway:
    def __init__(self, default: Reply | None = None) -> None:
        self.port = free_port()
        self.default = default or Reply()
        self.script: list[Reply] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    def reply(self, *replies: Reply) -> None:
        with self.lock:
            self.script.extend(replies)

    def start(self) -> Gateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with gateway.lock:
                    gateway.requests.append(
                        Request(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw or b"{}"),
                        )
                    )
                    reply = gateway.script.pop(0) if gateway.script else gateway.default
                if reply.delay:
                    time.sleep(reply.delay)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self) -> list[Request]:
        with self.lock:
            return list(self.requests)
