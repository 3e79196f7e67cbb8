"""Oversight (Thanh tra): the breach monitor and the dashboard.

Expectations are computed here, independently, from the cases themselves (their due times,
the policies' thresholds and the working calendar), never through
``feedback.services.oversight.monitor`` or ``feedback.services.oversight.metrics``.
Pages run on the real clock, so each page is compared with the expectation computed
just before and just after the request (a boundary crossed in between cannot make the test flaky).
"""

from __future__ import annotations

import html
import re
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db as database
from feedback.models import ApologyLetter, Case, SlaPolicy
from feedback.services.demo import CASES as DEMO_CASES
from feedback.services.demo import load_demo
from feedback.services.errors import ValidationError
from feedback.services.intake.submission import Reporter
from feedback.services.oversight.charts import Series, bar_chart, column_chart
from feedback.services.oversight.monitor import counts, monitor_page, to_json
from feedback.services.oversight.monitor_filters import MAX_PER_PAGE, parse_filters
from feedback.services.reference.policies import load_calendar

DEMO_PASSWORD = "demo-matkhau-thu"
FIXED_NOW = datetime(2024, 3, 20, 3, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
Expected = list[tuple[str, str, str, bool]]  # code, state, first promise, answer overdue

# --- the independent computation ------------------------------------------------------------


def _warning_start(due: datetime, working_days: int) -> datetime:
    """00:00 local of the ``working_days``-th working day counted back from the due day."""
    calendar = load_calendar()
    day, counted = due.astimezone(LOCAL_TZ).date(), 0
    while True:
        if calendar.is_working_day(day):
            counted += 1
            if counted == working_days:
                return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
        day -= timedelta(days=1)


def _paused(case: Case, policy: SlaPolicy) -> bool:
    """Waiting for the citizen under a policy that stops the answer clock."""
    return case.status == "waiting_citizen" and policy.pause_when_waiting


def expected_rows(
    now: datetime, keep: Callable[[Case], bool] = lambda c: True, state: str = "all"
) -> Expected:
    policies = {p.kind: p for p in database.session.scalars(select(SlaPolicy))}
    found = []
    for case in database.session.scalars(select(Case)):
        if case.status in ("closed", "rejected", "merged") or not keep(case):
            continue
        policy = policies[case.kind]
        flags = []
        if case.acknowledged_at is None:
            due, hours = case.ack_due_at, policy.warn_before_ack_hours
            if due < now:
                flags.append((due, "overdue", "ack"))
            elif hours and now >= due - timedelta(hours=hours):
                flags.append((due, "at_risk", "ack"))
        if case.answered_at is None and not _paused(case, policy):
            due, days = case.response_due_at, policy.warn_before_response_working_days
            if due < now:
                flags.append((due, "overdue", "response"))
            elif days and now >= _warning_start(due, days):
                flags.append((due, "at_risk", "response"))
        if not flags:
            continue
        flags.sort()
        row_state = "overdue" if any(f[1] == "overdue" for f in flags) else "at_risk"
        late_answer = any(f[1:] == ("overdue", "response") for f in flags)
        found.append((flags[0][0], case.code, row_state, flags[0][2], late_answer))
    found.sort()
    return [f[1:] for f in found if state in ("all", f[2])]


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, position = sorted(values), 0.9 * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def expected_totals(
    start: date, end: date, now: datetime, keep: Callable[[Case], bool] = lambda c: True
) -> dict[str, Any]:
    lo = datetime.combine(start, time(0), tzinfo=LOCAL_TZ)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)
    cases = [
        c
        for c in database.session.scalars(select(Case))
        if c.status != "merged" and lo <= c.received_at < hi and keep(c)
    ]
    letters = {a.case_id: a.status for a in database.session.scalars(select(ApologyLetter))}
    policies = {p.kind: p for p in database.session.scalars(select(SlaPolicy))}
    overdue = [
        c
        for c in cases
        if c.answered_at is None and c.response_due_at < now and not _paused(c, policies[c.kind])
    ]
    acked = [c for c in cases if c.acknowledged_at is not None]
    answered = [c for c in cases if c.answered_at is not None]
    late = [c for c in answered if c.answered_at > c.response_due_at]
    ack_hours = [(c.acknowledged_at - c.received_at).total_seconds() / 3600 for c in acked]
    answer_days = [(c.answered_at - c.received_at).total_seconds() / 86400 for c in answered]
    return {
        "received": len(cases),
        "ack_on_time": _share(
            sum(c.acknowledged_at <= c.ack_due_at for c in acked),
            len(acked) + sum(c.acknowledged_at is None and c.ack_due_at < now for c in cases),
        ),
        "answered_on_time": _share(
            sum(c.answered_at <= c.response_due_at for c in answered),
            len(answered) + len(overdue),
        ),
        "apology_share": _share(
            sum(letters.get(c.id) in ("issued", "delivered") for c in late), len(late)
        ),
        "ack_hours_median": round(statistics.median(ack_hours), 1) if ack_hours else None,
        "answer_days_median": round(statistics.median(answer_days), 1) if answer_days else None,
        "ack_hours_p90": _p90(ack_hours),
        "answer_days_p90": _p90(answer_days),
        "overdue_open": len(overdue),
    }


