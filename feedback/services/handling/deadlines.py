"""A case's due times, derived from its timeline, and recomputed when something moves them.

The stored ``ack_due_at``/``response_due_at`` are a cache of this derivation: receipt under
the policy in force at receipt for the case's kind and round (complex or remote variants
for complaints), then, in time order, acceptance (for limits counted from it, under the
policy in force that day), pauses while waiting for the citizen, suspensions of a
complaint (only under a policy whose ``suspension_stops_clock`` held on the day it was
suspended), extensions by recorded decision, and reopening. ``derive`` also says, line
by line, how each due time was reached, starting with the policy and its legal basis;
``recompute`` writes a new revision when the result differs (a calendar override added by
an admin, a case marked complex, ...)."""

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
from ...domain.marks import N_
from ...domain.sla import extend_for_pause
from ...domain.states import OPEN_STATUSES
from ...i18n import format_local_long
from ...models import Case, SlaPolicy
from ..reference.policies import (
    case_policy,
    load_calendar,
    load_policy,
    policy_on,
    to_domain_policy,
)
from .events import noted_time, record


@dataclass
class Derived:
    ack_due_at: datetime
    response_due_at: datetime
    steps: list[str] = field(default_factory=list)


ROUND_LABELS = {1: N_("lần đầu"), 2: N_("lần hai")}
SYSTEM = N_("Hệ thống")
"""Who recomputed the deadlines, as the timeline names it."""

POLICY_APPLIED = N_("Chính sách thời hạn áp dụng: %(kind)s, %(validity)s%(basis)s.")
POLICY_ON_ACCEPTANCE = N_("Chính sách thời hạn khi thụ lý: %(kind)s, %(validity)s%(basis)s.")


def describe_policy(row: SlaPolicy, template: str = POLICY_APPLIED) -> str:
    """One line naming a policy: kind, round, validity and legal basis (marked; the
    policy's label and legal basis are data and stay as written)."""
    until = (
        N_(" đến hết %(day)s", day=(row.valid_to - timedelta(days=1)).strftime("%d/%m/%Y"))
        if row.valid_to
        else ""
    )
    since = (
        ""
        if row.valid_from.year < 1900
        else N_(" từ %(day)s", day=row.valid_from.strftime("%d/%m/%Y"))
    )
    validity = (
        N_("hiệu lực%(since)s%(until)s", since=since, until=until)
        if since or until
        else N_("hiệu lực không thời hạn")
    )
    kind = (
        N_(
            "%(label)s (%(round)s)",
            label=row.label,
            round=ROUND_LABELS.get(row.round, str(row.round)),
        )
        if row.kind == "complaint"
        else row.label
    )
    basis = N_("; căn cứ: %(basis)s", basis=row.legal_basis) if row.legal_basis else ""
    return N_(template, kind=kind, validity=validity, basis=basis)


def suspension_stops_clock(case: Case, at: datetime) -> bool:
    """Whether the policy in force on the day a suspension began stops the clock."""
    row = policy_on(case.kind, local_date(at), case.round or 1)
    return bool(row is not None and row.suspension_stops_clock)


def policy_for(case: Case, row: SlaPolicy | None = None):  # type: ignore[no-untyped-def]
    """The domain policy of the case's kind, with the complex/remote variants applied."""
    row = row or case_policy(case)
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
    row = case_policy(case)
    policy = policy_for(case, row)
    base = compute_deadlines(case.received_at, policy, calendar)
    out = Derived(
        base.ack_due_at,
        base.response_due_at,
        [describe_policy(row), *explain_deadlines(case.received_at, policy, calendar)],
    )
    extension_days = int((row.extra or {}).get("extension_days") or 0)
    for event in sorted(case.events, key=lambda e: (e.at, e.id)):
        data = event.data or {}
        if event.action == "acknowledge" and policy.response_from is CountFrom.ACK:
            day = local_date(event.at)
            started = case_policy(case, event.at)  # the clock starts now: today's policy
            if started.id != row.id:
                out.steps.append(describe_policy(started, POLICY_ON_ACCEPTANCE))
            limits = policy_for(case, started)
            if limits.response_day_type is DayType.CALENDAR:
                due = end_of_local_day(day + timedelta(days=limits.response_days))
            else:
                due = end_of_local_day(calendar.nth_working_day_after(day, limits.response_days))
            out.response_due_at = due
            out.steps.append(
                N_(
                    "Thụ lý ngày %(day)s: hạn giải quyết tính lại → %(due)s.",
                    day=day.strftime("%d/%m/%Y"),
                    due=format_local_long(due),
                )
            )
        elif data.get("paused_since") and row.pause_when_waiting:
            # The wait ended (reply, answer, closure): credit the days it lasted.
            paused = datetime.fromisoformat(data["paused_since"])
            due = extend_for_pause(
                out.response_due_at, paused, event.at, calendar, policy.response_day_type
            )
            if due != out.response_due_at:
                out.steps.append(
                    N_(
                        "Tạm dừng khi chờ người dân bổ sung (%(start)s – %(end)s): hạn trả lời "
                        "lùi đến %(due)s.",
                        start=format_local_long(paused),
                        end=format_local_long(event.at),
                        due=format_local_long(due),
                    )
                )
            out.response_due_at = due
        elif event.action == "resume" and data.get("suspended_since"):
            since = datetime.fromisoformat(data["suspended_since"])
            span = f"{format_local_long(since)} – {format_local_long(event.at)}"
            if suspension_stops_clock(case, since):
                due = extend_for_pause(
                    out.response_due_at, since, event.at, calendar, policy.response_day_type
                )
                out.steps.append(
                    N_(
                        "Tạm đình chỉ giải quyết (%(span)s): thời gian tạm đình chỉ không tính "
                        "vào thời hạn, hạn giải quyết lùi đến %(due)s.",
                        span=span,
                        due=format_local_long(due),
                    )
                )
                out.response_due_at = due
            else:
                out.steps.append(
                    N_(
                        "Tạm đình chỉ (%(span)s) theo chính sách không dừng thời hạn: hạn giữ "
                        "nguyên.",
                        span=span,
                    )
                )
        elif event.action == "extend":
            days = int(data.get("days") or extension_days)
            due = end_of_local_day(local_date(out.response_due_at) + timedelta(days=days))
            out.steps.append(
                N_(
                    "Gia hạn %(days)s ngày theo %(decision)s (%(reason)s): hạn mới %(due)s.",
                    days=days,
                    decision=data.get("decision", N_("quyết định")),
                    reason=data.get("reason", ""),
                    due=format_local_long(due),
                )
            )
            out.response_due_at = due
        elif event.action == "reopen":
            due = compute_deadlines(event.at, policy, calendar).response_due_at
            when, new = format_local_long(event.at), format_local_long(due)
            out.steps.append(
                N_("Mở lại lúc %(when)s: hạn trả lời mới %(due)s.", when=when, due=new)
            )
            out.response_due_at = due
        elif event.action == "recompute" and data.get("kept"):
            # A calendar edit that would have moved a due time already passed (or made a
            # running one pass): the time it then held stays, as the timeline says.
            for name, value in data["kept"].items():
                kept = datetime.fromisoformat(value)
                if name == "ack_due_at":
                    out.ack_due_at = kept
                elif name == "response_due_at":
                    out.response_due_at = kept
            out.steps.append(
                N_(
                    "Lịch thay đổi lúc %(when)s: hạn đã qua được giữ nguyên.",
                    when=format_local_long(event.at),
                )
            )
    return out


