"""``flask --app feedback check``: is this configuration fit to start in production?

Each check returns findings in Vietnamese and English; an *error* means the service
must not start (the command exits 1), a *warning* is something to do soon (the coming
year's calendar not yet decided). The command is meant to run right before the web and
the scheduler start (``ExecStartPre`` in deploy/feedback-web.service), so a bad key, a
database one migration behind, an unreachable Redis shared by several workers or a
mail/SMS gateway nobody can reach is found before a citizen's message is lost to it.

Why each check:

- **Keys**: SECRET_KEY signs sessions and CSRF tokens; IDENTITY_KEY seals denouncers'
  identities and access keys: a wrong one can neither seal nor open them.
- **Migrations**: a database behind the code fails at the first request touching a new
  column; ahead of the code (a rollback) it may violate what the code assumes.
- **Redis**: Flask-Limiter's memory storage counts per process, so with more than one
  worker (``WEB_WORKERS``, which deploy/gunicorn.conf.py also reads) the limits are
  multiplied unless ``REDIS_URL`` points to a Redis every worker reaches.
- **Gateways**: a TCP connection with a short timeout to the SMTP server and to the SMS
  and Zalo gateways when configured; nothing is sent.
- **Proxies**: TRUSTED_PROXIES is the number of proxies in front (1 behind the nginx of
  deploy/); 0 behind a proxy makes every citizen share the proxy's rate limits.
- **Calendar**: deadlines of the coming year rest on package rules until the
  government's decision is entered (:func:`calendar_readiness`): a warning.
- **Folders**: the instance folder, uploads and pending uploads must be writable.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import DEV_SECRET, is_relaxed

ERROR = "error"
WARNING = "warning"
OK = "ok"

TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Finding:
    """One result: ``level`` is error, warning or ok; ``vi`` and ``en`` say the same."""

    level: str
    topic: str
    vi: str
    en: str


def _keys(config: Mapping[str, Any]) -> list[Finding]:
    from cryptography.fernet import Fernet

    found: list[Finding] = []
    secret = config.get("SECRET_KEY") or ""
    if secret == DEV_SECRET or len(secret) < 32:
        found.append(
            Finding(
                ERROR,
                "SECRET_KEY",
                "SECRET_KEY chưa đặt hoặc quá ngắn (cần chuỗi ngẫu nhiên từ 32 ký tự). Tạo bằng: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                "SECRET_KEY is unset or too short (a random string of 32 characters or more).",
            )
        )
    else:
        found.append(Finding(OK, "SECRET_KEY", "SECRET_KEY hợp lệ.", "SECRET_KEY is set."))
    try:
        Fernet(config.get("IDENTITY_KEY") or "")
    except (ValueError, TypeError):
        found.append(
            Finding(
                ERROR,
                "IDENTITY_KEY",
                "IDENTITY_KEY chưa đặt hoặc không phải khóa Fernet hợp lệ (khóa niêm phong danh "
                "tính người tố cáo và mã tra cứu; giữ kỹ, không bao giờ đổi).",
                "IDENTITY_KEY is unset or not a valid Fernet key (it seals denouncers' "
                "identities and access keys; keep it safe, never change it).",
            )
        )
    else:
        found.append(Finding(OK, "IDENTITY_KEY", "IDENTITY_KEY hợp lệ.", "IDENTITY_KEY is valid."))
    return found


def _environment(config: Mapping[str, Any]) -> list[Finding]:
    found = [
        Finding(
            ERROR,
            "environment",
            f"Biến môi trường không hợp lệ: {problem}",
            f"Invalid environment variable: {problem}",
        )
        for problem in config.get("FEEDBACK_STARTUP_PROBLEMS") or ()
    ]
    if is_relaxed(config):
        found.append(
            Finding(
                ERROR,
                "FEEDBACK_ENV",
                f"FEEDBACK_ENV={config.get('FEEDBACK_ENV')!s}: chế độ phát triển/kiểm thử (cookie "
                "qua HTTP thường, cho phép dữ liệu mẫu). Vận hành thật: FEEDBACK_ENV=production.",
                f"FEEDBACK_ENV={config.get('FEEDBACK_ENV')!s} is a development/test mode "
                "(cookies over plain HTTP, demo data allowed); use FEEDBACK_ENV=production.",
            )
        )
    return found


def _migrations() -> list[Finding]:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from ..extensions import db

    folder = Path(__file__).resolve().parent.parent / "migrations"
    alembic_cfg = Config()
    alembic_cfg.set_main_option("script_location", str(folder))
    heads = set(ScriptDirectory.from_config(alembic_cfg).get_heads())
    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # any driver error means "unreachable"
        reason = str(exc).splitlines()[0][:200]
        return [
            Finding(
                ERROR,
                "database",
                f"Không kết nối được cơ sở dữ liệu (DATABASE_URL): {reason}",
                f"Cannot connect to the database (DATABASE_URL): {reason}",
            )
        ]
    if current != heads:
        have = ", ".join(sorted(current))
        want = ", ".join(sorted(heads))
        return [
            Finding(
                ERROR,
                "migrations",
                f"Cơ sở dữ liệu chưa ở phiên bản mới nhất (đang {have or 'trống'}, cần {want}). "
                "Chạy: flask --app feedback db upgrade",
                f"The database is not at the latest migration (at {have or 'none'}, expected "
                f"{want}). "
                "Run: flask --app feedback db upgrade",
            )
        ]
    return [Finding(OK, "migrations", "Cơ sở dữ liệu đã cập nhật.", "Migrations are current.")]


def _reachable(host: str, port: int) -> str | None:
    """None when a TCP connection opens within the timeout, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def _workers(config: Mapping[str, Any]) -> int:
    try:
        return max(1, int(config.get("WEB_WORKERS") or 1))
    except (TypeError, ValueError):
        return 1


