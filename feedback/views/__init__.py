"""Blueprints by audience. Each view parses, loads, checks, calls one service, responds."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from ..api import open311 as open311_routes
    from ..api import routes as api_routes
    from . import (
        admin,
        auth,
        boxes,
        desk,
        errors,
        exports,
        files,
        follow,
        hotline,
        imports,
        ladder,
        letters,
        oversight,
        policies,
        progress,
        public,
        reference,
        reports,
        search,
        transparency,
        workflow,
    )

    for module in (
        public,
        follow,
        auth,
        desk,
        workflow,
        progress,
        search,
        hotline,
        boxes,
        imports,
        files,
        api_routes,
        admin,
        policies,
        ladder,
        reference,
        oversight,
        reports,
        letters,
        exports,
        transparency,
        open311_routes,
    ):
        app.register_blueprint(module.bp)
    errors.register(app)
