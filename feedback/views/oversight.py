"""Oversight for Thanh tra: the breach monitor and the dashboard of the plan's figures.

Both pages are GET forms (bookmarkable, no CSRF token, no script). The monitor lists what
``feedback.services.oversight.monitor`` finds; the dashboard shows what
``feedback.services.oversight.metrics`` computes, each figure beside the sentence that
defines it. The same filters narrow both, so the dashboard's "overdue, unanswered"
equals the monitor's count of overdue answers.
Neither page reads or shows anything about who reported a case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup
from sqlalchemy import select

from ..domain.calendar import LOCAL_TZ
from ..domain.marks import N_
from ..domain.permissions import OVERSIGHT_ROLES
from ..domain.states import STATUS_LABELS
from ..extensions import db
from ..i18n import current_language, translated_fields, translated_text
from ..models import Area, Unit
from ..security.access import roles
from ..services.errors import ValidationError
from ..services.intake.submission import CHANNEL_LABELS, KIND_LABELS
from ..services.oversight import figures, metrics
from ..services.oversight.charts import Series, bar_chart, column_chart, number
from ..services.oversight.monitor import EMPTY_COUNTS, monitor_page
from ..services.oversight.monitor_filters import (
    ALL,
    ESCALATED,
    STATE_LABELS,
    Filters,
    parse_filters,
    parse_request,
)
from ..services.params import date_param
from ..services.reference.ladder import highest_level
from .forms.choices import category_groups

bp = Blueprint("oversight", __name__, url_prefix="/thanh-tra")


# key → (label, unit of the value, the plan's target); marked (N_), shown with _().
FIGURES: dict[str, tuple[str, str, str | None]] = {
    "received": (N_("Hồ sơ tiếp nhận"), "", None),
    "ack_on_time": (N_("Phản hồi tiếp nhận đúng hạn"), "%", "100%"),
    "answered_on_time": (N_("Trả lời đúng hạn"), "%", "100%"),
    "apology_share": (N_("Hồ sơ trễ hạn có văn bản xin lỗi"), "%", "100%"),
    "ack_hours_median": (N_("Thời gian phản hồi – trung vị"), N_("giờ"), None),
    "ack_hours_p90": (N_("Thời gian phản hồi – phân vị 90"), N_("giờ"), None),
    "answer_days_median": (N_("Thời gian trả lời – trung vị"), N_("ngày"), None),
    "answer_days_p90": (N_("Thời gian trả lời – phân vị 90"), N_("ngày"), None),
    "satisfaction": (N_("Điểm hài lòng trung bình"), "/5", None),
    "satisfied_share": (N_("Tỷ lệ hài lòng"), "%", None),
    "overdue_open": (N_("Quá hạn chưa trả lời"), "", None),
}
# by → (section title, the tables' first column heading)
BREAKDOWNS: tuple[tuple[str, str, str], ...] = (
    ("unit", N_("Theo đơn vị xử lý"), N_("Đơn vị xử lý")),
    ("channel", N_("Theo kênh tiếp nhận"), N_("Kênh tiếp nhận")),
    ("kind", N_("Theo loại hồ sơ"), N_("Loại hồ sơ")),
    ("dimension", N_("Theo nội dung chỉ số PAPI"), N_("Nội dung chỉ số PAPI")),
    ("category", N_("Theo lĩnh vực (tiêu chí PAPI)"), N_("Lĩnh vực (tiêu chí PAPI)")),
    ("area", N_("Theo địa bàn"), N_("Địa bàn")),
)
SHARE_SERIES = (
    ("ack_on_time", N_("Phản hồi đúng hạn")),
    ("answered_on_time", N_("Trả lời đúng hạn")),
)


def _figures() -> dict[str, tuple[str, str, str | None]]:
    """FIGURES in the reader's language: the label, and the suffix a value takes ("%",
    " giờ", " /5")."""
    found = {}
    for key, (label, unit, target) in FIGURES.items():
        suffix = unit if unit in ("", "%") else " " + translated_text(unit)
        found[key] = (translated_text(label), suffix, target)
    return found


def _choices() -> dict[str, Any]:
    units = db.session.scalars(select(Unit).where(Unit.active).order_by(Unit.name)).all()
    areas = db.session.scalars(select(Area).where(Area.active).order_by(Area.name)).all()
    return {
        "units": [(u.code, u.name) for u in units],
        "areas": [(a.code, a.name) for a in areas],
        "categories": category_groups(staff=True),
        "kinds": list(KIND_LABELS.items()),
        "channels": list(CHANNEL_LABELS.items()),
    }


def _filters() -> tuple[Filters, dict[str, str]]:
    try:
        return parse_filters(request.args), {}
    except ValidationError as exc:
        return Filters(), translated_fields(exc.fields)


@bp.get("/")
@roles(*OVERSIGHT_ROLES)
def monitor() -> Any:
    """One page of the flagged cases (``page``, ``per_page``) and the counts of all."""
    now = datetime.now(UTC)
    try:
        filters, page_asked = parse_request(request.args)
        errors: dict[str, str] = {}
    except ValidationError as exc:
        filters, page_asked, errors = Filters(), None, translated_fields(exc.fields)
    result = (
        None
        if page_asked is None
        else monitor_page(now, filters, page_asked.number, page_asked.size)
    )
    # Paging links keep the filters and the page size (when given), and nothing else.
    keep = filters.params()
    if result is not None and request.args.get("per_page"):
        keep["per_page"] = str(result.per_page)
    page = render_template(
        "oversight/monitor.html",
        result=result,
        rows=result.rows if result else [],
        counts=result.counts if result else EMPTY_COUNTS,
        keep=keep,
        filters=filters,
        given={
            k: request.args.get(k, "")
            for k in ("unit", "kind", "channel", "area", "category", ESCALATED)
        }
        | {"state": filters.state if not errors else request.args.get("state", ALL)},
        errors=errors,
        now=now,
        escalation_levels=range(1, max(highest_level(), 2) + 1),
        refresh_url=request.full_path.rstrip("?"),
        state_labels=STATE_LABELS,
        status_labels={s.value: label for s, label in STATUS_LABELS.items()},
        **_choices(),
    )
    return page, 422 if errors else 200


# --- the dashboard --------------------------------------------------------------------------


def _period(now: datetime) -> tuple[date, date, dict[str, str]]:
    """[from, to] in local days; default: this year."""
    today = now.astimezone(LOCAL_TZ).date()
    start, end = date(today.year, 1, 1), date(today.year, 12, 31)
    errors: dict[str, str] = {}
    start = date_param(request.args, "from", errors=errors) or start
    end = date_param(request.args, "to", errors=errors) or end
    if not errors and start > end:
        errors["to"] = N_("Ngày kết thúc phải sau ngày bắt đầu.")
    return start, end, translated_fields(errors)


def _label(by: str, key: str) -> str:
    """A group's name in the reader's language, as plain text (it also goes into an
    attribute and the charts' SVG, where HTML has no place; the table's cell marks what
    stays Vietnamese with ``|translated``): kinds and channels are marked labels, as are
    the groups without a category or an area and a retired unit's "(đến …)"; names from
    the data come back as they are."""
    if by == "kind":
        return translated_text(KIND_LABELS.get(key, key))
    if by == "channel":
        return translated_text(CHANNEL_LABELS.get(key, key))
    if by == "month":
        return f"{key[5:]}/{key[:4]}"
    return translated_text(key)


def _months(start: date, end: date, today: date) -> list[str]:
    """Every month of the period up to this one (at most five years), for the chart."""
    last = min(end, max(today, start))
    found, day = [], start.replace(day=1)
    while day <= last and len(found) < 60:
        found.append(f"{day:%Y-%m}")
        day = (day + timedelta(days=32)).replace(day=1)
    return found


def _share_chart(chart_id: str, title: str, groups: list[tuple[str, dict[str, Any]]]) -> Markup:
    labels = [label for label, _ in groups]
    series = [
        Series(translated_text(name), [f[key] for _, f in groups]) for key, name in SHARE_SERIES
    ]
    desc = N_(
        "%(title)s: tỷ lệ phản hồi tiếp nhận đúng hạn và tỷ lệ trả lời đúng hạn của từng "
        "nhóm, thang 0–100%%, vạch đỏ là chỉ tiêu 100%%. Số liệu đầy đủ ở bảng bên dưới.",
        title=title,
    )
    return bar_chart(
        chart_id,
        title,
        translated_text(desc),
        labels,
        series,
        target=100.0,
        translate=translated_text,
        english=current_language() == "en",
    )


def _dashboard(start: date, end: date, filters: Filters, now: datetime) -> dict[str, Any]:
    summary = figures.summarise(start, end + timedelta(days=1), now, where=filters.conditions())
    totals = summary.totals()
    sections = []
    for by, title_vi, head in BREAKDOWNS:
        title = translated_text(title_vi)
        groups = [(_label(by, k), f) for k, f in summary.breakdown(by)]
        sections.append(
            {
                "by": by,
                "title": title,
                "head": translated_text(head),
                "groups": groups,
                "chart": _share_chart(f"chart-{by}", title, groups),
            }
        )
    by_month = dict(summary.breakdown("month"))
    today = now.astimezone(LOCAL_TZ).date()
    months = sorted(set(_months(start, end, today)) | set(by_month))
    month_chart = column_chart(
        "chart-month",
        translated_text(N_("Số hồ sơ tiếp nhận theo tháng")),
        translated_text(
            N_(
                "Số hồ sơ tiếp nhận trong từng tháng của kỳ (không tính hồ sơ trùng đã gộp); "
                "số liệu đầy đủ ở bảng bên dưới."
            )
        ),
        [_label("month", m) for m in months],
        [by_month[m]["received"] if m in by_month else 0 for m in months],
        translate=translated_text,
        english=current_language() == "en",
    )
    targets = [k for k, (_, _, target) in FIGURES.items() if target]
    totals_chart = bar_chart(
        "chart-totals",
        translated_text(N_("Các chỉ tiêu của kế hoạch")),
        translated_text(
            N_(
                "Tỷ lệ phản hồi tiếp nhận đúng hạn, trả lời đúng hạn và hồ sơ trễ hạn có văn "
                "bản xin lỗi trong kỳ, thang 0–100%, vạch đỏ là chỉ tiêu 100%."
            )
        ),
        [translated_text(FIGURES[k][0]) for k in targets],
        [Series(translated_text(N_("Kết quả")), [totals[k] for k in targets])],
        target=100.0,
        translate=translated_text,
        english=current_language() == "en",
    )
    return {
        "totals": totals,
        "totals_chart": totals_chart,
        "sections": sections,
        "months": [(_label("month", m), by_month.get(m)) for m in months],
        "month_chart": month_chart,
    }


@bp.get("/so-lieu")
@roles(*OVERSIGHT_ROLES)
def dashboard() -> Any:
    now = datetime.now(UTC)
    start, end, errors = _period(now)
    filters, filter_errors = _filters()
    errors |= filter_errors
    data = None if errors else _dashboard(start, end, filters, now)
    page = render_template(
        "oversight/dashboard.html",
        data=data,
        start=start,
        end=end,
        filters=filters,
        monitor_params=filters.params(state=False) | {"state": "overdue"},
        given={k: request.args.get(k, "") for k in ("unit", "kind", "channel", "area", "category")},
        errors=errors,
        now=now,
        figures=_figures(),
        definitions={key: translated_text(text) for key, text in metrics.DEFINITIONS.items()},
        number=partial(number, english=current_language() == "en"),
        **_choices(),
    )
    return page, 422 if errors else 200
