"""The escalation ladder beyond the first breach, and the monitor's flags for late cases
(issue 16, "late cases handled in the open").

- the reference data seeds every kind's default ladder (level 1 at the breach: the unit's
  head, the lead unit, Thanh tra; level 2 five working days later: the chairman and Thanh
  tra), once: a second seed changes nothing and never re-adds a step the admin deleted;
- the sweep, with the clock passed in and the real calendar, records level 1 at the breach
  and level 2 five working days later, each once however often it runs, with one internal
  timeline event each; the breach mail goes to level 1's audience and level 1 sends no
  second mail; the chairman is mailed at level 2 (Thanh tra instead while no address is
  set, and the event says so); a real SMTP server receives the chairman's mail once;
- answering or pausing stops the ladder; reopening (a new promise) re-arms it from level 1;
- the admin page lists, adds and deletes steps and sets the chairman's address, refusing
  what would not be a ladder with Vietnamese errors and the form kept; admin only;
- the case page shows the steps reached and ahead;
- the monitor flags "Trễ ngày đã hẹn" (a committed day passed unanswered) with its count,
  on the page and the API, with a query that can use ``ix_cases_committed_due``; it shows
  each case's escalation level and filters on "đã chuyển cấp ≥ N".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import func, select, text

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.domain.escalation import Step, step_due_at
from feedback.extensions import db
from feedback.models import (
    AuditLog,
    Case,
    CaseEscalation,
    CaseEvent,
    EscalationStep,
    Notification,
    Setting,
    User,
)
from feedback.models.case import OPEN_STATUS_VALUES
from feedback.services.accounts.users import issue_token
from feedback.services.handling import actions, followup
from feedback.services.oversight.monitor import monitor_page
from feedback.services.oversight.monitor_filters import parse_request
from feedback.services.oversight.monitor_rules import OPEN_CONDITION, missed_condition
from feedback.services.reference.loader import load_reference
from feedback.services.reference.policies import load_calendar
from feedback.services.sla import delivery
from feedback.services.sla.sweep import sweep

SECOND = timedelta(seconds=1)
KINDS = ("feedback", "petition", "suggestion", "complaint", "denunciation")
CHAIRMAN = "chu.tich@hagiang.example"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LOCAL_TZ).astimezone(UTC)


RECEIVED = local(2024, 3, 4, 9)  # Monday, no holiday for weeks


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A real SMTP server only for the tests that ask for one."""
    if "smtp" in request.fixturenames:
        return dict(request.getfixturevalue("smtp").config())
    return {}


# --- people and helpers ------------------------------------------------------------------


class Staff:
    """E-mail addresses of those the sweep may tell about a 6.3b case of Nguyễn Trãi
    (handled by UBND-00694, led by QLDT)."""

    def __init__(self, person: Callable[[str, str | None, str], tuple[int, str]]) -> None:
        self.officer_id, self.officer = person("officer", "UBND-00694", "esc_canbo")
        self.head_id, self.head = person("unit_head", "UBND-00694", "esc_lanhdao")
        _, self.lead_head = person("unit_head", "QLDT", "esc_qldt")
        _, self.inspector = person("inspector", "TTR", "esc_thanhtra")
        _, self.coordinator = person("coordinator", "VP", "esc_vanphong")

    @property
    def breach(self) -> set[str]:
        return {self.head, self.lead_head, self.inspector}


@pytest.fixture
def staff(app: Flask, make_user: Callable[..., Any]) -> Staff:
    def person(role: str, unit: str | None, username: str) -> tuple[int, str]:
        user_id, name = make_user(role, unit_code=unit, username=username)
        address = f"{name}@hagiang.example"
        with app.app_context(), unit_of_work():
            db.session.get(User, user_id).email = address
        return user_id, address

    return Staff(person)


def sweep_at(app: Flask, when: datetime, times: int = 1) -> list[dict[str, Any]]:
    """The sweep ``times`` times at ``when``, each in its own app context and session."""
    out = []
    for _ in range(times):
        with app.app_context():
            out.append(sweep(when))
            db.session.remove()
    return out


def work(app: Flask, code: str, fn: Callable[[Case], Any]) -> Any:
    with app.app_context(), unit_of_work():
        return fn(db.session.scalar(select(Case).where(Case.code == code)))


