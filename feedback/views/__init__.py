"""Blueprints by audience. Each view parses, loads, checks, calls one service, responds."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import (
        admin,
        api,
        auth,
        boxes,
        desk,
        errors,
        exports,
        files,
        follow,
        hotline,
        imports,
        letters,
        open311,
        oversight,
        public,
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
        search,
        hotline,
        boxes,
        imports,
        files,
        api,
        admin,
        oversight,
        reports,
        letters,
        exports,
        transparency,
        open311,
    ):
        app.register_blueprint(module.bp)
    errors.register(app)
