"""The SLA sweep with the clock passed in.

Each warning, breach and escalation arrives at its moment for every kind and channel,
across weekends, Tết and make-up Saturdays; is recorded and notified exactly once however
often the sweep runs; is caught up after downtime; and the jobs around it (apology
obligations, the morning digest, the ``sla sweep`` command) do what the issue says.

Times are written as Hà Giang wall-clock times (``local(...)``) and stored in UTC. Staff
accounts are created before any unit of work is opened: SQLite allows one writer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.domain.sla import Clock, Milestone, Thresholds, milestones
from feedback.extensions import db
from feedback.models import ApologyLetter, Case, CaseEvent, Notification, SlaEvent, SlaPolicy, User
from feedback.services.handling import actions, followup
from feedback.services.intake.submission import Reporter
from feedback.services.reference.calendar import add_override
from feedback.services.reference.policies import load_calendar
from feedback.services.sla.digest import send_digests
from feedback.services.sla.sweep import sweep

SECOND = timedelta(seconds=1)
MILESTONES = tuple(m.value for m in Milestone)
ACK_WARNING, ACK_BREACH = Milestone.ACK_WARNING.value, Milestone.ACK_BREACH.value
RESPONSE_WARNING, RESPONSE_BREACH = (
    Milestone.RESPONSE_WARNING.value,
    Milestone.RESPONSE_BREACH.value,
)
# Category 6.3b (roads) in Phường Nguyễn Trãi: handled by its People's Committee, monitored
# by Phòng Quản lý đô thị.
HANDLING, LEAD = "UBND-00694", "QLDT"


def local(*parts: int) -> datetime:
    """A Hà Giang wall-clock time, as the aware UTC datetime the database stores."""
    return datetime(*parts, tzinfo=LOCAL_TZ).astimezone(UTC)


# --- staff -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    """E-mail addresses (and ids) of the people the sweep may tell about a 6.3b case in
    Nguyễn Trãi, and of people it must not tell."""

    officer: str  # officer of the handling unit
    head: str  # head of the handling unit
    lead_head: str  # head of the lead unit (QLDT)
    inspector: str  # Thanh tra thành phố
    coordinator: str  # Văn phòng HĐND-UBND, the city desk
    outsider: str  # officer of an unrelated unit (Điện lực)
    outsider_head: str  # head of an unrelated unit
    lead_officer: str  # an officer (not head) of the lead unit
    ids: dict[str, int]

    @property
    def ack_warned(self) -> set[str]:
        return {self.officer, self.head, self.coordinator}

    @property
    def response_warned(self) -> set[str]:
        return {self.officer, self.head}

    @property
    def escalated(self) -> set[str]:
        return {self.head, self.lead_head, self.inspector}

    def expected(self, milestone: str) -> set[str]:
        return {
            ACK_WARNING: self.ack_warned,
            ACK_BREACH: self.escalated,
            RESPONSE_WARNING: self.response_warned,
            RESPONSE_BREACH: self.escalated,
        }[milestone]


@pytest.fixture
def person(app: Flask, make_user: Callable[..., Any]) -> Callable[..., tuple[int, str]]:
    """person(role, unit, username, email=True): an account with (by default) an address."""

    def create(role: str, unit: str | None, username: str, email: bool = True) -> tuple[int, str]:
        user_id, name = make_user(role, unit_code=unit, username=username)
        address = f"{name}@hagiang.example"
        if email:
            with app.app_context(), unit_of_work():
                db.session.get(User, user_id).email = address
        return user_id, address

    return create


@pytest.fixture
def staff(person: Callable[..., tuple[int, str]]) -> Staff:
    made = {
        "officer": person("officer", HANDLING, "cb_nguyentrai"),
        "head": person("unit_head", HANDLING, "ld_nguyentrai"),
        "lead_head": person("unit_head", LEAD, "ld_qldt"),
        "inspector": person("inspector", "TTR", "thanhtra"),
        "coordinator": person("coordinator", "VP", "vanphong"),
        "outsider": person("officer", "DL", "cb_dienluc"),
        "outsider_head": person("unit_head", "DL", "ld_dienluc"),
        "lead_officer": person("officer", LEAD, "cb_qldt"),
    }
    return Staff(**{k: v[1] for k, v in made.items()}, ids={k: v[0] for k, v in made.items()})


# --- driving the services with a fixed clock -------------------------------------------------


def sweep_at(app: Flask, when: datetime, times: int = 1, **kw: Any) -> list[dict[str, Any]]:
    """Run the sweep ``times`` times at ``when``, each in its own app context (as the
    scheduler does); returns the summaries."""
    out = []
    for _ in range(times):
        with app.app_context():
            out.append(sweep(when, **kw))
    return out


def work(app: Flask, code: str, fn: Callable[[Case], Any]) -> Any:
    """``fn(case)`` as one unit of work, like a view would."""
    with app.app_context(), unit_of_work():
        return fn(db.session.scalar(select(Case).where(Case.code == code)))


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


@dataclass(frozen=True)
class Snapshot:
    events: list[tuple[str, int, datetime, datetime]]  # milestone, rev, due_at, recorded_at
    notes: Counter[tuple[str, str]]  # (milestone, recipient) → rows in the outbox
    timeline: list[str]  # the case's SLA timeline events, in order

    @property
    def milestones(self) -> list[str]:
        return [e[0] for e in self.events]

    def recipients(self, milestone: str) -> set[str]:
        return {r for (m, r) in self.notes if m == milestone}


def snapshot(app: Flask, code: str) -> Snapshot:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        events = db.session.execute(
            select(SlaEvent.milestone, SlaEvent.deadline_rev, SlaEvent.due_at, SlaEvent.recorded_at)
            .where(SlaEvent.case_id == case.id)
            .order_by(SlaEvent.id)
        ).all()
        notes = db.session.execute(
            select(Notification.kind, Notification.recipient).where(
                Notification.case_id == case.id, Notification.kind.in_(MILESTONES)
            )
        ).all()
        timeline = db.session.scalars(
            select(CaseEvent.action)
            .where(CaseEvent.case_id == case.id, CaseEvent.action.in_(MILESTONES))
            .order_by(CaseEvent.id)
        ).all()
        return Snapshot([tuple(e) for e in events], Counter(map(tuple, notes)), list(timeline))


def case_row(app: Flask, code: str) -> dict[str, Any]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        return {
            "received_at": case.received_at,
            "ack_due_at": case.ack_due_at,
            "response_due_at": case.response_due_at,
            "handling": case.handling_unit.code,
            "lead": case.lead_unit.code if case.lead_unit else None,
            "rev": case.deadline_rev,
            "next_check": case.next_sla_check_at,
            "status": case.status,
        }


def totals(app: Flask) -> tuple[int, int, int]:
    """SLA events, SLA notifications and SLA timeline events in the whole database."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count(SlaEvent.id))),
            db.session.scalar(
                select(func.count(Notification.id)).where(Notification.kind.in_(MILESTONES))
            ),
            db.session.scalar(
                select(func.count(CaseEvent.id)).where(CaseEvent.action.in_(MILESTONES))
            ),
        )


