"""The SLA sweep: warnings before each deadline, breaches at it, escalation after.

Correctness lives in the database, not in the scheduler running once:
- only cases whose ``next_sla_check_at`` has come are read (indexed), and each is claimed
  with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers anyway);
- a warning or breach is an ``sla_events`` row, unique per (case, milestone, obligation),
  inserted with ON CONFLICT DO NOTHING: whoever inserts it, and only they,
  writes its timeline event and outbox rows, in the same transaction. The obligation is
  the case's promise number: a due time moved by a calendar edit keeps it (no second
  warning or breach), a new promise (reopening, acceptance, extension) re-arms;
- the next check time is recomputed from the pure milestone arithmetic
  (feedback.domain.sla) and the kind's escalation ladder (feedback.domain.escalation), so a
  sweep after downtime records everything it missed;
- the ladder's steps beyond the breach are recorded the same way (.ladder), and the
  response breach is told to the audience of the kind's step at the breach.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.sql.elements import ColumnElement

from ...database import insert_once
from ...domain.calendar import WorkingCalendar
from ...domain.marks import N_
from ...domain.permissions import UNIT_ROLES
from ...domain.sla import Clock, Milestone, Thresholds, arrived, next_check_at
from ...domain.states import Status
from ...extensions import db
from ...i18n import format_local_long
from ...models import Case, SlaEvent, SlaPolicy, Unit, User
from ..handling import events
from ..reference.policies import current_by_kind, load_calendar
from .ladder import ACTOR_LABEL, Ladder
from .notify import queue

BATCH = 500
HOLD_SECONDS = 0.5  # the longest a sweep holds claimed rows before it commits
LOCK_KEY = 4_210_022  # pg advisory lock id of the sweep ("1022")
PAUSING = {Status.WAITING_CITIZEN.value}
FINISHED = {Status.ANSWERED.value, Status.CLOSED.value, Status.REJECTED.value, Status.MERGED.value}

LABELS = {
    Milestone.ACK_WARNING: N_("Sắp đến hạn phản hồi tiếp nhận"),
    Milestone.ACK_BREACH: N_("Quá hạn phản hồi tiếp nhận"),
    Milestone.RESPONSE_WARNING: N_("Sắp đến hạn trả lời"),
    Milestone.RESPONSE_BREACH: N_("Quá hạn trả lời"),
}


def pausing_kinds() -> list[str]:
    """Kinds whose response clock stands still while the case waits for the citizen
    (read once per unit of work: lists ask for every row)."""
    cached = db.session.info.get("pausing_kinds")
    if cached is None:
        cached = list(
            db.session.scalars(select(SlaPolicy.kind).where(SlaPolicy.pause_when_waiting))
        )
        db.session.info["pausing_kinds"] = cached
    return cached


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: an open case past a promise it has not kept, not counting a response clock
    that is paused (lists, digests and exports agree with the sweep)."""
    paused = (
        (Case.status == Status.WAITING_CITIZEN.value) & Case.kind.in_(pausing_kinds())
    ) | Case.suspended_since.is_not(None)
    return Case.status.notin_(sorted(FINISHED)) & (
        (Case.acknowledged_at.is_(None) & (Case.ack_due_at < now))
        | (Case.answered_at.is_(None) & (Case.response_due_at < now) & ~paused)
    )


def is_overdue(case: Case, now: datetime) -> bool:
    """``overdue_condition`` for one loaded case."""
    if case.status in FINISHED:
        return False
    if case.acknowledged_at is None and case.ack_due_at < now:
        return True
    paused = (
        case.status == Status.WAITING_CITIZEN.value and case.kind in pausing_kinds()
    ) or case.suspended_since is not None
    return case.answered_at is None and case.response_due_at < now and not paused


def thresholds(policy: SlaPolicy) -> Thresholds:
    return Thresholds(policy.warn_before_ack_hours, policy.warn_before_response_working_days)


def clock_of(case: Case, policy: SlaPolicy) -> Clock:
    finished = case.status in FINISHED
    return Clock(
        ack_due_at=case.ack_due_at,
        response_due_at=case.response_due_at,
        acknowledged=case.acknowledged_at is not None or finished,
        answered=case.answered_at is not None or finished,
        # Waiting for the citizen under a pausing policy, or a suspended complaint (only
        # ever suspended under a policy whose suspension stops the clock).
        paused=(policy.pause_when_waiting and case.status in PAUSING)
        or case.suspended_since is not None,
    )


