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

from .marks import N_

# Syllables too common to say anything about what a case is about.
STOPWORDS = frozenset(
    (
        "va cua o tai bi da dang se khong co cho la duoc nay do thi ma nhung cac mot nhu "
        "rat nhieu tu den voi ve ra vao len xuong nen vi neu khi con lai cung van hay "
        "hoac toi chung em anh chi ong ba xin de nghi kinh gui ngay roi nua qua gi nao "
    ).split()
)
_NON_WORD = re.compile(r"[^0-9a-z]+")

# C0 and C1 control characters and DEL. Tab, CR and LF are text in a multi-line field
# (a letter's body), never in a name, a code or an address.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Characters that change how text looks without being seen: bidirectional overrides,
# embeddings and isolates (U+202E turns "gpj.exe" into "exe.jpg") and zero-width
# characters (two names that look the same but differ). A name or a subject never needs
# them; they only serve to disguise.
_DISGUISING = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
VIETNAMESE = re.compile(
    "[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ]"
)
"""A letter only Vietnamese writes (đ, the vowels with diacritics): how a page tells a text
left in Vietnamese from English."""
CONTROL_MESSAGE = N_("Có ký tự điều khiển không hợp lệ.")
DISGUISE_MESSAGE = N_("Có ký tự ẩn hoặc ký tự đảo chiều văn bản không hợp lệ.")


def fold(text: str) -> str:
    """Lower-case ASCII form: 'Đường Nguyễn Trãi' → 'duong nguyen trai'."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.lower()).strip()


# Characters a GSM-7 SMS cannot carry, replaced by their plain look-alikes.
_PLAIN = str.maketrans(
    {"«": '"', "»": '"', "“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"}
)


def unaccent(text: str) -> str:
    """Text without tone and vowel marks, for an SMS ('Hồ sơ HG-2026-000123 đã được trả
    lời.' → 'Ho so HG-2026-000123 da duoc tra loi.'). Unlike ``fold`` it keeps case,
    digits, spaces and punctuation, so the message stays readable; it exists because a
    Vietnamese text with diacritics is sent in UCS-2, 70 characters a segment instead of
    160, and some gateways refuse it."""
    text = (text or "").replace("đ", "d").replace("Đ", "D").replace("…", "...")
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN))
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


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


def control_characters(text: str | None, *, multiline: bool = True) -> list[str]:
    """The control characters in ``text``, in order (empty when it is clean). With
    ``multiline``, tab, CR and LF are allowed."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    return pattern.findall(text or "")


def disguising_characters(text: str | None) -> list[str]:
    """The invisible or direction-changing characters in ``text`` (empty when clean)."""
    return _DISGUISING.findall(text or "")
