"""The morning digest: at 07:30 on working days, each unit's staff get what is due today,
what is overdue and what waits for the citizen. Keyed per unit, day and address, so a
second scheduler (or a rerun) writes nothing new.

Admins and coordinators also get the calendar's open questions (the coming year's days
off not yet decided, from the autumn; package days not yet confirmed), every working day
until an admin answers them on the calendar page."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from ...domain.deadlines import end_of_local_day, local_date
from ...domain.permissions import CALENDAR_REMINDER_ROLES, UNIT_ROLES
from ...domain.states import OPEN_STATUSES
from ...extensions import db
from ...i18n import format_local
from ...models import Case, Unit, User
from ..reference.calendar import pending_reminders
from ..reference.policies import load_calendar
from .notify import queue
from .sweep import overdue_condition

OPEN = [s.value for s in OPEN_STATUSES]


def _lines(title: str, cases: list[Case]) -> list[str]:
    if not cases:
        return [f"{title}: không có."]
    out = [f"{title} ({len(cases)}):"]
    out += [f"  - {c.code} · {c.subject} · hạn {format_local(c.response_due_at)}" for c in cases]
    return out


def send_digests(now: datetime) -> dict[str, int]:
    today = local_date(now)
    summary: Counter[str] = Counter()
    if not load_calendar().is_working_day(today):
        return {"skipped_non_working_day": 1}
    end_today = end_of_local_day(today)
    units = db.session.scalars(select(Unit).where(Unit.active)).all()
    for unit in units:
        staff = [
            u.email
            for u in db.session.scalars(
                select(User).where(User.unit_id == unit.id, User.active, User.role.in_(UNIT_ROLES))
            )
            if u.email
        ]
        if not staff:
            continue
        open_cases = select(Case).where(Case.handling_unit_id == unit.id, Case.status.in_(OPEN))
        overdue = db.session.scalars(
            open_cases.where(overdue_condition(now)).order_by(Case.response_due_at)
        ).all()
        due_today = db.session.scalars(
            open_cases.where(
                Case.response_due_at >= now,
                Case.response_due_at <= end_today,
                Case.answered_at.is_(None),
            ).order_by(Case.response_due_at)
        ).all()
        waiting = db.session.scalars(
            open_cases.where(Case.status == "waiting_citizen").order_by(Case.waiting_since)
        ).all()
        if not (overdue or due_today or waiting):
            continue
        body = "\n".join(
            [
                f"Tình hình hồ sơ của {unit.name}, sáng {today:%d/%m/%Y}:",
                "",
                *_lines("Đến hạn trả lời hôm nay", list(due_today)),
                *_lines("Đã quá hạn", list(overdue)),
                *_lines("Đang chờ người dân bổ sung", list(waiting)),
            ]
        )
        for address in sorted(set(staff)):
            if queue(
                dedupe_key=f"digest:{unit.code}:{today.isoformat()}:{address}",
                recipient=address,
                subject=f"[{unit.code}] Hồ sơ cần xử lý ngày {today:%d/%m/%Y}",
                body=body,
                kind="digest",
                now=now,
            ):
                summary["digests"] += 1
    reminded = _calendar_reminders(now)
    if reminded:
        summary["calendar_reminders"] += reminded
    db.session.commit()
    return dict(summary)


def _calendar_reminders(now: datetime) -> int:
    """The calendar's open questions to admins and coordinators; how many were written."""
    lines = pending_reminders(now)
    if not lines:
        return 0
    today = local_date(now)
    body = "\n".join(
        [
            f"Lịch làm việc cần quản trị viên xem, sáng {today:%d/%m/%Y}:",
            "",
            *(f"  - {line}" for line in lines),
            "",
            "Xem và xác nhận tại trang Quản trị › Lịch làm việc.",
        ]
    )
    staff = db.session.scalars(
        select(User).where(User.active, User.role.in_(CALENDAR_REMINDER_ROLES))
    )
    written = 0
    for address in sorted({u.email for u in staff if u.email}):
        written += queue(
            dedupe_key=f"calendar:{today.isoformat()}:{address}",
            recipient=address,
            subject=f"Lịch làm việc: việc cần xác nhận ngày {today:%d/%m/%Y}",
            body=body,
            kind="calendar_reminder",
            now=now,
        )
    return written
