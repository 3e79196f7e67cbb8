"""One case's escalation ladder, for its page (issue 16): the steps it reached (every
promise's, newest promise first) and the steps still ahead of its current promise, with
when each falls due if the case is still unanswered then."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from ...domain.escalation import schedule
from ...domain.marks import N_
from ...extensions import db
from ...models import Case, CaseEscalation, EscalationStep
from ..reference.policies import current_by_kind, load_calendar
from .ladder import as_steps, audience_text
from .sweep import FINISHED, clock_of


@dataclass(frozen=True)
class Ahead:
    level: int
    label: str
    due_at: datetime
    audience: str


@dataclass(frozen=True)
class CaseLadder:
    reached: list[CaseEscalation]
    current_obligation: int
    ahead: list[Ahead] = field(default_factory=list)
    # Why nothing lies ahead while the kind has a ladder (answered, paused, top reached):
    # marked, the page shows it with ``translated``.
    stopped: str = ""

    @property
    def shown(self) -> bool:
        return bool(self.reached or self.ahead or self.stopped)


def case_ladder(case: Case, now: datetime) -> CaseLadder:
    reached = list(
        db.session.scalars(
            select(CaseEscalation)
            .where(CaseEscalation.case_id == case.id)
            .order_by(CaseEscalation.obligation.desc(), CaseEscalation.level)
        )
    )
    rows = list(
        db.session.scalars(
            select(EscalationStep)
            .where(EscalationStep.kind == case.kind)
            .order_by(EscalationStep.level)
        )
    )
    policy = current_by_kind(now).get(case.kind)
    if not rows or policy is None:
        return CaseLadder(reached, case.obligation)
    done = {e.level for e in reached if e.obligation == case.obligation}
    by_level = {r.level: r for r in rows}
    clock = clock_of(case, policy)
    ahead = [
        Ahead(
            step.level,
            by_level[step.level].label,
            at,
            audience_text(by_level[step.level], gettext),
        )
        for step, at in schedule(clock, as_steps(rows), load_calendar())
        if step.level not in done
    ]
    stopped = ""
    if not ahead:
        if case.status in FINISHED or clock.answered:
            stopped = N_("Hồ sơ đã được trả lời hoặc đã kết thúc: không chuyển cấp tiếp.")
        elif clock.paused:
            stopped = N_("Thời hạn đang tạm dừng: không chuyển cấp trong thời gian này.")
        elif done:
            stopped = N_("Hồ sơ đã qua mọi bậc chuyển cấp.")
    return CaseLadder(reached, case.obligation, ahead, stopped)
