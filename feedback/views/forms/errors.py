"""Putting a service's refusal onto the form that caused it.

A service names the fields it refuses in its own words (``reporter.phone``,
``category_code``); a form may call them otherwise (``caller_phone``, ``category``). Each
message goes beside its field, so the user sees what to correct where they typed it;
messages that match no field are handed back for the page to show elsewhere (above the
form, beside a file input the browser emptied).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def attach_errors(
    form: Any, fields: Mapping[str, str], names: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Add each message of ``fields`` to the errors of the form field it names (through
    ``names``: service name → form field name), once; the CSRF token is never blamed.
    Returns the messages no field took."""
    left: dict[str, str] = {}
    for name, message in fields.items():
        target = (names or {}).get(name, name)
        field = getattr(form, target, None) if target != "csrf_token" else None
        if field is None or not hasattr(field, "errors"):
            left[name] = message
            continue
        errors = list(field.errors)
        if message not in errors:
            field.errors = [*errors, message]
    return left
