"""Appending an event to a case's timeline: the lowest step of case handling.

Every move (``moves.move``), every action without a move (notes, drafts, letters) and every
recomputed deadline (``deadlines.recompute``) is written here, so this module imports no
other module of handling: moves and deadlines both build on it without needing each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain.calendar import LOCAL_TZ, weekday_name
from ...domain.marks import N_, Said
from ...extensions import db
from ...models import Case, CaseEvent, User

CITIZEN = N_("Người dân")


def record(
    case: Case,
    action: str,
    *,
    user: User | None,
    now: datetime,
    note: str,
    public: bool = False,
    data: dict[str, Any] | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    label: str | None = None,
) -> CaseEvent:
    """Append one event (flushed, so its id exists) and let the case's ``events`` reload.

    A note made from a marked template (``N_(template, **values)``) is stored as the
    Vietnamese text, as every note is, and its template and values are kept in ``data``,
    so the timeline can show it in the reader's language (``CaseEvent.shown_note``)."""
    data = dict(data or {})
    if isinstance(note, Said):
        data["note_said"] = _kept(note)
    event = CaseEvent(
        case_id=case.id,
        at=now,
        actor_id=user.id if user else None,
        actor_label=label or (user.display_name if user else CITIZEN),
        action=action,
        from_status=from_status,
        to_status=to_status,
        public=public,
        note=note,
        data=data,
    )
    db.session.add(event)
    db.session.flush()
    db.session.expire(case, ["events"])
    return event


def noted_time(value: datetime) -> str:
    """A time as a note writes it, "23:59, Thứ Ba 12/03/2024" (local time, as
    ``i18n.format_local_long`` shows it), marked with the day's name as a value: the note
    keeps it in Vietnamese, an English page names the day in English."""
    shown = value.astimezone(LOCAL_TZ)
    return N_(
        "%(time)s, %(weekday)s %(date)s",
        time=f"{shown:%H:%M}",
        weekday=weekday_name(shown.date()),
        date=f"{shown:%d/%m/%Y}",
    )


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON keeps them: numbers and texts as they are, a value filled in from a
    marked template of its own (a list of labels) as its template and values, so it is
    translated too (``CaseEvent.shown_note``), anything else as its text."""
    return {k: _kept(v) for k, v in values.items()}


def _kept(value: Any) -> Any:
    if isinstance(value, Said):
        return {"t": value.template, "v": _plain(value.values)}
    return value if isinstance(value, int | float | str) else str(value)
