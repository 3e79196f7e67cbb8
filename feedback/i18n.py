"""Language and time display. Vietnamese by default; English on request (?lang=en).

Source strings are written in Vietnamese, so a missing English translation shows the
Vietnamese text rather than a broken page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Flask, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from .domain.calendar import LOCAL_TZ, weekday_name
from .domain.marks import N_, Said, translate
from .domain.routing import reason_message
from .domain.text import VIETNAMESE
from .extensions import babel

HTTP_MESSAGES = {
    400: N_("Yêu cầu không hợp lệ."),
    401: N_("Cần đăng nhập."),
    403: N_("Ông/bà không có quyền xem trang này."),
    404: N_("Không tìm thấy trang hoặc hồ sơ."),
    405: N_("Phương thức không được hỗ trợ."),
    413: N_("Dữ liệu gửi lên quá lớn."),
    422: N_("Thông tin chưa hợp lệ."),
    429: N_("Quá nhiều yêu cầu, vui lòng thử lại sau ít phút."),
    503: N_("Hệ thống đang bận, vui lòng thử lại sau giây lát."),
}
"""What an error page or error body says for each HTTP status (pages, API and Open311)."""


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["FEEDBACK_LANGUAGES"]
    asked = request.args.get("lang")
    if _machine_facing():
        # A program has no session to remember a choice: it says what it reads in
        # Accept-Language (or ?lang), and gets Vietnamese when it says nothing.
        if asked in languages:
            return asked
        best = request.accept_languages.best_match(languages)
        return best or current_app.config["BABEL_DEFAULT_LOCALE"]
    if asked in languages:
        session["lang"] = asked
    chosen = session.get("lang")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def _machine_facing() -> bool:
    return request.path.startswith(("/api/", "/open311/"))


def current_language() -> str:
    """The page's language for ``<html lang>`` and the switch: screen readers pick their
    voice from it, so it must follow what the page is actually written in."""
    try:
        return "en" if str(get_locale()) == "en" else "vi"
    except RuntimeError:  # outside a request (e-mails rendered by the scheduler)
        return "vi"


def language_url(code: str) -> str:
    """This page again in language ``code``: the other query parameters are kept, so a
    filtered list or a form's state survives switching."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', code)])}"


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
    day = weekday_name(shown.date())
    if current_language() == "en":  # the page's, or a message's under force_locale
        day = _(day)
    return f"{shown:%H:%M}, {day} {shown:%d/%m/%Y}"


_LOCAL_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y-%m-%dT%H:%M",  # <input type="datetime-local">
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
)


def parse_local_datetime(text: str | None) -> datetime | None:
    """A local (Hà Giang) date and time as staff type it, or as a datetime-local input
    sends it, as an aware UTC datetime; None when it is not one. "8h30" is read as 8:30."""
    cleaned = " ".join((text or "").split())
    cleaned = re.sub(r"(\d)\s*[hg]\s*(\d)", r"\1:\2", cleaned)
    for fmt in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    return None


def translated_text(message: str) -> str:
    """A message made in Python (an error's text) in the reader's language, as plain text:
    for a JSON body or a file. Jinja's ``_()`` would also %-format it, and a message holding
    a "%" (a figure, a typed text) would crash the error page; gettext without variables
    leaves it as it is. A message filled in from a marked template (``N_(template,
    **values)``) is filled in again in English."""
    return translate(message, _)


def _as_data(value: str) -> str:
    """Vietnamese left in an English page (a unit's name, a typed note) says so, so a screen
    reader reads it with a Vietnamese voice."""
    return Markup('<span lang="vi">%s</span>') % value if VIETNAMESE.search(value) else value


def translated(message: str) -> str:
    """A message made in Python in the reader's language, for a page (the Jinja filter
    ``|translated``, flashes, form errors). On an English page it is HTML (``Markup``, which
    a flash keeps through the session): what stays Vietnamese — a value that is data, or
    a text not in the catalogue — is marked ``lang="vi"``. On a Vietnamese page it is the
    text itself."""
    if not message or current_language() == "vi":
        return translate(message, _) if message else message
    if isinstance(message, Said):
        english = _(message.template)
        if english == message.template and VIETNAMESE.search(english):
            # Not in the catalogue: all of it stays Vietnamese. (A template of placeholders
            # only, "%(text)s.", reads the same in English and is filled in below.)
            return _as_data(str.__str__(message))
        values = {}
        for key, value in message.values.items():
            shown = translate(value, _) if isinstance(value, str) else value
            values[key] = _as_data(shown) if isinstance(shown, str) else shown
        try:
            return Markup(escape(english)) % values
        except (KeyError, TypeError, ValueError):  # a broken translation: the Vietnamese
            return _as_data(str.__str__(message))
    shown = translate(message, _)  # a label in context (C_) is looked up with it
    return _as_data(shown) if shown == message else shown


def translated_fields(fields: dict[str, str]) -> dict[str, str]:
    """A refusal's per-field messages in the reader's language, for a page's form."""
    return {name: translated(text) for name, text in fields.items()}


def translated_fields_text(fields: dict[str, str]) -> dict[str, str]:
    """A refusal's per-field messages in the reader's language, as plain text (JSON)."""
    return {name: translated_text(text) for name, text in fields.items()}


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Ho_Chi_Minh")
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["localtime_long"] = format_local_long
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["language_url"] = language_url
    app.jinja_env.filters["translated"] = translated
    app.jinja_env.filters["routing_reason"] = lambda stored: translated(reason_message(stored))
