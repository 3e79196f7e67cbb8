"""Removing personal data from text that leaves the office: the public transparency page
and the case exports.

What is removed, each replaced by ``PLACEHOLDER``:

- what the reporter told us about themselves (``Known``: the name, phone and e-mail as
  stored, a denouncer's sealed identity included, and the case's address), wherever it
  appears, with or without diacritics, in any letter case, with any spacing; a part of
  the name (its last two or more syllables) when it is written with capitals;
- any e-mail address; any Vietnamese phone number (0… or +84…, 9 to 11 digits, with
  spaces, dots or dashes); any ID card number (9 or 12 digits, CMND/CCCD);
- house numbers and small address units: "số nhà 57", "nhà số 57", "số 57 đường …",
  "số 57 Nguyễn Trãi", "tổ 9", "tổ dân phố 9", "ngõ 12", "ngách 3", "hẻm 4", "xóm 2",
  and land parcels ("thửa đất số 34", "tờ bản đồ số 12"), which name a household;
- personal names after an honorific ("ông", "bà", "anh", "chị", "cô", "chú", "em",
  "cháu", …: the capitalised words that follow, the honorific itself kept) or after
  "tên là", "họ tên", "tôi là", in Title Case or in CAPITALS;
- personal names standing alone: two to four words in CAPITALS, with or without
  diacritics, that begin with a Vietnamese family name or have "Văn"/"Thị" as their
  second word ("HOÀNG VĂN KIÊN", "HOANG VAN KIEN", "SÙNG MÍ PÁO"), and Title Case words
  around a middle "Văn"/"Thị" ("Hoàng Văn Kiên") — unless a place word comes before them
  ("đường", "phường", "xã", …: "ĐƯỜNG NGUYỄN TRÃI" is a street). A subject shouted in
  capitals loses more than the name: that is the side this errs on.

Matching runs on a folded copy of the text (feedback.domain.text.fold, character by
character, so every match maps back to the original) where diacritics do not matter, and
on the original where capitals matter (names). It errs on the side of removing too much.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...domain.text import fold
from ..intake.identity import identity_of

PLACEHOLDER = "[đã ẩn]"

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_PHONE = re.compile(r"(?<![\w+])(?:\(?\+?84\)?|0)(?:[ .\-]?\d){8,10}(?!\d)")
_ID_CARD = re.compile(
    r"(?<![\w.,/])(?:\d{12}|\d{9}|\d{3}(?:[ \-]\d{3}){3}|\d{3}(?:[ \-]\d{3}){2})(?![\w]|[.,/]\d)"
)
_NUMBER = r"\d+[a-z]?(?:\s+\d+[a-z]?)*"  # "57", "57a", "57/3" (folded: "57 3")
_B, _E = r"(?<![0-9a-z])", r"(?![0-9a-z])"
_FOLDED_ADDRESS = re.compile(
    _B
    + "(?:"
    + rf"(?:so nha|nha so|can nha so|can nha)\s+{_NUMBER}"
    + rf"|so\s+{_NUMBER}(?=\s+(?:duong|pho|ngo|ngach|hem|kiet|to|xom|khu|thon)(?![0-9a-z]))"
    + rf"|(?:to dan pho|to|ngo|ngach|hem|kiet|xom)\s+(?:so\s+)?{_NUMBER}"
    + rf"|thua(?:\s+dat)?\s+(?:so\s+)?{_NUMBER}"
    + rf"|to\s+ban\s+do\s+(?:so\s+)?{_NUMBER}"
    + ")"
    + _E
)
# "số 57 Nguyễn Trãi": a number then a capitalised street name (checked on the original).
_NUMBER_THEN_NAME = re.compile(rf"{_B}so\s+{_NUMBER}{_E}")
_DOCUMENT_WORDS = re.compile(
    r"(?:van ban|cong van|quyet dinh|thong bao|ke hoach|to trinh|nghi dinh|thong tu|luat"
    r"|dieu|khoan|ho so|bien ban|giay|phieu|bao cao|chi thi|nghi quyet)\s*$"
)
_NAME_INTRO = re.compile(rf"{_B}(?:ten(?: toi)? la|ho(?: va)? ten|toi la|toi ten|ten){_E}")
HONORIFICS = frozenset("ông bà anh chị cô chú em cháu bác cụ dì thím mợ cậu".split())
_ASCII_HONORIFICS = frozenset("ong ba anh chi co chu em chau bac".split())
# Titles written with a capital after an honorific ("ông Chủ tịch") are not names.
_TITLES = frozenset("chu pho truong giam bi to tong can dong thu cong".split())
_WORD = re.compile(r"[^\W\d_]+")
# A Vietnamese syllable, folded (an initial, a vowel nucleus, a final): "UBND" is not one.
_SYLLABLE = re.compile(r"[bcdghklmnpqrstvx]{0,3}[aeiouy]{1,3}(?:ch|nh|ng|[cmnpt])?")
# Family names of the city's Kinh, Tày, Nùng, Dao and H'Mông residents, as written with
# diacritics; the ASCII spellings only where the bare word means nothing else ("VU" could
# be "vụ", "DUONG" "đường", "HO" "hộ", so they are left out).
SURNAMES = frozenset(
    (
        "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh đào "
        "lương trịnh mai cao lâm tô hà chu triệu tạ la lưu lục mã ma nông thào sùng giàng "
        "vàng lò lù mùa hầu hạng lầu vừ cứ chảo bàn sầm tống thái kiều khổng doãn đàm lại "
        "châu hứa nghiêm phùng quách lộc mạc"
    ).split()
)
_ASCII_SURNAMES = frozenset(
    "nguyen tran pham hoang huynh phan bui ngo dinh luong trinh trieu luu luc nong thao "
    "sung giang vang hau hua nghiem phung quach kieu khong doan".split()
)
_MIDDLES = frozenset({"văn", "thị"})
_ASCII_MIDDLES = frozenset({"van", "thi"})
# "Văn phòng", "Văn hóa", "thị xã", "vấn đề" (VAN DE), "thi công" (THI CONG): no name.
# Compared with diacritics where the text has them ("Kiên" is a name, "kiện" is not);
# without them only where the word is no common given name ("HOA", "THU" are).
_NOT_AFTER_MIDDLE = frozenset("phòng hóa hoá bản thư kiện xã trấn trường công nghệ học".split())
_ASCII_NOT_AFTER_MIDDLE = frozenset("phong ban de xa tran truong cong nghe hoc".split())
# Words after which capitalised words name a place, not a person (folded).
_PLACE_WORDS = frozenset(
    "duong pho phuong xa thon ban to ngo ngach hem khu cau cho tinh huyen quan tp truong "
    "vien song suoi nui deo den chua dinh".split()
)
_KNOWN_PLACES = frozenset({"ha giang", "tuyen quang"})
_GAP = re.compile(r"[ \t]+")
_MAX_NAME_WORDS = 5


@dataclass(frozen=True)
class Known:
    """What the reporter told us about themselves."""

    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


def known_for(case: Any) -> Known:
    """The reporter's identity (unsealed for a denunciation) and the case's address."""
    who = identity_of(case)
    return Known(
        names=tuple(n for n in (who.name,) if n),
        phones=tuple(p for p in (who.phone,) if p),
        emails=tuple(e for e in (who.email,) if e),
        addresses=tuple(a for a in (case.address,) if a),
    )


def redact_case_text(text: str | None, case: Any) -> str:
    return redact(text, known_for(case))


def published_subject(case: Any) -> str | None:
    """The subject as it may be shown to anyone (Open311), or None while it may not.

    A subject is the citizen's own words, written before anyone read them; it goes out
    only once the unit head has approved the answer (``answer_approved_by_id``: the
    approval that publishes the answer on the follow-up and transparency pages, so an
    officer has read the case by then), and redacted even so."""
    if case.answer_approved_by_id is None:
        return None
    return redact_case_text(case.subject, case) or None


# --- the folded copy ----------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if unicodedata.combining(ch):
        return ""
    return fold(ch) or " "


def _fold_map(text: str) -> tuple[str, list[int]]:
    """The folded text (one character or none per original one) and, for each folded
    character, the index of the original character it came from."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        piece = _fold_char(ch)
        out.append(piece)
        origin.extend([i] * len(piece))
    return "".join(out), origin


