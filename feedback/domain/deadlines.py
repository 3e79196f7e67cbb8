"""SLA policies and the deadline arithmetic the service promises citizens.

The default promise (the city's plan, item 8.3): acknowledge within 24 clock hours of
receipt, answer by the end of the 6th working day counted from the day after the day of
receipt. Complaints and denunciations carry their statutory limits as their own policies,
so the rules are data (``SlaPolicy``) and this module only does arithmetic.

Times come in and go out as timezone-aware UTC datetimes (how they are stored), but
days are counted in local time (Asia/Ho_Chi_Minh): a letter received at 03:00 on 2 Feb
local time was received on 2 Feb even though it is still 1 Feb in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from feedback.domain.calendar import LOCAL_TZ, WorkingCalendar, weekday_name
from feedback.domain.marks import N_

END_OF_DAY = time(23, 59, 59)
"""A due day ends at 23:59:59 local time: the whole day is available to the unit."""

ACK_DUE = N_("Hạn xác nhận tiếp nhận")
RESPONSE_DUE = N_("Hạn trả lời")


class DayType(StrEnum):
    """How days are counted for a limit."""

    WORKING = "working"  # only working days of the calendar count
    CALENDAR = "calendar"  # every day counts


class CountFrom(StrEnum):
    """Which day a response limit is counted from."""

    RECEIPT = "receipt"  # the local day of receipt
    ACK = "ack"  # the local day of the acknowledgement due time (acceptance, thụ lý)


@dataclass(frozen=True)
class SlaPolicy:
    """The limits for one case kind.

    The acknowledgement limit is either ``ack_hours`` clock hours after receipt or the end
    of the ``ack_days``-th day after the day of receipt; exactly one must be set, because
    "24 hours" and "1 working day" are different promises and mixing them would be a
    guess.
    """

    kind: str
    ack_hours: int | None = 24
    ack_days: int | None = None
    ack_day_type: DayType = DayType.WORKING
    response_days: int = 6
    response_day_type: DayType = DayType.WORKING
    response_from: CountFrom = CountFrom.RECEIPT

    def __post_init__(self) -> None:
        # Policies are loaded from data files and the database, so they arrive as plain
        # strings: coerce them here, where a typo fails at load time and not at a deadline.
        object.__setattr__(self, "ack_day_type", DayType(self.ack_day_type))
        object.__setattr__(self, "response_day_type", DayType(self.response_day_type))
        object.__setattr__(self, "response_from", CountFrom(self.response_from))
        if (self.ack_hours is None) == (self.ack_days is None):
            raise ValueError(
                N_(
                    "Chính sách «%(kind)s»: phải đặt đúng một trong ack_hours hoặc ack_days.",
                    kind=self.kind,
                )
            )
        if self.ack_hours is not None and self.ack_hours < 1:
            raise ValueError(N_("Chính sách «%(kind)s»: ack_hours phải ≥ 1.", kind=self.kind))
        if self.ack_days is not None and self.ack_days < 1:
            raise ValueError(N_("Chính sách «%(kind)s»: ack_days phải ≥ 1.", kind=self.kind))
        if self.response_days < 1:
            raise ValueError(N_("Chính sách «%(kind)s»: response_days phải ≥ 1.", kind=self.kind))


DEFAULT_POLICY = SlaPolicy(kind="default")
"""The plan's promise: 24 clock hours to acknowledge, 6 working days to answer."""


@dataclass(frozen=True)
class Deadlines:
    """When a case must be acknowledged and answered; both timezone-aware UTC."""

    ack_due_at: datetime
    response_due_at: datetime


def end_of_local_day(d: date) -> datetime:
    """23:59:59 of local day ``d`` in Asia/Ho_Chi_Minh, as an aware UTC datetime."""
    return datetime.combine(d, END_OF_DAY, tzinfo=LOCAL_TZ).astimezone(UTC)


def _require_aware(received_at: datetime) -> datetime:
    """Reject naive datetimes: guessing their zone would shift deadlines by 7 hours."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError(N_("received_at phải có múi giờ (timezone-aware)."))
    return received_at.astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The local (Asia/Ho_Chi_Minh) calendar day of an aware datetime."""
    return _require_aware(moment).astimezone(LOCAL_TZ).date()


def _count_days(base: date, n: int, day_type: DayType, calendar: WorkingCalendar) -> date:
    """The n-th day after ``base``, counting working or calendar days."""
    if day_type is DayType.CALENDAR:
        return base + timedelta(days=n)
    return calendar.nth_working_day_after(base, n)


def _ack_due(received_utc: datetime, policy: SlaPolicy, calendar: WorkingCalendar) -> datetime:
    if policy.ack_hours is not None:
        return received_utc + timedelta(hours=policy.ack_hours)
    assert policy.ack_days is not None  # guaranteed by SlaPolicy.__post_init__
    base = received_utc.astimezone(LOCAL_TZ).date()
    return end_of_local_day(_count_days(base, policy.ack_days, policy.ack_day_type, calendar))


def _response_base(received_utc: datetime, ack_due_at: datetime, policy: SlaPolicy) -> date:
    moment = ack_due_at if policy.response_from is CountFrom.ACK else received_utc
    return moment.astimezone(LOCAL_TZ).date()


