"""The escalation ladder in the sweep (issue 16): the steps beyond the first response breach.

Each kind has its steps (``escalation_steps``: level, working days after the breach, who is
told). For every case the sweep processes, each step whose time has come
(``feedback.domain.escalation.arrived_steps``) is a ``case_escalations`` row, unique per
(case, level, obligation) and inserted with ON CONFLICT DO NOTHING, as the sweep records
its ``sla_events``: whoever inserts it, and only they, writes the internal timeline event
and the outbox rows, and raises ``cases.escalation_level``, in the same transaction. Two
schedulers or a re-run after downtime never record or announce a step twice; a new promise
(the obligation bumped by ``services.handling.deadlines``) re-arms the ladder.

The step at the breach itself (0 working days) says who the breach is told to: the sweep's
breach mail goes to that step's audience, and the step itself sends nothing more, so no one
gets two mails for one breach.

"The chairman" is the address in the setting ``escalation_chairman_email`` (the admin's
ladder page). Unset, a chairman's step is still recorded and goes to the inspectorate,
and the event says the address is missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import case as sql_case
from sqlalchemy import select, update

from ...database import insert_once
from ...domain.calendar import WorkingCalendar
from ...domain.escalation import Step, arrived_steps, next_step_at
from ...domain.marks import N_
from ...domain.sla import Clock
from ...extensions import db
from ...i18n import format_local_long
from ...models import Case, CaseEscalation, EscalationStep
from ..handling import events
from ..reference.settings import get_setting
from .notify import queue

CHAIRMAN_KEY = "escalation_chairman_email"
ACTOR_LABEL = N_("Hệ thống giám sát thời hạn")
AUDIENCE_LABELS = {
    "unit_head": N_("lãnh đạo đơn vị xử lý"),
    "lead_unit": N_("đơn vị chủ trì"),
    "inspectorate": N_("Thanh tra thành phố"),
    "chairman": N_("Chủ tịch UBND thành phố"),
}

STEP_NOTES = {
    (True, False): N_(
        "Chuyển cấp báo động %(level)s: %(label)s (hạn trả lời %(due)s, tại thời điểm quá "
        "hạn); báo %(audience)s."
    ),
    (False, False): N_(
        "Chuyển cấp báo động %(level)s: %(label)s (hạn trả lời %(due)s, quá hạn %(days)s "
        "ngày làm việc); báo %(audience)s."
    ),
    (True, True): N_(
        "Chuyển cấp báo động %(level)s: %(label)s (hạn trả lời %(due)s, tại thời điểm quá "
        "hạn); báo %(audience)s. Chưa có địa chỉ thư của Chủ tịch: đã báo Thanh tra thành phố."
    ),
    (False, True): N_(
        "Chuyển cấp báo động %(level)s: %(label)s (hạn trả lời %(due)s, quá hạn %(days)s "
        "ngày làm việc); báo %(audience)s. Chưa có địa chỉ thư của Chủ tịch: đã báo Thanh tra "
        "thành phố."
    ),
}
"""A step's timeline note by (at the breach itself, the chairman's address missing):
marked, so the case page shows it in the reader's language (a step's label is data)."""

AUDIENCE_LISTS = (
    N_("%(first)s, %(second)s"),
    N_("%(first)s, %(second)s, %(third)s"),
    N_("%(first)s, %(second)s, %(third)s, %(fourth)s"),
)
"""Who a step tells, as a timeline note names them (as ``audience_text`` writes them), with
each label a value, so the note names them in the reader's language."""


def _audience_said(step: EscalationStep) -> str:
    labels = [AUDIENCE_LABELS[k] for k in audience_of(step)]
    if len(labels) < 2:
        return labels[0] if labels else ""  # one label, marked
    named = dict(zip(("first", "second", "third", "fourth"), labels, strict=False))
    return N_(AUDIENCE_LISTS[len(labels) - 2], **named)


Emails = Callable[[int | None, tuple[str, ...]], list[str]]


def audience_of(step: EscalationStep) -> list[str]:
    """The audience's keys (``AUDIENCE_LABELS``) a step tells, in a fixed order."""
    flags = {
        "unit_head": step.notify_unit_head,
        "lead_unit": step.notify_lead_unit,
        "inspectorate": step.notify_inspectorate,
        "chairman": step.notify_chairman,
    }
    return [key for key, on in flags.items() if on]


def audience_text(step: EscalationStep, translate: Callable[[str], str] = str) -> str:
    """Who a step tells, in words: Vietnamese as stored in timeline notes, or through
    ``translate`` (gettext) where a page shows it."""
    return ", ".join(translate(AUDIENCE_LABELS[k]) for k in audience_of(step))


def steps_by_kind() -> dict[str, list[EscalationStep]]:
    found: dict[str, list[EscalationStep]] = {}
    for row in db.session.scalars(
        select(EscalationStep).order_by(EscalationStep.kind, EscalationStep.level)
    ):
        found.setdefault(row.kind, []).append(row)
    return found


def as_steps(rows: list[EscalationStep]) -> list[Step]:
    return [Step(r.level, r.after_working_days) for r in rows]