# --- reading the pages ------------------------------------------------------------------------

ROW = re.compile(
    r'<tr class="[^"]*" data-code="([^"]+)" data-state="(\w+)" data-promise="(\w+)" '
    r'data-response-overdue="([01])"'
)


def page_rows(text: str) -> Expected:
    return [(m[1], m[2], m[3], m[4] == "1") for m in ROW.finditer(text)]


def page_counts(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', text)}


def page_totals(text: str) -> dict[str, float | None]:
    found = re.findall(r'<dd data-figure="(\w+)" data-value="([^"]*)"', text)
    return {k: float(v) if v else None for k, v in found}


def close_to(page: dict[str, float | None], wanted: dict[str, Any]) -> bool:
    """Equal as shown (one decimal); medians and p90s within one 0.1 step of the
    exact figure, the histogram's resolution (feedback.services.oversight.metrics)."""
    for key, value in wanted.items():
        got = page[key]
        limit = 0.101 if key.endswith(("_median", "_p90")) else 0.051
        if (got is None) != (value is None) or (value is not None and abs(got - value) > limit):
            return False
    return True


def monitor_rows(now: datetime, raw: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every row the monitor lists at ``now`` under the raw parameters ``raw``, read as
    the page and the API read it (their filters parsed, ``monitor_page``), page after page
    of the largest size they allow."""
    filters = parse_filters(raw or {})
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        result = monitor_page(now, filters, page, MAX_PER_PAGE)
        rows += result.rows
        if page >= result.pages:
            return rows
        page += 1


def get_agreeing(
    client: FlaskClient, app: Flask, url: str, expect: Callable[[datetime], Any], read: Any
) -> tuple[str, Any, Any]:
    """GET ``url``; its reading must equal the expectation before or after the request."""
    with app.app_context():
        before = expect(datetime.now(UTC))
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    with app.app_context():
        after = expect(datetime.now(UTC))
    got = read(response.text)
    return response.text, got, (before, after)


def local_today() -> date:
    return datetime.now(UTC).astimezone(LOCAL_TZ).date()


def everything() -> str:
    """A dashboard period that holds every case."""
    return f"from=2000-01-01&to={local_today() + timedelta(days=1)}"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def demo(app: Flask) -> Iterator[None]:
    with app.app_context(), unit_of_work():
        load_demo(password=DEMO_PASSWORD, now=datetime.now(UTC))
    yield


@pytest.fixture
def inspector(login_as: Callable[..., str]) -> str:
    return login_as("inspector")


NAMES = {i: (f"Người Báo Tin Số {i} Họ Riêng", f"09887766{i:02d}") for i in range(1, 14)}
H, D = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def built(app: Flask, make_case: Callable[..., str]) -> dict[str, str]:
    """Hand-built cases, each with its own due times and state (relative to now)."""
    now = datetime.now(UTC)
    end_today = datetime.combine(local_today(), time(23, 59, 59), tzinfo=LOCAL_TZ)
    # name: kind, category, area, channel, status, received, ack due, response due,
    # acknowledged, answered (offsets from now; None: not done)
    specs: dict[str, tuple[Any, ...]] = {
        "ack_overdue": ("feedback", "6.3b", "00694", "web", "received",
                        -30 * H, -6 * H, 20 * D, None, None),
        "ack_risk": ("feedback", "6.3c", "00691", "api", "received",
                     -21 * H, 3 * H, 20 * D, None, None),
        "answer_overdue": ("petition", "6.3a", "00688", "hotline", "in_progress",
                           -20 * D, -19 * D, -51 * H, -19.5 * D, None),
        "both_overdue": ("feedback", "6.3b", "00694", "box", "received",
                         -20 * D, -19 * D, -1 * D, None, None),
        "answer_risk": ("suggestion", "8.1", None, "web", "acknowledged",
                        -10 * D, -9 * D, end_today - now, -9.5 * D, None),
        "complaint_risk": ("complaint", "2.4", "00700", "web", "received",
                           -5 * D, 20 * H, 40 * D, None, None),
        "waiting": ("petition", "2.2", "00946", "box", "waiting_citizen",
                    -15 * D, -14 * D, -3 * D, -14.5 * D, None),
        "closed": ("feedback", "6.3b", "00694", "web", "closed",
                   -12 * D, -11 * D, -4 * D, -11.5 * D, -4.5 * D),
        "answered_late": ("feedback", "6.3c", "00691", "web", "answered",
                          -12 * D, -11 * D, -4 * D, -11.9 * D, -2 * D),
        "merged": ("feedback", "6.3b", "00694", "web", "merged",
                   -12 * D, -11 * D, -4 * D, None, None),
        "on_track": ("feedback", "6.3a", "00688", "web", "in_progress",
                     -2 * D, -1 * D, 20 * D, -1.5 * D, None),
        "denounced": ("denunciation", "4.1", "00691", "web", "in_progress",
                      -40 * D, -35 * D, -2 * D, -36 * D, None),
        "rejected": ("feedback", "3.3", None, "web", "rejected",
                     -6 * D, -5 * D, -1 * D, -5.5 * D, -5.5 * D),
    }  # fmt: skip
    codes: dict[str, str] = {}
    for i, (name, spec) in enumerate(specs.items(), start=1):
        kind, category, area, channel, status, received, ack, response, acked, answered = spec
        who, phone = NAMES[i]
        codes[name] = make_case(
            now=now,
            kind=kind,
            category_code=category,
            area_code=area,
            reporter=Reporter(name=who, phone=phone),
        )
        with app.app_context(), unit_of_work():
            case = database.session.scalar(select(Case).where(Case.code == codes[name]))
            assert case is not None
            case.channel, case.status = channel, status
            case.received_at = now + received
            case.ack_due_at = now + ack
            case.response_due_at = now + response
            case.acknowledged_at = now + acked if acked is not None else None
            case.answered_at = now + answered if answered is not None else None
            if name == "answered_late":
                case.rating = 4
                database.session.add(
                    ApologyLetter(case=case, status="issued", owed_since=case.answered_at)
                )
    return codes


# --- the monitor ----------------------------------------------------------------------------


def test_monitor_lists_built_cases_in_order(
    app: Flask, client: FlaskClient, inspector: str, built: dict[str, str]
) -> None:
    text, got, wanted = get_agreeing(client, app, "/thanh-tra/", expected_rows, page_rows)
    assert got in wanted
    codes = [row[0] for row in got]
    order = ["both_overdue", "answer_overdue", "denounced", "ack_overdue"]
    assert codes[: len(order)] == [built[n] for n in order]  # most overdue first
    assert set(codes[len(order) :]) == {built["ack_risk"], built["complaint_risk"],
                                        built["answer_risk"]}  # fmt: skip
    for name in ("closed", "answered_late", "merged", "on_track", "rejected", "waiting"):
        assert built[name] not in codes
    rows = {row[0]: row for row in got}
    assert rows[built["both_overdue"]] == (built["both_overdue"], "overdue", "ack", True)
    assert rows[built["ack_overdue"]][1:] == ("overdue", "ack", False)
    assert rows[built["complaint_risk"]][1:] == ("at_risk", "ack", False)
    assert rows[built["answer_risk"]][1:] == ("at_risk", "response", False)
    assert page_counts(text) == {
        "overdue": 4, "response_overdue": 3, "ack_overdue_only": 1, "at_risk": 3,
        "missed_commitment": 0,
    }  # fmt: skip
    # No automatic reload (WCAG 2.2.1/2.2.4, issue 15): the reader updates when they choose.
    assert 'http-equiv="refresh"' not in text
    assert "Refresh" not in client.get("/thanh-tra/").headers
    assert 'data-testid="refresh"' in text and "Cập nhật</a>" in text
    assert 'data-testid="refreshed"' in text
    assert f'href="/can-bo/ho-so/{built["denounced"]}"' in text
    assert "quá hạn 2 ngày 3 giờ" in text, re.findall(
        r"(?:quá hạn|còn) \d[^<]+", text
    )  # answer_overdue: 51 hours late
    assert "còn 3 giờ" in text or "còn 2 giờ" in text  # ack_risk


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("unit=UBND-00694", lambda c: c.handling_unit.code == "UBND-00694"),
        ("kind=petition", lambda c: c.kind == "petition"),
        ("channel=hotline", lambda c: c.channel == "hotline"),
        ("area=00691", lambda c: c.area is not None and c.area.code == "00691"),
        ("category=6.3a", lambda c: c.category is not None and c.category.code == "6.3a"),
        ("kind=feedback&area=00694", lambda c: c.kind == "feedback" and c.area_id is not None
         and c.area.code == "00694"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("state", ["all", "overdue", "at_risk"])
def test_monitor_filters(
    app: Flask,
    client: FlaskClient,
    inspector: str,
    built: dict[str, str],
    query: str,
    keep: Callable[[Case], bool],
    state: str,
) -> None:
    url = f"/thanh-tra/?{query}&state={state}"
    _, got, wanted = get_agreeing(
        client, app, url, lambda now: expected_rows(now, keep, state), page_rows
    )
    assert got in wanted
    with app.app_context():
        everything_now = expected_rows(datetime.now(UTC))
    if state == "all" and query != "kind=feedback&area=00694":
        assert got and len(got) < len(everything_now)  # the filter bites


def test_overdue_agrees_with_the_shared_sql_condition(app: Flask, built: dict[str, str]) -> None:
    """The desk's lists, digests and exports use feedback.services.sla.sweep.overdue_condition."""
    from feedback.services.sla.sweep import overdue_condition

    with app.app_context():
        for now in (datetime.now(UTC), datetime.now(UTC) + 2 * D, datetime.now(UTC) + 30 * D):
            listed = {r["code"] for r in monitor_rows(now, {"state": "overdue"})}
            shared = set(database.session.scalars(select(Case.code).where(overdue_condition(now))))
            assert listed == shared


def test_monitor_rejects_bad_filters(client: FlaskClient, inspector: str) -> None:
    response = client.get("/thanh-tra/?unit=NOPE&state=late")
    assert response.status_code == 422
    assert "unit" in response.text and "state" in response.text


def test_monitor_service_on_demo_with_a_fixed_clock(app: Flask) -> None:
    with app.app_context():
        with unit_of_work():
            load_demo(password=DEMO_PASSWORD, now=FIXED_NOW)
        seen = set()
        for now in (FIXED_NOW + k * 6 * H for k in range(-4, 12)):  # Tuesday to Friday
            rows = monitor_rows(now)
            got = [(r["code"], r["state"], r["promise"], r["response_overdue"]) for r in rows]
            assert got == expected_rows(now)
            seen |= {(r["state"], r["promise"]) for r in rows}
            assert [r["code"] for r in monitor_rows(now, {"state": "at_risk"})] == [
                c for c, s, *_ in got if s == "at_risk"
            ]
            assert [r["code"] for r in monitor_rows(now, {"state": "overdue"})] == [
                c for c, s, *_ in got if s == "overdue"
            ]
        assert seen == {(s, p) for s in ("overdue", "at_risk") for p in ("ack", "response")}
        first = to_json(monitor_rows(FIXED_NOW)[0])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", first["due_at"])
        assert not {"reporter_name", "reporter_phone", "reporter"} & set(first)
        with pytest.raises(ValidationError) as err:
            monitor_rows(FIXED_NOW, {"kind": "rumour", "area": "99999"})
        assert set(err.value.fields) == {"kind", "area"}


def test_monitor_on_demo_data(app: Flask, client: FlaskClient, demo: None, inspector: str) -> None:
    _, got, wanted = get_agreeing(client, app, "/thanh-tra/", expected_rows, page_rows)
    assert got in wanted
    assert any(state == "overdue" for _, state, *_ in got)


# --- the SQL rules agree with the Python arithmetic ---------------------------------------

LOCAL = LOCAL_TZ
# Around the 2024 National Day break: Sat 31 Aug to Tue 3 Sep are days off, then an
# announced extra day off (an override) on Thu 5 Sep, and the weekend after.
AGREEMENT_NOWS = [
    datetime(2024, 8, 29, 10, 0, tzinfo=LOCAL),  # Thursday
    datetime(2024, 8, 30, 0, 0, tzinfo=LOCAL),  # Friday, its first second
    datetime(2024, 8, 30, 16, 30, tzinfo=LOCAL),
    datetime(2024, 8, 31, 12, 0, tzinfo=LOCAL),  # Saturday
    datetime(2024, 9, 2, 9, 0, tzinfo=LOCAL),  # a holiday
    datetime(2024, 9, 3, 23, 59, 59, tzinfo=LOCAL),
    datetime(2024, 9, 4, 0, 0, tzinfo=LOCAL),  # back to work
    datetime(2024, 9, 4, 15, 0, tzinfo=LOCAL),
    datetime(2024, 9, 6, 8, 0, tzinfo=LOCAL),  # after the extra day off
]


def _clone_cases(base_code: str, count: int, seed: int) -> None:
    """``count`` copies of one case with varied kind, status, promises and due times:
    every kind, paused and not, acknowledged or not, due times on whole local days (as
    the policies set them) and at odd times, across the break; plus exact boundaries."""
    import random

    from feedback.domain.states import Status

    rng = random.Random(seed)
    base = database.session.scalar(select(Case).where(Case.code == base_code))
    assert base is not None
    columns = [c.key for c in Case.__table__.columns if c.key not in ("id", "code", "external_ref")]
    kinds = ("feedback", "petition", "suggestion", "complaint", "denunciation")
    statuses = [s.value for s in Status]
    start = datetime(2024, 8, 27, 0, 0, tzinfo=LOCAL)
    specials: list[tuple[str, str, datetime, datetime, bool, bool]] = []
    for now in AGREEMENT_NOWS[:4]:
        for kind in kinds:
            for hours in (0, 4, 24):  # the ack warning's first second, and the due second
                due = now + timedelta(hours=hours)
                specials.append((kind, "received", due, due + 9 * D, False, False))
                specials.append((kind, "received", due + timedelta(microseconds=1),
                                 due + 9 * D, False, False))  # fmt: skip
            specials.append((kind, "in_progress", now - D, now, True, False))
    for i in range(count + len(specials)):
        if i < len(specials):
            kind, status, ack_due, response_due, acked, answered = specials[i]
        else:
            kind, status = rng.choice(kinds), rng.choice(statuses + ["waiting_citizen"] * 3)
            ack_due = start + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
            day = start.date() + timedelta(days=rng.randrange(0, 16))
            response_due = (
                datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL)
                if rng.random() < 0.7
                else datetime.combine(day, time(rng.randrange(24), rng.randrange(60)), tzinfo=LOCAL)
            )
            acked, answered = rng.random() < 0.5, rng.random() < 0.25
        copy = Case(**{c: getattr(base, c) for c in columns})
        copy.code = f"{base_code}-{i}"
        copy.anonymous, copy.reporter_name, copy.reporter_phone = True, None, None
        copy.kind, copy.status = kind, status
        copy.ack_due_at, copy.response_due_at = ack_due, response_due
        copy.received_at = min(ack_due, response_due) - 2 * D
        copy.acknowledged_at = copy.received_at + H if acked else None
        copy.answered_at = copy.received_at + 2 * H if answered else None
        database.session.add(copy)


def test_sql_rules_agree_with_the_python_arithmetic(
    app: Flask, make_case: Callable[..., str]
) -> None:
    """Every open case's flags, state and sort key, from the SQL rules, equal what
    ``_flag`` computes for it, at moments around weekends, holidays and an override, with
    one kind's warnings switched off; the monitor's page and counts follow."""
    from feedback.models import CalendarOverride
    from feedback.services.oversight import monitor, monitor_rules
    from feedback.services.sla.sweep import pausing_kinds

    code = make_case(now=datetime(2024, 8, 26, 9, 0, tzinfo=LOCAL))
    with app.app_context(), unit_of_work():
        _clone_cases(code, 400, seed=20240902)
        database.session.add(
            CalendarOverride(day=date(2024, 9, 5), kind="off", source="Thông báo thử nghiệm")
        )
        suggestion = database.session.scalar(
            select(SlaPolicy).where(SlaPolicy.kind == "suggestion")
        )
        assert suggestion is not None
        suggestion.warn_before_ack_hours, suggestion.warn_before_response_working_days = None, 0
    with app.app_context():
        policies = {p.kind: p for p in database.session.scalars(select(SlaPolicy))}
        calendar = load_calendar()
        assert not calendar.is_working_day(date(2024, 9, 5))
        assert set(pausing_kinds()) == {k for k, p in policies.items() if p.pause_when_waiting}
        assert any(not p.pause_when_waiting for p in policies.values())
        seen: set[tuple[str, str, str]] = set()
        for now in AGREEMENT_NOWS:
            now = now.astimezone(UTC)
            rules = monitor_rules.rules(now, policies, calendar)
            stmt = select(
                Case, rules.flagged, rules.overdue, rules.response_overdue, rules.due
            ).where(monitor_rules.OPEN_CONDITION)
            wanted_order = []
            for case, flagged, overdue, response_overdue, due in database.session.execute(stmt):
                promises = monitor._flag(case, policies.get(case.kind), calendar, now)
                assert bool(flagged) == bool(promises), (now, case.code, promises)
                assert bool(overdue) == any(p["state"] == "overdue" for p in promises)
                assert bool(response_overdue) == any(
                    p["promise"] == "response" and p["state"] == "overdue" for p in promises
                )
                if promises:
                    assert due == promises[0]["due_at"], (now, case.code)
                    wanted_order.append((promises[0]["due_at"], case.code))
                    seen |= {(case.kind, p["promise"], p["state"]) for p in promises}
            wanted_order.sort()
            rows = monitor_rows(now)
            assert [r["code"] for r in rows] == [c for _, c in wanted_order]
            result = monitor.monitor_page(now, per_page=7, page=3)
            assert [r["code"] for r in result.rows] == [c for _, c in wanted_order][14:21]
            assert result.counts == counts(rows)
        # every kind was seen overdue and at risk on both promises, but not the switched-off
        # warnings of suggestions
        for kind in ("feedback", "petition", "complaint", "denunciation"):
            for promise in ("ack", "response"):
                assert {(kind, promise, "overdue"), (kind, promise, "at_risk")} <= seen, kind
        assert ("suggestion", "ack", "at_risk") not in seen
        assert ("suggestion", "response", "at_risk") not in seen
        assert ("suggestion", "response", "overdue") in seen


def test_response_cutoff_across_the_break(app: Flask) -> None:
    """One working day's warning: on Friday the answers due up to Tuesday's end (the
    break) are at risk, not Wednesday's; three working days (Fri, Wed, Thu) reach to
    Thursday's end."""
    from feedback.services.oversight.monitor_rules import response_cutoff

    with app.app_context():
        calendar = load_calendar()
        friday = datetime(2024, 8, 30, 8, 0, tzinfo=LOCAL)
        assert response_cutoff(1, calendar, friday) == datetime(2024, 9, 4, tzinfo=LOCAL)
        assert response_cutoff(3, calendar, friday) == datetime(2024, 9, 6, tzinfo=LOCAL)
        thursday = datetime(2024, 8, 29, 23, 59, tzinfo=LOCAL)
        assert response_cutoff(1, calendar, thursday) == datetime(2024, 8, 30, tzinfo=LOCAL)


def test_monitor_query_uses_the_partial_index(app: Flask) -> None:
    """SQLite matches a partial index's predicate term by term: the query must carry it.
    PostgreSQL proves the implication itself; on a near-empty table it would rather scan,
    so sequential scans are switched off to ask whether the index *can* serve."""
    from feedback.services.oversight import monitor, monitor_filters

    with app.app_context():
        context = monitor._Context(datetime.now(UTC), monitor_filters.Filters())
        stmt = select(Case.id).where(*context.where(context.rules.flagged))
        sql = str(stmt.compile(database.engine, compile_kwargs={"literal_binds": True}))
        if database.engine.dialect.name == "sqlite":
            explain = f"EXPLAIN QUERY PLAN {sql}"
        else:
            database.session.execute(text("SET LOCAL enable_seqscan = off"))
            explain = f"EXPLAIN {sql}"
        plan = " ".join(str(row[-1]) for row in database.session.execute(text(explain)))
        # (PostgreSQL may also OR the two indexes of pending promises, smaller still; on an
        # empty table SQLite may take the other index of open cases, issue 17's by status,
        # which it too may use only when the query carries the open-cases predicate.)
        assert any(i in plan for i in ("ix_cases_open_response_due", "ix_cases_open_status")) or (
            "ix_cases_unacknowledged" in plan and "ix_cases_unanswered" in plan
        ), plan


# --- paging ---------------------------------------------------------------------------------


def test_monitor_pages(
    app: Flask, client: FlaskClient, inspector: str, built: dict[str, str]
) -> None:
    with app.app_context():
        everything_now = expected_rows(datetime.now(UTC))
    assert len(everything_now) == 7
    first = client.get("/thanh-tra/?per_page=3")
    second = client.get("/thanh-tra/?per_page=3&page=2")
    third = client.get("/thanh-tra/?per_page=3&page=3")
    for response in (first, second, third):
        assert response.status_code == 200
        assert page_counts(response.text) == {
            "overdue": 4, "response_overdue": 3, "ack_overdue_only": 1, "at_risk": 3,
        "missed_commitment": 0,
        }  # fmt: skip
    codes = [[r[0] for r in page_rows(p.text)] for p in (first, second, third)]
    assert [len(c) for c in codes] == [3, 3, 1]
    assert [code for page in codes for code in page] == [r[0] for r in everything_now]
    assert "trang 2/3" in second.text
    assert 'href="/thanh-tra/?page=3&amp;per_page=3" rel="next"' in second.text
    assert 'href="/thanh-tra/?page=1&amp;per_page=3" rel="prev"' in second.text
    assert 'rel="next"' not in third.text
    # the filters ride along in the pager's links
    late = client.get("/thanh-tra/?state=overdue&kind=feedback&per_page=1")
    assert 'href="/thanh-tra/?page=2&amp;kind=feedback&amp;state=overdue&amp;per_page=1"' in (
        late.text
    )
    beyond = client.get("/thanh-tra/?page=9")
    assert beyond.status_code == 200 and not page_rows(beyond.text)
    assert page_counts(beyond.text)["overdue"] == 4
    assert "Trang này không có hồ sơ nào" in beyond.text


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=abc", "page=1.5", "per_page=201",
              "per_page=0", "page=99999999", "per_page=x&unit=NOPE"],
)  # fmt: skip
def test_monitor_rejects_bad_pages(client: FlaskClient, inspector: str, query: str) -> None:
    response = client.get(f"/thanh-tra/?{query}")
    assert response.status_code == 422
    assert "Phải là số nguyên từ 1 đến" in response.text


