"""The figures the plan sets targets for, computed one way for every page and report.

The breach monitor, the dashboard, the period reports and the public page all call this
module, so they cannot disagree. Each figure carries the sentence that says how it was
computed (``DEFINITIONS``), shown beside it.

Population: cases received in the period, without merged duplicates (they are answered
through the case they joined).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..domain.calendar import LOCAL_TZ
from ..domain.text import fold
from ..extensions import db
from ..models import ApologyLetter, Area, Case, Category, Dimension, Unit

DEFINITIONS = {
    "received": "Số hồ sơ tiếp nhận trong kỳ (không tính hồ sơ trùng đã gộp).",
    "ack_on_time": "Tỷ lệ hồ sơ được phản hồi tiếp nhận đúng hạn (trong 24 giờ hoặc thời hạn "
    "thụ lý theo luật) trên số hồ sơ đã đến hạn phản hồi hoặc đã được phản hồi.",
    "answered_on_time": "Tỷ lệ hồ sơ được trả lời đúng hạn trên số hồ sơ đã trả lời hoặc đã "
    "quá hạn trả lời (hồ sơ không tiếp nhận được tính là đã trả lời).",
    "apology_share": "Tỷ lệ hồ sơ trả lời trễ hạn đã có văn bản xin lỗi (đã ban hành) trên "
    "tổng số hồ sơ trả lời trễ hạn. Chỉ tiêu: 100%.",
    "ack_hours_median": "Trung vị thời gian từ khi tiếp nhận đến khi phản hồi tiếp nhận (giờ).",
    "ack_hours_p90": "Phân vị 90 của thời gian phản hồi tiếp nhận (giờ): 90% hồ sơ nhanh hơn.",
    "answer_days_median": "Trung vị thời gian từ khi tiếp nhận đến khi trả lời (ngày lịch).",
    "answer_days_p90": "Phân vị 90 của thời gian trả lời (ngày lịch).",
    "satisfaction": "Điểm hài lòng trung bình (1–5) của người dân đã đánh giá.",
    "satisfied_share": "Tỷ lệ đánh giá hài lòng (4 hoặc 5 sao) trên số lượt đánh giá.",
    "overdue_open": "Số hồ sơ chưa trả lời đã quá hạn trả lời tại thời điểm lập số liệu.",
}


ENDED = frozenset({"closed", "rejected", "merged"})


@dataclass(frozen=True)
class Row:
    """The few columns the figures need, with the labels of every breakdown."""

    code: str
    kind: str
    channel: str
    status: str
    received_at: datetime
    ack_due_at: datetime
    response_due_at: datetime
    acknowledged_at: datetime | None
    answered_at: datetime | None
    rating: int | None
    apology: str | None
    unit: str
    dimension: str
    category: str
    area: str
    paused: bool = False  # waiting for the citizen under a policy that stops the clock

    @property
    def month(self) -> str:
        return self.received_at.astimezone(LOCAL_TZ).strftime("%Y-%m")


@dataclass
class Figures:
    received: int = 0
    ack_decided: int = 0
    ack_on_time_count: int = 0
    answer_decided: int = 0
    answered_on_time_count: int = 0
    late_answers: int = 0
    late_with_apology: int = 0
    overdue_open: int = 0
    ratings: list[int] = field(default_factory=list)
    ack_hours: list[float] = field(default_factory=list)
    answer_days: list[float] = field(default_factory=list)

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @staticmethod
    def _quantile(values: list[float], q: float) -> float | None:
        if not values:
            return None
        if len(values) == 1:
            return round(values[0], 1)
        return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "ack_on_time": self._share(self.ack_on_time_count, self.ack_decided),
            "answered_on_time": self._share(self.answered_on_time_count, self.answer_decided),
            "apology_share": self._share(self.late_with_apology, self.late_answers),
            "late_answers": self.late_answers,
            "ack_hours_median": self._quantile(self.ack_hours, 0.5),
            "ack_hours_p90": self._quantile(self.ack_hours, 0.9),
            "answer_days_median": self._quantile(self.answer_days, 0.5),
            "answer_days_p90": self._quantile(self.answer_days, 0.9),
            "satisfaction": round(statistics.fmean(self.ratings), 2) if self.ratings else None,
            "satisfied_share": self._share(sum(r >= 4 for r in self.ratings), len(self.ratings)),
            "ratings": len(self.ratings),
            "overdue_open": self.overdue_open,
        }


def add(figures: Figures, row: Row, now: datetime) -> None:
    figures.received += 1
    if row.acknowledged_at is not None:
        figures.ack_decided += 1
        figures.ack_on_time_count += row.acknowledged_at <= row.ack_due_at
        figures.ack_hours.append((row.acknowledged_at - row.received_at).total_seconds() / 3600)
    elif row.ack_due_at < now:
        figures.ack_decided += 1
    if row.answered_at is not None:
        figures.answer_decided += 1
        on_time = row.answered_at <= row.response_due_at
        figures.answered_on_time_count += on_time
        figures.answer_days.append((row.answered_at - row.received_at).total_seconds() / 86400)
        if not on_time:
            figures.late_answers += 1
            figures.late_with_apology += row.apology in {"issued", "delivered"}
    elif row.response_due_at < now and not row.paused and row.status not in ENDED:
        # closed without an answer (e.g. after a wait) is neither answered nor owed
        figures.answer_decided += 1
        figures.overdue_open += 1
    if row.rating is not None:
        figures.ratings.append(row.rating)


def load_rows(
    start: date | None = None, end: date | None = None, *, where: Iterable[Any] = ()
) -> list[Row]:
    """Cases received on local days [start, end) (None: unbounded), merged ones left out."""
    handling = aliased(Unit)
    stmt = (
        select(
            Case.code,
            Case.kind,
            Case.channel,
            Case.status,
            Case.received_at,
            Case.ack_due_at,
            Case.response_due_at,
            Case.acknowledged_at,
            Case.answered_at,
            Case.rating,
            ApologyLetter.status,
            handling.name,
            Dimension.name,
            Category.code,
            Category.name,
            Area.name,
        )
        .join(handling, Case.handling_unit_id == handling.id)
        .outerjoin(Category, Case.category_id == Category.id)
        .outerjoin(Dimension, Category.dimension_id == Dimension.id)
        .outerjoin(Area, Case.area_id == Area.id)
        .outerjoin(ApologyLetter, ApologyLetter.case_id == Case.id)
        .where(Case.status != "merged", *where)
    )
    if start is not None:
        stmt = stmt.where(
            Case.received_at >= datetime.combine(start, datetime.min.time(), LOCAL_TZ)
        )
    if end is not None:
        stmt = stmt.where(Case.received_at < datetime.combine(end, datetime.min.time(), LOCAL_TZ))
    from .sla import pausing_kinds

    pausing = set(pausing_kinds())
    rows = []
    for r in db.session.execute(stmt):
        rows.append(
            Row(
                code=r[0],
                kind=r[1],
                channel=r[2],
                status=r[3],
                received_at=r[4],
                ack_due_at=r[5],
                response_due_at=r[6],
                acknowledged_at=r[7],
                answered_at=r[8],
                rating=r[9],
                apology=r[10],
                unit=r[11],
                dimension=r[12] or "Chưa phân loại",
                category=f"{r[13]} {r[14]}" if r[13] else "Chưa phân loại",
                area=r[15] or "Không gắn địa bàn",
                paused=r[3] == "waiting_citizen" and r[1] in pausing,
            )
        )
    return rows


BREAKDOWNS: dict[str, Callable[[Row], str]] = {
    "unit": lambda r: r.unit,
    "channel": lambda r: r.channel,
    "kind": lambda r: r.kind,
    "dimension": lambda r: r.dimension,
    "category": lambda r: r.category,
    "area": lambda r: r.area,
    "month": lambda r: r.month,
}


def totals(rows: Iterable[Row], now: datetime) -> dict[str, Any]:
    figures = Figures()
    for row in rows:
        add(figures, row, now)
    return figures.as_dict()


def breakdown(rows: Iterable[Row], by: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    key = BREAKDOWNS[by]
    groups: dict[str, Figures] = {}
    for row in rows:
        add(groups.setdefault(key(row), Figures()), row, now)
    # Vietnamese order: "Điện lực" beside "Dân", not after "Văn phòng".
    return sorted(
        ((k, f.as_dict()) for k, f in groups.items()), key=lambda kv: (fold(kv[0]), kv[0])
    )
