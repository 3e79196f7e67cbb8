"""The staff inbox: filters, the order of work, and keyset paging (issue 16).

The inbox mixed closed cases with open ones and offered only "all / overdue". It now shows
open cases by default (a status filter reaches closed ones), filters by status, kind,
channel, "due within N days" and the user's own queues, and sorts by the nearest due time
(the acknowledgement's while the case is unacknowledged, then the answer's). Pages follow
a cursor (the last row's due time and id), not an OFFSET, so a deep page of a unit with
hundreds of cases costs what the first one does. Exports take the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from ...domain.marks import N_
from ...domain.permissions import CASE_KINDS
from ...models import Case
from ...models.case import CHANNELS, OPEN_STATUS_VALUES, STATUSES
from .. import params
from ..errors import ValidationError
from ..params import Args, cursor_param, int_param, invalid, sentence, text_param
from .queues import QUEUES, open_cases, queue_condition
from .visibility import visible_condition

CLOSED_STATUS_VALUES = tuple(s for s in STATUSES if s not in OPEN_STATUS_VALUES)
STATUS_CHOICES = ("mo", "dong", "tat-ca", *STATUSES)
"""``mo`` open (the default), ``dong`` finished, ``tat-ca`` every case, or one status."""
MAX_DAYS = 366


def next_due() -> ColumnElement[datetime]:
    """The nearest promise of a case: the acknowledgement while none was given, then the
    answer (the inbox's order and the "due within N days" filter)."""
    return case((Case.acknowledged_at.is_(None), Case.ack_due_at), else_=Case.response_due_at)


@dataclass(frozen=True)
class InboxFilter:
    status: str = "mo"
    kind: str = ""
    channel: str = ""
    due_days: int | None = None
    overdue: bool = False
    queue: str = ""
    after: tuple[datetime, int] | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def export_params(self) -> dict[str, Any]:
        """The same filters in the names of the staff search and the exports."""
        found: dict[str, Any] = {}
        if self.status in ("mo", "dong"):
            found["open"] = 1 if self.status == "mo" else 0
        elif self.status != "tat-ca":
            found["status"] = self.status
        for name, value in (("kind", self.kind), ("channel", self.channel), ("queue", self.queue)):
            if value:
                found[name] = value
        if self.due_days is not None:
            found["due_days"] = self.due_days
        if self.overdue:
            found["overdue"] = 1
        return found

    def params(self) -> dict[str, Any]:
        """The filters as query parameters (for links: paging, exports), without paging."""
        found: dict[str, Any] = {}
        if self.status != "mo":
            found["trang_thai"] = self.status
        for name, value in (("loai", self.kind), ("kenh", self.channel), ("cho", self.queue)):
            if value:
                found[name] = value
        if self.due_days is not None:
            found["han"] = self.due_days
        if self.overdue:
            found["qua_han"] = 1
        return found


def parse(args: Args) -> InboxFilter:
    """The inbox's filters from the query string; a bad value is a ValidationError naming
    the parameter (the page answers 422 with the message)."""
    errors: dict[str, str] = {}
    status = text_param(args, "trang_thai") or "mo"
    if status not in STATUS_CHOICES:
        errors["trang_thai"] = N_("Trạng thái không có trong danh sách.")
    kind = text_param(args, "loai")
    if kind and kind not in CASE_KINDS:
        errors["loai"] = N_("Loại hồ sơ không có trong danh sách.")
    channel = text_param(args, "kenh")
    if channel and channel not in CHANNELS:
        errors["kenh"] = N_("Kênh tiếp nhận không có trong danh sách.")
    queue = text_param(args, "cho")
    if queue and queue not in QUEUES:
        errors["cho"] = N_("Hàng chờ không có trong danh sách.")
    days: int | None = None
    if text_param(args, "han"):
        days = int_param(args, "han", default=0, low=0, high=MAX_DAYS, errors=errors)
    after = cursor_param(text_param(args, "sau"), errors)
    if errors:
        raise invalid(errors, sentence(N_("Bộ lọc không hợp lệ")))
    return InboxFilter(
        status=status,
        kind=kind,
        channel=channel,
        due_days=days,
        overdue=text_param(args, "qua_han") == "1",
        queue=queue,
        after=after,
    )


def cursor_of(row: Case) -> str:
    """The ``sau`` value that continues after ``row``."""
    due = row.ack_due_at if row.acknowledged_at is None else row.response_due_at
    return params.cursor_of(due, row.id)


def conditions(user: Any, chosen: InboxFilter, now: datetime) -> list[ColumnElement[bool]]:
    """Every WHERE condition of the filters (what the user may see included)."""
    found: list[ColumnElement[bool]] = [visible_condition(user)]
    if chosen.status == "mo":
        found.append(open_cases())  # the words of the open-case indexes
    elif chosen.status == "dong":
        found.append(Case.status.in_(CLOSED_STATUS_VALUES))
    elif chosen.status != "tat-ca":
        found.append(Case.status == chosen.status)
    if chosen.kind:
        found.append(Case.kind == chosen.kind)
    if chosen.channel:
        found.append(Case.channel == chosen.channel)
    if chosen.due_days is not None:
        found.append(due_within(now, chosen.due_days))
    if chosen.overdue:
        from ..sla.sweep import overdue_condition

        found.append(overdue_condition(now))
    if chosen.queue:
        condition = queue_condition(user, chosen.queue)
        if condition is None:
            raise ValidationError(
                N_("Hàng chờ này không dành cho vai trò của ông/bà."),
                {"cho": N_("Chọn một hàng chờ của mình.")},
            )
        found.append(condition)
    return found


def due_within(now: datetime, days: int) -> ColumnElement[bool]:
    """Due within ``days`` days from now (overdue ones included); only a promise still
    open counts: an answered case has no due time left."""
    until = now + timedelta(days=days)
    return or_(
        and_(Case.acknowledged_at.is_(None), Case.ack_due_at <= until),
        and_(Case.answered_at.is_(None), next_due() <= until),
    )


def inbox_page(user: Any, chosen: InboxFilter, now: datetime, size: int) -> Select[tuple[Case]]:
    """One page (``size`` + 1 rows, to tell whether another follows) in the order of work."""
    due = next_due()
    stmt = select(Case).where(*conditions(user, chosen, now))
    if chosen.after is not None:
        stmt = stmt.where(tuple_(due, Case.id) > tuple_(*chosen.after))
    return stmt.order_by(due, Case.id).limit(size + 1)
