"""Period reports (quarter, half-year, year) organised by the eight PAPI content indexes.

Every figure comes from feedback.services.oversight.metrics, the one computation the dashboard, the
breach monitor and the public page share; this module only groups and labels them into a
Report, which ``files`` lays out as XLSX and PDF and ``output`` writes to disk.
The plan (section III) sets the calendar: quarterly and half-yearly reports before the
10th of the period's last month, the yearly report before 15 November. Reports never
contain a reporter's identity: metrics' rows carry none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from ...domain.calendar import LOCAL_TZ
from ...domain.marks import N_
from ...domain.text import fold
from ...extensions import db
from ...models import Category, Dimension
from ..errors import ValidationError
from ..intake.submission import CHANNEL_LABELS, KIND_LABELS
from ..oversight import figures, metrics
from ..reference.branding import branding_at
from ..reference.settings import get_setting

ROMAN = ("I", "II", "III", "IV")
_PERIOD = re.compile(r"^(\d{4})(?:-([QH])(\d))?$")
# Marked (N_): a report asked for from an English page is written in English.
FIGURES: dict[str, str] = {
    "received": N_("Số hồ sơ tiếp nhận"),
    "ack_on_time": N_("Phản hồi tiếp nhận đúng hạn (%)"),
    "answered_on_time": N_("Trả lời đúng hạn (%)"),
    "late_answers": N_("Số hồ sơ trả lời trễ hạn"),
    "apology_share": N_("Trễ hạn đã có thư xin lỗi (%)"),
    "ack_hours_median": N_("Trung vị thời gian phản hồi tiếp nhận (giờ)"),
    "ack_hours_p90": N_("Phân vị 90 thời gian phản hồi tiếp nhận (giờ)"),
    "answer_days_median": N_("Trung vị thời gian trả lời (ngày)"),
    "answer_days_p90": N_("Phân vị 90 thời gian trả lời (ngày)"),
    "satisfaction": N_("Điểm hài lòng trung bình (1–5)"),
    "satisfied_share": N_("Tỷ lệ đánh giá hài lòng (%)"),
    "ratings": N_("Số lượt đánh giá"),
    "overdue_open": N_("Số hồ sơ quá hạn chưa trả lời"),
}
DEFINITIONS = {
    **metrics.DEFINITIONS,
    "ratings": N_("Số lượt người dân đánh giá kết quả giải quyết."),
}
BREAKDOWNS = {  # metrics breakdown → (sheet and section title, column heading)
    "unit": (N_("Theo đơn vị"), N_("Đơn vị giải quyết")),
    "channel": (N_("Theo kênh"), N_("Kênh tiếp nhận")),
    "kind": (N_("Theo loại"), N_("Loại hồ sơ")),
    "area": (N_("Theo địa bàn"), N_("Địa bàn")),
    "month": (N_("Theo tháng"), N_("Tháng")),
}
_LABELS = {"channel": CHANNEL_LABELS, "kind": KIND_LABELS}

Figures = dict[str, Any]


@dataclass(frozen=True)
class Period:
    key: str  # 2023-Q3, 2023-H1, 2023
    year: int
    start: date  # first local day
    end: date  # the day after the last
    label: str  # «quý III năm 2023»
    due_before: date  # the report goes up before this day

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def deadline(self) -> datetime:
        return datetime.combine(self.due_before, time.min, LOCAL_TZ)

    @property
    def span(self) -> str:
        return N_(
            "từ ngày %(start)s đến ngày %(end)s",
            start=f"{self.start:%d/%m/%Y}",
            end=f"{self.last_day:%d/%m/%Y}",
        )

    @property
    def due_text(self) -> str:
        return N_("trước ngày %(day)s", day=f"{self.due_before:%d/%m/%Y}")


def parse_period(text: str | None) -> Period:
    """«2023-Q3», «2023-H1» or «2023» as local dates [start, end) and the report's due date."""
    raw = (text or "").strip().upper()
    match = _PERIOD.match(raw)
    year = int(match.group(1)) if match else 0
    part, n = (match.group(2), int(match.group(3) or 0)) if match else (None, 0)
    if (
        not match
        or not 2000 <= year <= 2100
        or (part == "Q" and not 1 <= n <= 4)
        or (part == "H" and not 1 <= n <= 2)
    ):
        raise ValidationError(
            N_(
                "Kỳ báo cáo không hợp lệ: «%(given)s». Ghi theo dạng 2023-Q3 (quý I đến IV), "
                "2023-H1 hoặc 2023-H2 (6 tháng đầu, cuối năm) hoặc 2023 (cả năm).",
                given=(text or "").strip()[:40],
            ),
            {"period": N_("Ví dụ: 2023-Q3, 2023-H1, 2023.")},
        )
    if part is None:
        end_of_year = date(year + 1, 1, 1)
        label = N_("năm %(year)s", year=year)
        return Period(raw, year, date(year, 1, 1), end_of_year, label, date(year, 11, 15))
    months = 3 if part == "Q" else 6
    first, last = months * (n - 1) + 1, months * n
    end = date(year + 1, 1, 1) if last == 12 else date(year, last + 1, 1)
    label = (
        N_("quý %(quarter)s năm %(year)s", quarter=ROMAN[n - 1], year=year)
        if part == "Q"
        else N_("6 tháng đầu năm %(year)s", year=year)
        if n == 1
        else N_("6 tháng cuối năm %(year)s", year=year)
    )
    return Period(raw, year, date(year, first, 1), end, label, date(year, last, 10))


