"""Progress updates on a case that will be late (issue 16; Ho Chi Minh City's 1022 rules).

When a unit cannot answer in time it says so in the open: what has been done, and the day
it commits to answer by. The update is public (the citizen's timeline and a message on
every contact they gave); its day becomes ``cases.committed_due_at``, which the monitor
compares with the clock. A new day is a new update: nothing is edited.

Photos may go with an update (what the officer saw on site): stored as the case's
attachments and named in the public event, so the citizen's page shows them, and only
them, of all the files staff added (``published_photo``).

The committed day may fall after the statutory response due: a unit that needs longer
should say when, rather than stay silent. But the update never moves ``response_due_at``:
an answer after it is late however it was announced (the breach stays, the apology stays
owed), and the update's text says so, so the citizen is not told a late answer is on time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from flask_babel import LazyString, lazy_gettext
from flask_babel import gettext as _
from sqlalchemy import select

from ...domain.deadlines import end_of_local_day, local_date
from ...domain.marks import N_
from ...domain.permissions import Op
from ...domain.states import OPEN_STATUSES
from ...extensions import db
from ...i18n import format_local_long
from ...models import Attachment, Case, ProgressUpdate, User
from ..errors import Conflict, ValidationError
from ..intake.attachments import CaseFilesFull, Upload, store_upload
from ..reference.policies import load_calendar
from ..sla.notify import joined, tell_citizen
from .events import noted_time, record
from .moves import require

MIN_BODY = 10
MAX_BODY = 2000
HORIZON_DAYS = 366  # a promise further than a year ahead is no promise
URGENT_WORKING_DAYS = 2  # the desk puts the form first this close to the response due
DAY_FORMAT = "%d/%m/%Y"
MAX_PHOTOS = 5
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
_OPEN = frozenset(s.value for s in OPEN_STATUSES)


def is_open(case: Case) -> bool:
    """Open and not answered: the only cases a progress update makes sense for."""
    return case.status in _OPEN and case.answered_at is None


def parse_day(value: str | None) -> date:
    """The committed day as a form or the API sends it: ``2026-12-31`` (a date input) or
    ``31/12/2026`` (typed by hand)."""
    text = (value or "").strip()
    for fmt in ("%Y-%m-%d", DAY_FORMAT):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    message = N_("Ngày hẹn trả lời không hợp lệ; chọn một ngày (ngày/tháng/năm).")
    raise ValidationError(message, {"committed_on": message})


def day_range(now: datetime) -> tuple[date, date]:
    """The first and last day a unit may commit to at ``now``: today (local) up to the
    horizon."""
    today = local_date(now)
    return today, today + timedelta(days=HORIZON_DAYS)


OVERDUE_NOTE = N_(
    "Hồ sơ đã quá hạn trả lời theo quy định (%(due)s); ngày hẹn không thay đổi hạn đó."
)
LATE_PROMISE_NOTE = N_(
    "Ngày hẹn muộn hơn hạn trả lời theo quy định (%(due)s); trả lời sau hạn đó vẫn là "
    "trả lời quá hạn."
)


def lateness_note(
    committed_due_at: datetime,
    response_due_at: datetime,
    now: datetime,
    translate: Callable[[str], str] = str,
) -> str:
    """What the update must add when its day falls after the statutory due: a promise
    does not make a late answer timely. Empty when the day is within the due. In
    Vietnamese for the timeline; ``translate`` (gettext) for the citizen's message."""
    note = _lateness(committed_due_at, response_due_at, now)
    return translate(note) % {"due": format_local_long(response_due_at)} if note else ""


def _lateness(committed_due_at: datetime, response_due_at: datetime, now: datetime) -> str:
    """Which lateness sentence applies (its template), or "" when the day is in time."""
    if committed_due_at <= response_due_at:
        return ""
    return OVERDUE_NOTE if response_due_at < now else LATE_PROMISE_NOTE


