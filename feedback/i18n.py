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


def parse_local_datetime(text: str) -> datetime | None:
    """'2024-02-05T08:30' (an HTML datetime-local value) or '05/02/2024 08:30', read as
    Hà Giang time; None when it is neither."""
    text = (text or "").strip()
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=LOCAL_TZ)
        except ValueError:
            continue
    return None


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Ho_Chi_Minh")
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["localtime_long"] = format_local_long