def test_a_nul_byte_in_the_page_stops_at_the_input_gate(
    client: FlaskClient, inspector: str
) -> None:
    response = client.get("/thanh-tra/?page=%00")
    assert response.status_code == 400
    assert "page: Có ký tự điều khiển không hợp lệ" in response.text


def test_officers_and_strangers_are_kept_out(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    for url in ("/thanh-tra/", "/thanh-tra/so-lieu"):
        assert client.get(url).status_code == 302  # to the login page
    login_as("officer")
    for url in ("/thanh-tra/", "/thanh-tra/so-lieu"):
        assert client.get(url).status_code == 403


def test_coordinator_may_use_both_pages(client: FlaskClient, login_as: Callable[..., str]) -> None:
    login_as("coordinator")
    assert client.get("/thanh-tra/").status_code == 200
    assert client.get("/thanh-tra/so-lieu").status_code == 200


# --- the dashboard --------------------------------------------------------------------------


def _dashboard_agrees(
    app: Flask, client: FlaskClient, query: str, keep: Callable[[Case], bool] = lambda c: True
) -> str:
    start, end = date(2000, 1, 1), local_today() + timedelta(days=1)
    text, got, wanted = get_agreeing(
        client,
        app,
        f"/thanh-tra/so-lieu?{everything()}&{query}",
        lambda now: expected_totals(start, end, now, keep),
        page_totals,
    )
    assert any(close_to(got, w) for w in wanted), (got, wanted)
    return text


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("", lambda c: True),
        ("unit=UBND-00694", lambda c: c.handling_unit.code == "UBND-00694"),
        ("kind=petition", lambda c: c.kind == "petition"),
    ],
)
def test_dashboard_totals_and_agreement_with_the_monitor(
    app: Flask,
    client: FlaskClient,
    inspector: str,
    built: dict[str, str],
    query: str,
    keep: Callable[[Case], bool],
) -> None:
    text = _dashboard_agrees(app, client, query, keep)
    monitor = client.get(f"/thanh-tra/?{query}")
    assert page_totals(text)["overdue_open"] == page_counts(monitor.text)["response_overdue"]
    if not query:
        totals = page_totals(text)
        assert totals["received"] == 12  # the merged case is left out
        assert totals["apology_share"] == 100.0  # the one late answer has its letter
        assert totals["overdue_open"] == 3  # not the case waiting for the citizen