def case_of(app: Flask, code: str) -> dict[str, Any]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        steps = db.session.execute(
            select(CaseEscalation.level, CaseEscalation.obligation, CaseEscalation.due_at)
            .where(CaseEscalation.case_id == case.id)
            .order_by(CaseEscalation.obligation, CaseEscalation.level)
        ).all()
        events = db.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.action == "escalate")
            .order_by(CaseEvent.id)
        ).all()
        notes = db.session.execute(
            select(Notification.kind, Notification.recipient).where(
                Notification.case_id == case.id, Notification.channel == "email"
            )
        ).all()
        return {
            "due": case.response_due_at,
            "obligation": case.obligation,
            "level": case.escalation_level,
            "next_check": case.next_sla_check_at,
            "steps": [tuple(s) for s in steps],
            "events": [
                (e.data["level"], e.note, e.public, e.data["chairman_missing"]) for e in events
            ],
            "notes": Counter(tuple(n) for n in notes),
        }


def level_2_at(app: Flask, due: datetime) -> datetime:
    with app.app_context():
        return step_due_at(due, Step(2, 5), load_calendar())


def set_chairman(app: Flask, address: str) -> None:
    with app.app_context(), unit_of_work():
        db.session.merge(Setting(key="escalation_chairman_email", value=address))


# --- the default ladder --------------------------------------------------------------------


def test_every_kind_has_the_default_ladder_seeded_once(app: Flask) -> None:
    with app.app_context():
        rows = db.session.scalars(
            select(EscalationStep).order_by(EscalationStep.kind, EscalationStep.level)
        ).all()
        got = {
            (r.kind, r.level, r.after_working_days, r.notify_unit_head, r.notify_lead_unit,
             r.notify_inspectorate, r.notify_chairman)
            for r in rows
        }  # fmt: skip
    assert got == {
        row
        for kind in KINDS
        for row in ((kind, 1, 0, True, True, True, False), (kind, 2, 5, False, False, True, True))
    }
    with app.app_context(), unit_of_work():
        again = load_reference()
    assert "escalation_steps.created" not in again
    assert again["escalation_steps.unchanged"] == 10
    # The admin's ladder is his: a seed does not re-add a step he deleted.
    with app.app_context(), unit_of_work():
        db.session.execute(
            EscalationStep.__table__.delete().where(
                EscalationStep.kind == "suggestion", EscalationStep.level == 2
            )
        )
    with app.app_context(), unit_of_work():
        third = load_reference()
        left = db.session.scalars(
            select(EscalationStep.level).where(EscalationStep.kind == "suggestion")
        ).all()
    assert "escalation_steps.created" not in third and left == [1]


# --- the sweep -----------------------------------------------------------------------------


def test_level_1_at_the_breach_level_2_after_five_working_days_each_once(
    app: Flask, staff: Staff, make_case: Callable[..., str]
) -> None:
    code = make_case(now=RECEIVED)
    due = case_of(app, code)["due"]
    assert due == local(2024, 3, 12, 23, 59, 59)  # 6 working days from Mon 4 March
    level_2 = level_2_at(app, due)
    assert level_2 == local(2024, 3, 19, 23, 59, 59) + SECOND  # Tue 19: 5 working days on

    # The due second itself is on time: nothing yet.
    sweep_at(app, due)
    assert case_of(app, code)["steps"] == []

    # At the breach: level 1, twice swept, recorded once; the breach mail to its audience.
    summaries = sweep_at(app, due + SECOND, times=2)
    assert summaries[0]["ladder_steps"] == 1 and summaries[1].get("ladder_steps", 0) == 0
    got = case_of(app, code)
    assert got["steps"] == [(1, got["obligation"], due + SECOND)]
    assert got["level"] == 1
    assert [(lvl, public) for lvl, _, public, _ in got["events"]] == [(1, False)]
    assert got["events"][0][1].startswith("Chuyển cấp báo động 1: Quá hạn trả lời")
    breach_to = {r for (kind, r), n in got["notes"].items() if kind == "response_breach"}
    assert breach_to == staff.breach
    assert all(n == 1 for n in got["notes"].values())
    assert not any(kind == "escalation" for kind, _ in got["notes"])  # no second mail
    # Looked at again when level 2 falls due (no milestone is left before it).
    assert got["next_check"] == level_2

    # One second before level 2: nothing more.
    sweep_at(app, level_2 - SECOND)
    assert case_of(app, code)["level"] == 1

    # Level 2, in two sessions, twice each: once. No chairman's address yet: Thanh tra.
    for _ in range(2):
        sweep_at(app, level_2, times=2)
    got = case_of(app, code)
    assert [s[0] for s in got["steps"]] == [1, 2]
    assert got["level"] == 2
    assert [e[0] for e in got["events"]] == [1, 2]
    _, note, public, chairman_missing = got["events"][1]
    assert note.startswith("Chuyển cấp báo động 2: Quá hạn 5 ngày làm việc")
    assert "Chưa có địa chỉ thư của Chủ tịch" in note and chairman_missing and not public
    ladder_to = Counter(r for (kind, r) in got["notes"].elements() if kind == "escalation")
    assert ladder_to == Counter({staff.inspector: 1})
    assert got["next_check"] is None  # nothing left on the ladder nor the milestones

    # Much later, after downtime: still nothing doubled.
    sweep_at(app, level_2 + timedelta(days=40), times=2)
    assert case_of(app, code)["steps"] == got["steps"]


