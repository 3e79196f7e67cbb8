"""Cases and what hangs off one: the yearly code counter, the append-only timeline
(events), links between cases, attachments, SLA events and apology letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.marks import Said
from ..domain.permissions import CASE_KINDS, HIDDEN_KINDS
from ..domain.states import OPEN_STATUSES, Status
from ..extensions import db
from .reference import Area, Category, Unit, in_list
from .types import UTCDateTime, utcnow
from .user import User

STATUSES = tuple(s.value for s in Status)
OPEN_STATUS_VALUES = tuple(s.value for s in Status if s in OPEN_STATUSES)
# Written once, so the partial index's predicate and the queries that must match it agree.
OPEN_CASES_SQL = in_list("status", OPEN_STATUS_VALUES)
UNANSWERED_SQL = f"answered_at IS NULL AND {OPEN_CASES_SQL}"
# What the public transparency page may list (its index's predicate, migration c4f1a7e2b8d3).
PUBLISHED_SQL = (
    f"answered_at IS NOT NULL AND {in_list('status', ('answered', 'closed'))} "
    f"AND kind NOT IN ({', '.join(repr(kind) for kind in HIDDEN_KINDS)})"
)
CHANNELS = ("web", "hotline", "box", "api", "email", "in_person")
COMPLEXITIES = ("normal", "complex", "especially_complex")


class CaseCounter(db.Model):
    """The last sequence number handed out per year, for readable case codes."""

    __tablename__ = "case_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("channel", "external_ref"),
        CheckConstraint(in_list("kind", CASE_KINDS), name="kind"),
        CheckConstraint(in_list("status", STATUSES), name="status"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
        CheckConstraint("ack_due_at >= received_at", name="ack_after_receipt"),
        CheckConstraint("response_due_at >= received_at", name="response_after_receipt"),
        CheckConstraint(
            "NOT anonymous OR (reporter_name IS NULL AND reporter_phone IS NULL"
            " AND reporter_email IS NULL)",
            name="anonymous_has_no_identity",
        ),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("reopen_count >= 0", name="reopen_count_nonnegative"),
        CheckConstraint("deadline_rev >= 0 AND extensions >= 0", name="counters_nonnegative"),
        CheckConstraint(
            "kind <> 'denunciation' OR (reporter_name IS NULL AND reporter_phone IS NULL"
            " AND reporter_email IS NULL)",
            name="denouncer_identity_sealed",
        ),
        CheckConstraint(in_list("complexity", COMPLEXITIES), name="complexity"),
        CheckConstraint("is_complex = (complexity <> 'normal')", name="complex_matches"),
        CheckConstraint("round = 1 OR (round = 2 AND kind = 'complaint')", name="round"),
        CheckConstraint(
            "suspended_since IS NULL OR kind = 'complaint'", name="only_complaints_suspend"
        ),
        Index("ix_cases_unit_status", "handling_unit_id", "status"),
        Index("ix_cases_response_due", "response_due_at"),
        # The dashboard's period filter, and the monitor's open cases only (a small,
        # bounded index however many closed cases pile up).
        Index("ix_cases_received_at", "received_at"),
        Index(
            "ix_cases_open_response_due",
            "response_due_at",
            sqlite_where=text(OPEN_CASES_SQL),
            postgresql_where=text(OPEN_CASES_SQL),
        ),
        # Open cases still owing an answer, and cases never acknowledged: the dashboard
        # counts those past due live.
        Index(
            "ix_cases_unanswered",
            "response_due_at",
            sqlite_where=text(UNANSWERED_SQL),
            postgresql_where=text(UNANSWERED_SQL),
        ),
        # Open cases past the day their unit committed to (the monitor's flag).
        Index(
            "ix_cases_committed_due",
            "committed_due_at",
            sqlite_where=text(f"committed_due_at IS NOT NULL AND {UNANSWERED_SQL}"),
            postgresql_where=text(f"committed_due_at IS NOT NULL AND {UNANSWERED_SQL}"),
        ),
        Index(
            "ix_cases_unacknowledged",
            "ack_due_at",
            sqlite_where=text("acknowledged_at IS NULL"),
            postgresql_where=text("acknowledged_at IS NULL"),
        ),
        # Issue 17 (migration f7a3c9e1d2b4), open cases only: the duplicate hints' place
        # and the navigation's queues. The inbox's order, an expression index, lives in the
        # migration only (feedback.models.search_index.INBOX_ORDER_INDEX).
        Index(
            "ix_cases_open_place",
            "category_id",
            "area_id",
            "received_at",
            sqlite_where=text(OPEN_CASES_SQL),
            postgresql_where=text(OPEN_CASES_SQL),
        ),
        Index(
            "ix_cases_open_status",
            "status",
            "needs_triage",
            sqlite_where=text(OPEN_CASES_SQL),
            postgresql_where=text(OPEN_CASES_SQL),
        ),
        Index(
            "ix_cases_published_answers",
            "answered_at",
            "id",
            "received_at",  # a past year's page checks the year in the index (issue 17)
            "category_id",
            sqlite_where=text(PUBLISHED_SQL),
            postgresql_where=text(PUBLISHED_SQL),
        ),
        Index(
            "ix_cases_drafts_pending",
            "handling_unit_id",
            sqlite_where=text("answer_draft IS NOT NULL AND answered_at IS NULL"),
            postgresql_where=text("answer_draft IS NOT NULL AND answered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    access_key_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default=Status.RECEIVED.value)
    channel: Mapped[str] = mapped_column(String(16))
    external_ref: Mapped[str | None] = mapped_column(String(64))

    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    anonymous: Mapped[bool] = mapped_column(default=False)
    reporter_name: Mapped[str | None] = mapped_column(String(120))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    reporter_email: Mapped[str | None] = mapped_column(String(200))

    handling_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    needs_triage: Mapped[bool] = mapped_column(default=False)
    routing_reason: Mapped[str] = mapped_column(Text, default="")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    response_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer_body: Mapped[str | None] = mapped_column(Text)
    answer_draft: Mapped[str | None] = mapped_column(Text)
    answer_drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer_drafted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The SLA sweep looks only at cases whose next milestone has come (indexed), so its
    # work follows the number of due cases, not the size of the table. Any change to a
    # case sets it to "now" so the next sweep re-evaluates the case.
    next_sla_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Bumped whenever a due time is recomputed (pause, extension, reopening, calendar
    # change), for the explanation ("tính lại N lần").
    deadline_rev: Mapped[int] = mapped_column(default=0)
    # The promise the due times stand for: bumped only by a new promise made on the case
    # (acceptance, reopening, extension, resumption, end of a wait, reclassification),
    # never by a calendar edit, which re-times the same promise. Warnings and breaches
    # are recorded once per (case, milestone, obligation).
    obligation: Mapped[int] = mapped_column(default=0, server_default="0")
    is_complex: Mapped[bool] = mapped_column(default=False)
    # normal / complex / especially_complex: how many extensions a denunciation may get
    # (Law on Denunciations 2018, art. 30); is_complex is kept equal to "not normal".
    complexity: Mapped[str] = mapped_column(String(24), default="normal")
    is_remote: Mapped[bool] = mapped_column(default=False)
    # 1 or 2: a second-time complaint (Law on Complaints 2011, art. 37) has longer limits.
    round: Mapped[int] = mapped_column(default=1)
    # Set while a complaint's resolution is suspended (tạm đình chỉ); the clock stops only
    # under a policy that says so (from 1 July 2026).
    suspended_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extensions: Mapped[int] = mapped_column(default=0)
    # Issue 16, late cases handled in the open: the day the unit last promised the citizen
    # an answer by (end of that local day, UTC; see ProgressUpdate), and the highest step
    # of the escalation ladder reached for the current obligation (0: none).
    committed_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(default=0, server_default="0")
    # The language of the page the citizen wrote from ("vi" or "en", issue 15): every
    # message sent back to them (e-mail, SMS, Zalo) is written in it. No CHECK constraint
    # (adding one would rebuild the table on SQLite and drop its triggers); CaseInput
    # refuses a language not in FEEDBACK_LANGUAGES.
    language: Mapped[str] = mapped_column(String(8), default="vi", server_default="vi")
    reopen_count: Mapped[int] = mapped_column(default=0)
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A denouncer's name, phone and e-mail, encrypted (Fernet) with the configured key; the
    # plain reporter_* columns stay empty for denunciations (checked below).
    identity_sealed: Mapped[str | None] = mapped_column(Text)
    # Folded syllables of subject, body and address (feedback.domain.text.fold): search and
    # duplicate hints match with or without diacritics.
    search_text: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    box_opening_id: Mapped[int | None] = mapped_column(ForeignKey("box_openings.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship()
    area: Mapped[Area | None] = relationship()
    handling_unit: Mapped[Unit] = relationship(foreign_keys=[handling_unit_id])
    lead_unit: Mapped[Unit | None] = relationship(foreign_keys=[lead_unit_id])
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="save-update, merge"
    )
    attachments: Mapped[list[Attachment]] = relationship(back_populates="case")


class CaseEvent(db.Model):
    """One step of a case's timeline. Rows are never updated or deleted: the migration
    installs triggers that refuse it, so the audit trail holds even against a bug."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def shown_note(self) -> str:
        """The note, with its template and values when it was made from a marked one
        (``services.handling.events.record``), so a page can show it translated."""
        said = (self.data or {}).get("note_said")
        if isinstance(said, dict) and isinstance(said.get("v"), dict):
            try:
                return _said(said)
            except (KeyError, TypeError, ValueError):
                return self.note
        return self.note