def arrival(milestone: str, at: datetime) -> datetime:
    """The first sweep time that must find the milestone: a warning at its moment, a breach
    once its due time has passed (the due second itself still belongs to the unit; that
    boundary has its own test below)."""
    return at + SECOND if milestone.endswith("breach") else at


def walk(
    app: Flask, code: str, expected: list[tuple[str, datetime]], already: tuple[str, ...] = ()
) -> None:
    """Sweep one second before each milestone and when it must have arrived: nothing comes
    early, each comes on time, and the sweep is repeated to show nothing doubles.
    ``already``: milestones recorded before the walk starts."""
    for milestone, at in sorted(expected, key=lambda m: m[1]):
        sweep_at(app, at - SECOND)
        before = sorted([*already, *(m for m, t in expected if arrival(m, t) <= at - SECOND)])
        assert sorted(snapshot(app, code).milestones) == before, f"early at {at - SECOND}"
        due = arrival(milestone, at)
        sweep_at(app, due, times=2)
        now = sorted([*already, *(m for m, t in expected if arrival(m, t) <= due)])
        assert sorted(snapshot(app, code).milestones) == now, f"missing at {due}"


def feedback_case(make_case: Callable[..., str], received: datetime, **kw: Any) -> str:
    """A roads case in Nguyễn Trãi, entered at ``now`` (default: when it was received)."""
    now = kw.pop("now", received)
    fields: dict[str, Any] = {"category_code": "6.3b", "area_code": "00694"}
    fields.update(kw)
    return make_case(now=now, received_at=received, **fields)


# --- the worked example of DESIGN.md, step by step --------------------------------------------


def test_feedback_over_tet_each_milestone_once_at_its_moment(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    received = local(2024, 2, 2, 10)  # Friday; Tết holidays 8–14 Feb
    code = feedback_case(make_case, received)
    row = case_row(app, code)
    assert (row["handling"], row["lead"]) == (HANDLING, LEAD)
    assert row["ack_due_at"] == local(2024, 2, 3, 10)
    assert row["response_due_at"] == local(2024, 2, 19, 23, 59, 59)
    assert row["next_check"] == received

    ack_warn, ack_due = local(2024, 2, 3, 6), local(2024, 2, 3, 10)
    resp_warn, resp_due = local(2024, 2, 19, 0), local(2024, 2, 19, 23, 59, 59)
    steps: list[tuple[datetime, list[tuple[str, datetime, datetime]]]] = [
        (received, []),
        (local(2024, 2, 3, 5, 59), []),
        (local(2024, 2, 3, 5, 59, 59), []),
        (ack_warn, [(ACK_WARNING, ack_due, ack_warn)]),
        (local(2024, 2, 3, 9, 59, 59), []),
        # The sweep of 10:00 (the due second itself is left to the boundary test).
        (ack_due + SECOND, [(ACK_BREACH, ack_due, ack_due + SECOND)]),
        (local(2024, 2, 8, 9), []),  # Tết
        (local(2024, 2, 18, 23, 59, 59), []),
        (resp_warn, [(RESPONSE_WARNING, resp_due, resp_warn)]),
        (local(2024, 2, 19, 12), []),
        (local(2024, 2, 19, 23, 59, 58), []),
        (local(2024, 2, 20, 0, 0), [(RESPONSE_BREACH, resp_due, local(2024, 2, 20))]),
        (local(2024, 2, 20, 0, 1), []),
        (local(2024, 3, 30), []),
    ]
    expected_events: list[tuple[str, int, datetime, datetime]] = []
    for when, new in steps:
        summaries = sweep_at(app, when, times=5)
        expected_events += [(m, 0, due, at) for m, due, at in new]
        snap = snapshot(app, code)
        assert snap.events == expected_events, f"sweeping at {when:%Y-%m-%d %H:%M:%S}"
        # Exactly one outbox row per (milestone, recipient), the right people each time.
        assert set(snap.notes.values()) <= {1}
        for milestone, *_ in expected_events:
            assert snap.recipients(milestone) == staff.expected(milestone), milestone
        assert snap.timeline == [e[0] for e in expected_events]
        # Only the first of the five sweeps did anything.
        first, *again = summaries
        assert first.get("warnings", 0) == sum(1 for m, *_ in new if "warning" in m)
        assert first.get("breaches", 0) == sum(1 for m, *_ in new if "breach" in m)
        assert all(not s.get("warnings") and not s.get("breaches") for s in again)

    snap = snapshot(app, code)
    assert snap.milestones == list(MILESTONES)
    everyone_told = set().union(*(staff.expected(m) for m in MILESTONES))
    assert {r for _, r in snap.notes} == everyone_told
    for stranger in (staff.outsider, staff.outsider_head, staff.lead_officer):
        assert stranger not in everyone_told
    assert sum(snap.notes.values()) == 3 + 3 + 2 + 3
    # The escalation is told in Vietnamese, with the due time in local time.
    with app.app_context():
        note = db.session.scalar(
            select(Notification).where(
                Notification.kind == ACK_BREACH, Notification.recipient == staff.inspector
            )
        )
        assert note.subject == f"[{code}] Quá hạn phản hồi tiếp nhận"
        assert "Thanh tra thành phố đã được thông báo" in note.body
        assert "Hạn: 10:00, Thứ Bảy 03/02/2024." in note.body
        assert note.status == "pending"
        # Nothing left to watch: the case leaves the sweep's index.
        assert db.session.scalar(select(Case.next_sla_check_at).where(Case.code == code)) is None
    assert totals(app) == (4, 11, 4)


def test_the_assignee_hears_of_every_milestone_and_other_officers_only_of_warnings(
    app: Flask,
    make_case: Callable[..., str],
    staff: Staff,
    person: Callable[..., tuple[int, str]],
) -> None:
    _, assignee = person("officer", HANDLING, "cb_duocgiao")
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    work(
        app,
        code,
        lambda c: actions.assign(
            c, user(staff.ids["head"]), local(2024, 3, 4, 9, 30), "cb_duocgiao"
        ),
    )
    sweep_at(app, local(2024, 3, 20))
    snap = snapshot(app, code)
    assert snap.milestones == list(MILESTONES)
    for milestone in (ACK_BREACH, RESPONSE_BREACH):
        assert snap.recipients(milestone) == staff.escalated | {assignee}
        assert staff.officer not in snap.recipients(milestone)
    for milestone in (ACK_WARNING, RESPONSE_WARNING):
        assert snap.recipients(milestone) == staff.expected(milestone) | {assignee}
    assert set(snap.notes.values()) == {1}


def test_inactive_staff_and_staff_without_an_address_are_not_written_to(
    app: Flask,
    make_case: Callable[..., str],
    staff: Staff,
    person: Callable[..., tuple[int, str]],
) -> None:
    gone_id, gone = person("unit_head", HANDLING, "ld_nghihuu")
    person("unit_head", HANDLING, "ld_khongthu", email=False)
    with app.app_context(), unit_of_work():
        user(gone_id).active = False
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    sweep_at(app, local(2024, 3, 20))
    snap = snapshot(app, code)
    assert {r for _, r in snap.notes} == set().union(*(staff.expected(m) for m in MILESTONES))
    assert gone not in {r for _, r in snap.notes}


# --- weekends and make-up Saturdays ---------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "ack_due", "response_due", "response_warning"),
    [
        # Thu 25 Apr 2024: Fri 26 (1); Mon 29 Apr swapped off, 30/4 and 1/5 holidays; Thu 2 (2),
        # Fri 3 (3), Sat 4 May make-up working day (4), Mon 6 (5), Tue 7 (6).
        (
            local(2024, 4, 25, 15),
            local(2024, 4, 26, 15),
            local(2024, 5, 7, 23, 59, 59),
            local(2024, 5, 7, 0, 0),
        ),
        # Tue 23 Apr 2024: Wed 24, Thu 25, Fri 26, Thu 2, Fri 3, Sat 4 → due on the make-up
        # Saturday, and the warning comes at its midnight.
        (
            local(2024, 4, 23, 11),
            local(2024, 4, 24, 11),
            local(2024, 5, 4, 23, 59, 59),
            local(2024, 5, 4, 0, 0),
        ),
        # Thu 24 Apr 2025: Fri 25 (1), Sat 26 Apr make-up (2), Mon 28 (3), Tue 29 (4);
        # 30/4, 1/5 holidays, Fri 2 May swapped off; Mon 5 (5), Tue 6 (6).
        (
            local(2025, 4, 24, 8, 30),
            local(2025, 4, 25, 8, 30),
            local(2025, 5, 6, 23, 59, 59),
            local(2025, 5, 6, 0, 0),
        ),
        # Fri 18 Apr 2025: Mon 21 … Fri 25 (5), Sat 26 Apr make-up (6).
        (
            local(2025, 4, 18, 16),
            local(2025, 4, 19, 16),
            local(2025, 4, 26, 23, 59, 59),
            local(2025, 4, 26, 0, 0),
        ),
        # Fri 1 Mar 2024 17:00: the 24 hours run over the weekend (ack due Sat 17:00); the
        # working days do not (Mon 4 … Fri 8, Mon 11).
        (
            local(2024, 3, 1, 17),
            local(2024, 3, 2, 17),
            local(2024, 3, 11, 23, 59, 59),
            local(2024, 3, 11, 0, 0),
        ),
    ],
    ids=[
        "swap-2024",
        "due-on-makeup-saturday-2024",
        "swap-2025",
        "due-on-makeup-saturday-2025",
        "weekend",
    ],
)
def test_milestones_across_weekends_and_make_up_saturdays(
    app: Flask,
    make_case: Callable[..., str],
    staff: Staff,
    received: datetime,
    ack_due: datetime,
    response_due: datetime,
    response_warning: datetime,
) -> None:
    code = feedback_case(make_case, received)
    row = case_row(app, code)
    assert (row["ack_due_at"], row["response_due_at"]) == (ack_due, response_due)
    walk(
        app,
        code,
        [
            (ACK_WARNING, ack_due - timedelta(hours=4)),
            (ACK_BREACH, ack_due),
            (RESPONSE_WARNING, response_warning),
            (RESPONSE_BREACH, response_due),
        ],
    )
    snap = snapshot(app, code)
    assert [(m, due) for m, _, due, _ in snap.events] == [
        (ACK_WARNING, ack_due),
        (ACK_BREACH, ack_due),
        (RESPONSE_WARNING, response_due),
        (RESPONSE_BREACH, response_due),
    ]
    assert set(snap.notes.values()) == {1}
    assert snap.recipients(ACK_BREACH) == staff.escalated