PROGRESS_NOTES = {
    "": N_("Cập nhật tiến độ: %(text)s\nHẹn trả lời trước hết ngày %(day)s."),
    OVERDUE_NOTE: N_(
        "Cập nhật tiến độ: %(text)s\nHẹn trả lời trước hết ngày %(day)s. Hồ sơ đã quá hạn "
        "trả lời theo quy định (%(due)s); ngày hẹn không thay đổi hạn đó."
    ),
    LATE_PROMISE_NOTE: N_(
        "Cập nhật tiến độ: %(text)s\nHẹn trả lời trước hết ngày %(day)s. Ngày hẹn muộn hơn "
        "hạn trả lời theo quy định (%(due)s); trả lời sau hạn đó vẫn là trả lời quá hạn."
    ),
}
"""The update's timeline note by what it must add about lateness (``lateness_note``):
one marked sentence each, so the timeline shows it in the reader's language."""


def _progress_note(
    text: str, day: date, committed_due_at: datetime, response_due_at: datetime, now: datetime
) -> str:
    """The timeline note: the officer's words, the promised day and, when that day falls
    after the statutory due, why a promise does not make a late answer timely."""
    late = _lateness(committed_due_at, response_due_at, now)
    values = {"text": text, "day": day.strftime(DAY_FORMAT)}
    if late:
        values["due"] = noted_time(response_due_at)
    return N_(PROGRESS_NOTES[late], **values)


def _checked_body(body: str | None) -> str:
    text = (body or "").strip()
    if len(text) < MIN_BODY:
        message = N_(
            "Nội dung cập nhật (ít nhất %(minimum)s ký tự): việc đã làm, việc còn lại.",
            minimum=MIN_BODY,
        )
        raise ValidationError(N_("Cần nhập nội dung cập nhật tiến độ."), {"body": message})
    if len(text) > MAX_BODY:
        message = N_(
            "Tối đa %(most)s ký tự (đang có %(count)s).",
            most=_thousands(MAX_BODY),
            count=_thousands(len(text)),
        )
        raise ValidationError(N_("Nội dung cập nhật quá dài."), {"body": message})
    return text


def _thousands(n: int) -> str:
    """2000 as "2.000", as the Vietnamese messages write a count."""
    return f"{n:,}".replace(",", ".")


def _checked_day(committed_on: date, now: datetime) -> date:
    first, last = day_range(now)
    if committed_on < first:
        message = N_("Ngày hẹn không được trước hôm nay (%(day)s).", day=first.strftime(DAY_FORMAT))
        raise ValidationError(N_("Ngày hẹn trả lời đã qua."), {"committed_on": message})
    if committed_on > last:
        message = N_(
            "Ngày hẹn không được sau %(day)s (quá một năm).", day=last.strftime(DAY_FORMAT)
        )
        raise ValidationError(N_("Ngày hẹn trả lời quá xa."), {"committed_on": message})
    return committed_on


def _checked_photos(photos: Sequence[Upload]) -> list[Upload]:
    """Pictures only: the citizen's page shows them inline, which a PDF must never be."""
    if len(photos) > MAX_PHOTOS:
        message = N_("Tối đa %(count)s ảnh cho một lần cập nhật.", count=MAX_PHOTOS)
        raise ValidationError(message, {"photos": message})
    for photo in photos:
        if photo.content_type not in PHOTO_TYPES:
            message = N_(
                "Tệp «%(name)s» không phải ảnh (JPEG, PNG, WebP, GIF).", name=photo.filename
            )
            raise ValidationError(message, {"photos": message})
    return list(photos)


