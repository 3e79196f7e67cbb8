"""Admins keep the calendar's overrides (days off and make-up working days the government
announces each year); every open case's due times are then recomputed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from ...extensions import db
from ...models import CalendarOverride
from ..errors import NotFound, ValidationError
from ..handling.deadlines import open_cases_query, recompute
from .policies import load_calendar


def _recompute_open(now: datetime, reason: str) -> int:
    calendar = load_calendar()
    moved = 0
    for case in db.session.scalars(open_cases_query()):
        moved += recompute(case, now, reason, calendar)
    return moved


def add_override(day: date, kind: str, source: str, note: str, *, now: datetime) -> int:
    """Add or change the override of ``day``; returns how many open cases moved."""
    errors: dict[str, str] = {}
    if kind not in {"off", "work"}:
        errors["kind"] = "Chọn «nghỉ» hoặc «làm bù»."
    source = (source or "").strip()
    if len(source) < 5:
        errors["source"] = "Ghi số, ngày và cơ quan ban hành văn bản thông báo."
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        errors["day"] = "Ngày không hợp lệ."
    if errors:
        raise ValidationError("Chưa lưu được điều chỉnh lịch.", errors)
    row = db.session.scalar(select(CalendarOverride).where(CalendarOverride.day == day))
    if row is None:
        row = CalendarOverride(day=day, kind=kind, source=source, note=note.strip(), created_at=now)
        db.session.add(row)
    else:
        row.kind, row.source, row.note = kind, source, note.strip()
    db.session.flush()
    label = "ngày nghỉ" if kind == "off" else "ngày làm bù"
    return _recompute_open(now, f"lịch thay đổi: {day:%d/%m/%Y} là {label} theo {source}")


def remove_override(override_id: int, *, now: datetime) -> int:
    row = db.session.get(CalendarOverride, override_id)
    if row is None:
        raise NotFound("Không có điều chỉnh lịch này.")
    day = row.day
    db.session.delete(row)
    db.session.flush()
    return _recompute_open(now, f"bỏ điều chỉnh lịch ngày {day:%d/%m/%Y}")
