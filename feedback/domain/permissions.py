"""Who may see and do what: the one place that says it, for every page and API call.

Views and services ask ``allowed(subject, op, case)``; nothing else decides. The rules
follow the roles of DESIGN.md: the coordinator (Văn phòng HĐND-UBND) triages the whole
city; a unit's officers work its cases and its head assigns, approves and closes;
inspectors see everything (and alone see a denouncer's identity) but change nothing;
intake staff see what they entered; admins manage reference data, not cases.

Every role set a route gate or a service check uses, and every set of case kinds (which
the public may see, which are confidential), is defined here and imported where it is
used, so that two places cannot name the same set differently or the same name for two
sets; ``tests/domain/test_permission_sets.py`` fails if a set is defined anywhere else.
Sets are tuples: ordered for messages, usable in SQL ``IN`` and in ``@roles(*...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# --- roles ---------------------------------------------------------------------------------

STAFF_ROLES = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector", "admin")
"""Every staff role (a citizen has no account); the database accepts no other."""

UNIT_BOUND_ROLES = ("officer", "unit_head", "clerk")
"""Roles whose account must belong to a unit (the database checks it)."""

CITYWIDE_ROLES = ("coordinator", "inspector")
"""Roles that see every case of the city."""

UNIT_ROLES = ("officer", "unit_head")
"""Roles that see and work the cases their own unit handles."""

INTAKE_ROLES = ("operator", "clerk")
"""Intake staff, who see only the cases they entered themselves (to read a code back)."""

CASE_READER_ROLES = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector")
"""Every role that may open some case (all staff but the admin): the case page, files."""

ON_BEHALF_ROLES = ("operator", "clerk", "coordinator")
"""Roles that enter a case on a citizen's behalf and so may state its channel, time of
receipt and external reference (calls, letters, 1022 batches)."""

HOTLINE_ROLES = ("operator", "coordinator")
"""Who takes calls at the 1022 hotline desk."""

IMPORT_ROLES = ("operator", "coordinator")
"""Who may import 1022 batches (each operator reads only his own batches)."""

ALL_BATCHES_ROLES = ("coordinator",)
"""Who reads every 1022 batch, not only his own: the city desk behind 1022, which also
answers for batches imported from the command line (they have no uploader)."""

OPEN311_POST_ROLES = ("operator", "coordinator")
"""Whose API token may post a service request through Open311 (the city's 1022 desk)."""

BOX_REGISTER_ROLES = ("admin", "coordinator")
"""Who registers, edits and retires suggestion boxes."""

BOX_UNIT_REGISTER_ROLES = ("clerk",)
"""Who registers the boxes his own unit opens (issue 16: a clerk whose unit had no box
landed on an empty page with nothing to do); retiring a box stays with the city."""

BOX_CITYWIDE_ROLES = ("admin", "coordinator", "inspector")
"""Who sees every suggestion box and its openings (a clerk sees only his unit's)."""

BOX_READER_ROLES = ("clerk", "coordinator", "inspector", "admin")
"""Who may open the register of suggestion boxes."""

BOX_OPENER_ROLES = ("clerk", "coordinator")
"""Who records an opening, transcribes its letters and closes it (a clerk: his unit's)."""

OPENING_READER_ROLES = ("clerk", "coordinator", "inspector")
"""Who may read an opening's page and its letters (the admin manages boxes, not letters)."""

BOX_CORRECTOR_ROLES = ("coordinator",)
"""Who may correct the letter count of an opening's minutes, with a recorded reason."""

BOX_UNIT_ROLES = ("clerk", "officer", "unit_head")
"""Besides the city-wide roles, who reads an opening's minutes: the opener unit's staff."""

LETTER_ROLES = ("coordinator", "inspector", "officer", "unit_head")
"""Who may see apology letters (each only for the cases he may open)."""

LETTER_ISSUER_ROLES = ("coordinator", "unit_head")
"""Who may issue an apology letter (a unit head: for his unit's cases)."""

SEARCH_ROLES = CASE_READER_ROLES
"""Who may search and export cases; each finds only the cases he may open."""

OVERSIGHT_ROLES = ("inspector", "coordinator")
"""Who watches the whole city: the breach monitor, figures, the oversight API."""

APPROVER_FALLBACK_ROLES = ("coordinator",)
"""Who approves a unit's answers when it has neither a head nor a named approver."""

NAMED_APPROVER_ROLES = ("officer", "coordinator")
"""Who may be named approver of a unit without a head (an officer: of that unit)."""

APPROVER_SETTER_ROLES = ("coordinator", "admin")
"""Who lists the units without a head and names their approvers."""

QUEUES_OF_ROLE: dict[str, tuple[str, ...]] = {
    "officer": ("giao-toi", "dan-bo-sung", "tra-lai", "duyet"),
    "unit_head": ("duyet", "thu-xin-loi", "giao-toi", "dan-bo-sung"),
    "coordinator": ("phan-loai", "chuyen-ve", "duyet"),
}
"""What waits on each role (issue 16): the keys of services.handling.queues, in the order
the navigation shows them. An officer approves only as a unit's named approver, and the
coordinator only for units with neither head nor named approver."""

REPORT_ROLES = ("inspector", "coordinator", "officer", "unit_head")
"""Who may compile the periodic reports (officers only of the reporting units)."""

# --- kinds ---------------------------------------------------------------------------------

CASE_KINDS = ("feedback", "petition", "suggestion", "complaint", "denunciation")
"""Every kind of case; the database accepts no other."""

PUBLIC_KINDS = ("feedback", "petition", "suggestion")
"""Kinds the public may see a trace of (Open311, the transparency page, similar cases)."""

STATUTORY_KINDS = ("complaint", "denunciation")
"""Kinds governed by statute (Law on Complaints 2011, Law on Denunciations 2018): they
carry statutory limits, are classified, extended (denunciations), suspended and partly
withdrawn (complaints), and are handled only when the sender gives a name and an address."""

CALENDAR_REMINDER_ROLES = ("admin", "coordinator")
"""Who is reminded that next year's calendar still rests on package rules alone."""

HIDDEN_KINDS = ("complaint", "denunciation")
"""Kinds never shown or hinted to the public: a complaint or a denunciation names a
person, and a denounced official must not learn that one exists."""

CONFIDENTIAL_KINDS = ("denunciation",)
"""Kinds whose reporter identity only inspectors may see (Law on Denunciations 2018),
and which never leave in an export."""


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
    CLASSIFY = "classify"  # complexity, remote area, complaint round (statutory limits)
    SUSPEND = "suspend"  # suspend / resume a complaint's resolution (from 1 July 2026)
    WITHDRAW = "withdraw"  # record that the complainant withdrew part of the complaint
    # A public progress update with the day the unit commits to answer by (issue 16): held
    # by whoever drafts the answer, since the unit that answers is the one that can promise.
    PROGRESS = "progress"


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
    # Who approves the answer when the handling unit has no active head (issue 16):
    # ``head_absent`` with ``approver_id`` the named approver (an account of the unit or a
    # coordinator), or with None for any coordinator. A unit with a head: its head only.
    head_absent: bool = False
    approver_id: int | None = None


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
        Op.SUSPEND,
        Op.WITHDRAW,
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
        Op.PROGRESS,
    }
)
_UNIT_HEAD = _OFFICER | {
    Op.ASSIGN,
    Op.APPROVE_ANSWER,
    Op.REJECT,
    Op.CLOSE,
    Op.EXTEND,
    Op.CLASSIFY,
    Op.SUSPEND,
    Op.WITHDRAW,
}
_INTAKE = frozenset({Op.VIEW, Op.VIEW_IDENTITY})