class Sweeper:
    """One sweep: state shared across the cases of the run (policies, calendar, who is told)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.policies = current_by_kind(now)
        self.calendar: WorkingCalendar = load_calendar()
        self.summary: Counter[str] = Counter()
        self._staff: dict[tuple[int, tuple[str, ...]], list[str]] = {}
        self.dialect = db.session.get_bind().dialect.name
        self.ladder = Ladder(now, self.calendar, self._emails, self._inspectorate, self.summary)

    # -- claiming -------------------------------------------------------------------------

    def claim(self, limit: int) -> list[int]:
        stmt = (
            select(Case.id)
            .where(Case.next_sla_check_at <= self.now)
            .order_by(Case.next_sla_check_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(db.session.scalars(stmt))

    def run(self, batch: int = BATCH) -> dict[str, int]:
        while True:
            ids = self.claim(batch)
            if not ids:
                break
            # The claimed rows stay locked (SQLite: every writer waits) until the commit,
            # and a breach costs tens of milliseconds (events, messages, the ladder): a
            # batch is committed once it has held its locks for HOLD_SECONDS, so a
            # citizen adding a file to a case just submitted (claimed with a wave of
            # breaches) never waits near the lock timeout. The rest is claimed again.
            started = time.monotonic()
            done = 0
            for case in db.session.scalars(select(Case).where(Case.id.in_(ids))):
                self.process(case)
                done += 1
                if time.monotonic() - started >= HOLD_SECONDS:
                    break
            db.session.commit()
            self.summary["batches"] += 1
            if done == len(ids) and len(ids) < batch:
                break
        return dict(self.summary)

    # -- one case -------------------------------------------------------------------------

    def process(self, case: Case) -> None:
        self.summary["checked"] += 1
        policy = self.policies[case.kind]
        clock = clock_of(case, policy)
        limits = thresholds(policy)
        for milestone in arrived(clock, limits, self.calendar, self.now):
            self.record(case, milestone)
        self.ladder.climb(case, clock)
        # Looked at again at the next milestone or the next step of the ladder.
        times = [
            t
            for t in (
                next_check_at(clock, limits, self.calendar, self.now),
                self.ladder.next_at(case, clock),
            )
            if t is not None
        ]
        db.session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(next_sla_check_at=min(times) if times else None)
            .execution_options(synchronize_session=False)
        )

    def record(self, case: Case, milestone: Milestone) -> None:
        due = case.ack_due_at if milestone.value.startswith("ack") else case.response_due_at
        event_id = insert_once(
            SlaEvent,
            ["case_id", "milestone", "obligation"],
            case_id=case.id,
            milestone=milestone.value,
            deadline_rev=case.deadline_rev,
            obligation=case.obligation,
            due_at=due,
            recorded_at=self.now,
            handling_unit_id=case.handling_unit_id,
        )
        if event_id is None:
            return  # recorded before, by this or another scheduler
        self.summary["warnings" if not milestone.is_breach else "breaches"] += 1
        # Marked, with the milestone's label as a value: the case page shows it translated.
        events.record(
            case,
            milestone.value,
            user=None,
            now=self.now,
            label=ACTOR_LABEL,
            note=N_(
                "%(milestone)s: hạn %(due)s.",
                milestone=LABELS[milestone],
                due=events.noted_time(due),
            ),
            data={
                "deadline_rev": case.deadline_rev,
                "obligation": case.obligation,
                "due_at": due.isoformat(),
            },
        )
        for address in self.recipients(case, milestone):
            written = queue(
                dedupe_key=f"sla:{event_id}:{address}",
                recipient=address,
                subject=f"[{case.code}] {LABELS[milestone]}",
                body=self.message(case, milestone, due),
                kind=milestone.value,
                now=self.now,
                case=case,
            )
            if written:
                self.summary["escalations" if milestone.is_breach else "warned"] += 1

    def message(self, case: Case, milestone: Milestone, due: datetime) -> str:
        lines = [
            f"{LABELS[milestone]}: hồ sơ {case.code} «{case.subject}».",
            f"Đơn vị xử lý: {case.handling_unit.name}.",
            f"Hạn: {format_local_long(due)}.",
        ]
        if milestone.is_breach:
            lines.append("Đề nghị khẩn trương giải quyết; Thanh tra thành phố đã được thông báo.")
        return "\n".join(lines)

    # -- who is told ----------------------------------------------------------------------

    def _emails(self, unit_id: int | None, roles: tuple[str, ...]) -> list[str]:
        if unit_id is None:
            return []
        key = (unit_id, roles)
        if key not in self._staff:
            users = db.session.scalars(
                select(User).where(User.unit_id == unit_id, User.role.in_(roles), User.active)
            ).all()
            unit = db.session.get(Unit, unit_id)
            found = [u.email for u in users if u.email]
            if unit is not None and unit.email:
                found.append(unit.email)
            self._staff[key] = found
        return self._staff[key]

    def _inspectorate(self) -> list[str]:
        key = (-1, ("inspector",))
        if key not in self._staff:
            users = db.session.scalars(select(User).where(User.role == "inspector", User.active))
            self._staff[key] = [u.email for u in users if u.email]
        return self._staff[key]

    def recipients(self, case: Case, milestone: Milestone) -> list[str]:
        """Warnings: the handling unit (its officers and heads; for the acknowledgement
        also the coordinators). Breaches: the unit's head, the lead unit and Thanh tra; for
        the response, the audience of the ladder's step at the breach when the kind has one.
        The officer assigned is told of each."""
        found: list[str] = []
        ladder = (
            self.ladder.breach_audience(case) if milestone is Milestone.RESPONSE_BREACH else None
        )
        if ladder is not None:
            found += ladder
        elif milestone.is_breach:
            found += self._emails(case.handling_unit_id, ("unit_head",))
            found += self._emails(case.lead_unit_id, ("unit_head",))
            found += self._inspectorate()
        else:
            found += self._emails(case.handling_unit_id, UNIT_ROLES)
            if milestone is Milestone.ACK_WARNING:
                found += [
                    u.email
                    for u in db.session.scalars(select(User).where(User.role == "coordinator"))
                    if u.email and u.active
                ]
        if case.assigned_to is not None and case.assigned_to.email and case.assigned_to.active:
            found.append(case.assigned_to.email)
        return sorted(set(found))


def sweep(now: datetime, batch: int = BATCH) -> dict[str, Any]:
    """One sweep; commits per batch. On PostgreSQL an advisory lock lets only one process
    do the work at a time (saving redundant reads); correctness does not depend on it."""
    if db.session.get_bind().dialect.name == "postgresql":
        got = db.session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        if not got.scalar():
            db.session.rollback()
            return {"skipped": 1, "reason": "another sweep holds the lock"}
    summary = Sweeper(now).run(batch)
    db.session.commit()
    return summary