def test_a_sweep_after_downtime_records_every_missed_step_and_mails_the_chairman(
    app: Flask, staff: Staff, make_case: Callable[..., str], smtp: Any
) -> None:
    set_chairman(app, CHAIRMAN)
    code = make_case(now=RECEIVED)
    due = case_of(app, code)["due"]
    late = level_2_at(app, due) + timedelta(days=3)
    sweep_at(app, late, times=2)
    got = case_of(app, code)
    # Each step with the time it fell due, both recorded by the one late sweep.
    assert [(s[0], s[2]) for s in got["steps"]] == [
        (1, due + SECOND),
        (2, level_2_at(app, due)),
    ]
    assert not got["events"][1][3]  # the chairman has an address
    ladder_to = Counter(r for (kind, r) in got["notes"].elements() if kind == "escalation")
    assert ladder_to == Counter({CHAIRMAN: 1, staff.inspector: 1})
    with app.app_context():
        delivery.deliver(late)
        delivery.deliver(late)
        db.session.remove()
    to_chairman = [m for m in smtp.received if CHAIRMAN in m.rcpt_tos]
    assert len(to_chairman) == 1
    assert code in to_chairman[0].subject and "Chuyển cấp báo động 2" in to_chairman[0].subject


def test_answering_stops_the_ladder_and_reopening_rearms_it(
    app: Flask, staff: Staff, make_case: Callable[..., str]
) -> None:
    code = make_case(now=RECEIVED)
    due = case_of(app, code)["due"]
    sweep_at(app, due + SECOND)
    first = case_of(app, code)
    assert first["level"] == 1

    def head() -> User:
        return db.session.get(User, staff.head_id)

    answered = due + timedelta(days=1)
    work(app, code, lambda c: actions.acknowledge(c, head(), answered - timedelta(hours=1)))
    work(app, code, lambda c: actions.approve_answer(c, head(), answered, "Đã sửa đèn."))
    sweep_at(app, level_2_at(app, due) + timedelta(days=1))
    after = case_of(app, code)
    assert [s[0] for s in after["steps"]] == [1]  # no level 2 for an answered case
    assert after["level"] == 1  # the highest reached, kept

    # The citizen reopens: a new promise, the ladder starts again from level 1.
    reopened = answered + timedelta(days=2)
    work(app, code, lambda c: followup.reopen(c, reopened, "Đèn vẫn chưa sáng."))
    again = case_of(app, code)
    assert again["obligation"] > first["obligation"] and again["level"] == 0
    new_due = again["due"]
    sweep_at(app, new_due + SECOND, times=2)
    got = case_of(app, code)
    assert [(s[0], s[1]) for s in got["steps"]] == [
        (1, first["obligation"]),
        (1, again["obligation"]),
    ]
    assert got["level"] == 1 and [e[0] for e in got["events"]] == [1, 1]


def test_a_paused_case_climbs_no_further(
    app: Flask, staff: Staff, make_case: Callable[..., str]
) -> None:
    code = make_case(now=RECEIVED)
    due = case_of(app, code)["due"]
    sweep_at(app, due + SECOND)

    def officer() -> User:
        return db.session.get(User, staff.officer_id)

    asked = due + timedelta(hours=10)
    work(app, code, lambda c: actions.acknowledge(c, officer(), asked - timedelta(hours=2)))
    work(app, code, lambda c: actions.start(c, officer(), asked - timedelta(hours=1)))
    work(app, code, lambda c: actions.ask_citizen(c, officer(), asked, "Xin cho biết số nhà."))
    sweep_at(app, level_2_at(app, due) + timedelta(days=2))
    got = case_of(app, code)
    assert [s[0] for s in got["steps"]] == [1]
    assert got["next_check"] is None


