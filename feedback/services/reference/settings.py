from __future__ import annotations

from ...extensions import db
from ...models import Setting


def get_setting(key: str, default: str) -> str:
    row = db.session.get(Setting, key)
    return row.value if row is not None else default
