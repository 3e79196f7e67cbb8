"""Engine-level settings and transaction helpers shared by every unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .extensions import db

_installed = False


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Take transaction control away from the sqlite3 module so BEGIN IMMEDIATE is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    if conn.dialect.name != "sqlite":
        return
    # A deferred read-then-write transaction fails at once with "database is locked" when
    # another writer got in between; IMMEDIATE takes the write lock up front and waits.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


# A server that vanishes without closing the socket (a network partition, a host that
# died) would leave a job blocked on a dead connection for the kernel's two hours; with
# keepalives the connection is given up after about a minute and the next run goes on.
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                 "keepalives_count": 3}  # fmt: skip


def _pg_keepalives(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    if dialect.name == "postgresql":
        for key, value in PG_KEEPALIVES.items():
            cparams.setdefault(key, value)


def install_engine_listeners() -> None:
    """Class-level listeners: they apply to every engine, including Alembic's."""
    global _installed
    if _installed:
        return
    event.listen(Engine, "connect", _sqlite_connect)
    event.listen(Engine, "begin", _sqlite_begin)
    event.listen(Engine, "do_connect", _pg_keepalives)
    _installed = True


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit on success, roll back on any error; the caller never half-writes."""
    session = db.session
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