def granted(subject: Subject, case: CaseFacts) -> frozenset[Op]:
    """Every operation ``subject`` may perform on ``case``."""
    ops: frozenset[Op]
    if subject.role == "coordinator":
        ops = _COORDINATOR
    elif subject.role == "inspector":
        ops = _INSPECTOR
    elif subject.role in UNIT_ROLES:
        in_unit = subject.unit_code is not None and subject.unit_code == case.handling_unit_code
        ops = (_UNIT_HEAD if subject.role == "unit_head" else _OFFICER) if in_unit else frozenset()
    elif subject.role in INTAKE_ROLES:
        ops = _INTAKE if case.created_by_id == subject.user_id else frozenset()
    else:
        ops = frozenset()
    if case.head_absent and Op.VIEW in ops and _stands_in_for_head(subject, case):
        ops = ops | {Op.APPROVE_ANSWER}
    if case.kind in CONFIDENTIAL_KINDS and subject.role != "inspector":
        ops = ops - {Op.VIEW_IDENTITY}
    return ops


def _stands_in_for_head(subject: Subject, case: CaseFacts) -> bool:
    """Whether ``subject`` approves answers for a unit without a head: the named approver,
    or, when none is named, the coordinator (a draft must never wait on nobody)."""
    if case.approver_id is not None:
        return subject.role in NAMED_APPROVER_ROLES and subject.user_id == case.approver_id
    return subject.role in APPROVER_FALLBACK_ROLES


def allowed(subject: Subject, op: Op, case: CaseFacts) -> bool:
    return op in granted(subject, case)


def roles_holding(*ops: Op, roles: tuple[str, ...]) -> tuple[str, ...]:
    """The roles that hold any of ``ops`` on some case: what a route's role gate admits,
    derived from this table so that pages and API cannot drift apart."""
    variants = (
        CaseFacts(handling_unit_code="*", kind="feedback", created_by_id=0),
        # A unit without a head: its named approver, or the coordinator, approves.
        CaseFacts(handling_unit_code="*", kind="feedback", created_by_id=0, head_absent=True),
        CaseFacts("*", "feedback", created_by_id=0, head_absent=True, approver_id=0),
    )
    return tuple(
        r for r in roles if any(granted(Subject(r, "*", 0), f) & set(ops) for f in variants)
    )


def may_read_batch(role: str, user_id: int, uploaded_by_id: int | None) -> bool:
    """A 1022 batch report lists tickets, codes and the rows' faults: its uploader reads it,
    and the roles that answer for every batch; no other operator."""
    if role in ALL_BATCHES_ROLES:
        return True
    return role in IMPORT_ROLES and uploaded_by_id is not None and uploaded_by_id == user_id
