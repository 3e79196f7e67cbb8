"""The scheduler: the SLA sweep, outbox delivery, the morning digest, the drafts of period
reports falling due, the dashboard's rollups, housekeeping.

APScheduler 3 has no coordination between processes, so jobs are kept in memory, one
trigger each, with ``coalesce=True, max_instances=1, misfire_grace_time=None`` (the default
grace of one second silently drops runs missed while the process was busy). Every job is
idempotent in the database, so two schedulers double nothing: see services.sla.sweep and
services.sla.delivery. In development the scheduler runs inside the web process
(FEEDBACK_SCHEDULER=on, started on the first request or by ``flask up``); in production
it is its own process, ``flask --app feedback scheduler``, with FEEDBACK_SCHEDULER=off for
the web workers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from .extensions import db

log = logging.getLogger("feedback.scheduler")
_started: BaseScheduler | None = None
_lock = threading.Lock()

SWEEP_SECONDS = 60
DELIVER_SECONDS = 30
FIGURES_SECONDS = 60
IDEMPOTENCY_RETENTION = timedelta(days=2)


def _sweep(now: datetime) -> Any:
    from .services.sla.sweep import sweep

    return sweep(now)


def _deliver(now: datetime) -> Any:
    from .services.sla.delivery import deliver

    return deliver(now)


def _digest(now: datetime) -> Any:
    from .services.sla.digest import send_digests

    return send_digests(now)


def _reports(now: datetime) -> Any:
    from .services.reports.output import draft_due_reports

    return draft_due_reports(now)


def _figures(now: datetime) -> Any:
    from .services.oversight.figures import rebuild_dirty

    months = rebuild_dirty(now)
    return {"figure_months_rebuilt": months} if months else None


def _housekeeping(now: datetime) -> Any:
    from .models import IdempotencyKey

    gone = (
        db.session.query(IdempotencyKey)
        .filter(IdempotencyKey.created_at < now - IDEMPOTENCY_RETENTION)
        .delete(synchronize_session=False)
    )
    db.session.commit()
    from .services.intake import pending

    # Files kept for a public form that was never sent (services.intake.pending).
    return {"idempotency_keys_deleted": gone, "pending_uploads_deleted": pending.sweep(now)}


def run_job(app: Flask, job: Callable[[datetime], Any], name: str) -> Any:
    """One run in a fresh app context; the session is removed afterwards, whatever happens."""
    with app.app_context():
        try:
            result = job(datetime.now(UTC))
            if result:
                log.info("%s: %s", name, result)
            return result
        except Exception:  # a failing run must not kill the scheduler; the next one retries
            db.session.rollback()
            log.exception("job %s failed", name)
            return None
        finally:
            db.session.remove()


def configure(app: Flask, scheduler: BaseScheduler) -> BaseScheduler:
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    now = datetime.now(UTC)
    sweep_s = int(app.config.get("FEEDBACK_SWEEP_SECONDS", SWEEP_SECONDS))
    deliver_s = int(app.config.get("FEEDBACK_DELIVER_SECONDS", DELIVER_SECONDS))
    figures_s = int(app.config.get("FEEDBACK_FIGURES_SECONDS", FIGURES_SECONDS))
    jobs: list[tuple[str, Callable[[datetime], Any], dict[str, Any]]] = [
        # Run at start too: the first sweep after downtime catches up on everything missed.
        ("sweep", _sweep, {"trigger": "interval", "seconds": sweep_s, "next_run_time": now}),
        ("deliver", _deliver, {"trigger": "interval", "seconds": deliver_s, "next_run_time": now}),
        # The dashboard's monthly rollups that changes have marked dirty.
        ("figures", _figures, {"trigger": "interval", "seconds": figures_s}),
        (
            "digest",
            _digest,
            {"trigger": "cron", "hour": 7, "minute": 30, "timezone": "Asia/Ho_Chi_Minh"},
        ),
        (
            "reports",
            _reports,
            {"trigger": "cron", "hour": 7, "minute": 0, "timezone": "Asia/Ho_Chi_Minh"},
        ),
        (
            "housekeeping",
            _housekeeping,
            {"trigger": "cron", "hour": 2, "minute": 0, "timezone": "Asia/Ho_Chi_Minh"},
        ),
    ]
    for name, fn, trigger in jobs:
        scheduler.add_job(run_job, args=(app, fn, name), id=name, name=name, **trigger, **common)
    return scheduler


def start_in_process(app: Flask) -> BaseScheduler | None:
    """Start the background scheduler once per process (development)."""
    global _started
    if app.config.get("FEEDBACK_SCHEDULER") != "on" or app.testing:
        return None
    with _lock:
        if _started is None:
            _started = configure(app, BackgroundScheduler(daemon=True, timezone="UTC"))
            _started.start()
            log.info("scheduler started inside the web process")
    return _started


def run_forever(app: Flask) -> None:
    """``flask scheduler``: the production process."""
    scheduler = configure(app, BlockingScheduler(timezone="UTC"))
    log.info("scheduler process started")
    scheduler.start()


def init_app(app: Flask) -> None:
    """Under the development server, the first request starts the scheduler."""

    @app.before_request
    def _ensure_scheduler() -> None:
        if _started is None:
            start_in_process(app)
