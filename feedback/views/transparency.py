"""The public transparency page (công khai kết quả xử lý): figures and answered cases, no
personal data.

``GET /cong-khai/?year=2024&sau=<cursor>``, no login:

- the plan's figures for the year, by handling unit and by month of receipt, computed by
  feedback.services.oversight.metrics (the dashboard's and the reports' own numbers), each with the
  sentence that defines it. They count every kind: a count per unit says nothing about
  who complained or denounced;
- the answered cases (answered or closed) received that year whose category is public
  (``Category.public``) and whose kind is neither a complaint nor a denunciation, newest
  answer first: code, category, area, dates, on time or late, and the subject and answer
  with personal data removed (feedback.services.oversight.redact, with what the reporter told us
  about themselves and the case's address). Body, address and reporter never appear.
  Twenty a page, continued from a cursor (``sau``: the last answer's time and id) along
  ix_cases_published_answers; no count of pages (issue 17: at a million cases the count
  and the OFFSET of a deep page were a second). ``page`` of older links: 1 is the first
  page, anything else is gone (404).

Anonymous visitors get ``Cache-Control: public, max-age=300``. A signed-in member of staff
sees his or her name in the page header, and a request that changes the session (the
language switch) gets a cookie: those copies are ``private, no-store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    session,
)
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import ColumnElement, func, select, text, tuple_
from sqlalchemy.orm import selectinload

from ..domain.calendar import LOCAL_TZ
from ..domain.marks import N_
from ..extensions import db
from ..i18n import current_language
from ..models import Case, Category
from ..models.case import PUBLISHED_SQL
from ..security.access import public
from ..services import params
from ..services.oversight import figures, metrics
from ..services.oversight.redact import redact_case_text
from ..services.params import int_param, invalid, page_of

bp = Blueprint("transparency", __name__, url_prefix="/cong-khai")

PER_PAGE = 20
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
    id: int
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


def cursor_of(case: PublicCase) -> str:
    """The ``sau`` value of the page that continues after ``case``."""
    assert case.answered_at is not None
    return params.cursor_of(case.answered_at, case.id)


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """``sau`` read back; anything else than what cursor_of writes is refused (422)."""
    errors: dict[str, str] = {}
    after = params.cursor_param(value, errors, signed=False)
    if errors:
        raise invalid(errors)
    return after


def listed_cases(
    year: int, after: tuple[datetime, int] | None
) -> tuple[list[PublicCase], str | None]:
    """One page of the public list after ``after``, and the cursor of the next page (None:
    the last). The condition is PUBLISHED_SQL word for word, so SQLite may walk its
    partial index; the category is a subquery, not a join, so its columns stay unqualified."""
    start, end = _year_bounds(year)
    received: ColumnElement[Any] = Case.received_at
    if db.session.get_bind().dialect.name == "sqlite":
        # Hidden from SQLite's planner, which would read the year through ix_cases_received_at
        # and sort it (0.9 s at a million cases) rather than walk the partial index (0.01 s).
        received = func.coalesce(Case.received_at, Case.received_at)
    stmt = select(Case).where(
        text(PUBLISHED_SQL),
        Case.category_id.in_(select(Category.id).where(Category.public.is_(True))),
        received >= start,
        received < end,
    )
    if after is not None:
        stmt = stmt.where(tuple_(Case.answered_at, Case.id) < tuple_(*after))
    found = db.session.scalars(
        stmt.options(selectinload(Case.category), selectinload(Case.area))
        .order_by(Case.answered_at.desc(), Case.id.desc())
        .limit(PER_PAGE + 1)
    ).all()
    shown = [
        PublicCase(
            id=c.id,
            code=c.code,
            category=f"{c.category.code} – {c.category.citizen_label}" if c.category else "",
            area=c.area.name if c.area else "—",
            received_at=c.received_at,
            answered_at=c.answered_at,
            on_time=c.answered_at is not None and c.answered_at <= c.response_due_at,
            subject=redact_case_text(c.subject, c),
            answer=redact_case_text(c.answer_body, c),
        )
        for c in found[:PER_PAGE]
    ]
    return shown, cursor_of(shown[-1]) if len(found) > PER_PAGE else None


@bp.get("/")
@public
def index() -> Any:
    now = datetime.now(UTC)
    this_year = now.astimezone(LOCAL_TZ).year
    first_year = _first_year(this_year)
    year = int_param(request.args, "year", default=this_year, low=first_year, high=this_year)
    # Links of the numbered pages this page had: the first still works, the others are gone.
    if page_of(request.args, per_page_default=PER_PAGE).number > 1:
        abort(404)
    after = parse_cursor(request.args.get("sau"))
    summary = figures.summarise(date(year, 1, 1), date(year + 1, 1, 1), now)
    cases, next_cursor = listed_cases(year, after)
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
        next_cursor=next_cursor,
        first_page=after is None,
        now=now,
    )
    response = make_response(html)
    # A copy that names a signed-in user, that sets a cookie (?lang=en), or that is in the
    # language a visitor's session chose (the URL is the same for everybody) is nobody
    # else's: a shared cache must not keep it.
    personal = (
        current_user.is_authenticated
        or session.modified
        or current_language() != current_app.config["BABEL_DEFAULT_LOCALE"]
    )
    response.headers["Cache-Control"] = "private, no-store" if personal else PUBLIC_CACHE
    return response
