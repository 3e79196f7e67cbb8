"""Duplicate hints: open cases of the same category and area that say the same thing.

Matching uses folded syllables (feedback.domain.text), so a case written without
diacritics, or with the words in another order, still meets the original. Candidates are
narrowed in SQL (same category and area, still open, recent), scored in Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ...domain.states import OPEN_STATUSES
from ...domain.text import containment, similarity, tokens
from ...extensions import db
from ...models import Area, Case, CaseEvent, CaseLink, Category, User
from ..errors import NotFound, ValidationError

CANDIDATE_LIMIT = 300
LOOKBACK = timedelta(days=180)
THRESHOLD = 0.35


@dataclass(frozen=True)
class SimilarCase:
    code: str
    subject: str
    kind: str
    status: str
    received_at: datetime
    score: float


def find_similar(
    category_code: str | None,
    area_code: str | None,
    text: str,
    *,
    now: datetime,
    limit: int = 5,
    exclude_code: str | None = None,
) -> list[SimilarCase]:
    query = tokens(text)
    if len(query) < 2:
        return []
    stmt = (
        select(Case)
        .where(
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            Case.received_at >= now - LOOKBACK,
        )
        .order_by(Case.received_at.desc())
        .limit(CANDIDATE_LIMIT)
    )
    # Without a category or an area the hint would compare against the whole city; the
    # same-place, same-subject rule is what makes a hint worth an officer's attention.
    if category_code:
        stmt = stmt.join(Category, Case.category_id == Category.id).where(
            Category.code == category_code
        )
    else:
        stmt = stmt.where(Case.category_id.is_(None))
    if area_code:
        stmt = stmt.join(Area, Case.area_id == Area.id).where(Area.code == area_code)
    else:
        stmt = stmt.where(Case.area_id.is_(None))
    if exclude_code:
        stmt = stmt.where(Case.code != exclude_code)
    hits: list[SimilarCase] = []
    for case in db.session.scalars(stmt):
        theirs = frozenset(case.search_text.split())
        score = max(similarity(query, theirs), containment(query, theirs))
        if score >= THRESHOLD:
            hits.append(
                SimilarCase(
                    case.code, case.subject, case.kind, case.status, case.received_at, score
                )
            )
    hits.sort(key=lambda h: (-h.score, h.code))
    return hits[:limit]


def link_cases(case: Case, other_code: str, *, actor: User, now: datetime) -> CaseLink:
    """Record that ``case`` is about the same matter as ``other_code``; one event on each."""
    other = db.session.scalar(select(Case).where(Case.code == other_code.strip().upper()))
    if other is None:
        raise NotFound(f"Không có hồ sơ {other_code}.", {"link_to": "Mã hồ sơ không tồn tại."})
    if other.id == case.id:
        raise ValidationError("Không thể liên kết hồ sơ với chính nó.", {"link_to": "Trùng mã."})
    existing = db.session.scalar(
        select(CaseLink).where(CaseLink.case_id == case.id, CaseLink.linked_case_id == other.id)
    )
    if existing is not None:
        return existing
    link = CaseLink(case=case, linked_case=other, created_by_id=actor.id, created_at=now)
    db.session.add(link)
    for this, that in ((case, other), (other, case)):
        db.session.add(
            CaseEvent(
                case=this,
                at=now,
                actor_id=actor.id,
                actor_label=actor.display_name,
                action="link",
                public=False,
                note=f"Liên kết với hồ sơ {that.code} (có thể cùng nội dung).",
                data={"linked_case": that.code},
            )
        )
    db.session.flush()
    return link