def periods_of(year: int) -> list[Period]:
    """Every report of a year, in the order they fall due."""
    keys = [f"{year}-Q{q}" for q in range(1, 5)] + [f"{year}-H1", f"{year}-H2", str(year)]
    return sorted((parse_period(k) for k in keys), key=lambda p: (p.due_before, len(p.key)))


# --- the report ----------------------------------------------------------------------------


@dataclass
class Section:
    code: str
    name: str
    figures: Figures
    categories: list[tuple[str, str, Figures]] = field(default_factory=list)


@dataclass
class Report:
    period: Period
    now: datetime
    totals: Figures
    dimensions: list[Section]
    breakdowns: dict[str, list[tuple[str, Figures]]]
    definitions: dict[str, str]
    city: str
    place: str
    source: str

    @property
    def issuer(self) -> tuple[str, str]:
        return (N_("ỦY BAN NHÂN DÂN"), self.city.upper())

    @property
    def title(self) -> str:
        return N_("Kết quả tiếp nhận, giải quyết phản ánh, kiến nghị của người dân")

    @property
    def as_of(self) -> str:
        local = self.now.astimezone(LOCAL_TZ)
        return N_("%(time)s ngày %(day)s", time=f"{local:%H:%M}", day=f"{local:%d/%m/%Y}")


def city_place(at: datetime | None = None) -> tuple[str, str]:
    """The issuing body's name and the place line of documents («TP. Hà Giang») on ``at``
    (now when not given): the reference pack in force then decides (services.reference.
    branding), so a letter issued after 1 July 2025 no longer speaks for the abolished city."""
    brand = branding_at(at or datetime.now(LOCAL_TZ))
    return brand.issuer, brand.place


def _label(by: str, key: str) -> str:
    if by == "month":
        year, month = key.split("-")
        return N_("Tháng %(month)s/%(year)s", month=month, year=year)
    return _LABELS.get(by, {}).get(key, key)


def build_report(period: Period, now: datetime) -> Report:
    summary = figures.summarise(period.start, period.end, now)
    empty = metrics.empty()
    by_dimension = dict(summary.breakdown("dimension"))
    by_category = dict(summary.breakdown("category"))
    categories = db.session.scalars(select(Category).order_by(Category.sort_order, Category.code))
    grouped: dict[int, list[Category]] = {}
    for cat in categories:
        grouped.setdefault(cat.dimension_id, []).append(cat)
    sections = []
    for dim in db.session.scalars(select(Dimension).order_by(Dimension.code)):
        cats = [
            (c.code, c.name, by_category.get(metrics.category_label(c.code, c.name), empty))
            for c in grouped.get(dim.id, [])
        ]
        sections.append(Section(dim.code, dim.name, by_dimension.get(dim.name, empty), cats))
    unclassified = by_dimension.get(metrics.UNCLASSIFIED)
    if unclassified is not None:
        sections.append(Section("", N_("Chưa phân loại lĩnh vực"), unclassified))
    breakdowns = {}
    for by in BREAKDOWNS:  # months in order, names in Vietnamese alphabetical order
        groups = [(_label(by, key), f) for key, f in summary.breakdown(by)]
        breakdowns[by] = groups if by == "month" else sorted(groups, key=lambda g: fold(g[0]))
    # The owner at the end of the period (or now, for a period not yet over).
    end = datetime.combine(period.last_day, time(12), LOCAL_TZ)
    city, place = city_place(min(end, now))
    return Report(
        period=period,
        now=now,
        totals=summary.totals(),
        dimensions=sections,
        breakdowns=breakdowns,
        definitions=DEFINITIONS,
        city=city,
        place=place,
        source=get_setting("city_source", "Kế hoạch cải thiện Chỉ số PAPI của thành phố"),
    )
