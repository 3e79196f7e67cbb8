"""Who may do what to a case: one table for every page and API call.

Views and services ask ``allowed(subject, op, case)``; nothing else decides. The rules
follow the roles of DESIGN.md: the coordinator (Văn phòng HĐND-UBND) triages the whole
city; a unit's officers work its cases and its head assigns, approves and closes;
inspectors see everything (and alone see a denouncer's identity) but change nothing;
intake staff see what they entered; admins manage reference data, not cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

STAFF_ROLES = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector", "admin")
"""Every staff role (a citizen has no account)."""


class Op(StrEnum):
    VIEW = "view"
    VIEW_IDENTITY = "view_identity"  # the reporter's name, phone, e-mail
    NOTE = "note"  # internal note
    LINK = "link"  # "same matter as" another case
    ACKNOWLEDGE = "acknowledge"
    ROUTE = "route"  # confirm or change routing at triage
    TRANSFER = "transfer"
    ASSIGN = "assign"
    START = "start"
    ASK_CITIZEN = "ask_citizen"
    DRAFT_ANSWER = "draft_answer"
    APPROVE_ANSWER = "approve_answer"  # approving sends and publishes the answer
    CLOSE = "close"
    REOPEN = "reopen"  # staff reopening on the citizen's behalf
    REJECT = "reject"
    MERGE = "merge"
    EXTEND = "extend"  # extend a statutory limit by recorded decision (complaints, denunciations)
    CLASSIFY = "classify"  # mark a case complex or in a remote area (longer statutory limits)


@dataclass(frozen=True)
class Subject:
    role: str
    unit_code: str | None
    user_id: int


@dataclass(frozen=True)
class CaseFacts:
    handling_unit_code: str
    kind: str
    created_by_id: int | None = None


_COORDINATOR = frozenset(
    {
        Op.VIEW,
        Op.VIEW_IDENTITY,
        Op.NOTE,
        Op.LINK,
        Op.ACKNOWLEDGE,
        Op.ROUTE,
        Op.TRANSFER,
        Op.REJECT,
        Op.MERGE,
        Op.CLOSE,
        Op.REOPEN,
        Op.CLASSIFY,
    }
)
_INSPECTOR = frozenset({Op.VIEW, Op.VIEW_IDENTITY, Op.NOTE, Op.LINK})
_OFFICER = frozenset(
    {
        Op.VIEW,
        Op.VIEW_IDENTITY,
        Op.NOTE,
        Op.LINK,
        Op.ACKNOWLEDGE,
        Op.TRANSFER,
        Op.START,
        Op.ASK_CITIZEN,
        Op.DRAFT_ANSWER,
    }
)
_UNIT_HEAD = _OFFICER | {
    Op.ASSIGN,
    Op.APPROVE_ANSWER,
    Op.REJECT,
    Op.CLOSE,
    Op.EXTEND,
    Op.CLASSIFY,
}
_INTAKE = frozenset({Op.VIEW, Op.VIEW_IDENTITY})

CONFIDENTIAL_KINDS = frozenset({"denunciation"})
"""Kinds whose reporter identity only inspectors may see (Law on Denunciations 2018)."""


def granted(subject: Subject, case: CaseFacts) -> frozenset[Op]:
    """Every operation ``subject`` may perform on ``case``."""
    ops: frozenset[Op]
    if subject.role == "coordinator":
        ops = _COORDINATOR
    elif subject.role == "inspector":
        ops = _INSPECTOR
    elif subject.role in {"officer", "unit_head"}:
        in_unit = subject.unit_code is not None and subject.unit_code == case.handling_unit_code
        ops = (_UNIT_HEAD if subject.role == "unit_head" else _OFFICER) if in_unit else frozenset()
    elif subject.role in {"operator", "clerk"}:
        ops = _INTAKE if case.created_by_id == subject.user_id else frozenset()
    else:
        ops = frozenset()
    if case.kind in CONFIDENTIAL_KINDS and subject.role != "inspector":
        ops = ops - {Op.VIEW_IDENTITY}
    return ops


def allowed(subject: Subject, op: Op, case: CaseFacts) -> bool:
    return op in granted(subject, case)


def roles_holding(*ops: Op, roles: tuple[str, ...]) -> tuple[str, ...]:
    """The roles that hold any of ``ops`` on some case: what a route's role gate admits,
    derived from this table so that pages and API cannot drift apart."""
    facts = CaseFacts(handling_unit_code="*", kind="feedback", created_by_id=0)
    return tuple(r for r in roles if granted(Subject(r, "*", 0), facts) & set(ops))
