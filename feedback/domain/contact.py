"""A citizen's phone number: the one rule the forms, the intake service and the API share.

People type numbers the way they read them ("0912 000 111", "0912.000.111",
"+84 912-000-111"); the rule accepts the usual separators and counts digits, so the
message "8–15 chữ số" means what it says. Pure: no Flask, no database.
"""

from __future__ import annotations

import re

PHONE_MESSAGE = "Số điện thoại không hợp lệ (8–15 chữ số)."
_SEPARATORS = re.compile(r"[ .\-]")
_DIGITS = re.compile(r"\+?[0-9]{8,15}")


def normalise_phone(text: str | None) -> str | None:
    """The number without separators ("+84912000111", "0912000111"), or None when it is
    not a phone number (letters, brackets, too few or too many digits)."""
    compact = _SEPARATORS.sub("", (text or "").strip())
    return compact if _DIGITS.fullmatch(compact) else None


def is_phone(text: str | None) -> bool:
    return normalise_phone(text) is not None
