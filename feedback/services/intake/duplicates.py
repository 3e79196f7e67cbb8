"""Duplicate hints: open cases of the same category and area that say the same thing, and
the "same matter as" link an officer records between two cases.

Matching uses folded syllables (feedback.domain.text), so a case written without
diacritics, or with the words in another order, still meets the original. Candidates are
narrowed in SQL (same category and area, still open, recent, sharing at least one word
through the database's word index, feedback.services.fulltext), scored in Python.

A hint is a disclosure like any other, so it obeys the same visibility (issue 13, finding
2): staff are hinted only cases they may open (feedback.services.handling.visibility), and
the public form only that cases of a public kind in a public category exist, with their
status and time of receipt, never a code or a subject. A complaint or a denunciation is
never hinted to anyone who may not read it: a denounced official must not learn from the
public form that a denunciation exists, nor when it came. For the same reason a link to a
case the actor may not open is refused with the message an unknown code gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select

from ...domain.marks import N_
from ...domain.permissions import PUBLIC_KINDS
from ...domain.text import containment, similarity, tokens
from ...extensions import db
from ...models import Area, Case, CaseEvent, CaseLink, Category, User
from .. import fulltext
from ..errors import Forbidden, NotFound, ValidationError
from ..handling.queues import open_cases
from ..handling.visibility import can_view, visible_condition

CANDIDATE_LIMIT = 300
# The longest (most telling) words of a long letter that go to the word index; scoring
# still compares every word.
MAX_INDEX_WORDS = 32
LOOKBACK = timedelta(days=180)
THRESHOLD = 0.35


@dataclass(frozen=True)
class SimilarCase:
    """A hint for staff, about a case they may open."""

    code: str
    subject: str
    kind: str
    status: str
    received_at: datetime
    score: float


@dataclass(frozen=True)
class PublicHint:
    """What the public form may say of a similar case: that one of a public kind is being
    handled, and since when; no code (it opens nothing without its key) and no subject
    (it is not yet approved for publication and may name a person)."""

    status: str
    received_at: datetime


def _candidates(
    category_code: str | None, area_code: str | None, now: datetime
) -> Select[tuple[Case]]:
    stmt = (
        select(Case)
        .where(open_cases(), Case.received_at >= now - LOOKBACK)
        .order_by(Case.received_at.desc())
        .limit(CANDIDATE_LIMIT)
    )
    # Without a category or an area the hint would compare against the whole city; the
    # same-place, same-subject rule is what makes a hint worth an officer's attention.
    # The ids are looked up first so that they are plain filters on the cases: PostgreSQL
    # then tests them before the costly word match, on each candidate row (a join would
    # come after it, and every open case of the city would be matched).
    if category_code:
        ids = db.session.scalars(select(Category.id).where(Category.code == category_code))
        stmt = stmt.where(Case.category_id.in_(list(ids)))
    else:
        stmt = stmt.where(Case.category_id.is_(None))
    if area_code:
        ids = db.session.scalars(select(Area.id).where(Area.code == area_code))
        stmt = stmt.where(Case.area_id.in_(list(ids)))
    else:
        stmt = stmt.where(Case.area_id.is_(None))
    return stmt


def _scored(stmt: Select[tuple[Case]], text: str, limit: int) -> Iterator[tuple[Case, float]]:
    """The best ``limit`` of ``stmt``'s cases that say what ``text`` says, best first."""
    query = tokens(text)
    if len(query) < 2:
        return iter(())
    # Only cases sharing a word are read (the database's word index decides), so the
    # CANDIDATE_LIMIT most recent are the most recent that could score, not the most
    # recent of the place, which at national scale may all be about something else.
    shared = sorted(query, key=lambda word: (-len(word), word))[:MAX_INDEX_WORDS]
    hits: list[tuple[Case, float]] = []
    for case in db.session.scalars(stmt.where(fulltext.matches(shared, every=False, per_row=True))):
        theirs = frozenset(case.search_text.split())
        score = max(similarity(query, theirs), containment(query, theirs))
        if score >= THRESHOLD:
            hits.append((case, score))
    # Best first (all the words before some of them), then the most recent.
    hits.sort(key=lambda hit: (hit[1], hit[0].received_at, hit[0].code), reverse=True)
    return iter(hits[:limit])


def find_similar(
    category_code: str | None,
    area_code: str | None,
    text: str,
    *,
    viewer: User,
    now: datetime,
    limit: int = 5,
    exclude_code: str | None = None,
) -> list[SimilarCase]:
    """Open cases like ``text`` among those ``viewer`` may open (the hotline desk, box
    transcription): what he could not open he is not hinted either."""
    stmt = _candidates(category_code, area_code, now).where(visible_condition(viewer))
    if exclude_code:
        stmt = stmt.where(Case.code != exclude_code)
    return [
        SimilarCase(case.code, case.subject, case.kind, case.status, case.received_at, score)
        for case, score in _scored(stmt, text, limit)
    ]


def find_similar_public(
    category_code: str | None, area_code: str | None, text: str, *, now: datetime, limit: int = 5
) -> list[PublicHint]:
    """Open cases like ``text`` that the public may know of: public kinds in public
    categories only (what Open311 lists), filtered in SQL so that nothing else is even
    scored."""
    stmt = (
        _candidates(category_code, area_code, now)
        .where(Case.kind.in_(PUBLIC_KINDS))
        .where(Case.category.has(Category.public.is_(True)))
    )
    return [PublicHint(case.status, case.received_at) for case, _ in _scored(stmt, text, limit)]


def link_cases(case: Case, other_code: str, *, actor: User, now: datetime) -> CaseLink:
    """Record that ``case`` is about the same matter as ``other_code``; one event on each.

    Both cases must be ones ``actor`` may open: the link writes an event on the other case
    and shows its code on this one. A code out of his reach is refused exactly as a code
    that does not exist, so the answer does not tell him whether it does."""
    if not can_view(actor, case):
        raise Forbidden(N_("Ông/bà không có quyền liên kết hồ sơ này."))
    code = other_code.strip().upper()
    other = db.session.scalar(select(Case).where(Case.code == code))
    if other is None or not can_view(actor, other):
        raise NotFound(
            N_("Không có hồ sơ %(code)s trong phạm vi ông/bà được xem.", code=code),
            {"link_to": N_("Mã hồ sơ không tồn tại hoặc nằm ngoài phạm vi ông/bà được xem.")},
        )
    if other.id == case.id:
        raise ValidationError(
            N_("Không thể liên kết hồ sơ với chính nó."), {"link_to": N_("Trùng mã.")}
        )
    existing = db.session.scalar(
        select(CaseLink).where(CaseLink.case_id == case.id, CaseLink.linked_case_id == other.id)
    )
    if existing is not None:
        return existing
    link = CaseLink(case=case, linked_case=other, created_by_id=actor.id, created_at=now)
    db.session.add(link)
    for this, that in ((case, other), (other, case)):
        note = N_("Liên kết với hồ sơ %(code)s (có thể cùng nội dung).", code=that.code)
        db.session.add(
            CaseEvent(
                case=this,
                at=now,
                actor_id=actor.id,
                actor_label=actor.display_name,
                action="link",
                public=False,
                note=note,
                # Kept so the timeline shows the note translated (CaseEvent.shown_note).
                data={
                    "linked_case": that.code,
                    "note_said": {"t": note.template, "v": {"code": that.code}},
                },
            )
        )
    db.session.flush()
    return link