def test_a_kind_without_a_step_at_the_breach_keeps_the_breach_mail(
    app: Flask, staff: Staff, make_case: Callable[..., str]
) -> None:
    """A ladder starting later: the breach still goes to today's list, and the first step
    mails its own audience when it comes."""
    set_chairman(app, CHAIRMAN)
    with app.app_context(), unit_of_work():
        db.session.execute(
            EscalationStep.__table__.delete().where(EscalationStep.kind == "feedback")
        )
        db.session.add(
            EscalationStep(kind="feedback", level=1, after_working_days=2, label="Hai ngày",
                           notify_chairman=True)
        )  # fmt: skip
    code = make_case(now=RECEIVED)
    due = case_of(app, code)["due"]
    sweep_at(app, due + SECOND)
    got = case_of(app, code)
    assert got["steps"] == [] and got["level"] == 0
    assert {r for (k, r) in got["notes"] if k == "response_breach"} == staff.breach
    step_at = local(2024, 3, 14, 23, 59, 59) + SECOND  # Wed 13, Thu 14
    assert got["next_check"] == step_at
    sweep_at(app, step_at, times=2)
    got = case_of(app, code)
    assert [s[0] for s in got["steps"]] == [1]
    assert {r for (k, r) in got["notes"] if k == "escalation"} == {CHAIRMAN}


# --- the case page ---------------------------------------------------------------------------


def test_the_case_page_shows_steps_reached_and_ahead(
    app: Flask,
    client: FlaskClient,
    staff: Staff,
    make_case: Callable[..., str],
    login_as: Callable[..., str],
) -> None:
    now = datetime.now(UTC)
    code = make_case(now=now - timedelta(days=12))
    due = case_of(app, code)["due"]
    assert due < now < level_2_at(app, due), "the test's dates: past level 1, before level 2"
    sweep_at(app, now)
    login_as("coordinator")
    page = client.get(f"/can-bo/ho-so/{code}").text
    assert 'data-testid="escalations"' in page
    section = page.split('data-testid="escalations"', 1)[1]
    assert re.search(r'<tr data-level="1" data-current="1">', section)
    ahead = section.split('data-testid="escalations-ahead"', 1)[1].split("</ul>", 1)[0]
    assert 'data-level="2"' in ahead and 'data-level="1"' not in ahead
    assert "Chủ tịch UBND thành phố" in ahead


# --- the admin page --------------------------------------------------------------------------

LADDER = "/quan-tri/chuyen-cap"


def post(client: FlaskClient, url: str, data: dict[str, str]) -> Any:
    token = csrf_from(client.get(LADDER).text)
    return client.post(url, data={"csrf_token": token, **data})


def steps_of(app: Flask, kind: str) -> list[tuple[int, int]]:
    with app.app_context():
        return [
            (s.level, s.after_working_days)
            for s in db.session.scalars(
                select(EscalationStep)
                .where(EscalationStep.kind == kind)
                .order_by(EscalationStep.level)
            )
        ]


