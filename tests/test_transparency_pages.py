"""The public page's list in pages of a cursor (issue 17: no count, no OFFSET at a million
cases), and the figures' cached sum of past months, which a change to one of them drops."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import Case, User
from feedback.services.handling import actions
from feedback.services.oversight import figures, sums
from feedback.views import transparency

PAGE = "/cong-khai/"


def answer(app: Flask, make_user: Any, code: str, answered_at: datetime) -> None:
    """Acknowledged and answered by the head of the handling unit, then dated."""
    with app.app_context():
        unit = db.session.scalar(select(Case).where(Case.code == code)).handling_unit.code
    head_id, _ = make_user("unit_head", unit_code=unit)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        head = db.session.get(User, head_id)
        now = datetime.now(UTC)
        actions.acknowledge(case, head, now)
        actions.approve_answer(case, head, now, "Đã sửa xong, cảm ơn ông/bà đã phản ánh.")
    with app.app_context(), unit_of_work():
        db.session.execute(update(Case).where(Case.code == code).values(answered_at=answered_at))


def listed(client: FlaskClient) -> tuple[list[list[str]], list[str]]:
    """Every page's codes, following the "next" links from the first page; and the pages."""
    codes, texts, url = [], [], PAGE
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        texts.append(response.text)
        codes.append(re.findall(r'<tr data-code="([^"]+)"', response.text))
        found = re.search(r'href="([^"]+)" rel="next"', response.text)
        url = html.unescape(found.group(1)) if found else None
        assert len(texts) < 10, "the pages do not end"
    return codes, texts


def test_the_answered_cases_come_in_pages_of_a_cursor_newest_answer_first(
    app: Flask,
    client: FlaskClient,
    make_case: Callable[..., str],
    make_user: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transparency, "PER_PAGE", 2)
    base = datetime.now(UTC) - timedelta(hours=1)
    codes = [make_case(subject=f"Đèn ngõ {n} không sáng") for n in range(5)]
    # Two answers at the same instant: the id decides, and the cursor must not skip one.
    when = [base, base + timedelta(minutes=5), base + timedelta(minutes=5), base, base]
    when[3] = base - timedelta(minutes=7)
    when[4] = base + timedelta(minutes=9)
    for code, at in zip(codes, when, strict=True):
        answer(app, make_user, code, at)
    hidden = make_case(kind="complaint", subject="Khiếu nại mức bồi thường")
    answer(app, make_user, hidden, base + timedelta(minutes=20))
    with app.app_context():
        ids = {c.code: c.id for c in db.session.scalars(select(Case))}
    wanted = sorted(codes, key=lambda c: (when[codes.index(c)], ids[c]), reverse=True)

    pages, texts = listed(client)
    assert pages == [wanted[0:2], wanted[2:4], wanted[4:5]]
    assert hidden not in "".join(texts)
    assert 'rel="first"' not in texts[0] and 'rel="first"' in texts[1]
    assert 'rel="next"' not in texts[2] and 'rel="first"' in texts[2]
    # No count of pages any more: no "page N of M", no numbered links.
    assert not re.search(r"[?&;]page=\d", "".join(texts))


@pytest.mark.parametrize(
    "bad", ["abc", "1.x", "-5.1", "1.2.3", " ", "1.", ".1", "9" * 18 + ".1", "1" * 19 + ".1"]
)
def test_a_bad_cursor_is_a_422_with_a_message(client: FlaskClient, bad: str) -> None:
    response = client.get(PAGE, query_string={"sau": bad})
    assert response.status_code == 422, (bad, response.status_code)
    assert "Vị trí trang không hợp lệ" in response.text


def test_a_cursor_past_the_last_case_and_old_page_links(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], make_user: Any
) -> None:
    code = make_case()
    answer(app, make_user, code, datetime.now(UTC) - timedelta(minutes=3))
    assert code in client.get(PAGE).text
    past = client.get(PAGE, query_string={"sau": "0.0"})
    assert past.status_code == 200 and code not in past.text
    assert "Chưa có hồ sơ nào được công khai." in past.text
    assert client.get(PAGE, query_string={"page": "1"}).status_code == 200
    assert client.get(PAGE, query_string={"page": "2"}).status_code == 404
    assert client.get(PAGE, query_string={"page": "0"}).status_code == 422