def test_dashboard_on_demo_data(
    app: Flask, client: FlaskClient, demo: None, inspector: str
) -> None:
    text = _dashboard_agrees(app, client, "")
    monitor = client.get("/thanh-tra/")
    assert page_totals(text)["overdue_open"] == page_counts(monitor.text)["response_overdue"]
    assert page_totals(text)["overdue_open"] > 0
    # A breakdown: the cases received per handling unit.
    section = re.search(r'id="theo-unit">(.*?)</section>', text, re.S)
    assert section is not None
    per_unit = {
        html.unescape(m[1]): int(re.search(r'data-figure="received" data-value="(\d+)"', m[2])[1])
        for m in re.finditer(r'<tr data-group="([^"]*)">(.*?)</tr>', section[1], re.S)
    }
    with app.app_context():
        wanted: dict[str, int] = {}
        for case in database.session.scalars(select(Case).where(Case.status != "merged")):
            wanted[case.handling_unit.name] = wanted.get(case.handling_unit.name, 0) + 1
    assert per_unit == wanted
    for label, definition in (("Hồ sơ tiếp nhận", "không tính hồ sơ trùng đã gộp"),
                              ("Trả lời đúng hạn", "hồ sơ không tiếp nhận được tính")):  # fmt: skip
        assert label in text and definition in text


