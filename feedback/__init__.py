"""feedback: Hà Giang city's service for citizens' feedback, petitions, complaints and
denunciations. ``create_app`` only wires the parts together."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as cfg

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("FEEDBACK_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(cfg.defaults(app.instance_path))
    checking = _invoked_as_check()
    if checking:  # report every bad variable at once instead of stopping at the first
        environment, problems = cfg.from_environment_lenient(os.environ)
        app.config.from_mapping(environment)
        app.config["FEEDBACK_STARTUP_PROBLEMS"] = problems
    else:
        app.config.from_mapping(cfg.from_environment(os.environ))
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    if cfg.is_relaxed(app.config):
        app.config["SESSION_COOKIE_SECURE"] = False
        app.config["REMEMBER_COOKIE_SECURE"] = False
    if not checking:  # `flask check` reports bad keys itself, in both languages
        cfg.validate(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from . import cli, database, i18n, scheduler, security
    from .extensions import csrf, db, login_manager, migrate
    from .views import register_blueprints

    database.install_engine_listeners()
    database.configure(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    register_blueprints(app)
    cli.register(app)
    scheduler.init_app(app)
    _trust_proxies(app)
    return app


def _invoked_as_check() -> bool:
    """True when this process is ``flask [--app X] [-e FILE] check``: the one command that
    must load a configuration the app would refuse, to say everything wrong with it. The
    command exits after reporting; nothing is served."""
    if Path(sys.argv[0]).name != "flask":
        return False
    args = sys.argv[1:]
    while args:
        arg = args.pop(0)
        if arg in {"--app", "-A", "--env-file", "-e"}:
            args = args[1:]
        elif not arg.startswith("-"):
            return arg == "check"
    return False


def _trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies, believe the last N entries of X-Forwarded-For (so each
    citizen gets his own rate limit, not the proxy's) and X-Forwarded-Proto, and nothing a
    client adds before them. X-Forwarded-Host, -Port and -Prefix are never believed: a
    proxy that does not overwrite them passes the client's value through, and the Host
    header the proxy sets is what the app must see."""
    hops = cfg.trusted_proxies(app.config.get("TRUSTED_PROXIES", 0))
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0
        )
