"""Configuration from environment variables, then an optional ``instance/config.py``.

Only the names DESIGN.md lists are read from the environment; everything else has a safe
default here. ``validate`` refuses to start a production app without a real secret key.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

DEV_SECRET = "dev-only-not-secret"

# Environment names that are read as they are (strings), when set.
_PASSTHROUGH = (
    "SECRET_KEY",
    "MAIL_SERVER",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER",
    "FEEDBACK_SCHEDULER",
    "FEEDBACK_ENV",
    "FEEDBACK_REFERENCE_FILE",
    "IDENTITY_KEY",
    "PUBLIC_URL",
    "SMS_GATEWAY_URL",
    "SMS_GATEWAY_TOKEN",
    "ZALO_ZNS_URL",
    "ZALO_ACCESS_TOKEN",
    "ATTACHMENT_STORAGE",
)


def defaults(instance_path: str) -> dict[str, Any]:
    """Safe defaults; DATABASE_URL falls back to the SQLite file under instance/."""
    sqlite_path = Path(instance_path) / "feedback.sqlite"
    return {
        "FEEDBACK_ENV": "production",
        "SECRET_KEY": DEV_SECRET,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{sqlite_path}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Waiting on locks (feedback.database): SQLite's busy timeout for every connection;
        # PostgreSQL's lock and statement timeouts for the transactions of web requests,
        # so a long lock is answered with 503 + Retry-After before a worker is killed.
        "DATABASE_BUSY_TIMEOUT_MS": 5000,
        "DATABASE_LOCK_TIMEOUT_MS": 5000,
        "DATABASE_STATEMENT_TIMEOUT_MS": 30000,
        # Five attachments of 10 MiB each plus the form itself.
        "ATTACHMENT_MAX_COUNT": 5,
        "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
        # What one case may hold in all, whatever the channel and however many requests.
        "ATTACHMENT_CASE_MAX_COUNT": 20,
        "ATTACHMENT_CASE_MAX_BYTES": 100 * 1024 * 1024,
        # What citizens at one address may send in a day (web form, follow-up, API); only
        # when rate limits are on, in the limiter's storage (Redis with several workers).
        "ATTACHMENT_DAILY_MAX_COUNT": 50,
        "ATTACHMENT_DAILY_MAX_BYTES": 200 * 1024 * 1024,
        "MAX_CONTENT_LENGTH": 52 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": True,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "WTF_CSRF_TIME_LIMIT": 4 * 3600,
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        "FEEDBACK_LANGUAGES": ("vi", "en"),
        "FEEDBACK_SCHEDULER": "on",
        "FEEDBACK_SWEEP_SECONDS": 60,
        "FEEDBACK_DELIVER_SECONDS": 30,
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_DEFAULT_SENDER": "no-reply@hagiang.invalid",
        # Where citizens reach the service: messages link to PUBLIC_URL + /tra-cuu.
        "PUBLIC_URL": "http://localhost:5000",
        # SMS through an HTTP gateway; unset: written to instance/sms.log. Unaccented by
        # default: Vietnamese with diacritics costs 70-character segments instead of 160,
        # and brand-name gateways often refuse it.
        "SMS_GATEWAY_URL": None,
        "SMS_GATEWAY_TOKEN": None,
        "SMS_UNACCENTED": True,
        # Zalo ZNS: a message kind is sent by Zalo only when it has an approved template
        # here ({"receipt": "123456", ...}); without an access token, to instance/zalo.log.
        "ZALO_ZNS_URL": "https://business.openapi.zalo.me/message/template",
        "ZALO_ACCESS_TOKEN": None,
        "ZALO_TEMPLATE_IDS": {},
        # Seconds to wait for the SMS gateway or Zalo before trying again later.
        "NOTIFY_HTTP_TIMEOUT": 10,
        "UPLOAD_FOLDER": str(Path(instance_path) / "uploads"),
        # Where attachments' bytes live: "disk" (UPLOAD_FOLDER, one machine) or "database"
        # (the attachment_blobs table: every web machine serves what any received).
        "ATTACHMENT_STORAGE": "disk",
        # Files chosen on the public form, kept while it is shown again (a check, a
        # refusal): services.intake.pending. Removed after this many hours, or once sent.
        "PENDING_UPLOAD_FOLDER": str(Path(instance_path) / "pending-uploads"),
        "PENDING_UPLOAD_HOURS": 6,
        # Flask-Limiter. Memory storage counts per process: with several workers set
        # REDIS_URL so every worker shares the counters. RATELIMIT_ENABLED defaults to on,
        # and to off under TESTING (security.init_app), where tests that need it turn it on.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_KEY_PREFIX": "feedback",
        "RATELIMIT_STRATEGY": "fixed-window",
        "RATELIMIT_HEADERS_ENABLED": False,
        # Limits, per client address unless said otherwise (the API: per token, else address).
        "RATELIMIT_SUBMIT": "10/minute;100/day",
        # Every POST of the public form (checks and refused forms too, which cost no
        # submission above): bounded so the similar-case search and file reading are.
        "RATELIMIT_SUBMIT_ATTEMPTS": "60/minute;600/day",
        "RATELIMIT_LOOKUP": "20/minute",
        # "Lost my key": each request may send a message, so fewer than look-ups, per
        # address; and at most so many new keys a day for one case (counted in the audit
        # log, so only requests that matched count: a stranger cannot use up the budget).
        "RATELIMIT_KEY_REISSUE": "5/hour;20/day",
        "KEY_REISSUE_PER_CASE_DAY": 3,
        "RATELIMIT_LOGIN": "10/minute",
        "RATELIMIT_API": "120/minute",
        # Login throttling per user name, held in the database so it holds across workers.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
        "LOGIN_LOCKOUT": timedelta(minutes=15),
        # Reverse-proxy hops in front of the app whose X-Forwarded-For (and -Proto) is
        # believed. 0: the peer's own address is the client's (nothing is believed).
        "TRUSTED_PROXIES": 0,
        # API tokens stop working this many days after they are issued (a leaked token
        # must not work forever); `users token` issues a new one.
        "API_TOKEN_TTL_DAYS": 90,
        # Gunicorn workers (deploy/gunicorn.conf.py reads the same variable); `flask check`
        # requires REDIS_URL when there is more than one, as memory limits are per process.
        "WEB_WORKERS": 1,
        # Staff search and the API's case list count their matches exactly up to here;
        # past it they say "more than" (services.oversight.search.total_cap).
        "SEARCH_TOTAL_CAP": 10_000,
    }


ATTACHMENT_QUOTAS = (
    "ATTACHMENT_CASE_MAX_COUNT",
    "ATTACHMENT_CASE_MAX_BYTES",
    "ATTACHMENT_DAILY_MAX_COUNT",
    "ATTACHMENT_DAILY_MAX_BYTES",
)


def from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    cfg: dict[str, Any] = {k: environ[k] for k in _PASSTHROUGH if environ.get(k)}
    if environ.get("DATABASE_URL"):
        cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    for name in (
        "FEEDBACK_SWEEP_SECONDS",
        "FEEDBACK_DELIVER_SECONDS",
        "DATABASE_BUSY_TIMEOUT_MS",
        "DATABASE_LOCK_TIMEOUT_MS",
        "DATABASE_STATEMENT_TIMEOUT_MS",
        "API_TOKEN_TTL_DAYS",
        "WEB_WORKERS",
    ):
        if environ.get(name):
            cfg[name] = int(environ[name])
    if environ.get("REDIS_URL"):
        cfg["RATELIMIT_STORAGE_URI"] = environ["REDIS_URL"]
    if environ.get("RATELIMIT_ENABLED"):
        cfg["RATELIMIT_ENABLED"] = environ["RATELIMIT_ENABLED"].lower() in {
            "1",
            "true",
            "on",
            "yes",
        }
    if environ.get("TRUSTED_PROXIES"):
        cfg["TRUSTED_PROXIES"] = trusted_proxies(environ["TRUSTED_PROXIES"])
    for name in ATTACHMENT_QUOTAS:
        if environ.get(name):
            cfg[name] = int(environ[name])
    if environ.get("SMS_UNACCENTED"):
        cfg["SMS_UNACCENTED"] = environ["SMS_UNACCENTED"].lower() in {"1", "true", "on", "yes"}
    if environ.get("ZALO_TEMPLATE_IDS"):
        cfg["ZALO_TEMPLATE_IDS"] = template_ids(environ["ZALO_TEMPLATE_IDS"])
    if environ.get("NOTIFY_HTTP_TIMEOUT"):
        cfg["NOTIFY_HTTP_TIMEOUT"] = int(environ["NOTIFY_HTTP_TIMEOUT"])
    if environ.get("MAIL_PORT"):
        cfg["MAIL_PORT"] = int(environ["MAIL_PORT"])
    if environ.get("MAIL_USE_TLS"):
        cfg["MAIL_USE_TLS"] = environ["MAIL_USE_TLS"].lower() in {"1", "true", "on", "yes"}
    return cfg


def from_environment_lenient(
    environ: os._Environ[str] | dict[str, str],
) -> tuple[dict[str, Any], list[str]]:
    """Like :func:`from_environment`, but a variable that cannot be read is left out and
    named in the returned problems instead of stopping: ``flask check`` reports every
    problem of a configuration at once rather than the first one's traceback."""
    env = dict(environ)
    problems: list[str] = []
    for name in list(env):
        try:
            from_environment({name: env[name]})
        except (RuntimeError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            del env[name]
    return from_environment(env), problems


def template_ids(value: str) -> dict[str, str]:
    """ZALO_TEMPLATE_IDS as "receipt=123456,answered=234567": message kind → the id of its
    approved ZNS template. A malformed entry must not start the app (messages of that kind
    would silently never go by Zalo)."""
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        kind, sep, template = (x.strip() for x in part.partition("="))
        if not sep or not kind or not template:
            raise RuntimeError(
                f"ZALO_TEMPLATE_IDS must read kind=template_id,kind=template_id, not {value!r}."
            )
        found[kind] = template
    return found


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` and ``postgresql://`` spellings; we drive psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def trusted_proxies(value: object) -> int:
    """The number of proxy hops to believe, refused unless a whole number from 0 to 5:
    a wrong count either lets clients forge their address (too many) or makes every
    client share the proxy's rate limits (too few), so a typo must not start the app."""
    try:
        hops = int(str(value).strip())
    except ValueError:
        hops = -1
    if not 0 <= hops <= 5:
        raise RuntimeError(
            f"TRUSTED_PROXIES must be the number of reverse proxies in front of the app "
            f"(0 to 5, usually 1 behind nginx), not {value!r}."
        )
    return hops


DEMO_ENVIRONMENTS = frozenset({"development", "test"})


def demo_allowed(config: dict[str, Any] | Any) -> bool:
    """Demo data creates accounts for every role with a password the README publishes, so
    only an environment that says it is development or test may load it. Unlike
    ``is_relaxed``, TESTING alone does not count: FEEDBACK_ENV must say so."""
    return config.get("FEEDBACK_ENV") in DEMO_ENVIRONMENTS


def is_relaxed(config: dict[str, Any] | Any) -> bool:
    """Development and tests may run with the built-in secret and plain-HTTP cookies."""
    return bool(config.get("TESTING")) or config.get("FEEDBACK_ENV") in {"development", "test"}


def validate(config: Any) -> None:
    if is_relaxed(config):
        return
    secret = config.get("SECRET_KEY") or ""
    if secret == DEV_SECRET or len(secret) < 32:
        raise RuntimeError(
            "SECRET_KEY must be set to a random value of at least 32 characters outside "
            "development (FEEDBACK_ENV=development) and tests. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    _check_identity_key(config.get("IDENTITY_KEY"))


def _check_identity_key(key: str | None) -> None:
    """Denouncers' identities are sealed with this key; a deployment without a valid one
    must not start (it could neither seal nor later open them)."""
    from cryptography.fernet import Fernet

    try:
        Fernet(key or "")
    except (ValueError, TypeError):
        raise RuntimeError(
            "IDENTITY_KEY must be set to a Fernet key (it seals denouncers' identities; keep "
            "it safe and never change it). Generate one with: python -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None
