"""The floor: the least a Flask endpoint can do for one submission on the same database.

``POST /floor`` parses the JSON body and inserts one row into ``bench_floor`` in its own
transaction (SQLAlchemy Core, one pooled engine per worker, the same SQLite settings as the
app: WAL, busy_timeout, synchronous=NORMAL, BEGIN IMMEDIATE), then answers 201 with the id.
No validation, routing, deadlines, events or outbox: what the real intake costs above this
is the price of its work. Served by gunicorn exactly like wsgi.py:
``gunicorn -w 2 bench.floor_app:app`` with ``DATABASE_URL`` set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, create_engine, insert

from feedback.config import normalise_database_url
from feedback.database import install_engine_listeners

metadata = MetaData()
floor = Table(
    "bench_floor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

install_engine_listeners()  # the app's own SQLite pragmas and BEGIN IMMEDIATE
app = Flask(__name__)
_engine = None


def engine():  # type: ignore[no-untyped-def]
    """One pool per worker process, made on its first request (after the fork)."""
    global _engine
    if _engine is None:
        _engine = create_engine(
            normalise_database_url(os.environ["DATABASE_URL"]), pool_pre_ping=True
        )
    return _engine


@app.post("/floor")
def submit():  # type: ignore[no-untyped-def]
    data = request.get_json()
    with engine().begin() as conn:
        new_id = conn.execute(
            insert(floor).values(
                subject=data["subject"], body=data["body"], created_at=datetime.now(UTC)
            )
        ).inserted_primary_key[0]
    return jsonify(id=new_id), 201
