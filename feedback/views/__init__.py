"""Blueprints by audience. Each view parses, loads, checks, calls one service, responds."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import auth, desk, errors, public

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(desk.bp)
    errors.register(app)
