"""A case's due times, derived from its timeline, and recomputed when something moves them.

The stored ``ack_due_at``/``response_due_at`` are a cache of this derivation: receipt under
the kind's policy (complex or remote variants for complaints), then, in time order,
acceptance (for limits counted from it), pauses while waiting for the citizen, extensions
by recorded decision, and reopening. ``derive`` also says, line by line, how each due time
was reached; ``recompute`` writes a new revision when the result differs (a calendar
override added by an admin, a case marked complex, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ...domain.calendar import WorkingCalendar, iso_local
from ...domain.deadlines import (
    CountFrom,
    DayType,
    compute_deadlines,
    end_of_local_day,
    explain_deadlines,
    local_date,
)
from ...domain.sla import extend_for_pause
from ...domain.states import OPEN_STATUSES
from ...i18n import format_local_long
from ...models import Case, SlaPolicy
from ..reference.policies import load_calendar, load_policy, to_domain_policy
from .events import record


@dataclass
class Derived:
    ack_due_at: datetime
    response_due_at: datetime
    steps: list[str] = field(default_factory=list)


def policy_for(case: Case, row: SlaPolicy | None = None):  # type: ignore[no-untyped-def]
    """The domain policy of the case's kind, with the complex/remote variants applied."""
    row = row or load_policy(case.kind)
    policy = to_domain_policy(row)
    extra = row.extra or {}
    key = {
        (True, True): "response_days_remote_complex",
        (False, True): "response_days_remote",
        (True, False): "response_days_complex",
    }.get((case.is_complex, case.is_remote))
    if key and extra.get(key):
        policy = replace(policy, response_days=int(extra[key]))
    if case.is_complex and extra.get("ack_days_complex") and policy.ack_days:
        policy = replace(policy, ack_days=int(extra["ack_days_complex"]))
    return policy


def derive(case: Case, calendar: WorkingCalendar | None = None) -> Derived:
    calendar = calendar or load_calendar()
    row = load_policy(case.kind)
    policy = policy_for(case, row)
    base = compute_deadlines(case.received_at, policy, calendar)
    out = Derived(
        base.ack_due_at, base.response_due_at, explain_deadlines(case.received_at, policy, calendar)
    )
    extension_days = int((row.extra or {}).get("extension_days") or 0)
    for event in sorted(case.events, key=lambda e: (e.at, e.id)):
        data = event.data or {}
        if event.action == "acknowledge" and policy.response_from is CountFrom.ACK:
            day = local_date(event.at)
            if policy.response_day_type is DayType.CALENDAR:
                due = end_of_local_day(day + timedelta(days=policy.response_days))
            else:
                due = end_of_local_day(calendar.nth_working_day_after(day, policy.response_days))
            out.response_due_at = due
            out.steps.append(
                f"Thụ lý ngày {day:%d/%m/%Y}: hạn giải quyết tính lại → {format_local_long(due)}."
            )
        elif data.get("paused_since") and row.pause_when_waiting:
            # The wait ended (reply, answer, closure): credit the days it lasted.
            paused = datetime.fromisoformat(data["paused_since"])
            due = extend_for_pause(
                out.response_due_at, paused, event.at, calendar, policy.response_day_type
            )
            if due != out.response_due_at:
                out.steps.append(
                    f"Tạm dừng khi chờ người dân bổ sung ({format_local_long(paused)} – "
                    f"{format_local_long(event.at)}): hạn trả lời lùi đến {format_local_long(due)}."
                )
            out.response_due_at = due
        elif event.action == "extend":
            days = int(data.get("days") or extension_days)
            due = end_of_local_day(local_date(out.response_due_at) + timedelta(days=days))
            out.steps.append(
                f"Gia hạn {days} ngày theo {data.get('decision', 'quyết định')}"
                f" ({data.get('reason', '')}): hạn mới {format_local_long(due)}."
            )
            out.response_due_at = due
        elif event.action == "reopen":
            due = compute_deadlines(event.at, policy, calendar).response_due_at
            when, new = format_local_long(event.at), format_local_long(due)
            out.steps.append(f"Mở lại lúc {when}: hạn trả lời mới {new}.")
            out.response_due_at = due
    return out


def recompute(
    case: Case, now: datetime, reason: str, calendar: WorkingCalendar | None = None
) -> bool:
    """Store the derived due times if they changed: a new deadline revision, a fresh SLA
    check, and an event saying why. True when something moved."""
    derived = derive(case, calendar)
    if (derived.ack_due_at, derived.response_due_at) == (case.ack_due_at, case.response_due_at):
        return False
    before = (case.ack_due_at, case.response_due_at)
    case.ack_due_at, case.response_due_at = derived.ack_due_at, derived.response_due_at
    case.deadline_rev += 1
    case.next_sla_check_at = now
    record(
        case,
        "recompute",
        user=None,
        now=now,
        label="Hệ thống",
        note=f"Tính lại thời hạn ({reason}): hạn trả lời {format_local_long(before[1])} → "
        f"{format_local_long(case.response_due_at)}.",
        data={
            "reason": reason,
            "ack_due_before": before[0].isoformat(),
            "response_due_before": before[1].isoformat(),
        },
    )
    return True


def open_cases_query():  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    return select(Case).where(
        Case.status.in_([s.value for s in OPEN_STATUSES]), Case.answered_at.is_(None)
    )


def preview(kind: str | None, received_text: str | None, now: datetime) -> dict[str, object]:
    """The due times a citizen can expect (GET /api/v1/deadlines), with the explanation."""
    from ...domain.permissions import CASE_KINDS
    from ..errors import ValidationError

    kind = kind or "feedback"
    errors: dict[str, str] = {}
    received = now
    if received_text:
        try:
            received = datetime.fromisoformat(received_text.replace("Z", "+00:00"))
        except ValueError:
            errors["received_at"] = "Theo ISO 8601, ví dụ 2024-02-02T10:00:00+07:00."
        else:
            if received.tzinfo is None:
                errors["received_at"] = "Thời điểm phải có múi giờ (ví dụ +07:00)."
            elif not 2000 <= received.year <= 2100:
                errors["received_at"] = "Năm phải từ 2000 đến 2100."
    if kind not in CASE_KINDS:
        errors["kind"] = f"Loại phải là một trong: {', '.join(CASE_KINDS)}."
    if errors:
        raise ValidationError("Tham số không hợp lệ.", errors)
    calendar = load_calendar()
    policy = to_domain_policy(load_policy(kind))
    due = compute_deadlines(received, policy, calendar)
    return {
        "kind": kind,
        "received_at": iso_local(received),
        "ack_due_at": iso_local(due.ack_due_at),
        "response_due_at": iso_local(due.response_due_at),
        "explanation": explain_deadlines(received, policy, calendar),
    }
