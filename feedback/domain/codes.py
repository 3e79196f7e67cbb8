"""The shape of reference codes and the case-code rule.

A case code is ``CITY-YEAR-NNNNNN`` (``HG-2026-000123``): the city's prefix, the year of
receipt and a per-year sequence. Unit, area and category codes are short upper-case
tokens. Anything outside these shapes cannot exist, so it is refused before any look-up
(which also keeps NUL bytes and the like away from the database)."""

from __future__ import annotations

import re

CODE = re.compile(r"[0-9A-Z._\-]{1,32}")
"""Case, unit, area and category codes: anything else cannot exist, so is not looked up."""


def case_code(city: str, year: int, number: int) -> str:
    return f"{city}-{year}-{number:06d}"