def test_admin_configures_the_ladder_with_checks_and_audit(
    app: Flask, client: FlaskClient, login_as: Callable[..., str]
) -> None:
    login_as("admin")
    page = client.get(LADDER)
    assert page.status_code == 200
    assert 'data-testid="chairman-missing"' in page.text
    assert page.text.count('<tr data-level="2" data-days="5">') == len(KINDS)
    assert 'href="/quan-tri/chuyen-cap"' in client.get("/").text  # in the admin navigation

    # Wrong fields: every error named in Vietnamese, nothing written, the form kept.
    wrong = {"kind": "petition", "level": "x", "after_working_days": "-1", "label": "Bậc ba"}
    bad = post(client, f"{LADDER}/them", wrong)
    assert bad.status_code == 422
    assert "Nhập một số nguyên." in bad.text and "Giá trị phải từ 0 đến 60." in bad.text
    assert "Chọn ít nhất một nơi nhận thông báo." in bad.text
    assert 'value="Bậc ba"' in bad.text and '<option value="petition" selected>' in bad.text
    # Not a ladder: level 3 earlier than level 2; a gap; a delay already taken.
    for level, days, message in (
        ("3", "3", "Bậc 3 phải đến sau bậc 2"),
        ("4", "10", "Các bậc phải được đánh số liên tiếp từ 1"),
        ("3", "5", "Đã có bậc sau 5 ngày làm việc"),
        ("2", "9", "Đã có bậc 2"),
    ):
        refused = post(client, f"{LADDER}/them", {
            "kind": "petition", "level": level, "after_working_days": days,
            "label": "Báo Bí thư", "notify_chairman": "1"})  # fmt: skip
        assert refused.status_code == 422 and message in refused.text, (level, days)
        assert 'value="Báo Bí thư"' in refused.text
    assert steps_of(app, "petition") == [(1, 0), (2, 5)]

    added = post(client, f"{LADDER}/them", {
        "kind": "petition", "level": "3", "after_working_days": "10",
        "label": "Báo Bí thư", "notify_chairman": "1", "notify_inspectorate": "1"})  # fmt: skip
    assert added.status_code == 303
    assert steps_of(app, "petition") == [(1, 0), (2, 5), (3, 10)]

    # Deleting level 1 would leave a gap: refused; the top one goes.
    with app.app_context():
        ids = dict(
            db.session.execute(
                select(EscalationStep.level, EscalationStep.id).where(
                    EscalationStep.kind == "petition"
                )
            ).all()
        )
    refused = post(client, f"{LADDER}/xoa", {"step_id": str(ids[1])})
    assert refused.status_code == 422 and "liên tiếp từ 1" in refused.text
    assert post(client, f"{LADDER}/xoa", {"step_id": str(ids[3])}).status_code == 303
    assert steps_of(app, "petition") == [(1, 0), (2, 5)]
    gone = post(client, f"{LADDER}/xoa", {"step_id": str(ids[3])})
    assert gone.status_code == 303  # already deleted: said so, nothing broken
    assert "Không có bậc chuyển cấp này" in client.get(LADDER).text

    # The chairman's address: checked, saved, shown.
    wrong = post(client, f"{LADDER}/chu-tich", {"chairman": "chu tich@"})
    assert wrong.status_code == 422 and "Địa chỉ thư không hợp lệ" in wrong.text
    assert 'value="chu tich@"' in wrong.text
    assert post(client, f"{LADDER}/chu-tich", {"chairman": CHAIRMAN}).status_code == 303
    page = client.get(LADDER).text
    assert 'data-testid="chairman-missing"' not in page and CHAIRMAN in page

    with app.app_context():
        actions_logged = Counter(db.session.scalars(select(AuditLog.action)))
    assert actions_logged["escalation_step.add"] == 1
    assert actions_logged["escalation_step.delete"] == 1
    assert any(a.startswith("setting.") for a in actions_logged)


@pytest.mark.parametrize("role", ["coordinator", "inspector", "officer"])
def test_only_the_admin_configures_the_ladder(
    client: FlaskClient, login_as: Callable[..., str], role: str
) -> None:
    login_as(role)
    assert client.get(LADDER).status_code == 403


# --- the monitor ---------------------------------------------------------------------------


@pytest.fixture
def late_cases(app: Flask, make_case: Callable[..., str]) -> Iterator[dict[str, str]]:
    """Cases around now: one whose committed day passed (its legal due date still ahead),
    one committed to a day still ahead, one answered after its committed day, and one
    overdue that climbed to level 2."""
    now = datetime.now(UTC)
    codes = {
        "missed": make_case(now=now - timedelta(hours=2)),
        "promised": make_case(now=now - timedelta(hours=2)),
        "answered": make_case(now=now - timedelta(hours=2)),
        "escalated": make_case(now=now - timedelta(days=30)),
    }
    with app.app_context(), unit_of_work():
        cases = {k: db.session.scalar(select(Case).where(Case.code == c)) for k, c in codes.items()}
        cases["missed"].committed_due_at = now - timedelta(minutes=5)
        cases["promised"].committed_due_at = now + timedelta(days=1)
        cases["answered"].committed_due_at = now - timedelta(minutes=5)
        cases["answered"].answered_at = now - timedelta(minutes=1)
        cases["answered"].status = "answered"
        cases["escalated"].escalation_level = 2
    yield codes