def test_weekend_ack_breach_comes_on_saturday_after_twenty_four_clock_hours(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 3, 1, 17))  # Friday 17:00
    sweep_at(app, local(2024, 3, 2, 13))  # Saturday 13:00: 4 hours before
    assert snapshot(app, code).milestones == [ACK_WARNING]
    sweep_at(app, local(2024, 3, 2, 16, 59, 59))
    assert snapshot(app, code).milestones == [ACK_WARNING]
    sweep_at(app, local(2024, 3, 2, 17, 0, 1), times=3)
    snap = snapshot(app, code)
    assert snap.milestones == [ACK_WARNING, ACK_BREACH]
    assert snap.events[1][2:] == (local(2024, 3, 2, 17), local(2024, 3, 2, 17, 0, 1))
    assert snap.recipients(ACK_BREACH) == staff.escalated


@pytest.mark.parametrize("promise", ["ack", "response"])
def test_the_due_second_itself_is_not_yet_a_breach(
    app: Flask, make_case: Callable[..., str], staff: Staff, promise: str
) -> None:
    """Acknowledged or answered at the due time is on time everywhere else (apology.py
    owes nothing for ``answered_at <= response_due_at``; metrics, search and the digest
    count a case overdue only when ``due < now``), so a sweep at that very second must
    not record a breach and mail the inspectorate."""
    code = feedback_case(make_case, local(2024, 2, 2, 10))
    due = local(2024, 2, 3, 10) if promise == "ack" else local(2024, 2, 19, 23, 59, 59)
    breach = ACK_BREACH if promise == "ack" else RESPONSE_BREACH
    sweep_at(app, due)
    assert breach not in snapshot(app, code).milestones, f"breach recorded at {due}"
    sweep_at(app, due + SECOND)
    assert breach in snapshot(app, code).milestones


# --- per kind and channel --------------------------------------------------------------------