def _redis(config: Mapping[str, Any]) -> list[Finding]:
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    workers = _workers(config)
    if storage.startswith("memory://"):
        if workers > 1 and config.get("RATELIMIT_ENABLED", True):
            return [
                Finding(
                    ERROR,
                    "REDIS_URL",
                    f"WEB_WORKERS={workers} nhưng chưa đặt REDIS_URL: mỗi tiến trình sẽ đếm giới "
                    "hạn gửi riêng (giới hạn bị nhân lên). Đặt REDIS_URL=redis://…",
                    f"WEB_WORKERS={workers} but REDIS_URL is unset: each worker would count "
                    "rate limits on its own (limits multiplied). Set REDIS_URL=redis://…",
                )
            ]
        return [Finding(OK, "REDIS_URL", "Một tiến trình web: không cần Redis.", "One worker.")]
    parts = urlsplit(storage)
    host, port = parts.hostname or "localhost", parts.port or 6379
    try:
        import redis

        redis.Redis.from_url(
            storage, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        ).ping()
    except Exception as exc:  # any client error means "not usable"
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return [
            Finding(
                ERROR,
                "REDIS_URL",
                f"Không kết nối được Redis ở {host}:{port} (REDIS_URL): {reason}",
                f"Redis at {host}:{port} (REDIS_URL) is not reachable: {reason}",
            )
        ]
    return [Finding(OK, "REDIS_URL", f"Redis {host}:{port} trả lời.", "Redis answers.")]


def _gateways(config: Mapping[str, Any]) -> list[Finding]:
    targets: list[tuple[str, str, int]] = []
    if config.get("MAIL_SERVER"):
        targets.append(("MAIL_SERVER", str(config["MAIL_SERVER"]), int(config["MAIL_PORT"])))
    urls = [("SMS_GATEWAY_URL", config.get("SMS_GATEWAY_URL"))]
    if config.get("ZALO_ACCESS_TOKEN"):  # Zalo is used only with a token
        urls.append(("ZALO_ZNS_URL", config.get("ZALO_ZNS_URL")))
    for name, url in urls:
        if not url:
            continue
        parts = urlsplit(str(url))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            targets.append((name, str(url), -1))
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        targets.append((name, parts.hostname, port))
    found: list[Finding] = []
    for name, host, port in targets:
        if port < 0:
            found.append(
                Finding(
                    ERROR,
                    name,
                    f"{name} không phải địa chỉ http(s) hợp lệ: {host!r}",
                    f"{name} is not a valid http(s) address: {host!r}",
                )
            )
            continue
        reason = _reachable(host, port)
        if reason is None:
            found.append(Finding(OK, name, f"{name} {host}:{port} kết nối được.", "Reachable."))
        else:
            found.append(
                Finding(
                    ERROR,
                    name,
                    f"Không kết nối được {name} ở {host}:{port} trong {TIMEOUT_SECONDS:g} giây: "
                    f"{reason}. Thư/tin nhắn sẽ nằm chờ trong hộp thư đi.",
                    f"{name} at {host}:{port} is not reachable within {TIMEOUT_SECONDS:g} s: "
                    f"{reason}. Messages would wait in the outbox.",
                )
            )
    return found