def rows_of(args: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    filters, page = parse_request(args)
    result = monitor_page(datetime.now(UTC), filters, page.number, page.size)
    return result.rows, result.counts


def test_the_monitor_flags_a_missed_committed_day(
    app: Flask, late_cases: dict[str, str], client: FlaskClient, login_as: Callable[..., str]
) -> None:
    with app.app_context():
        rows, counts = rows_of({"state": "missed"})
        assert [r["code"] for r in rows] == [late_cases["missed"]]
        row = rows[0]
        assert row["state"] == "missed" and row["promise"] == "commitment"
        assert row["missed_commitment"] and row["escalation_level"] == 0
        assert counts["missed_commitment"] == 1
        everything, all_counts = rows_of({})
        codes = [r["code"] for r in everything]
        assert late_cases["missed"] in codes and late_cases["promised"] not in codes
        assert late_cases["answered"] not in codes
        # Neither overdue nor at risk: counted apart, not as at risk.
        assert all_counts["total"] == all_counts["overdue"] + all_counts["at_risk"] + 1
        at_risk, _ = rows_of({"state": "at_risk"})
        assert late_cases["missed"] not in [r["code"] for r in at_risk]
    login_as("inspector")
    page = client.get("/thanh-tra/?state=missed")
    assert page.status_code == 200
    assert '<strong data-count="missed_commitment">1</strong>' in page.text
    assert f'data-code="{late_cases["missed"]}" data-state="missed"' in page.text
    assert "Trễ ngày đã hẹn" in page.text


def test_the_missed_day_query_can_use_its_partial_index(app: Flask) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        stmt = select(func.count(Case.id)).where(OPEN_CONDITION, missed_condition(now))
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        if db.engine.dialect.name == "sqlite":
            # Which index SQLite picks on an empty, unanalysed table is a guess (the
            # open-status index competes); INDEXED BY fails outright ("no query solution")
            # when the index cannot answer the condition, which is what is asked here.
            forced = str(compiled).replace(
                "FROM cases", "FROM cases INDEXED BY ix_cases_committed_due", 1
            )
            assert "INDEXED BY" in forced
            plan = " ".join(
                str(r[-1]) for r in db.session.execute(text(f"EXPLAIN QUERY PLAN {forced}"))
            )
        else:
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in db.session.execute(text(f"EXPLAIN {compiled}")))
        assert "ix_cases_committed_due" in plan, plan
        assert len(OPEN_STATUS_VALUES) > 1


def test_the_monitor_shows_and_filters_the_escalation_level(
    app: Flask, late_cases: dict[str, str], client: FlaskClient, login_as: Callable[..., str]
) -> None:
    with app.app_context():
        rows, _ = rows_of({})
        level_of = {r["code"]: r["escalation_level"] for r in rows}
        assert level_of[late_cases["escalated"]] == 2
        two, counts = rows_of({"escalated": "2"})
        assert [r["code"] for r in two] == [late_cases["escalated"]]
        assert counts["total"] == 1
        assert rows_of({"escalated": "3"})[0] == []
    login_as("inspector")
    page = client.get("/thanh-tra/?escalated=2")
    assert page.status_code == 200
    assert f'data-code="{late_cases["escalated"]}"' in page.text
    assert 'data-escalation="2"' in page.text and "Bậc 2" in page.text
    assert '<option value="2" selected>' in page.text
    bad = client.get("/thanh-tra/?escalated=abc")
    assert bad.status_code == 422 and "Bậc chuyển cấp là số nguyên từ 1 đến 20." in bad.text


def test_the_breach_api_carries_the_new_flags(
    app: Flask, late_cases: dict[str, str], make_user: Callable[..., Any]
) -> None:
    user_id, _ = make_user("inspector", unit_code="TTR")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    missed = api.get("/api/v1/oversight/breaches?state=missed", headers=headers)
    assert missed.status_code == 200, missed.text
    body = missed.get_json()
    assert [i["code"] for i in body["items"]] == [late_cases["missed"]]
    assert body["counts"]["missed_commitment"] == 1 and body["total"] == 1
    assert body["items"][0]["committed_due_at"] is not None
    escalated = api.get("/api/v1/oversight/breaches?escalated=2", headers=headers).get_json()
    assert [i["escalation_level"] for i in escalated["items"]] == [2]
    bad = api.get("/api/v1/oversight/breaches?escalated=0", headers=headers)
    assert bad.status_code == 422 and "escalated" in bad.get_json()["fields"]
