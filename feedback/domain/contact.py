"""A citizen's phone number: the one rule the forms, the intake service and the API share.

People type numbers the way they read them ("0912 000 111", "0912.000.111",
"+84 912-000-111"); the rule accepts the usual separators and counts digits, so the
message "8–15 chữ số" means what it says. Pure: no Flask, no database.
"""

from __future__ import annotations

import re

from .marks import N_

PHONE_MESSAGE = N_("Số điện thoại không hợp lệ (8–15 chữ số).")
_SEPARATORS = re.compile(r"[ .\-]")
_DIGITS = re.compile(r"\+?[0-9]{8,15}")


def normalise_phone(text: str | None) -> str | None:
    """The number without separators ("+84912000111", "0912000111"), or None when it is
    not a phone number (letters, brackets, too few or too many digits)."""
    compact = _SEPARATORS.sub("", (text or "").strip())
    return compact if _DIGITS.fullmatch(compact) else None


def is_phone(text: str | None) -> bool:
    return normalise_phone(text) is not None


COUNTRY_CODE = "84"


def to_e164(text: str | None) -> str | None:
    """The number in E.164 form ("+84912000111"), as SMS gateways and Zalo want it, or None
    when it is not a phone number. Vietnamese habits: a leading 0 is the trunk prefix
    ("0912 000 111"), "0084" the international one, and a number typed without either
    ("912000111", "84912000111") is taken as Vietnamese."""
    compact = normalise_phone(text)
    if compact is None:
        return None
    if compact.startswith("+"):
        return compact
    if compact.startswith("00"):
        return "+" + compact[2:]
    if compact.startswith("0"):
        return "+" + COUNTRY_CODE + compact[1:]
    if compact.startswith(COUNTRY_CODE) and len(compact) >= 11:
        return "+" + compact
    return "+" + COUNTRY_CODE + compact


def same_phone(left: str | None, right: str | None) -> bool:
    """Two spellings of one number ("0912 000 111" and "+84912000111")."""
    a, b = to_e164(left), to_e164(right)
    return a is not None and a == b