def test_dashboard_default_period_and_bad_dates(client: FlaskClient, inspector: str) -> None:
    today = local_today()
    page = client.get("/thanh-tra/so-lieu")
    assert page.status_code == 200
    assert f'value="{today.year}-01-01"' in page.text and f'value="{today.year}-12-31"' in page.text
    assert client.get("/thanh-tra/so-lieu?from=2024-13-01").status_code == 422
    assert client.get("/thanh-tra/so-lieu?from=2024-05-01&to=2024-04-01").status_code == 422


def test_dashboard_svg_is_well_formed_and_labelled(
    app: Flask, client: FlaskClient, demo: None, inspector: str
) -> None:
    text = client.get(f"/thanh-tra/so-lieu?{everything()}").text
    charts = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(charts) == 8  # totals, six breakdowns, months
    words = []
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
        words.append(" ".join(root.itertext()))
    everything_said = "\n".join(words)
    for label in ("Chỉ tiêu 100%", "UBND Phường Quang Trung", "Tổng đài 1022", "Khiếu nại",
                  "Phường Minh Khai", f"{local_today():%m/%Y}"):  # fmt: skip
        assert label in everything_said, label
    assert "<script" not in text


def test_charts_escape_and_scale() -> None:
    svg = bar_chart(
        "t", "A & B <c>", "desc", ["x & y", "z"], [Series("s", [50.0, None])], target=100.0
    )
    root = ET.fromstring(str(svg))
    assert "x & y" in "".join(root.itertext()) and "—" in "".join(root.itertext())
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert widths and max(widths) > 0
    cols = ET.fromstring(str(column_chart("m", "t", "d", ["01/2024", "02/2024"], [3, 0])))
    assert "01/2024" in "".join(cols.itertext())


# --- no personal data -----------------------------------------------------------------------


def test_no_reporter_identity_on_either_page(
    app: Flask, client: FlaskClient, demo: None, inspector: str, built: dict[str, str]
) -> None:
    pages = [
        client.get("/thanh-tra/").text,
        client.get("/thanh-tra/?state=overdue").text,
        client.get(f"/thanh-tra/so-lieu?{everything()}").text,
    ]
    secrets = [p for pair in NAMES.values() for p in pair]
    secrets += [sample[5] for sample in DEMO_CASES if sample[5]]
    secrets += [f"090000{sample[0]:04d}" for sample in DEMO_CASES]
    for page in pages:
        for secret in secrets:
            assert secret not in page, secret
    with app.app_context():
        rows = monitor_rows(datetime.now(UTC))
        assert counts(rows)["overdue"] > 0
        assert not any(secret in repr(to_json(r)) for r in rows for secret in secrets)