def recompute(
    case: Case,
    now: datetime,
    reason: str,
    calendar: WorkingCalendar | None = None,
    *,
    calendar_edit: bool = False,
) -> bool:
    """Store the derived due times if they changed: a new deadline revision, a fresh SLA
    check, and an event saying why. True when something moved.

    A move caused by the case itself (acceptance, reopening, extension, resumption, the
    end of a wait, reclassification) is a new promise: the obligation number goes up and
    the sweep may warn again. A ``calendar_edit`` re-times the same promise (same
    obligation: no second warning or breach) and changes only forward: a due time that
    has passed is kept, and so is one the edit would put at or before ``now``; when the
    derivation then differs from what is kept, the event records the kept times
    (``data["kept"]``) so that ``derive`` keeps agreeing with the stored ones."""
    derived = derive(case, calendar)
    before = (case.ack_due_at, case.response_due_at)
    after = [derived.ack_due_at, derived.response_due_at]
    kept: dict[str, str] = {}
    if calendar_edit:
        for i, name in enumerate(("ack_due_at", "response_due_at")):
            if after[i] != before[i] and (before[i] <= now or after[i] <= now):
                after[i] = before[i]
                kept[name] = before[i].isoformat()
    if tuple(after) == before and not kept:
        return False
    moved = tuple(after) != before
    if moved:
        case.ack_due_at, case.response_due_at = after[0], after[1]
        case.deadline_rev += 1
        case.next_sla_check_at = now
        if not calendar_edit:
            case.obligation += 1
            # A new promise re-arms the escalation ladder (services.sla.ladder).
            case.escalation_level = 0
    times = {"before": noted_time(before[1]), "after": noted_time(case.response_due_at)}
    if moved and kept:
        note = N_(
            "Tính lại thời hạn (%(reason)s): hạn trả lời %(before)s → %(after)s. "
            "Hạn đã qua được giữ nguyên.",
            reason=reason,
            **times,
        )
    elif moved:
        note = N_(
            "Tính lại thời hạn (%(reason)s): hạn trả lời %(before)s → %(after)s.",
            reason=reason,
            **times,
        )
    else:
        note = N_("Lịch thay đổi (%(reason)s): hạn đã qua, giữ nguyên.", reason=reason)
    data: dict[str, object] = {
        "reason": reason,
        "ack_due_before": before[0].isoformat(),
        "response_due_before": before[1].isoformat(),
    }
    if kept:
        data["kept"] = kept
    record(case, "recompute", user=None, now=now, label=SYSTEM, note=note, data=data)
    return moved


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
            errors["received_at"] = N_("Theo ISO 8601, ví dụ 2024-02-02T10:00:00+07:00.")
        else:
            if received.tzinfo is None:
                errors["received_at"] = N_("Thời điểm phải có múi giờ (ví dụ +07:00).")
            elif not 2000 <= received.year <= 2100:
                errors["received_at"] = N_("Năm phải từ 2000 đến 2100.")
    if kind not in CASE_KINDS:
        errors["kind"] = N_("Loại phải là một trong: %(kinds)s.", kinds=", ".join(CASE_KINDS))
    if errors:
        raise ValidationError(N_("Tham số không hợp lệ."), errors)
    calendar = load_calendar()
    policy = to_domain_policy(load_policy(kind, received))
    due = compute_deadlines(received, policy, calendar)
    return {
        "kind": kind,
        "received_at": iso_local(received),
        "ack_due_at": iso_local(due.ack_due_at),
        "response_due_at": iso_local(due.response_due_at),
        "explanation": explain_deadlines(received, policy, calendar),
    }
