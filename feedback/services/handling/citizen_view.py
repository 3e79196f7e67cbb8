"""What the citizen's own pages show of a case: the files they sent and the timeline.

The status page (views.follow) and the success page (views.public) are for the person who
holds the case's access key, so they may see what that person gave: the text and the
files. Files added by staff (a scan, the minutes of a meeting, an officer's evidence) are
not theirs and are not listed, except the photos a unit published with a progress update,
which the timeline names. The timeline is the case's public events, plus one line
for each move to another unit: the move itself is an internal event (its reason is for
staff), but where the case now is, and since when, is the citizen's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ...domain.deadlines import local_date
from ...domain.marks import N_
from ...extensions import db
from ...models import Attachment, Case, Unit
from ..intake.attachments import human_size, type_label
from ..reference.settings import get_setting

MOVES = frozenset({"transfer", "reroute"})


@dataclass(frozen=True)
class CitizenFile:
    name: str
    kind: str
    size: str
    at: datetime


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    note: str
    to_status: str | None
    # The photos a progress update published (attachment ids): the only staff files the
    # citizen's page shows.
    photos: tuple[int, ...] = ()


def citizen_files(case: Case) -> list[CitizenFile]:
    """The files the citizen sent (web form, API with the key, a reply), oldest first."""
    rows = db.session.scalars(
        select(Attachment)
        .where(Attachment.case_id == case.id, Attachment.uploaded_by_id.is_(None))
        .order_by(Attachment.created_at, Attachment.id)
    ).all()
    return [
        CitizenFile(
            a.original_name, type_label(a.content_type), human_size(a.size_bytes), a.created_at
        )
        for a in rows
    ]


def _unit_name(code: str | None, at: datetime) -> str | None:
    """The unit's name on the day of the move (a later reference pack may rename it)."""
    if not code:
        return None
    return db.session.scalar(
        select(Unit.name)
        .where(Unit.code == code, Unit.valid_from <= local_date(at))
        .order_by(Unit.valid_from.desc())
        .limit(1)
    )


def citizen_timeline(case: Case) -> list[TimelineEntry]:
    """The public events, and a line for every move between units, in time order."""
    triage = get_setting("triage_unit", "VP")
    entries: list[TimelineEntry] = []
    for event in sorted(case.events, key=lambda e: (e.at, e.id)):
        if event.public:
            photos = (
                (event.data or {}).get("attachments") if event.action == "progress_update" else None
            )
            entries.append(
                TimelineEntry(event.at, event.shown_note, event.to_status, tuple(photos or ()))
            )
            continue
        if event.action not in MOVES:
            continue
        data = event.data or {}
        target = _unit_name(data.get("to_unit"), event.at)
        if target is None:
            continue
        if data.get("to_unit") == triage or data.get("triage"):
            note = N_(
                "Hồ sơ được chuyển về %(unit)s để phân công lại đơn vị giải quyết.", unit=target
            )
        else:
            note = N_("Hồ sơ được chuyển đến %(unit)s để xem xét, giải quyết.", unit=target)
        entries.append(TimelineEntry(event.at, note, event.to_status))
    return entries