def _back(text: str, origin: list[int], start: int, end: int) -> tuple[int, int]:
    first, last = origin[start], origin[end - 1] + 1
    while last < len(text) and unicodedata.combining(text[last]):
        last += 1
    return first, last


def _folded_pattern(words: list[str]) -> re.Pattern[str]:
    return re.compile(_B + r"\s+".join(re.escape(w) for w in words) + _E)


# --- finders: each yields (start, end) spans of the original text -------------------------


def _regex_spans(pattern: re.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
    for m in pattern.finditer(text):
        yield m.span()


def _known_phone_spans(phones: Iterable[str], text: str) -> Iterator[tuple[int, int]]:
    for phone in phones:
        digits = re.sub(r"\D", "", phone)
        national = digits[2:] if digits.startswith("84") else digits.lstrip("0")
        if len(national) < 6:
            continue
        body = r"[ .\-]?".join(national)
        yield from _regex_spans(
            re.compile(rf"(?<!\d)(?:\(?\+?84\)?[ .\-]?|0[ .\-]?)?{body}(?!\d)"), text
        )


def _known_email_spans(emails: Iterable[str], text: str) -> Iterator[tuple[int, int]]:
    for email in emails:
        yield from _regex_spans(re.compile(re.escape(email.strip()), re.IGNORECASE), text)


def _starts_capitalised(text: str, index: int) -> bool:
    return index < len(text) and text[index].isupper()


def _known_name_spans(
    names: Iterable[str], text: str, folded: str, origin: list[int]
) -> Iterator[tuple[int, int]]:
    for name in names:
        words = fold(name).split()
        if not words:
            continue
        # The whole name in any case; its last two or more syllables, or a one-word name,
        # only when written with a capital (so "đi xô" is not taken for "Dí Xờ").
        tails = [(words[i:], i > 0 or len(words) == 1) for i in range(max(1, len(words) - 1))]
        for part, needs_capital in tails:
            for m in _folded_pattern(part).finditer(folded):
                start, end = _back(text, origin, *m.span())
                if not needs_capital or _starts_capitalised(text, start):
                    yield start, end


def _known_address_spans(
    addresses: Iterable[str], text: str, folded: str, origin: list[int]
) -> Iterator[tuple[int, int]]:
    for address in addresses:
        pieces = [address, *(p for p in re.split(r"[,;\n]", address) if re.search(r"\d", p))]
        for piece in pieces:
            words = fold(piece).split()
            if len(words) >= 2:
                for m in _folded_pattern(words).finditer(folded):
                    yield _back(text, origin, *m.span())


def _capitalised_run(text: str, pos: int) -> tuple[int, int] | None:
    """The run of capitalised words (a name) starting at ``pos`` after spaces and at most
    one colon; None when the first word is not a name."""
    m = re.compile(r"[ \t]*:?[ \t]*").match(text, pos)
    pos = m.end() if m else pos
    start = end = -1
    count = 0
    while count < _MAX_NAME_WORDS:
        word = _WORD.match(text, pos)
        if word is None:
            break
        w = word.group()
        if not _name_shaped(w):
            break
        if count == 0 and fold(w) in _TITLES:
            return None
        start = word.start() if count == 0 else start
        end, count = word.end(), count + 1
        gap = _GAP.match(text, end)
        if gap is None:
            break
        pos = gap.end()
    return (start, end) if count else None


def _name_shaped(word: str) -> bool:
    """Title Case ("Kiên") or a syllable in CAPITALS ("KIÊN", not "UBND")."""
    if not word[0].isupper():
        return False
    return not (len(word) > 1 and word.isupper()) or bool(_SYLLABLE.fullmatch(fold(word)))


def _is_in(word: str, accented: frozenset[str], ascii_only: frozenset[str]) -> bool:
    lower = word.lower()
    return lower in accented or (word.isascii() and lower in ascii_only)


def _name_words(text: str, pos: int) -> list[re.Match[str]]:
    """The name-shaped words from ``pos`` on, one space or tab apart (at most four)."""
    found: list[re.Match[str]] = []
    while len(found) < 4:
        word = _WORD.match(text, pos)
        if word is None or not _name_shaped(word.group()):
            break
        found.append(word)
        gap = _GAP.match(text, word.end())
        if gap is None:
            break
        pos = gap.end()
    return found


def _standing_name_spans(text: str) -> Iterator[tuple[int, int]]:
    previous = ""
    for word in _WORD.finditer(text):
        before, previous = previous, fold(word.group())
        if before in _PLACE_WORDS:
            continue
        run = _name_words(text, word.start())
        if len(run) < 2:
            continue
        words = [m.group() for m in run]
        if " ".join(fold(w) for w in words[:2]) in _KNOWN_PLACES or f"{before} {previous}" in (
            _KNOWN_PLACES
        ):
            continue
        capitals = all(w.isupper() for w in words)
        surname = _is_in(words[0], SURNAMES, _ASCII_SURNAMES)
        middle = (
            len(words) >= 3
            and _is_in(words[1], _MIDDLES, _ASCII_MIDDLES)
            and not _is_in(words[2], _NOT_AFTER_MIDDLE, _ASCII_NOT_AFTER_MIDDLE)
        )
        if (capitals and (surname or middle)) or middle:
            yield run[0].start(), run[-1].end()


def _honorific_name_spans(text: str) -> Iterator[tuple[int, int]]:
    for word in _WORD.finditer(text):
        w = word.group()
        lower = w.lower()
        if lower in HONORIFICS or (w.isascii() and lower in _ASCII_HONORIFICS):
            gap = _GAP.match(text, word.end())
            if gap is not None:
                run = _capitalised_run(text, gap.end())
                if run:
                    yield run


def _intro_name_spans(text: str, folded: str, origin: list[int]) -> Iterator[tuple[int, int]]:
    for m in _NAME_INTRO.finditer(folded):
        _, end = _back(text, origin, *m.span())
        run = _capitalised_run(text, end)
        if run:
            yield run


def _address_spans(text: str, folded: str, origin: list[int]) -> Iterator[tuple[int, int]]:
    for m in _FOLDED_ADDRESS.finditer(folded):
        yield _back(text, origin, *m.span())
    for m in _NUMBER_THEN_NAME.finditer(folded):
        if _DOCUMENT_WORDS.search(folded, 0, m.start()):
            continue
        start, end = _back(text, origin, *m.span())
        after = re.compile(r",?[ \t]+").match(text, end)
        if after is not None and _capitalised_run(text, after.end()):
            yield start, end


# --- putting it together ------------------------------------------------------------------


def _merge(spans: Iterable[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and (start <= merged[-1][1] or not text[merged[-1][1] : start].strip(" ,\t")):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def find_personal(text: str, known: Known = Known()) -> list[tuple[int, int]]:
    """The spans of ``text`` (NFC) that ``redact`` replaces, merged and sorted."""
    folded, origin = _fold_map(text)
    spans: list[tuple[int, int]] = []
    spans += _regex_spans(_EMAIL, text)
    spans += _known_email_spans(known.emails, text)
    spans += _known_phone_spans(known.phones, text)
    spans += _regex_spans(_PHONE, text)
    spans += _regex_spans(_ID_CARD, text)
    spans += _known_name_spans(known.names, text, folded, origin)
    spans += _known_address_spans(known.addresses, text, folded, origin)
    spans += _address_spans(text, folded, origin)
    spans += _honorific_name_spans(text)
    spans += _intro_name_spans(text, folded, origin)
    spans += _standing_name_spans(text)
    return _merge(spans, text)


def redact(text: str | None, known: Known = Known()) -> str:
    """``text`` with every piece of personal data replaced by ``PLACEHOLDER``."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    last = 0
    for start, end in find_personal(text, known):
        out += [text[last:start], PLACEHOLDER]
        last = end
    out.append(text[last:])
    return "".join(out)