def test_complaint_acknowledged_within_ten_working_days_answered_thirty_days_after(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    # Fri 2 Feb 2024: working days Mon 5, Tue 6, Wed 7, (Tết 8–14), Thu 15, Fri 16, Mon 19,
    # Tue 20, Wed 21, Thu 22, Fri 23 → acceptance due at the end of Fri 23 Feb. Resolution:
    # 30 calendar days from that day → Sun 24 Mar 2024; its warning 3 working days back
    # from a Sunday: Fri 22 (1), Thu 21 (2), Wed 20 (3) → 00:00 Wed 20 Mar.
    code = feedback_case(
        make_case, local(2024, 2, 2, 10), kind="complaint", category_code="3.2", area_code="00694"
    )
    row = case_row(app, code)
    assert row["handling"] == HANDLING and row["lead"] == "TTR"
    ack_due, response_due = local(2024, 2, 23, 23, 59, 59), local(2024, 3, 24, 23, 59, 59)
    assert (row["ack_due_at"], row["response_due_at"]) == (ack_due, response_due)
    walk(
        app,
        code,
        [
            (ACK_WARNING, local(2024, 2, 22, 23, 59, 59)),  # 24 hours before
            (ACK_BREACH, ack_due),
            (RESPONSE_WARNING, local(2024, 3, 20, 0, 0)),
            (RESPONSE_BREACH, response_due),
        ],
    )
    # Nothing at the 24-hour mark of the default policy.
    snap = snapshot(app, code)
    assert snap.events[0][3] == local(2024, 2, 22, 23, 59, 59)
    # The lead unit of 3.2 is Thanh tra: its head is the inspectorate here, so the
    # escalation reaches the handling unit's head and the inspectors.
    assert snap.recipients(ACK_BREACH) == {staff.head, staff.inspector}
    assert snap.recipients(ACK_WARNING) == staff.ack_warned


def test_denunciation_classified_within_seven_working_days_across_the_may_swap(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    # Thu 25 Apr 2024 15:00: Fri 26 (1), Thu 2 (2), Fri 3 (3), Sat 4 make-up (4), Mon 6 (5),
    # Tue 7 (6), Wed 8 (7) → accepted by the end of Wed 8 May; 30 days later: Fri 7 Jun;
    # warning Fri 7 (1), Thu 6 (2), Wed 5 (3) → 00:00 Wed 5 Jun.
    code = feedback_case(
        make_case,
        local(2024, 4, 25, 15),
        kind="denunciation",
        reporter=Reporter(name="Người tố cáo", phone="0912000222"),
    )
    ack_due, response_due = local(2024, 5, 8, 23, 59, 59), local(2024, 6, 7, 23, 59, 59)
    row = case_row(app, code)
    assert (row["ack_due_at"], row["response_due_at"]) == (ack_due, response_due)
    walk(
        app,
        code,
        [
            (ACK_WARNING, local(2024, 5, 7, 23, 59, 59)),
            (ACK_BREACH, ack_due),
            (RESPONSE_WARNING, local(2024, 6, 5, 0, 0)),
            (RESPONSE_BREACH, response_due),
        ],
    )
    snap = snapshot(app, code)
    assert snap.recipients(RESPONSE_BREACH) == staff.escalated
    # The denouncer's identity never reaches staff mail.
    with app.app_context():
        bodies = db.session.scalars(
            select(Notification.body).where(Notification.kind.in_(MILESTONES))
        ).all()
    assert bodies and not any("Người tố cáo" in b or "0912000222" in b for b in bodies)


def test_hotline_petition_is_timed_from_the_call_not_from_its_entry(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    # Called Mon 4 Mar 2024 08:00, typed in at 10:00.
    code = feedback_case(
        make_case,
        local(2024, 3, 4, 8),
        now=local(2024, 3, 4, 10),
        kind="petition",
        channel="hotline",
        external_ref="1022-000123",
    )
    row = case_row(app, code)
    assert row["received_at"] == local(2024, 3, 4, 8)
    assert row["ack_due_at"] == local(2024, 3, 5, 8)
    assert row["response_due_at"] == local(2024, 3, 12, 23, 59, 59)
    walk(
        app,
        code,
        [
            (ACK_WARNING, local(2024, 3, 5, 4)),
            (ACK_BREACH, local(2024, 3, 5, 8)),
            (RESPONSE_WARNING, local(2024, 3, 12, 0, 0)),
            (RESPONSE_BREACH, local(2024, 3, 12, 23, 59, 59)),
        ],
    )
    assert snapshot(app, code).recipients(ACK_WARNING) == staff.ack_warned


def test_hotline_call_entered_after_its_ack_deadline_is_escalated_at_the_first_sweep(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    entered = local(2024, 3, 5, 14)  # 30 hours after the call
    code = feedback_case(
        make_case,
        local(2024, 3, 4, 8),
        now=entered,
        kind="petition",
        channel="hotline",
        external_ref="1022-000124",
    )
    sweep_at(app, entered - SECOND)
    assert snapshot(app, code).milestones == []
    sweep_at(app, entered, times=3)
    snap = snapshot(app, code)
    assert [(m, due, at) for m, _, due, at in snap.events] == [
        (ACK_WARNING, local(2024, 3, 5, 8), entered),
        (ACK_BREACH, local(2024, 3, 5, 8), entered),
    ]
    assert snap.recipients(ACK_BREACH) == staff.escalated
    sweep_at(app, local(2024, 3, 11, 23, 59, 59))
    assert len(snapshot(app, code).events) == 2
    sweep_at(app, local(2024, 3, 12, 0, 0))
    assert snapshot(app, code).milestones == [ACK_WARNING, ACK_BREACH, RESPONSE_WARNING]


def test_box_letter_is_timed_from_the_opening_of_the_box(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    opened = local(2024, 3, 4, 8)  # the box is opened Monday morning
    typed = local(2024, 3, 6, 15)  # the letter is transcribed on Wednesday
    code = feedback_case(
        make_case,
        opened,
        now=typed,
        kind="suggestion",
        channel="box",
        reporter=Reporter(name="Người gửi thư"),
    )
    row = case_row(app, code)
    assert row["received_at"] == opened
    assert row["ack_due_at"] == local(2024, 3, 5, 8)
    assert row["response_due_at"] == local(2024, 3, 12, 23, 59, 59)
    sweep_at(app, typed, times=2)
    snap = snapshot(app, code)
    assert [(m, at) for m, _, _, at in snap.events] == [(ACK_WARNING, typed), (ACK_BREACH, typed)]
    walk(
        app,
        code,
        [
            (RESPONSE_WARNING, local(2024, 3, 12, 0, 0)),
            (RESPONSE_BREACH, local(2024, 3, 12, 23, 59, 59)),
        ],
        already=(ACK_WARNING, ACK_BREACH),
    )
    assert snapshot(app, code).recipients(RESPONSE_BREACH) == staff.escalated


# --- what stops the clock --------------------------------------------------------------------


def test_acknowledged_case_has_no_ack_milestones(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 2, 2, 10))
    work(
        app,
        code,
        lambda c: actions.acknowledge(c, user(staff.ids["officer"]), local(2024, 2, 2, 15)),
    )
    for when in (local(2024, 2, 3, 6), local(2024, 2, 3, 10), local(2024, 2, 4)):
        sweep_at(app, when, times=2)
        assert snapshot(app, code).milestones == []
    walk(
        app,
        code,
        [
            (RESPONSE_WARNING, local(2024, 2, 19, 0, 0)),
            (RESPONSE_BREACH, local(2024, 2, 19, 23, 59, 59)),
        ],
    )
    assert snapshot(app, code).milestones == [RESPONSE_WARNING, RESPONSE_BREACH]


def test_acknowledged_between_warning_and_deadline_stops_the_breach(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 2, 2, 10))
    sweep_at(app, local(2024, 2, 3, 6))
    work(
        app,
        code,
        lambda c: actions.acknowledge(c, user(staff.ids["officer"]), local(2024, 2, 3, 8)),
    )
    sweep_at(app, local(2024, 2, 3, 10), times=2)
    sweep_at(app, local(2024, 2, 18))
    assert snapshot(app, code).milestones == [ACK_WARNING]


@pytest.mark.parametrize("how", ["answered", "rejected", "closed"])
def test_finished_case_has_no_milestones(
    app: Flask, make_case: Callable[..., str], staff: Staff, how: str
) -> None:
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    head, t = user_getter(staff.ids["head"]), local(2024, 3, 4, 11)
    if how == "rejected":
        work(app, code, lambda c: actions.reject(c, head(), t, "Không thuộc thẩm quyền."))
    else:
        work(app, code, lambda c: actions.acknowledge(c, head(), t))
        work(app, code, lambda c: actions.approve_answer(c, head(), t, "Đã sửa xong đèn."))
        if how == "closed":
            work(app, code, lambda c: actions.close(c, head(), t))
    for when in (local(2024, 3, 5, 4), local(2024, 3, 5, 9), local(2024, 3, 13), local(2024, 6, 1)):
        sweep_at(app, when)
        assert snapshot(app, code).milestones == []
    assert case_row(app, code)["next_check"] is None
    assert totals(app) == (0, 0, 0)


def user_getter(user_id: int) -> Callable[[], User]:
    return lambda: user(user_id)


def test_waiting_citizen_pauses_the_response_clock_and_the_reply_moves_it(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    # Mon 4 Mar 2024 09:00: response due Tue 12 Mar (Tue 5 … Mon 11, Tue 12).
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    officer = user_getter(staff.ids["officer"])
    work(app, code, lambda c: actions.acknowledge(c, officer(), local(2024, 3, 4, 10)))
    work(app, code, lambda c: actions.start(c, officer(), local(2024, 3, 4, 10, 5)))
    asked = local(2024, 3, 6, 10)
    work(app, code, lambda c: actions.ask_citizen(c, officer(), asked, "Xin cho biết số nhà."))
    assert case_row(app, code)["status"] == "waiting_citizen"
    for when in (
        local(2024, 3, 12, 0, 0),
        local(2024, 3, 12, 23, 59, 59),
        local(2024, 3, 13, 0, 0),
        local(2024, 3, 18, 9),
    ):
        sweep_at(app, when, times=2)
        assert snapshot(app, code).milestones == [], f"while waiting, at {when}"
    # The citizen answers Mon 18 Mar: Wed 6 … Fri 15 (8 working days) were lost, so the
    # due day moves 8 working days: Wed 13 … Fri 22 Mar.
    replied = local(2024, 3, 18, 10)
    work(app, code, lambda c: followup.citizen_reply(c, replied, "Trước số nhà 120."))
    row = case_row(app, code)
    assert row["response_due_at"] == local(2024, 3, 22, 23, 59, 59)
    assert row["status"] == "in_progress"
    walk(
        app,
        code,
        [
            (RESPONSE_WARNING, local(2024, 3, 22, 0, 0)),
            (RESPONSE_BREACH, local(2024, 3, 22, 23, 59, 59)),
        ],
    )
    snap = snapshot(app, code)
    assert [(m, due) for m, _, due, _ in snap.events] == [
        (RESPONSE_WARNING, local(2024, 3, 22, 23, 59, 59)),
        (RESPONSE_BREACH, local(2024, 3, 22, 23, 59, 59)),
    ]
    # The due time moved as a new deadline revision, with an event saying why.
    assert row["rev"] == 1 and {rev for _, rev, _, _ in snap.events} == {1}
    with app.app_context():
        moved = db.session.scalar(
            select(CaseEvent)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(Case.code == code, CaseEvent.action == "recompute")
        )
        assert moved.at == replied
        assert moved.data["response_due_before"] == local(2024, 3, 12, 23, 59, 59).isoformat()


def test_waiting_citizen_under_a_policy_that_does_not_pause(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(
        make_case, local(2024, 2, 2, 10), kind="complaint", category_code="3.2", area_code="00694"
    )
    officer = user_getter(staff.ids["officer"])
    # Accepted (thụ lý) Mon 5 Feb: 30 calendar days from that day → Wed 6 Mar; its warning
    # 3 working days back: Wed 6 (1), Tue 5 (2), Mon 4 (3) → 00:00 Mon 4 Mar.
    work(app, code, lambda c: actions.acknowledge(c, officer(), local(2024, 2, 5, 9)))
    assert case_row(app, code)["response_due_at"] == local(2024, 3, 6, 23, 59, 59)
    work(
        app,
        code,
        lambda c: actions.ask_citizen(c, officer(), local(2024, 3, 1, 9), "Bổ sung giấy tờ."),
    )
    walk(
        app,
        code,
        [
            (RESPONSE_WARNING, local(2024, 3, 4, 0, 0)),
            (RESPONSE_BREACH, local(2024, 3, 6, 23, 59, 59)),
        ],
    )
    assert case_row(app, code)["status"] == "waiting_citizen"


def test_a_moved_due_time_is_warned_about_again(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    """The warning for the old due time was sent; the pause moved the due time, so the
    deadline revision changes and the warning for the new due time is sent too (the
    model: "Bumped whenever a due time is recomputed (pause, extension, reopening ...)")."""
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    officer = user_getter(staff.ids["officer"])
    work(app, code, lambda c: actions.acknowledge(c, officer(), local(2024, 3, 4, 10)))
    sweep_at(app, local(2024, 3, 12, 0, 0))  # warned: due tonight
    assert snapshot(app, code).milestones == [RESPONSE_WARNING]
    work(
        app,
        code,
        lambda c: actions.ask_citizen(c, officer(), local(2024, 3, 12, 10), "Xin số nhà."),
    )
    # Replied Mon 18 Mar: Tue 12 … Fri 15 lost (4 working days) → due Mon 18 Mar.
    replied = local(2024, 3, 18, 10)
    work(app, code, lambda c: followup.citizen_reply(c, replied, "Trước số nhà 120."))
    row = case_row(app, code)
    assert row["response_due_at"] == local(2024, 3, 18, 23, 59, 59)
    assert row["rev"] > 0, "the due time moved but the deadline revision did not"
    sweep_at(app, replied, times=2)
    snap = snapshot(app, code)
    assert [(m, due) for m, _, due, _ in snap.events] == [
        (RESPONSE_WARNING, local(2024, 3, 12, 23, 59, 59)),
        (RESPONSE_WARNING, local(2024, 3, 18, 23, 59, 59)),
    ]


def test_a_reopened_case_is_escalated_again_when_its_new_deadline_passes(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    head = user_getter(staff.ids["head"])
    work(app, code, lambda c: actions.acknowledge(c, head(), local(2024, 3, 4, 10)))
    sweep_at(app, local(2024, 3, 13))  # breached Tue 12 Mar
    assert snapshot(app, code).milestones == [RESPONSE_WARNING, RESPONSE_BREACH]
    work(
        app,
        code,
        lambda c: actions.approve_answer(c, head(), local(2024, 3, 14, 10), "Đã sửa xong đèn."),
    )
    work(app, code, lambda c: followup.reopen(c, local(2024, 3, 15, 10), "Đèn vẫn chưa sáng."))
    # Reopened Fri 15 Mar: Mon 18 … Fri 22, Mon 25 → due Mon 25 Mar.
    row = case_row(app, code)
    assert row["response_due_at"] == local(2024, 3, 25, 23, 59, 59)
    assert row["rev"] > 0, "the due time moved but the deadline revision did not"
    sweep_at(app, local(2024, 3, 26))
    snap = snapshot(app, code)
    assert [(m, due) for m, _, due, _ in snap.events][2:] == [
        (RESPONSE_WARNING, local(2024, 3, 25, 23, 59, 59)),
        (RESPONSE_BREACH, local(2024, 3, 25, 23, 59, 59)),
    ]
    assert Counter(m for m, _ in snap.notes.elements())[RESPONSE_BREACH] == 2 * len(staff.escalated)


def test_a_calendar_change_does_not_repeat_the_escalation_of_an_unmoved_deadline(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    """An admin adds a day off after the acknowledgement was breached: the response due
    time moves (a new revision), the acknowledgement due time does not, so its breach
    must not be recorded, and its escalation mailed, a second time."""
    code = feedback_case(make_case, local(2024, 2, 2, 10))
    sweep_at(app, local(2024, 2, 3, 10, 0, 1))
    assert snapshot(app, code).milestones == [ACK_WARNING, ACK_BREACH]
    changed = local(2024, 2, 3, 11)
    with app.app_context(), unit_of_work():
        moved = add_override(
            date(2024, 2, 5), "off", "Thông báo 99/TB-UBND (giả định để thử)", "", now=changed
        )
    assert moved == 1
    row = case_row(app, code)
    assert row["ack_due_at"] == local(2024, 2, 3, 10)  # unchanged
    assert row["response_due_at"] == local(2024, 2, 20, 23, 59, 59)  # Mon 19 → Tue 20
    assert row["rev"] == 1
    sweep_at(app, changed, times=3)
    sweep_at(app, local(2024, 2, 21))
    snap = snapshot(app, code)
    assert Counter(snap.milestones) == Counter(MILESTONES), snap.events
    assert [(m, due) for m, _, due, _ in snap.events if m.startswith("response")] == [
        (RESPONSE_WARNING, local(2024, 2, 20, 23, 59, 59)),
        (RESPONSE_BREACH, local(2024, 2, 20, 23, 59, 59)),
    ]
    assert set(snap.notes.values()) == {1}
    assert sum(snap.notes.values()) == 3 + 3 + 2 + 3


def test_denunciation_accepted_then_extended_once_by_decision(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(
        make_case,
        local(2024, 4, 25, 15),
        kind="denunciation",
        reporter=Reporter(name="Người tố cáo", phone="0912000222"),
    )
    head = user_getter(staff.ids["head"])
    # A normal denunciation gets no extension (Law on Denunciations 2018, art. 30): the
    # coordinator classifies it complex first (its initial handling then has 10 working
    # days instead of 7: a first revision of the due times).
    coordinator = user_getter(staff.ids["coordinator"])
    work(
        app,
        code,
        lambda c: actions.classify(
            c, coordinator(), local(2024, 4, 25, 16), complex_case=True, remote=False,
            reason="Nhiều người, nhiều nội dung cần xác minh.",
        ),
    )  # fmt: skip
    # Accepted (thụ lý) Thu 2 May: 30 days from that day → Sat 1 Jun; its warning 3 working
    # days back: Fri 31 May (1), Thu 30 (2), Wed 29 (3).
    work(app, code, lambda c: actions.acknowledge(c, head(), local(2024, 5, 2, 9)))
    row = case_row(app, code)
    assert row["response_due_at"] == local(2024, 6, 1, 23, 59, 59)
    assert row["rev"] == 2
    walk(app, code, [(RESPONSE_WARNING, local(2024, 5, 29, 0, 0))])
    # Extended on Thu 30 May by a recorded decision: +30 days → Mon 1 Jul; warned again
    # 00:00 Thu 27 Jun (Mon 1 Jul, Fri 28, Thu 27), breached after Mon 1 Jul.
    work(
        app,
        code,
        lambda c: actions.extend(
            c, head(), local(2024, 5, 30, 9), "Cần xác minh tại nhiều nơi.", "QĐ 15/QĐ-UBND"
        ),
    )
    row = case_row(app, code)
    assert row["response_due_at"] == local(2024, 7, 1, 23, 59, 59)
    assert row["rev"] == 3
    sweep_at(app, local(2024, 6, 2))  # the old due time passed: no breach
    assert snapshot(app, code).milestones == [RESPONSE_WARNING]
    walk(
        app,
        code,
        [
            (RESPONSE_WARNING, local(2024, 6, 27, 0, 0)),
            (RESPONSE_BREACH, local(2024, 7, 1, 23, 59, 59)),
        ],
        already=(RESPONSE_WARNING,),
    )
    snap = snapshot(app, code)
    assert [(m, rev, due) for m, rev, due, _ in snap.events] == [
        (RESPONSE_WARNING, 2, local(2024, 6, 1, 23, 59, 59)),
        (RESPONSE_WARNING, 3, local(2024, 7, 1, 23, 59, 59)),
        (RESPONSE_BREACH, 3, local(2024, 7, 1, 23, 59, 59)),
    ]
    # Each warning told once per revision; the breach once.
    assert snap.notes == Counter(
        {(RESPONSE_WARNING, r): 2 for r in staff.response_warned}
        | {(RESPONSE_BREACH, r): 1 for r in staff.escalated}
    )
    with pytest.raises(actions.Conflict):
        work(
            app,
            code,
            lambda c: actions.extend(
                c, head(), local(2024, 7, 2, 9), "Gia hạn lần hai.", "QĐ 16/QĐ-UBND"
            ),
        )


def test_answering_while_the_clock_is_paused_owes_no_apology_for_the_paused_days(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    """Under a pausing policy the sweep treats a waiting case as not running late; the
    unit may answer straight from waiting_citizen (the state machine allows it). The
    apology must measure lateness against the paused clock too: Tue 5 Mar was the only
    working day used before the pause (Wed 6), so an answer on Wed 13 is on time."""
    code = feedback_case(make_case, local(2024, 3, 4, 9))  # due Tue 12 Mar
    officer, head = user_getter(staff.ids["officer"]), user_getter(staff.ids["head"])
    work(app, code, lambda c: actions.acknowledge(c, officer(), local(2024, 3, 4, 10)))
    work(
        app,
        code,
        lambda c: actions.ask_citizen(c, officer(), local(2024, 3, 6, 10), "Xin số nhà."),
    )
    sweep_at(app, local(2024, 3, 13, 8))
    assert snapshot(app, code).milestones == []  # paused: never breached
    work(
        app,
        code,
        lambda c: actions.approve_answer(c, head(), local(2024, 3, 13, 9), "Đã sửa xong đèn."),
    )
    assert apologies(app, code) == []


# --- downtime ----------------------------------------------------------------------------------


KINDS = ("feedback", "petition", "suggestion", "complaint", "denunciation")


def expected_milestones(app: Flask, now: datetime) -> set[tuple[str, str, datetime]]:
    """(case code, milestone, due) of every milestone that has come by ``now``, computed
    with the pure arithmetic from each case's stored due times and its policy."""
    found: set[tuple[str, str, datetime]] = set()
    with app.app_context():
        calendar = load_calendar()
        policies = {p.kind: p for p in db.session.scalars(select(SlaPolicy))}
        for case in db.session.scalars(select(Case)):
            policy = policies[case.kind]
            clock = Clock(
                ack_due_at=case.ack_due_at,
                response_due_at=case.response_due_at,
                acknowledged=case.acknowledged_at is not None,
                answered=case.answered_at is not None,
            )
            limits = Thresholds(
                policy.warn_before_ack_hours, policy.warn_before_response_working_days
            )
            for milestone, at in milestones(clock, limits, calendar):
                if at <= now:
                    due = case.ack_due_at if "ack" in milestone.value else case.response_due_at
                    found.add((case.code, milestone.value, due))
    return found


def recorded_milestones(app: Flask) -> list[tuple[str, str, datetime]]:
    with app.app_context():
        rows = db.session.execute(
            select(Case.code, SlaEvent.milestone, SlaEvent.due_at)
            .select_from(SlaEvent)
            .join(Case, Case.id == SlaEvent.case_id)
        ).all()
    return [tuple(r) for r in rows]


def test_a_sweep_after_a_day_of_downtime_records_every_breach_of_that_day(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    officer = user_getter(staff.ids["officer"])
    codes: list[str] = []
    start = local(2024, 3, 4, 0, 10)  # Monday
    for i in range(30):
        entered = start + timedelta(minutes=47 * i)
        kw: dict[str, Any] = {"kind": KINDS[i % len(KINDS)], "now": entered}
        received = entered
        if i % 3 == 0:
            # A 1022 call forwarded a week late: its response is due on the down day.
            received = entered - timedelta(days=7)
            kw.update(channel="hotline", external_ref=f"1022-{i:06d}")
        if kw["kind"] == "denunciation":
            kw["reporter"] = Reporter(name="Người tố cáo", phone="0912000333")
        codes.append(feedback_case(make_case, received, **kw))
        if i % 7 == 3:
            work(app, codes[-1], lambda c, t=entered: actions.acknowledge(c, officer(), t))
    last_before = local(2024, 3, 4, 23, 59, 59)
    sweep_at(app, last_before)
    before = recorded_milestones(app)
    assert sorted(before) == sorted(expected_milestones(app, last_before))

    # Down all Tuesday; the first sweep comes at 00:00 Wednesday.
    back = local(2024, 3, 6, 0, 0)
    [summary] = sweep_at(app, back, batch=7)
    after = recorded_milestones(app)
    expected = expected_milestones(app, back)
    assert sorted(after) == sorted(expected)
    new = set(after) - set(before)
    breaches_of_the_day = {m for m in new if m[1].endswith("breach")}
    # Every 24-hour case received on Monday and not acknowledged breached on Tuesday, and
    # every forwarded call of the 24-hour kinds breached its response on Tuesday night.
    with app.app_context():
        cases = db.session.scalars(select(Case).where(Case.code.in_(codes))).all()
        ack_breaches = {
            (c.code, ACK_BREACH, c.received_at + timedelta(hours=24))
            for c in cases
            if c.kind in KINDS[:3]
            and c.acknowledged_at is None
            and last_before < c.received_at + timedelta(hours=24) <= back
        }
        response_breaches = {
            (c.code, RESPONSE_BREACH, local(2024, 3, 5, 23, 59, 59))
            for c in cases
            if c.kind in KINDS[:3] and c.channel == "hotline"
        }
    assert ack_breaches and response_breaches
    assert breaches_of_the_day == ack_breaches | response_breaches
    assert summary["breaches"] == len(breaches_of_the_day)
    assert summary["warnings"] == len(new) - len(breaches_of_the_day)
    assert summary["batches"] >= 2
    counts = totals(app)
    assert counts[0] == counts[2] == len(after)

    # A second sweep (at once, and a minute later) adds nothing.
    for when in (back, back + timedelta(minutes=1)):
        [again] = sweep_at(app, when)
        assert not again.get("breaches") and not again.get("warnings")
        assert totals(app) == counts
    with app.app_context():
        dupes = db.session.execute(
            select(Notification.dedupe_key, func.count())
            .group_by(Notification.dedupe_key)
            .having(func.count() > 1)
        ).all()
        assert dupes == []
        told = db.session.scalars(
            select(Notification.recipient).where(Notification.kind == ACK_BREACH)
        ).all()
    assert Counter(told) == Counter(
        {r: len({m for m in after if m[1] == ACK_BREACH}) for r in staff.escalated}
    )


# --- apology obligations -----------------------------------------------------------------------


def apologies(app: Flask, code: str) -> list[tuple[str, int, datetime]]:
    with app.app_context():
        return [
            (a.status, a.late_by_seconds, a.owed_since)
            for a in db.session.scalars(
                select(ApologyLetter)
                .join(Case, Case.id == ApologyLetter.case_id)
                .where(Case.code == code)
            )
        ]


def test_a_case_answered_late_owes_exactly_one_apology(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 3, 4, 9))  # due Tue 12 Mar 23:59:59
    head = user_getter(staff.ids["head"])
    work(app, code, lambda c: actions.acknowledge(c, head(), local(2024, 3, 4, 10)))
    answered = local(2024, 3, 13, 9)
    work(app, code, lambda c: actions.approve_answer(c, head(), answered, "Đã sửa xong đèn."))
    late_by = int((answered - local(2024, 3, 12, 23, 59, 59)).total_seconds())
    assert late_by == 9 * 3600 + 1
    assert apologies(app, code) == [("owed", late_by, answered)]
    # Reopened and answered late again: still one obligation for the case.
    work(app, code, lambda c: followup.reopen(c, local(2024, 3, 14, 9), "Đèn vẫn chưa sáng."))
    work(
        app,
        code,
        lambda c: actions.approve_answer(c, head(), local(2024, 4, 30), "Đã thay cả cột đèn."),
    )
    assert apologies(app, code) == [("owed", late_by, answered)]


@pytest.mark.parametrize(
    "answered",
    [local(2024, 3, 12, 15), local(2024, 3, 12, 23, 59, 59)],
    ids=["due-day", "last-second"],
)
def test_a_case_answered_on_time_owes_no_apology(
    app: Flask, make_case: Callable[..., str], staff: Staff, answered: datetime
) -> None:
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    head = user_getter(staff.ids["head"])
    work(app, code, lambda c: actions.acknowledge(c, head(), local(2024, 3, 4, 10)))
    work(app, code, lambda c: actions.approve_answer(c, head(), answered, "Đã sửa xong đèn."))
    assert apologies(app, code) == []


def test_a_late_rejection_owes_an_apology_too(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    head = user_getter(staff.ids["head"])
    rejected = local(2024, 3, 14, 8)
    work(app, code, lambda c: actions.reject(c, head(), rejected, "Không thuộc thẩm quyền."))
    assert apologies(app, code) == [
        ("owed", int((rejected - local(2024, 3, 12, 23, 59, 59)).total_seconds()), rejected)
    ]


# --- the morning digest ------------------------------------------------------------------------


def digests(app: Flask) -> dict[str, list[tuple[str, str]]]:
    """recipient → [(dedupe key, body)] of the digest rows in the outbox."""
    out: dict[str, list[tuple[str, str]]] = {}
    with app.app_context():
        for note in db.session.scalars(
            select(Notification).where(Notification.kind == "digest").order_by(Notification.id)
        ):
            out.setdefault(note.recipient, []).append((note.dedupe_key, note.body))
    return out


def section(body: str, title: str) -> set[str]:
    """The case codes listed under one heading of a digest."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    codes = set()
    for line in lines[start + 1 :]:
        if not line.startswith("  - "):
            break
        codes.add(line[4:].split(" · ")[0])
    return codes


def test_morning_digest_once_per_address_per_unit_on_working_days_only(
    app: Flask,
    make_case: Callable[..., str],
    staff: Staff,
    person: Callable[..., tuple[int, str]],
) -> None:
    person("officer", HANDLING, "cb_khongthu", email=False)
    _, ward_officer = person("officer", "UBND-00688", "cb_quangtrung")
    officer, head = user_getter(staff.ids["officer"]), user_getter(staff.ids["head"])
    ward_head_id, _ = person("unit_head", "UBND-00688", "ld_quangtrung", email=False)

    due_today = feedback_case(make_case, local(2024, 3, 4, 9))  # due Tue 12 Mar
    overdue = feedback_case(make_case, local(2024, 3, 1, 9))  # due Mon 11 Mar
    ack_overdue = feedback_case(make_case, local(2024, 3, 11, 7))  # ack due Tue 12 07:00
    waiting = feedback_case(make_case, local(2024, 3, 11, 9))
    answered = feedback_case(make_case, local(2024, 3, 4, 9))
    elsewhere = feedback_case(make_case, local(2024, 3, 1, 9), area_code="00688")
    for code in (due_today, overdue, waiting, answered):
        work(app, code, lambda c: actions.acknowledge(c, officer(), local(2024, 3, 11, 9, 30)))
    work(app, elsewhere, lambda c: actions.acknowledge(c, user(ward_head_id), local(2024, 3, 4, 8)))
    work(
        app,
        waiting,
        lambda c: actions.ask_citizen(c, officer(), local(2024, 3, 11, 10), "Xin số nhà cụ thể."),
    )
    work(
        app,
        answered,
        lambda c: actions.approve_answer(c, head(), local(2024, 3, 11, 11), "Đã sửa xong đèn."),
    )

    # Sunday, and a day of Tết: nothing.
    for day in (local(2024, 3, 10, 7, 30), local(2024, 2, 12, 7, 30)):
        with app.app_context():
            assert send_digests(day) == {"skipped_non_working_day": 1}
    assert digests(app) == {}

    tuesday = local(2024, 3, 12, 7, 30)
    with app.app_context():
        assert send_digests(tuesday) == {"digests": 3}
    sent = digests(app)
    assert set(sent) == {staff.officer, staff.head, ward_officer}
    assert all(len(rows) == 1 for rows in sent.values())
    assert staff.outsider not in sent and staff.lead_head not in sent
    for address in (staff.officer, staff.head):
        key, body = sent[address][0]
        assert key == f"digest:{HANDLING}:2024-03-12:{address}"
        assert section(body, "Đến hạn trả lời hôm nay") == {due_today}
        assert section(body, "Đã quá hạn") == {overdue, ack_overdue}
        assert section(body, "Đang chờ người dân bổ sung") == {waiting}
        assert answered not in body and elsewhere not in body
    key, body = sent[ward_officer][0]
    assert key == f"digest:UBND-00688:2024-03-12:{ward_officer}"
    assert section(body, "Đã quá hạn") == {elsewhere}
    assert "Đến hạn trả lời hôm nay: không có." in body

    # A second run, and a later one the same morning, write nothing.
    for again in (tuesday, tuesday + timedelta(minutes=5)):
        with app.app_context():
            assert send_digests(again).get("digests", 0) == 0
    assert digests(app) == sent

    # The make-up Saturday of 4 May 2024 is a working day: the digest goes out.
    with app.app_context():
        assert send_digests(local(2024, 5, 4, 7, 30)) == {"digests": 3}
    assert {r: len(rows) for r, rows in digests(app).items()} == {
        staff.officer: 2,
        staff.head: 2,
        ward_officer: 2,
    }


def test_digest_does_not_call_a_case_overdue_while_its_clock_is_paused(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    """Asked for information on Mon 4 Mar, before its due day (Mon 11): the clock stands
    still, the sweep records no breach, so the digest lists it as waiting, not overdue."""
    officer = user_getter(staff.ids["officer"])
    code = feedback_case(make_case, local(2024, 3, 1, 9))
    work(app, code, lambda c: actions.acknowledge(c, officer(), local(2024, 3, 4, 8)))
    work(
        app,
        code,
        lambda c: actions.ask_citizen(c, officer(), local(2024, 3, 4, 10), "Xin số nhà."),
    )
    tuesday = local(2024, 3, 12, 7, 30)
    sweep_at(app, tuesday)
    assert RESPONSE_BREACH not in snapshot(app, code).milestones
    with app.app_context():
        send_digests(tuesday)
    _, body = digests(app)[staff.officer][0]
    assert section(body, "Đang chờ người dân bổ sung") == {code}
    assert section(body, "Đã quá hạn") == set()


# --- the command ---------------------------------------------------------------------------------


def test_sla_sweep_command_prints_a_json_summary(
    app: Flask, make_case: Callable[..., str], staff: Staff
) -> None:
    code = feedback_case(make_case, local(2024, 3, 4, 9))
    runner = app.test_cli_runner()
    with app.app_context():
        result = runner.invoke(args=["sla", "sweep"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["checked"] == 1
    assert summary["warnings"] == 2 and summary["breaches"] == 2
    assert summary["escalations"] == 2 * len(staff.escalated)
    assert summary["warned"] == len(staff.ack_warned) + len(staff.response_warned)
    assert snapshot(app, code).milestones == list(MILESTONES)
    with app.app_context():
        again = runner.invoke(args=["sla", "sweep"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert isinstance(summary, dict)
    assert not summary.get("warnings") and not summary.get("breaches")
    assert totals(app) == (4, 11, 4)


def test_a_long_sweep_commits_as_it_goes_and_claims_the_rest_again(
    app: Flask, make_case: Callable[..., str], staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is committed once it has held its rows for HOLD_SECONDS (here: after every
    case), so the rows it claimed are not locked for the whole batch; the cases it had
    claimed but not reached are claimed again, and every milestone is recorded once."""
    from feedback.services.sla import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "HOLD_SECONDS", 0.0)
    received = local(2024, 3, 4, 9, 0)  # Monday
    codes = [feedback_case(make_case, received) for _ in range(5)]
    later = local(2024, 3, 6, 9, 0)  # both ack milestones of each case have come
    [summary] = sweep_at(app, later)
    assert summary["batches"] == 5 and summary["checked"] == 5
    first = recorded_milestones(app)
    assert {code for code, _, _ in first} == set(codes)
    assert len(first) == len(set(first)) == len(expected_milestones(app, later))
    [again] = sweep_at(app, later)
    assert recorded_milestones(app) == first and again.get("breaches", 0) == 0
