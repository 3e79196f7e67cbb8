"""The public transparency page (công khai kết quả xử lý): figures and answered cases, no
personal data.

``GET /cong-khai/?year=2024&page=2``, no login:

- the plan's figures for the year, by handling unit and by month of receipt, computed by
  feedback.services.oversight.metrics (the dashboard's and the reports' own numbers), each with the
  sentence that defines it. They count every kind: a count per unit says nothing about
  who complained or denounced;
- the answered cases (answered or closed) received that year whose category is public
  (``Category.public``) and whose kind is neither a complaint nor a denunciation, newest
  answer first: code, category, area, dates, on time or late, and the subject and answer
  with personal data removed (feedback.services.oversight.redact, with what the reporter told us
  about themselves and the case's address). Body, address and reporter never appear.

Anonymous visitors get ``Cache-Control: public, max-age=300``. A signed-in member of staff
sees his or her name in the page header, and a request that changes the session (the
language switch) gets a cookie: those copies are ``private, no-store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, make_response, render_template, request, session
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..domain.calendar import LOCAL_TZ
from ..domain.marks import N_
from ..domain.permissions import HIDDEN_KINDS
from ..extensions import db
from ..models import Case, Category
from ..security.access import public
from ..services.oversight import figures, metrics
from ..services.oversight.redact import redact_case_text
from ..services.params import Page, int_param, page_of, pages

bp = Blueprint("transparency", __name__, url_prefix="/cong-khai")

PER_PAGE = 20
LISTED_STATUSES = ("answered", "closed")
FIGURES = (
    ("received", N_("Số hồ sơ"), ""),
    ("ack_on_time", N_("Phản hồi tiếp nhận đúng hạn"), "%"),
    ("answered_on_time", N_("Trả lời đúng hạn"), "%"),
    ("apology_share", N_("Trễ hạn có thư xin lỗi"), "%"),
    ("answer_days_median", N_("Trung vị thời gian trả lời (ngày)"), ""),
    ("satisfaction", N_("Điểm hài lòng (1–5)"), ""),
    ("overdue_open", N_("Đang quá hạn"), ""),
)
PUBLIC_CACHE = "public, max-age=300"


@dataclass(frozen=True)
class PublicCase:
    code: str
    category: str
    area: str
    received_at: datetime
    answered_at: datetime | None
    on_time: bool
    subject: str
    answer: str


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return (
        datetime(year, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC),
        datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC),
    )


def _first_year(this_year: int) -> int:
    first = db.session.scalar(select(func.min(Case.received_at)))
    if first is None:
        return this_year
    return min(first.astimezone(LOCAL_TZ).year, this_year)


def listed_cases(year: int, page: Page) -> tuple[list[PublicCase], int]:
    """One page of the public list, and the number of pages."""
    start, end = _year_bounds(year)
    stmt = (
        select(Case)
        .join(Category, Case.category_id == Category.id)
        .where(
            Category.public.is_(True),
            Case.status.in_(LISTED_STATUSES),
            Case.kind.not_in(HIDDEN_KINDS),
            Case.received_at >= start,
            Case.received_at < end,
        )
    )
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    last = pages(total, PER_PAGE)
    if page.number > last:
        abort(404)
    found = db.session.scalars(
        stmt.options(selectinload(Case.category), selectinload(Case.area))
        .order_by(Case.answered_at.desc(), Case.id.desc())
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return [
        PublicCase(
            code=c.code,
            category=f"{c.category.code} – {c.category.citizen_label}" if c.category else "",
            area=c.area.name if c.area else "—",
            received_at=c.received_at,
            answered_at=c.answered_at,
            on_time=c.answered_at is not None and c.answered_at <= c.response_due_at,
            subject=redact_case_text(c.subject, c),
            answer=redact_case_text(c.answer_body, c),
        )
        for c in found
    ], last


@bp.get("/")
@public
def index() -> Any:
    now = datetime.now(UTC)
    this_year = now.astimezone(LOCAL_TZ).year
    first_year = _first_year(this_year)
    year = int_param(request.args, "year", default=this_year, low=first_year, high=this_year)
    page = page_of(request.args, per_page_default=PER_PAGE)
    summary = figures.summarise(date(year, 1, 1), date(year + 1, 1, 1), now)
    cases, last = listed_cases(year, page)
    html = render_template(
        "transparency/index.html",
        year=year,
        years=list(range(this_year, first_year - 1, -1)),
        totals=summary.totals(),
        by_unit=summary.breakdown("unit"),
        by_month=summary.breakdown("month"),
        # Titles and definitions in the reader's language (gettext: no formatting, so the
        # "100%" of a definition is safe).
        figures=[(key, gettext(title), unit) for key, title, unit in FIGURES],
        definitions={key: gettext(text) for key, text in metrics.DEFINITIONS.items()},
        cases=cases,
        page=page.number,
        pages=last,
        now=now,
    )
    response = make_response(html)
    # A copy that names a signed-in user, or that sets a cookie (?lang=en), is nobody
    # else's: a shared cache must not keep it.
    personal = current_user.is_authenticated or session.modified
    response.headers["Cache-Control"] = "private, no-store" if personal else PUBLIC_CACHE
    return response