def _proxies(config: Mapping[str, Any]) -> list[Finding]:
    hops = config.get("TRUSTED_PROXIES", 0)
    if not isinstance(hops, int) or not 0 <= hops <= 5:
        return [
            Finding(
                ERROR,
                "TRUSTED_PROXIES",
                f"TRUSTED_PROXIES phải là số proxy phía trước (0 đến 5), không phải {hops!r}.",
                f"TRUSTED_PROXIES must be the number of proxies in front (0-5), not {hops!r}.",
            )
        ]
    public = str(config.get("PUBLIC_URL") or "")
    if hops == 0 and public.startswith("https://"):
        return [
            Finding(
                WARNING,
                "TRUSTED_PROXIES",
                "TRUSTED_PROXIES=0 mà PUBLIC_URL là https: nếu có nginx phía trước (như deploy/), "
                "đặt TRUSTED_PROXIES=1, nếu không mọi người dân dùng chung giới hạn của proxy.",
                "TRUSTED_PROXIES=0 with an https PUBLIC_URL: behind nginx (as in deploy/) set "
                "TRUSTED_PROXIES=1, or every citizen shares the proxy's rate limits.",
            )
        ]
    return [Finding(OK, "TRUSTED_PROXIES", f"TRUSTED_PROXIES={hops}.", f"TRUSTED_PROXIES={hops}.")]


def _calendar(now: datetime) -> list[Finding]:
    from ..domain.deadlines import local_date
    from .reference.calendar import calendar_readiness

    year = local_date(now).year + 1
    readiness = calendar_readiness(year, now)
    if readiness.remind:
        return [
            Finding(
                WARNING,
                "calendar",
                readiness.message,
                f"The government's decision on {year}'s days off is not entered yet: "
                f"{len(readiness.package_only)} days of {year} rest on package rules only "
                "(admin › calendar).",
            )
        ]
    return [Finding(OK, "calendar", f"Lịch năm {year}: không có việc cần làm.", "Calendar ok.")]


def _folders(config: Mapping[str, Any], instance_path: str) -> list[Finding]:
    found: list[Finding] = []
    for name, folder in (
        ("instance", instance_path),
        ("UPLOAD_FOLDER", config.get("UPLOAD_FOLDER")),
        ("PENDING_UPLOAD_FOLDER", config.get("PENDING_UPLOAD_FOLDER")),
    ):
        if not folder:
            continue
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc)
            found.append(
                Finding(
                    ERROR,
                    name,
                    f"Không ghi được vào thư mục {folder} ({name}): {reason}.",
                    f"Cannot write to {folder} ({name}): {reason}.",
                )
            )
    if not found:
        found.append(Finding(OK, "folders", "Các thư mục ghi được.", "Folders are writable."))
    return found


def run_checks(config: Mapping[str, Any], instance_path: str, now: datetime) -> list[Finding]:
    """Every check, in the order an operator fixes things. Needs an app context (the
    database); never writes to it."""
    steps: list[Callable[[], list[Finding]]] = [
        lambda: _environment(config),
        lambda: _keys(config),
        lambda: _proxies(config),
        lambda: _folders(config, instance_path),
        _migrations,
        lambda: _redis(config),
        lambda: _gateways(config),
    ]
    found: list[Finding] = []
    for step in steps:
        found.extend(step())
    if not any(f.topic in {"database", "migrations"} and f.level == ERROR for f in found):
        found.extend(_calendar(now))  # reads tables the migrations create
    return found
