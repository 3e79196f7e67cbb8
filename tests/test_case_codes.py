"""The year in a case code is the year in Hà Giang when the case arrived, not in UTC: a
case sent at 00:30 on 1 January (17:30 UTC on 31 December) belongs to the new year."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def test_the_code_year_is_the_local_year(make_case: Callable[..., str]) -> None:
    last_evening = make_case(now=datetime(2024, 12, 31, 16, 59, tzinfo=UTC))  # 23:59 local
    new_year_night = make_case(now=datetime(2024, 12, 31, 17, 30, tzinfo=UTC))  # 00:30 local
    assert last_evening.split("-")[1] == "2024"
    assert new_year_night.split("-")[1] == "2025"
    # Each year counts from one.
    assert new_year_night.endswith("-000001")
