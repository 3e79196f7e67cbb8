"""Language and time display. Vietnamese by default; English on request (?lang=en).

Source strings are written in Vietnamese, so a missing English translation shows the
Vietnamese text rather than a broken page."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, request, session

from .domain.calendar import LOCAL_TZ, weekday_name
from .extensions import babel


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["FEEDBACK_LANGUAGES"]
    asked = request.args.get("lang")
    if asked in languages:
        session["lang"] = asked
    chosen = session.get("lang")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(LOCAL_TZ) if value is not None else None


def format_local(value: datetime | None, fmt: str = "%H:%M %d/%m/%Y") -> str:
    """Times are stored in UTC and always shown in Hà Giang's time (UTC+7)."""
    shown = local(value)
    return shown.strftime(fmt) if shown is not None else "—"


def format_local_long(value: datetime | None) -> str:
    shown = local(value)
    if shown is None:
        return "—"
    return f"{shown:%H:%M}, {weekday_name(shown.date())} {shown:%d/%m/%Y}"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Ho_Chi_Minh")
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["localtime_long"] = format_local_long
