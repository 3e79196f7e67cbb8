"""The figures the plan sets targets for, computed one way for every page and report.

The breach monitor, the dashboard, the period reports and the public page all call this
module, so they cannot disagree. Each figure carries the sentence that says how it was
computed (``DEFINITIONS``), shown beside it.

Population: cases received in the period, without merged duplicates (they are answered
through the case they joined).

Figures are sums, so they are kept as ``Tally`` objects that add up: one per group of
cases, merged across months and groups (``feedback.services.oversight.figures`` fills them from SQL
and from the monthly rollups). Medians and 90th percentiles come from histograms in steps
of 0.1 (hours to acknowledge, days to answer), interpolated as ``statistics.quantiles``
does ("inclusive"); a figure is therefore within one step of the exact one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, select

from ...domain.marks import N_
from ...domain.text import fold
from ...models import ApologyLetter, Case

# Marked for the catalogue (N_): the public page shows them in the reader's language.
DEFINITIONS = {
    "received": N_("Số hồ sơ tiếp nhận trong kỳ (không tính hồ sơ trùng đã gộp)."),
    "ack_on_time": N_(
        "Tỷ lệ hồ sơ được phản hồi tiếp nhận đúng hạn (trong 24 giờ hoặc thời hạn "
        "thụ lý theo luật) trên số hồ sơ đã đến hạn phản hồi hoặc đã được phản hồi."
    ),
    "answered_on_time": N_(
        "Tỷ lệ hồ sơ được trả lời đúng hạn trên số hồ sơ đã trả lời hoặc đã "
        "quá hạn trả lời (hồ sơ không tiếp nhận được tính là đã trả lời)."
    ),
    "apology_share": N_(
        "Tỷ lệ hồ sơ trả lời trễ hạn đã có văn bản xin lỗi (đã ban hành) trên "
        "tổng số hồ sơ trả lời trễ hạn. Chỉ tiêu: 100%."
    ),
    "ack_hours_median": N_(
        "Trung vị thời gian từ khi tiếp nhận đến khi phản hồi tiếp nhận (giờ; "
        "tính theo khoảng 0,1 giờ)."
    ),
    "ack_hours_p90": N_("Phân vị 90 của thời gian phản hồi tiếp nhận (giờ): 90% hồ sơ nhanh hơn."),
    "answer_days_median": N_(
        "Trung vị thời gian từ khi tiếp nhận đến khi trả lời (ngày lịch; "
        "tính theo khoảng 0,1 ngày)."
    ),
    "answer_days_p90": N_("Phân vị 90 của thời gian trả lời (ngày lịch)."),
    "satisfaction": N_("Điểm hài lòng trung bình (1–5) của người dân đã đánh giá."),
    "satisfied_share": N_("Tỷ lệ đánh giá hài lòng (4 hoặc 5 sao) trên số lượt đánh giá."),
    "overdue_open": N_("Số hồ sơ chưa trả lời đã quá hạn trả lời tại thời điểm lập số liệu."),
    "late_answers": N_(
        "Số hồ sơ đã trả lời (hoặc không tiếp nhận) sau thời hạn trả lời, kể cả "
        "hồ sơ sau đó được mở lại: mỗi hồ sơ một văn bản xin lỗi (trang Thư xin lỗi liệt kê "
        "đúng các hồ sơ này)."
    ),
}

# --- one definition each (issue 16: the dashboard said 4 late answers, the letters page
# listed 5 owed; the monitor's filter and table named category 4.3 differently) ---------

APOLOGY_DONE = ("issued", "delivered")
"""An apology letter no longer owed: issued, then delivered."""


def answered_late() -> ColumnElement[bool]:
    """SQL on ``Case``: the case was answered after its response due time. The obligation
    recorded at that moment (an ``apology_letters`` row) is the fact: a reopening clears
    ``answered_at`` and a recomputed due time moves ``response_due_at``, but neither undoes
    a late answer, so every page counts the letters, not the current columns."""
    return exists(select(ApologyLetter.id).where(ApologyLetter.case_id == Case.id))


def apology_owed() -> ColumnElement[bool]:
    """SQL on ``Case``: answered late and its apology letter not yet issued."""
    return exists(
        select(ApologyLetter.id).where(
            ApologyLetter.case_id == Case.id, ApologyLetter.status == "owed"
        )
    )


def apology_state() -> ColumnElement[int]:
    """SQL on ``Case``: 0 not answered late, 1 late with the apology owed, 2 late with the
    apology issued or delivered (the figures' counters ``late_answers`` and
    ``late_with_apology``)."""
    state = (
        select(case((ApologyLetter.status.in_(APOLOGY_DONE), 2), else_=1))
        .where(ApologyLetter.case_id == Case.id)
        .correlate(Case)
        .scalar_subquery()
    )
    return func.coalesce(state, 0)


def category_label(code: str, name: str) -> str:
    """How staff pages, figures, filters and reports name a category: "4.3 <name>"."""
    return f"{code} {name}"


ACK_STEP_HOURS = 0.1
ANSWER_STEP_DAYS = 0.1
# Group labels, marked (N_): the dashboard shows them in the reader's language.
UNCLASSIFIED = N_("Chưa phân loại")
NO_AREA = N_("Không gắn địa bàn")
# Counters of a Tally, in the order they are stored in a rollup.
COUNTERS = (
    "received",
    "acknowledged",  # acknowledged at all
    "ack_on_time_count",
    "answered",  # answered at all (a rejection counts)
    "answered_on_time_count",
    "late_answers",
    "late_with_apology",
    "ack_overdue",  # never acknowledged and past the ack due time (moves with the clock)
    "overdue_open",  # open, unanswered, not paused, past the response due time (idem)
)


@dataclass
class Tally:
    """Everything the figures of one group of cases are made of; tallies add up."""

    received: int = 0
    acknowledged: int = 0
    ack_on_time_count: int = 0
    answered: int = 0
    answered_on_time_count: int = 0
    late_answers: int = 0
    late_with_apology: int = 0
    ack_overdue: int = 0
    overdue_open: int = 0
    ratings: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])  # count of 1..5
    ack_hist: dict[int, int] = field(default_factory=dict)  # 0.1-hour step -> cases
    answer_hist: dict[int, int] = field(default_factory=dict)  # 0.1-day step -> cases

    def add(self, other: Tally) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ratings = [a + b for a, b in zip(self.ratings, other.ratings, strict=True)]
        _add_hist(self.ack_hist, other.ack_hist)
        _add_hist(self.answer_hist, other.answer_hist)

    def subtract(self, other: Tally) -> bool:
        """Take ``other`` (a part of this tally) out of it; False, and this tally left
        half-done, if a counter or histogram step would go below zero (the part was counted
        later than the whole: throw this tally away)."""
        for name in COUNTERS:
            left = getattr(self, name) - getattr(other, name)
            if left < 0:
                return False
            setattr(self, name, left)
        self.ratings = [a - b for a, b in zip(self.ratings, other.ratings, strict=True)]
        for mine, theirs in (
            (self.ack_hist, other.ack_hist),
            (self.answer_hist, other.answer_hist),
        ):
            for step, n in theirs.items():
                left = mine.get(step, 0) - n
                if left < 0:
                    return False
                if left:
                    mine[step] = left
                else:
                    del mine[step]
        return min(self.ratings) >= 0

    def to_json(self) -> list[Any]:
        return [
            [getattr(self, n) for n in COUNTERS],
            self.ratings,
            _dense(self.ack_hist),
            _dense(self.answer_hist),
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Tally:
        counters, ratings, ack, answer = data
        tally = cls(*counters)
        tally.ratings = ratings
        tally.ack_hist = _sparse(ack)
        tally.answer_hist = _sparse(answer)
        return tally

    def as_dict(self) -> dict[str, Any]:
        ack_decided = self.acknowledged + self.ack_overdue
        answer_decided = self.answered + self.overdue_open
        rated = sum(self.ratings)
        return {
            "received": self.received,
            "ack_on_time": share(self.ack_on_time_count, ack_decided),
            "answered_on_time": share(self.answered_on_time_count, answer_decided),
            "apology_share": share(self.late_with_apology, self.late_answers),
            "late_answers": self.late_answers,
            "ack_hours_median": quantile(self.ack_hist, ACK_STEP_HOURS, 0.5),
            "ack_hours_p90": quantile(self.ack_hist, ACK_STEP_HOURS, 0.9),
            "answer_days_median": quantile(self.answer_hist, ANSWER_STEP_DAYS, 0.5),
            "answer_days_p90": quantile(self.answer_hist, ANSWER_STEP_DAYS, 0.9),
            "satisfaction": (
                round(sum(i * n for i, n in enumerate(self.ratings, 1)) / rated, 2)
                if rated
                else None
            ),
            "satisfied_share": share(self.ratings[3] + self.ratings[4], rated),
            "ratings": rated,
            "overdue_open": self.overdue_open,
        }


def _add_hist(mine: dict[int, int], theirs: dict[int, int]) -> None:
    """``theirs`` added into ``mine``; into an empty one (a group's first month) a copy,
    done in C. Hundreds of steps each: the loop is what a period's merge costs, which is
    why figures.summarise keeps the sum of the months that no longer change."""
    if not mine:
        mine.update(theirs)
        return
    for step, n in theirs.items():
        mine[step] = mine.get(step, 0) + n


def _dense(hist: dict[int, int]) -> list[Any]:
    """[first step, [count per step from there]]: a twelfth of the JSON of pairs, and
    plain integer lists decode fast (a rollup holds ~90 histograms)."""
    if not hist:
        return [0, []]
    first = min(hist)
    return [first, [hist.get(step, 0) for step in range(first, max(hist) + 1)]]


def _sparse(dense: list[Any]) -> dict[int, int]:
    first, counts = dense
    return {first + i: n for i, n in enumerate(counts) if n}


def share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _values(hist: dict[int, int], step: float) -> Iterator[tuple[int, float]]:
    """(cumulative count, value) per histogram step, smallest first; a step stands for
    its middle."""
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        yield seen, (bucket + 0.5) * step


def _nth(hist: dict[int, int], step: float, index: int) -> float:
    for seen, value in _values(hist, step):
        if index < seen:
            return value
    raise IndexError(index)


def quantile(hist: dict[int, int], step: float, q: float) -> float | None:
    """The ``q`` quantile of the values behind ``hist``, by the "inclusive" method of
    ``statistics.quantiles`` (linear interpolation between the ordered values)."""
    n = sum(hist.values())
    if not n:
        return None
    position = q * (n - 1)
    low = int(position)
    low_value = _nth(hist, step, low)
    high_value = _nth(hist, step, min(low + 1, n - 1))
    return round(low_value + (high_value - low_value) * (position - low), 1)


def empty() -> dict[str, Any]:
    return Tally().as_dict()


@dataclass
class Summary:
    """The figures of a period: the totals and a tally per group of every breakdown
    (``unit``, ``channel``, ``kind``, ``dimension``, ``category``, ``area``, ``month``),
    keyed by the groups' labels."""

    total: Tally = field(default_factory=Tally)
    groups: dict[str, dict[str, Tally]] = field(default_factory=dict)

    def add(self, by: str, key: str, tally: Tally) -> None:
        mine = self.groups.setdefault(by, {})
        if key not in mine:
            mine[key] = Tally()  # a copy: the tallies added may be shared (cached rollups)
        mine[key].add(tally)

    def totals(self) -> dict[str, Any]:
        return self.total.as_dict()

    def breakdown(self, by: str) -> list[tuple[str, dict[str, Any]]]:
        # Vietnamese order: "Điện lực" beside "Dân", not after "Văn phòng".
        groups = self.groups.get(by, {})
        return sorted(
            ((k, t.as_dict()) for k, t in groups.items()), key=lambda kv: (fold(kv[0]), kv[0])
        )


def merge(tallies: Iterable[Tally]) -> Tally:
    found = Tally()
    for tally in tallies:
        found.add(tally)
    return found
