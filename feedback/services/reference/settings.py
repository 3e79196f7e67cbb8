"""The settings table: named values of the city (its name and code, the triage unit)
read with a default, so an unseeded key never stops a page."""

from __future__ import annotations

from ...extensions import db
from ...models import Setting


def get_setting(key: str, default: str) -> str:
    row = db.session.get(Setting, key)
    return row.value if row is not None else default
