"""Late cases handled in the open (issue 16): the progress updates a unit posts with the
day it commits to, the escalation ladder per kind, and the steps each case reached."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.permissions import CASE_KINDS
from ..extensions import db
from .case import Case
from .reference import in_list
from .types import UTCDateTime
from .user import User


class ProgressUpdate(db.Model):
    """What the unit tells the citizen while the answer is not ready: the work done so far
    and the day it commits to answer by. Public (the citizen sees it on the follow-up page
    and is notified); the newest one's day is copied to ``cases.committed_due_at``, and a
    day that passes without an answer is flagged on the monitor. Never edited: a new date
    is a new update."""

    __tablename__ = "progress_updates"
    __table_args__ = (
        CheckConstraint("length(body) > 0", name="body_not_empty"),
        CheckConstraint("committed_due_at > posted_at", name="commitment_in_future"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    # The local day promised, and its last second in UTC (what the monitor compares).
    committed_on: Mapped[date] = mapped_column(Date)
    committed_due_at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship()
    author: Mapped[User | None] = relationship()


class EscalationStep(db.Model):
    """One rung of a kind's escalation ladder: ``after_working_days`` after the response
    breach (0: at the breach itself), who is told. Levels count from 1 and rise with the
    delay (the service checks the order; the keys make each level and each delay unique)."""

    __tablename__ = "escalation_steps"
    __table_args__ = (
        UniqueConstraint("kind", "level"),
        UniqueConstraint("kind", "after_working_days"),
        CheckConstraint(in_list("kind", CASE_KINDS), name="kind"),
        CheckConstraint("level >= 1", name="level_positive"),
        CheckConstraint("after_working_days >= 0", name="delay_nonnegative"),
        CheckConstraint(
            "notify_unit_head OR notify_lead_unit OR notify_inspectorate OR notify_chairman",
            name="someone_told",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[int]
    after_working_days: Mapped[int]
    label: Mapped[str] = mapped_column(String(120), default="")
    notify_unit_head: Mapped[bool] = mapped_column(default=False)
    notify_lead_unit: Mapped[bool] = mapped_column(default=False)
    notify_inspectorate: Mapped[bool] = mapped_column(default=False)
    notify_chairman: Mapped[bool] = mapped_column(default=False)


class CaseEscalation(db.Model):
    """A step of the ladder reached by one case, once per (case, level, obligation): two
    schedulers, or a sweep re-run after downtime, cannot record or announce it twice; a
    new promise (reopening, extension) re-arms the ladder, as it does the breach."""

    __tablename__ = "case_escalations"
    __table_args__ = (
        UniqueConstraint("case_id", "level", "obligation"),
        CheckConstraint("level >= 1", name="level_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    level: Mapped[int]
    obligation: Mapped[int]
    after_working_days: Mapped[int]
    label: Mapped[str] = mapped_column(String(120), default="")
    # When the step fell due, and when the sweep recorded it (later after downtime).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handling_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))

    case: Mapped[Case] = relationship()
