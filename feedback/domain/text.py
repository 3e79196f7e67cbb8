"""Vietnamese text folding and similarity, for search and duplicate hints.

Citizens write with and without diacritics ("rác thải" / "rac thai"), on phones with
different input methods, and re-word the same complaint. Folding removes tone and vowel
marks (and đ → d) so both spellings meet; comparing *sets* of syllables ignores word
order. Vietnamese words are written as separate syllables, so syllables are the tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Syllables too common to say anything about what a case is about.
STOPWORDS = frozenset(
    (
        "va cua o tai bi da dang se khong co cho la duoc nay do thi ma nhung cac mot nhu "
        "rat nhieu tu den voi ve ra vao len xuong nen vi neu khi con lai cung van hay "
        "hoac toi chung em anh chi ong ba xin de nghi kinh gui ngay roi nua qua gi nao "
    ).split()
)
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case ASCII form: 'Đường Nguyễn Trãi' → 'duong nguyen trai'."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.lower()).strip()


def tokens(text: str) -> frozenset[str]:
    """The meaningful syllables of a text, folded, without stopwords or single letters."""
    return frozenset(t for t in fold(text).split() if len(t) > 1 and t not in STOPWORDS)


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Dice coefficient of two token sets, 0..1; symmetric and order-free."""
    left, right = frozenset(a), frozenset(b)
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


def containment(query: Iterable[str], document: Iterable[str]) -> float:
    """Share of the query's tokens found in the document: a short re-wording of a long
    case scores high even though Dice would punish the length difference."""
    q, d = frozenset(query), frozenset(document)
    return len(q & d) / len(q) if q else 0.0