def compute_deadlines(
    received_at: datetime, policy: SlaPolicy, calendar: WorkingCalendar
) -> Deadlines:
    """The acknowledgement and response due times of a case received at ``received_at``."""
    received_utc = _require_aware(received_at)
    ack_due_at = _ack_due(received_utc, policy, calendar)
    base = _response_base(received_utc, ack_due_at, policy)
    due_day = _count_days(base, policy.response_days, policy.response_day_type, calendar)
    return Deadlines(ack_due_at=ack_due_at, response_due_at=end_of_local_day(due_day))


def _fmt_day(d: date) -> str:
    return N_("%(weekday)s %(date)s", weekday=weekday_name(d), date=d.strftime("%d/%m/%Y"))


def _fmt_local(moment: datetime) -> str:
    return N_(
        "%(when)s (giờ Việt Nam)", when=moment.astimezone(LOCAL_TZ).strftime("%H:%M:%S %d/%m/%Y")
    )


def _explain_count(
    base: date, n: int, day_type: DayType, calendar: WorkingCalendar, what: str
) -> list[str]:
    """Lines telling how the n-th day after ``base`` was found.

    Working days are listed in one line; every skipped day gets its own line with its
    reason (weekend, holiday name, override and its source), and consecutive skipped days
    with the same reason are grouped, so that a Tết week stays one line.
    """
    if day_type is DayType.CALENDAR:
        due = base + timedelta(days=n)
        return [
            N_(
                "%(what)s: %(n)s ngày (ngày lịch) sau %(base)s → %(due)s.",
                what=what,
                n=n,
                base=_fmt_day(base),
                due=_fmt_day(due),
            )
        ]
    lines = [
        N_(
            "%(what)s: %(n)s ngày làm việc, tính từ ngày sau %(base)s.",
            what=what,
            n=n,
            base=_fmt_day(base),
        )
    ]
    counted: list[date] = []
    skipped: list[tuple[date, date, str]] = []
    current = base
    while len(counted) < n:
        current += timedelta(days=1)
        if calendar.is_working_day(current):
            counted.append(current)
            if (
                current.weekday() >= 5
                or calendar.override_for(current) is not None
                or calendar.holiday_name(current) is not None
            ):
                # Worth saying why a Saturday, an overridden day or a day the package
                # lists without confirmation (counted as worked until confirmed) counts.
                lines.append(
                    N_(
                        "  + %(day)s: %(reason)s.",
                        day=_fmt_day(current),
                        reason=calendar.describe_day(current),
                    )
                )
            continue
        reason = calendar.describe_day(current)
        if skipped and skipped[-1][2] == reason and skipped[-1][1] + timedelta(days=1) == current:
            skipped[-1] = (skipped[-1][0], current, reason)
        else:
            skipped.append((current, current, reason))
    for first, last, reason in skipped:
        span = (
            _fmt_day(first)
            if first == last
            else N_("%(first)s – %(last)s", first=_fmt_day(first), last=_fmt_day(last))
        )
        lines.append(N_("  - bỏ qua %(span)s: %(reason)s.", span=span, reason=reason))
    days = ", ".join(f"{d:%d/%m}" for d in counted)
    lines.append(
        N_(
            "  Ngày làm việc được tính: %(days)s → %(due)s.",
            days=days,
            due=_fmt_day(counted[-1]),
        )
    )
    return lines


def explain_deadlines(
    received_at: datetime, policy: SlaPolicy, calendar: WorkingCalendar
) -> list[str]:
    """How each due time was reached, as short lines for officers and citizens: each is the
    Vietnamese text, marked (``N_`` with its values) so a page can show it in the reader's
    language (``translated``), its day names and reasons too.

    A deadline that nobody can check is a deadline nobody trusts: the lines name every
    skipped day and why (weekend, holiday, announced override with its document).
    """
    received_utc = _require_aware(received_at)
    deadlines = compute_deadlines(received_utc, policy, calendar)
    receipt_day = received_utc.astimezone(LOCAL_TZ).date()
    lines = [
        N_(
            "Tiếp nhận lúc %(when)s; ngày tiếp nhận: %(day)s.",
            when=_fmt_local(received_utc),
            day=_fmt_day(receipt_day),
        )
    ]
    if policy.ack_hours is not None:
        lines.append(N_("Hạn xác nhận tiếp nhận: %(n)s giờ sau khi tiếp nhận.", n=policy.ack_hours))
    else:
        assert policy.ack_days is not None
        lines += _explain_count(
            receipt_day, policy.ack_days, policy.ack_day_type, calendar, ACK_DUE
        )
    lines.append(N_("→ Hạn xác nhận tiếp nhận: %(when)s.", when=_fmt_local(deadlines.ack_due_at)))
    base = _response_base(received_utc, deadlines.ack_due_at, policy)
    if policy.response_from is CountFrom.ACK:
        lines.append(N_("Hạn trả lời tính từ ngày của hạn xác nhận: %(day)s.", day=_fmt_day(base)))
    lines += _explain_count(
        base, policy.response_days, policy.response_day_type, calendar, RESPONSE_DUE
    )
    lines.append(N_("→ Hạn trả lời: %(when)s.", when=_fmt_local(deadlines.response_due_at)))
    return lines