def chairman_address() -> str:
    return get_setting(CHAIRMAN_KEY, "").strip()


class Ladder:
    """The ladder's part of one sweep: the steps of every kind and the chairman's address,
    read once; who is who comes from the sweeper's cached look-ups (``emails`` for a
    unit's staff of some roles, ``inspectorate`` for Thanh tra); what it did is counted in
    the sweep's ``summary``."""

    def __init__(
        self,
        now: datetime,
        calendar: WorkingCalendar,
        emails: Emails,
        inspectorate: Callable[[], list[str]],
        summary: Counter[str],
    ) -> None:
        self.now, self.calendar = now, calendar
        self.emails, self.inspectorate = emails, inspectorate
        self.summary = summary  # the sweep's: ladder_steps recorded, ladder_notified mails
        self.steps = steps_by_kind()
        self.chairman = chairman_address()

    # -- who is told -----------------------------------------------------------------------

    def audience(self, case: Case, step: EscalationStep) -> list[str]:
        found: list[str] = []
        if step.notify_unit_head:
            found += self.emails(case.handling_unit_id, ("unit_head",))
        if step.notify_lead_unit:
            found += self.emails(case.lead_unit_id, ("unit_head",))
        if step.notify_inspectorate or (step.notify_chairman and not self.chairman):
            found += self.inspectorate()
        if step.notify_chairman and self.chairman:
            found.append(self.chairman)
        return sorted(set(found))

    def breach_audience(self, case: Case) -> list[str] | None:
        """Who the response breach is told to: the audience of the kind's step at the
        breach (0 working days), or None when the kind has no such step."""
        for step in self.steps.get(case.kind, []):
            if step.after_working_days == 0:
                return self.audience(case, step)
        return None

    # -- the steps of one case -------------------------------------------------------------

    def next_at(self, case: Case, clock: Clock) -> datetime | None:
        steps = as_steps(self.steps.get(case.kind, []))
        return next_step_at(clock, steps, self.calendar, self.now)

    def climb(self, case: Case, clock: Clock) -> None:
        """Record every step of the case's ladder whose time has come, once each."""
        rows = {r.level: r for r in self.steps.get(case.kind, [])}
        steps = as_steps(list(rows.values()))
        for step, due in arrived_steps(clock, steps, self.calendar, self.now):
            self.record(case, rows[step.level], due)

    def record(self, case: Case, step: EscalationStep, due: datetime) -> None:
        row_id = insert_once(
            CaseEscalation,
            ["case_id", "level", "obligation"],
            case_id=case.id,
            level=step.level,
            obligation=case.obligation,
            after_working_days=step.after_working_days,
            label=step.label,
            due_at=due,
            recorded_at=self.now,
            handling_unit_id=case.handling_unit_id,
        )
        if row_id is None:
            return  # recorded before, by this or another scheduler
        self.summary["ladder_steps"] += 1
        db.session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(
                escalation_level=sql_case(
                    (Case.escalation_level < step.level, step.level),
                    else_=Case.escalation_level,
                )
            )
            .execution_options(synchronize_session=False)
        )
        chairman_missing = step.notify_chairman and not self.chairman
        events.record(
            case,
            "escalate",
            user=None,
            now=self.now,
            label=ACTOR_LABEL,
            note=N_(
                STEP_NOTES[step.after_working_days == 0, chairman_missing],
                level=step.level,
                label=step.label or N_("bậc %(level)s", level=step.level),
                due=events.noted_time(case.response_due_at),
                days=step.after_working_days,
                audience=_audience_said(step),
            ),
            data={
                "level": step.level,
                "obligation": case.obligation,
                "after_working_days": step.after_working_days,
                "due_at": due.isoformat(),
                "audience": audience_of(step),
                "chairman_missing": chairman_missing,
            },
        )
        if step.after_working_days == 0:
            return  # the breach's own mail went to this step's audience
        for address in self.audience(case, step):
            if queue(
                dedupe_key=f"escalation:{row_id}:{address}",
                recipient=address,
                subject=f"[{case.code}] Chuyển cấp báo động {step.level}: quá hạn trả lời",
                body=self.message(case, step),
                kind="escalation",
                now=self.now,
                case=case,
            ):
                self.summary["ladder_notified"] += 1

    def message(self, case: Case, step: EscalationStep) -> str:
        lines = [
            f"Chuyển cấp báo động {step.level}"
            + (f" ({step.label})" if step.label else "")
            + f": hồ sơ {case.code} «{case.subject}» vẫn chưa được trả lời.",
            f"Đơn vị xử lý: {case.handling_unit.name}.",
            f"Hạn trả lời: {format_local_long(case.response_due_at)}; đã quá "
            f"{step.after_working_days} ngày làm việc.",
            f"Thông báo này gửi: {audience_text(step)}.",
        ]
        if step.notify_chairman and not self.chairman:
            lines.append(
                "Chưa có địa chỉ thư của Chủ tịch UBND thành phố: thông báo gửi Thanh tra "
                "thành phố thay."
            )
        lines.append("Đề nghị chỉ đạo giải quyết ngay và báo kết quả cho người dân.")
        return "\n".join(lines)
