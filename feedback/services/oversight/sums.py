"""Sums of the figures' monthly groups (feedback.services.oversight.figures): added, one month
taken from another, and the sum of the months that no longer change kept in memory.

Issue 17: adding 24 months of ~120 tallies (hundreds of histogram steps each) cost 0.9 s of a
dashboard of two years at a million cases; the months before the current one change only
when a late edit dirties them, so their sum is made once per set of rollups.
"""

from __future__ import annotations

from ...extensions import db
from .metrics import Tally

BY_ID = ("unit", "channel", "kind", "category", "area")
Groups = dict[str, dict[str, Tally]]  # "total" -> {"": tally}, "unit" -> {"12": tally}, ...


def new_groups() -> Groups:
    return {"total": {"": Tally()}} | {by: {} for by in BY_ID}


def merge(parts: list[Groups]) -> Groups:
    """The sum of several months' groups, by key (ids, not labels)."""
    found = new_groups()
    for groups in parts:
        for by in ("total", *BY_ID):
            slot = found[by]
            for key, tally in groups[by].items():
                if key not in slot:
                    slot[key] = Tally()
                slot[key].add(tally)
    return found


def without(whole: Groups, part: Groups) -> Groups | None:
    """A month's rollup less the cases of a part of it: the rest of the month. None when
    the part does not fit in the rollup (counted after it was built: see Tally.subtract)."""
    found = merge([whole])  # a copy: the rollup is shared
    for by in ("total", *BY_ID):
        slot = found[by]
        for key, tally in part[by].items():
            if key not in slot or not slot[key].subtract(tally):
                return None
            if by != "total" and not slot[key].received:
                if slot[key] != Tally():
                    return None
                del slot[key]  # a group with no case left is no group (as counted live)
    return found


# The sum of the stored months a period covers but the current one, by the identity of
# their decoded rollups (figures._DECODED): a month rebuilt is decoded into a new object, so a sum
# that included its old rollup is never found again. An entry holds the rollups it was made
# of, so their ids cannot be reused while it lives. Issue 17: adding 24 months of ~120
# tallies (hundreds of histogram steps each) cost 0.9 s of a dashboard of two years; the
# months before this one are dirtied only by late changes to old cases.
_MERGED: dict[tuple[str, tuple[int, ...]], tuple[list[Groups], Groups]] = {}
_MERGED_MAX = 16


def merged(parts: list[Groups]) -> Groups:
    key = (str(db.session.get_bind().url), tuple(id(groups) for groups in parts))
    found = _MERGED.get(key)
    if found is None:
        if len(_MERGED) >= _MERGED_MAX:
            _MERGED.clear()
        found = _MERGED[key] = (parts, merge(parts))
    return found[1]