def _said(kept: dict[str, Any]) -> Said:
    """A note's ``{"t": template, "v": values}`` filled in again; a value kept the same way
    (a marked value with values of its own, such as a list of labels) is rebuilt too."""
    values = {
        key: _said(value) if isinstance(value, dict) else value for key, value in kept["v"].items()
    }
    return Said(str(kept["t"]), values)


class CaseRating(db.Model):
    """The citizen's rating of one answer of a case (issue 16). ``cases.rating`` holds the
    current answer's and is cleared when the case is reopened, so the citizen can rate the
    next answer; every answer's rating stays here, and the figures count these."""

    __tablename__ = "case_ratings"
    __table_args__ = (
        UniqueConstraint("case_id", "answer_no"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("answer_no >= 0", name="answer_no_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # Which answer: 0 the first, n the one given after the n-th reopening.
    answer_no: Mapped[int]
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())


ATTACHMENT_PURPOSES = ("evidence", "letter_scan", "minutes")


class CaseLink(db.Model):
    """A staff member's statement that two cases are about the same thing."""

    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("case_id", "linked_case_id"),
        CheckConstraint("case_id <> linked_case_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    linked_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(foreign_keys=[case_id])
    linked_case: Mapped[Case] = relationship(foreign_keys=[linked_case_id])


class Attachment(db.Model):
    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size_nonnegative"),
        CheckConstraint(in_list("purpose", ATTACHMENT_PURPOSES), name="purpose"),
        CheckConstraint(
            "case_id IS NOT NULL OR box_opening_id IS NOT NULL", name="belongs_somewhere"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    box_opening_id: Mapped[int | None] = mapped_column(ForeignKey("box_openings.id"))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16), default="evidence")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case | None] = relationship(back_populates="attachments")


SLA_MILESTONES = ("ack_warning", "ack_breach", "response_warning", "response_breach")


class SlaEvent(db.Model):
    """A warning or breach, recorded once per case, milestone and obligation (the case's
    promise number): the unique key is what makes two schedulers (or a retried sweep)
    harmless, and a due time moved by a calendar edit is the same obligation, so it is
    never warned of or breached twice; a new promise (reopening, acceptance) re-arms."""

    __tablename__ = "sla_events"
    __table_args__ = (
        UniqueConstraint("case_id", "milestone", "obligation"),
        CheckConstraint(in_list("milestone", SLA_MILESTONES), name="milestone"),
        Index("ix_sla_events_recorded", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    milestone: Mapped[str] = mapped_column(String(20))
    deadline_rev: Mapped[int]
    obligation: Mapped[int] = mapped_column(default=0, server_default="0")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handling_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))

    case: Mapped[Case] = relationship()


APOLOGY_STATUSES = ("owed", "issued", "delivered")


class ApologyLetter(db.Model):
    """The written apology owed for a late answer (plan: 100 % of late cases), from the
    obligation to the letter handed over or sent."""

    __tablename__ = "apology_letters"
    __table_args__ = (
        CheckConstraint(in_list("status", APOLOGY_STATUSES), name="status"),
        CheckConstraint(
            "delivered_via IS NULL OR delivered_via IN ('post', 'email', 'in_person')",
            name="delivered_via",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="owed")
    owed_since: Mapped[datetime] = mapped_column(UTCDateTime())
    late_by_seconds: Mapped[int] = mapped_column(default=0)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivered_via: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship()
