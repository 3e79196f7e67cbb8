"""How the JSON API writes cases.

Times are written in ISO 8601 with the offset of Hà Giang (Asia/Ho_Chi_Minh, always
+07:00: no daylight saving time), to the second, e.g. ``2024-02-19T23:59:59+07:00``: the
local wall-clock time a Vietnamese integrator and the citizen reason in, with the offset
that makes it an unambiguous instant.

Who sees what: the citizen's view never holds the reporter or staff names; the staff view
holds the reporter only with the VIEW_IDENTITY permission (never a denouncer's, except for
inspectors); a list row never holds the reporter, whatever the kind and the role.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..domain.calendar import iso_local as iso
from ..domain.permissions import Op
from ..domain.routing import reason_message
from ..domain.states import Status
from ..i18n import translated_text
from ..models import Area, Case, Category, Unit, User
from ..services.handling.visibility import ops_for
from ..services.intake.identity import identity_of
from ..services.oversight.search import Results
from ..services.sla.sweep import is_overdue


def _ref(row: Unit | Area | Category | None) -> dict[str, str] | None:
    return {"code": row.code, "name": row.name} if row is not None else None


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def created_view(case: Case, access_key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": case.code}
    if access_key:
        out["access_key"] = access_key
    out.update(
        status=case.status,
        kind=case.kind,
        channel=case.channel,
        received_at=iso(case.received_at),
        ack_due_at=iso(case.ack_due_at),
        response_due_at=iso(case.response_due_at),
        category=_ref(case.category),
        area=_ref(case.area),
        handling_unit=_ref(case.handling_unit),
        lead_unit=_ref(case.lead_unit),
    )
    return out


def _answer(case: Case) -> str | None:
    return case.answer_body if case.status in (Status.ANSWERED, Status.CLOSED) else None


def public_view(case: Case) -> dict[str, Any]:
    """What the holder of the access key sees: never the reporter, never staff names."""
    return {
        "code": case.code,
        "status": case.status,
        "kind": case.kind,
        "received_at": iso(case.received_at),
        "ack_due_at": iso(case.ack_due_at),
        "response_due_at": iso(case.response_due_at),
        "handling_unit": _ref(case.handling_unit),
        "answer": _answer(case),
        "timeline": [
            {
                "at": iso(e.at),
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "note": translated_text(e.shown_note),
            }
            for e in case.events
            if e.public
        ],
    }


def staff_view(case: Case, user: User, now: datetime) -> dict[str, Any]:
    """The case as ``user``'s role allows: the reporter only with the VIEW_IDENTITY
    permission (never a denouncer's, except for inspectors: feedback.domain.permissions)."""
    out = created_view(case, None)
    out.update(
        external_ref=case.external_ref,
        subject=case.subject,
        body=case.body,
        address=case.address,
        lat=case.lat,
        lon=case.lon,
        needs_triage=case.needs_triage,
        routing_reason=translated_text(reason_message(case.routing_reason)),
        assigned_to=case.assigned_to.display_name if case.assigned_to else None,
        acknowledged_at=iso(case.acknowledged_at),
        answered_at=iso(case.answered_at),
        closed_at=iso(case.closed_at),
        answer=case.answer_body,
        overdue=is_overdue(case, now),
        created_at=iso(case.created_at),
        updated_at=iso(case.updated_at),
    )
    if Op.VIEW_IDENTITY in ops_for(user, case):
        identity = identity_of(case)
        out["reporter"] = {
            "anonymous": case.anonymous,
            "name": identity.name,
            "phone": identity.phone,
            "email": identity.email,
        }
    out["timeline"] = [
        {
            "at": iso(e.at),
            "actor_label": translated_text(e.actor_label),
            "action": e.action,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "public": e.public,
            "note": translated_text(e.shown_note),
        }
        for e in case.events
    ]
    return out


def summary_view(case: Case, now: datetime) -> dict[str, Any]:
    """One row of a list: no reporter data, whatever the kind."""
    return {
        "code": case.code,
        "status": case.status,
        "kind": case.kind,
        "channel": case.channel,
        "subject": case.subject,
        "category": _ref(case.category),
        "area": _ref(case.area),
        "handling_unit": _ref(case.handling_unit),
        "needs_triage": case.needs_triage,
        "received_at": iso(case.received_at),
        "ack_due_at": iso(case.ack_due_at),
        "response_due_at": iso(case.response_due_at),
        "overdue": is_overdue(case, now),
    }


def list_view(results: Results, now: datetime) -> dict[str, Any]:
    """A page of search results."""
    return {
        "items": [summary_view(c, now) for c in results.cases],
        "page": results.page,
        "per_page": results.per_page,
        "total": results.total,
        "total_capped": results.capped,
    }
