"""The staff actions of the JSON API: ``POST /api/v1/cases/{code}/acknowledge``,
``/transfer``, ``/answer``, ``/close`` and ``/reopen`` (DESIGN.md, "Public contract").

Each action is one call of the handling services inside one unit of work, so it appends
exactly one event to the timeline and changes nothing when refused. The services check the
permission table, as they do for the pages (Forbidden → 403); a case the user may not see
is a 404, as on GET; a move the state machine refuses (answering a closed case, reopening
after the window) is a 409 ``invalid_transition`` with the Vietnamese message; a body with
unknown fields or wrong types is a 422 naming them.

Bodies (``null`` means not sent):

- ``acknowledge``, ``close``: no body, ``{}`` or ``{"note": TEXT}`` (the timeline's note);
- ``transfer``: ``{"unit_code": CODE or null, "reason": TEXT}``; null (or no unit_code)
  sends the case back to the coordinator's triage;
- ``answer``: ``{"body": TEXT}``. A token allowed to approve (a unit head) sends the answer
  to the citizen and publishes it; without ``body`` it approves the unit's draft. A token
  allowed only to draft (an officer) saves the draft for the head: 202
  ``{"status": "draft_saved", ...}``;
- ``reopen``: ``{"reason": TEXT}`` (staff reopening on the citizen's behalf);
- ``progress``: ``{"body": TEXT, "committed_on": "YYYY-MM-DD"}``: a public progress update
  with the local day the unit commits to answer by (issue 16); the response due stays.

Success is 200 with the staff view of the case, as ``GET /api/v1/cases/{code}`` writes it,
computed after the action: a case an officer just transferred out of the unit comes back
without its reporter, and a later GET of it is a 404 for that officer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..database import unit_of_work
from ..domain.marks import N_
from ..domain.permissions import Op
from ..i18n import translated_text
from ..models import Case, User
from ..services.errors import Conflict
from ..services.handling import actions as handling
from ..services.handling import followup, progress
from ..services.handling.moves import InvalidMove
from ..services.handling.visibility import ops_for
from .cases import case_for_staff
from .inputs import fields_of
from .outputs import iso, staff_view

BODY_OPTIONAL = frozenset({"acknowledge", "close"})
_FIELDS: dict[str, dict[str, str]] = {
    "acknowledge": {"note": "text"},
    "transfer": {"unit_code": "text", "reason": "text"},
    "answer": {"body": "text"},
    "close": {"note": "text"},
    "reopen": {"reason": "text"},
    "progress": {"body": "text", "committed_on": "text"},
}


@dataclass(frozen=True)
class Outcome:
    status: int
    payload: dict[str, Any]


def _done(case: Case, user: User, now: datetime) -> Outcome:
    return Outcome(200, staff_view(case, user, now))


def _acknowledge(case: Case, user: User, now: datetime, f: Mapping[str, Any]) -> Outcome:
    handling.acknowledge(case, user, now, f["note"] or "")
    return _done(case, user, now)


def _transfer(case: Case, user: User, now: datetime, f: Mapping[str, Any]) -> Outcome:
    handling.transfer(case, user, now, f["unit_code"], f["reason"] or "")
    return _done(case, user, now)


def _answer(case: Case, user: User, now: datetime, f: Mapping[str, Any]) -> Outcome:
    ops = ops_for(user, case)
    if Op.DRAFT_ANSWER in ops and Op.APPROVE_ANSWER not in ops:
        event = handling.draft_answer(case, user, now, f["body"] or "")
        return Outcome(
            202,
            {
                "status": "draft_saved",
                "code": case.code,
                "case_status": case.status,
                "draft": case.answer_draft,
                "drafted_at": iso(case.answer_drafted_at),
                "message": translated_text(
                    N_(
                        "Đã lưu dự thảo trả lời, chờ %(approver)s duyệt.",
                        approver=event.data["approver"],
                    )
                ),
            },
        )
    # A unit head approves; anyone else is refused by the service (403).
    handling.approve_answer(case, user, now, f["body"])
    return _done(case, user, now)


def _close(case: Case, user: User, now: datetime, f: Mapping[str, Any]) -> Outcome:
    handling.close(case, user, now, f["note"] or "")
    return _done(case, user, now)


def _reopen(case: Case, user: User, now: datetime, f: Mapping[str, Any]) -> Outcome:
    try:
        followup.reopen(case, now, f["reason"] or "", user=user)
    except InvalidMove:
        raise
    except Conflict as exc:
        # followup.reopen refuses a case never answered, or past its window, with a plain
        # Conflict; for the API that is a transition the rules do not allow.
        until = followup.reopen_deadline(case)
        if until is None or now > until:
            raise InvalidMove(exc.message, exc.fields) from None
        raise
    return _done(case, user, now)


def _progress(case: Case, user: User, now: datetime, f: Mapping[str, Any]) -> Outcome:
    progress.post_progress(case, user, now, f["body"], progress.parse_day(f["committed_on"]))
    return _done(case, user, now)


_HANDLERS: dict[str, Callable[[Case, User, datetime, Mapping[str, Any]], Outcome]] = {
    "acknowledge": _acknowledge,
    "transfer": _transfer,
    "answer": _answer,
    "close": _close,
    "reopen": _reopen,
    "progress": _progress,
}


def perform(
    action: str, code: str, data: Mapping[str, Any], *, user: User, now: datetime
) -> Outcome:
    """Check the body, find the case as ``user`` may see it, and act, in one transaction."""
    fields = fields_of(data, _FIELDS[action])
    with unit_of_work():
        case = case_for_staff(code, user)
        return _HANDLERS[action](case, user, now, fields)