def post_progress(
    case: Case,
    user: User,
    now: datetime,
    body: str | None,
    committed_on: date,
    photos: Sequence[Upload] = (),
) -> ProgressUpdate:
    """Post one update: its row, the case's committed due time, its photos, a public event
    (audited as ``case.progress_update`` by the audit hook) and the citizen's messages, in
    the caller's transaction. Refused (nothing written) without ``Op.PROGRESS``, on a case
    answered or ended, for an empty or overlong text, a day before today or past the
    horizon, or a file that is not a picture (or too many, or past the case's quota)."""
    require(user, case, Op.PROGRESS)
    # Lock the case row (PostgreSQL; SQLite's writer holds the database) and read it again,
    # so an answer sent at this moment cannot slip between the check and the update.
    db.session.refresh(case, with_for_update=True)
    if not is_open(case):
        raise Conflict(N_("Hồ sơ đã được trả lời hoặc đã kết thúc: không cập nhật tiến độ nữa."))
    text = _checked_body(body)
    day = _checked_day(committed_on, now)
    pictures = _checked_photos(photos)
    due_at = end_of_local_day(day)
    update = ProgressUpdate(
        case_id=case.id,
        posted_at=now,
        author_id=user.id,
        body=text,
        committed_on=day,
        committed_due_at=due_at,
    )
    db.session.add(update)
    case.committed_due_at = due_at
    case.updated_at = now
    db.session.flush()
    try:
        stored = [
            store_upload(p, case=case, purpose="evidence", actor=user, now=now) for p in pictures
        ]
    except CaseFilesFull as exc:
        raise CaseFilesFull(exc.message, {"photos": exc.message}) from None
    db.session.flush()
    late = lateness_note(due_at, case.response_due_at, now)
    record(
        case,
        "progress_update",
        user=user,
        now=now,
        public=True,
        note=_progress_note(text, day, due_at, case.response_due_at, now),
        data={
            "committed_on": day.isoformat(),
            "update_id": update.id,
            "after_due": bool(late),
            "attachments": [a.id for a in stored],
        },
    )
    tell_citizen(
        case,
        kind="progress",
        reason=str(update.id),
        now=now,
        # In the citizen's language (lazy), the officer's words as typed.
        text=joined(
            lazy_gettext(
                "%(unit)s thông báo tiến độ giải quyết hồ sơ %(code)s:",
                unit=case.handling_unit.name,
                code=case.code,
            ),
            text,
            lazy_gettext(
                "Cơ quan hẹn trả lời trước hết ngày %(day)s.", day=day.strftime(DAY_FORMAT)
            ),
            LazyString(lateness_note, due_at, case.response_due_at, now, _),
            lazy_gettext("Kèm theo %(count)s ảnh, xem tại trang tra cứu hồ sơ.", count=len(stored))
            if stored
            else "",
        ),
    )
    return update


def updates_of(case: Case) -> list[ProgressUpdate]:
    """The case's updates, newest first."""
    return list(
        db.session.scalars(
            select(ProgressUpdate)
            .where(ProgressUpdate.case_id == case.id)
            .order_by(ProgressUpdate.posted_at.desc(), ProgressUpdate.id.desc())
        )
    )


def due_soon(case: Case, now: datetime) -> bool:
    """Whether the response due has passed or is at most URGENT_WORKING_DAYS working days
    away: the moment a unit that will not make it should say so."""
    if case.response_due_at <= now:
        return True
    days = load_calendar().working_days_between(local_date(now), local_date(case.response_due_at))
    return days <= URGENT_WORKING_DAYS


def promise_missed(case: Case, now: datetime) -> bool:
    """The committed day has passed without an answer (the desk's own reminder; the
    monitor has its flag)."""
    return is_open(case) and case.committed_due_at is not None and case.committed_due_at < now


def update_wanted(case: Case, now: datetime) -> bool:
    """Whether the desk should put the form forward: the due is near or gone and the
    citizen has no promise in force, or the promise itself was missed."""
    if not is_open(case):
        return False
    if case.committed_due_at is not None:
        return case.committed_due_at < now
    return due_soon(case, now)


def committed_day(case: Case) -> date | None:
    """The day the unit committed to, while the case waits for its answer; None otherwise
    (an answered case's promise is history, on the timeline)."""
    if case.committed_due_at is None or not is_open(case):
        return None
    return local_date(case.committed_due_at)


def photo_ids(case: Case) -> dict[int, list[int]]:
    """{update id: its photos' attachment ids}, from the case's public update events."""
    return {
        int(e.data["update_id"]): [int(i) for i in e.data.get("attachments") or []]
        for e in case.events
        if e.action == "progress_update" and e.public and (e.data or {}).get("update_id")
    }


def published_photo(case: Case, attachment_id: int) -> Attachment | None:
    """A photo the unit published with an update of ``case``; None for any other file
    (what staff attached otherwise stays with staff)."""
    if not any(attachment_id in ids for ids in photo_ids(case).values()):
        return None
    found = db.session.get(Attachment, attachment_id)
    if found is None or found.case_id != case.id or found.content_type not in PHOTO_TYPES:
        return None
    return found
