"""Engine-level settings and transaction helpers shared by every unit of work.

Waiting on locks, and when to give up:

- SQLite: one writer at a time. A unit of work (and every transaction outside a web
  request's GET/HEAD/OPTIONS: commands, the scheduler, POSTs) begins ``BEGIN IMMEDIATE``,
  taking the write lock up front and waiting for it up to ``DATABASE_BUSY_TIMEOUT_MS``; a
  read-only request begins a plain (deferred) transaction, which in WAL mode reads a
  snapshot without the write lock, so a long writer holds back writers only, never
  readers.
- PostgreSQL: the transactions of web requests get ``lock_timeout`` and
  ``statement_timeout`` (``DATABASE_LOCK_TIMEOUT_MS``, ``DATABASE_STATEMENT_TIMEOUT_MS``),
  so a request behind an ``ACCESS EXCLUSIVE`` lock gives up and answers 503 before the
  worker is killed by gunicorn's timeout. Commands and the scheduler's jobs (a period
  report, a rebuild of a year of figures) run outside requests and keep the server's
  defaults: they may take longer, and they set their own limits where they need one.

Either way the error handlers (feedback.views.errors, and Open311's in its own format) ask
``is_busy`` and answer 503 with ``Retry-After``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .extensions import db

# Set inside unit_of_work: the transaction it begins is going to write.
_writing: ContextVar[bool] = ContextVar("feedback_writing", default=False)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFERRED = "feedback_deferred"  # Connection.info key: this transaction began deferred


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Take transaction control away from the sqlite3 module so BEGIN IMMEDIATE is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # busy_timeout: sqlite3.connect's ``timeout`` (configure() passes the configured one;
    # 5 s by default, Alembic's engine included).
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _reads_only() -> bool:
    """A transaction of a GET/HEAD/OPTIONS request that is not a unit of work: it reads."""
    return not _writing.get() and has_request_context() and request.method in _READ_METHODS


def _sqlite_begin(conn: Any) -> None:
    if conn.dialect.name != "sqlite":
        return
    # A deferred read-then-write transaction fails at once with "database is locked" when
    # another writer got in between; IMMEDIATE takes the write lock up front and waits.
    # Reads need no lock at all in WAL mode: taking the write lock for them would make a
    # page wait for (and fail behind) any long writer.
    deferred = _reads_only()
    conn.info[_DEFERRED] = deferred
    conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _pg_request_timeouts(conn: Any) -> None:
    if conn.dialect.name != "postgresql" or not has_request_context():
        return
    config = current_app.config
    lock_ms = int(config.get("DATABASE_LOCK_TIMEOUT_MS") or 0)
    statement_ms = int(config.get("DATABASE_STATEMENT_TIMEOUT_MS") or 0)
    # Transaction-local (set_config(..., true)): the pooled connection goes back to the
    # server's defaults at commit or rollback, so a command or job that later borrows it
    # in the same process is not cut short. One round trip, integers only.
    conn.exec_driver_sql(
        f"SELECT set_config('lock_timeout', '{lock_ms}', true), "
        f"set_config('statement_timeout', '{statement_ms}', true)"
    )


# A server that vanishes without closing the socket (a network partition, a host that
# died) would leave a job blocked on a dead connection for the kernel's two hours; with
# keepalives the connection is given up after about a minute and the next run goes on.
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                 "keepalives_count": 3}  # fmt: skip


def _pg_keepalives(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    if dialect.name == "postgresql":
        for key, value in PG_KEEPALIVES.items():
            cparams.setdefault(key, value)


def _sqlite_private_file(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    """Create a new SQLite file readable by its owner only (0600) before SQLite opens it:
    it holds citizens' names, phones and addresses. SQLite gives the -wal and -shm files
    the database file's permissions, so they are private too. Existing files are left as
    the operator set them."""
    if dialect.name != "sqlite" or cparams.get("uri") or not cargs:
        return
    name = str(cargs[0])
    if not name or name == ":memory:":
        return
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError:
        return  # a missing folder and the like: SQLite's own error tells the operator


@functools.cache
def install_engine_listeners() -> None:
    """Class-level listeners: they apply to every engine, including Alembic's. Once per
    process (``functools.cache``), however many apps the process creates."""
    event.listen(Engine, "connect", _sqlite_connect)
    event.listen(Engine, "begin", _sqlite_begin)
    event.listen(Engine, "begin", _pg_request_timeouts)
    event.listen(Engine, "do_connect", _pg_keepalives)
    event.listen(Engine, "do_connect", _sqlite_private_file)


# PostgreSQL: lock_timeout (55P03), statement_timeout (57014), serialization failure
# (40001), deadlock (40P01): the request waited too long or lost a race; it may be retried.
BUSY_STATES = frozenset({"55P03", "57014", "40001", "40P01"})
RETRY_AFTER_SECONDS = 2


def is_busy(exc: OperationalError) -> bool:
    """A lock or a timeout (SQLite's "database is locked", the PostgreSQL states above):
    answered 503 with Retry-After, never 500. Anything else is a real failure."""
    reason = str(exc.orig).lower()
    if "locked" in reason or "could not serialize" in reason or "deadlock" in reason:
        return True
    return getattr(exc.orig, "sqlstate", None) in BUSY_STATES


def insert_once(model: Any, keys: list[str], **values: Any) -> int | None:
    """INSERT one row unless the unique ``keys`` already hold it (ON CONFLICT DO NOTHING,
    both engines); the new row's id, or None when it was there. Whoever gets the id, and
    only they, does what follows from the row: two schedulers never both do it."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return db.session.execute(
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(model.id)
    ).scalar_one_or_none()


def configure(app: Flask) -> None:
    """Engine options from configuration: SQLite's busy timeout on every connection."""
    if not str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    busy_ms = int(app.config.get("DATABASE_BUSY_TIMEOUT_MS") or 5000)
    connect_args.setdefault("timeout", busy_ms / 1000)
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _end_read_snapshot(session: Any) -> None:
    """A unit of work entered while a read-only request's deferred SQLite transaction is
    open would write from a stale snapshot (and fail at once with "database is locked"
    when another writer committed meanwhile): end that transaction first, when it holds
    nothing to write, so the unit of work begins its own with BEGIN IMMEDIATE."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if session.connection().info.get(_DEFERRED):
        session.commit()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit on success, roll back on any error; the caller never half-writes."""
    session = db.session
    token = _writing.set(True)
    try:
        _end_read_snapshot(session())
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _writing.reset(token)