def _months_back(n: int) -> date:
    first = datetime.now(UTC).astimezone(LOCAL_TZ).date().replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def test_the_sum_of_past_months_is_kept_until_one_of_them_changes(
    app: Flask, make_case: Callable[..., str]
) -> None:
    start, end = _months_back(3), _months_back(0) + timedelta(days=40)
    for months_back in (1, 2, 3):
        received = datetime.combine(_months_back(months_back), datetime.min.time(), LOCAL_TZ)
        make_case(now=(received + timedelta(days=3)).astimezone(UTC))
    make_case()  # this month: never in the kept sum
    now = datetime.now(UTC)
    with app.app_context():
        sums._MERGED.clear()
        first = figures.summarise(start, end, now)
        assert len(sums._MERGED) == 1
        [(key, kept)] = sums._MERGED.items()
        again = figures.summarise(start, end, now)
        assert sums._MERGED[key] is kept and len(sums._MERGED) == 1  # not made again
        assert again.totals() == first.totals() and first.totals()["received"] == 4
        assert [k for k, _ in again.breakdown("month")] == [k for k, _ in first.breakdown("month")]
        db.session.commit()
    # A case received two months ago: its month is dirtied and rebuilt, the kept sum unused.
    received = datetime.combine(_months_back(2), datetime.min.time(), LOCAL_TZ)
    make_case(now=(received + timedelta(days=5)).astimezone(UTC))
    with app.app_context():
        later = figures.summarise(start, end, now)
        assert later.totals()["received"] == 5
        month = f"{_months_back(2):%Y-%m}"
        assert dict(later.breakdown("month"))[month]["received"] == 2


def _received(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, datetime.min.time(), LOCAL_TZ).replace(hour=hour).astimezone(UTC)


def _as_dicts(summary: Any) -> dict[str, Any]:
    groups = {by: summary.breakdown(by) for by in sorted(summary.groups)}
    return {"totals": summary.totals(), **groups}


def test_a_cut_month_is_its_rollup_less_the_days_left_out(
    app: Flask,
    make_case: Callable[..., str],
    make_user: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    month = _months_back(2)
    # Left out by a period from the 4th: the 1st and the 2nd (one case answered, in another
    # area); kept: the 10th and the 20th.
    left = [
        make_case(now=_received(month)),
        make_case(now=_received(month + timedelta(days=1)), area_code="00688"),
    ]
    answer(app, make_user, left[1], _received(month + timedelta(days=2)))
    kept = [make_case(now=_received(month + timedelta(days=d))) for d in (9, 19)]
    answer(app, make_user, kept[0], _received(month + timedelta(days=11)))
    start, end = month + timedelta(days=3), _months_back(0) + timedelta(days=40)
    read: list[tuple[Any, Any]] = []
    settled = figures.settled

    def recording(lo: Any, hi: Any, where: Any = ()) -> Any:
        read.append((lo, hi))
        return settled(lo, hi, where)

    monkeypatch.setattr(figures, "settled", recording)
    now = datetime.now(UTC)
    with app.app_context():
        got = figures.summarise(start, end, now)
        db.session.commit()
        # The three days left out were read from the cases, not the days kept (the other
        # reads are the rollups' builds, whole months).
        first = datetime.combine(month, datetime.min.time(), LOCAL_TZ)
        assert (first, first + timedelta(days=3)) in read
        assert [lo for lo, _ in read if lo.day != 1] == []
        # The same figures counted from the cases (a condition makes summarise read them).
        wanted = figures.summarise(start, end, now, where=[Case.id > 0])
        assert _as_dicts(got) == _as_dicts(wanted)
        assert got.totals()["received"] == 2
        # No group of the days left out only (area 00688) is left behind empty.
        assert [a for a, f in got.breakdown("area") if f["received"] == 0] == []


def test_a_dirty_rollup_is_not_subtracted_from(
    app: Flask, make_case: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    month = _months_back(2)
    make_case(now=_received(month + timedelta(days=9)))
    start, end = month + timedelta(days=3), _months_back(0) + timedelta(days=40)
    now = datetime.now(UTC)
    with app.app_context():
        figures.summarise(start, end, now)  # the month's rollup built, clean
        db.session.commit()
    # A case of the 1st arrives; the dirty rollup stays young enough to serve.
    app.config["FIGURES_MAX_AGE_SECONDS"] = 3600
    make_case(now=_received(month))
    with app.app_context():
        got = figures.summarise(start, end, now)
        wanted = figures.summarise(start, end, now, where=[Case.id > 0])
        assert _as_dicts(got) == _as_dicts(wanted)
        assert got.totals()["received"] == 1
