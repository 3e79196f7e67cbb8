"""English as a second language (issue 15): no template text escapes translation, and the
English catalogue is complete and compiled.

- A template that is finished holds no Vietnamese outside marked strings: ``_('…')``,
  ``gettext('…')``, ``{% trans %}…{% endtrans %}``, comments, and elements that say they are
  Vietnamese (``lang="vi"``: the language switch's "Tiếng Việt"). Vietnamese is recognised
  by its letters (đ and the vowels with diacritics); names from the data (units, areas,
  categories) come through variables and are not in the templates.
- Every string extracted from the code and the templates (``babel.cfg``) has a non-empty,
  non-fuzzy English entry in ``messages.po``, with the same placeholders, and the compiled
  ``messages.mo`` says the same as the ``.po`` (nobody forgot ``pybabel compile``).

The templates not yet translated are listed in ``NOT_YET_TRANSLATED``; the test also fails
when one of them has been finished (no Vietnamese left) but is still listed, so the list
only shrinks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
CATALOGUE = ROOT / "feedback" / "translations" / "en" / "LC_MESSAGES"

NOT_YET_TRANSLATED: frozenset[str] = frozenset()
"""Templates still written in Vietnamese only (issue 15: work in progress, to be emptied)."""

VIETNAMESE = re.compile(
    "[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ]"
)
MARKED = (
    re.compile(r"\{#.*?#\}", re.S),  # comments
    re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S),
    re.compile(r"""\b(?:_|gettext|ngettext|lazy_gettext)\(\s*(['"])(?:\\.|(?!\1).)*\1""", re.S),
    re.compile(r"""<(\w+)[^>]*\blang=(['"])vi\2[^>]*>.*?</\1>""", re.S),
)


def unmarked(text: str) -> list[str]:
    """The lines of ``text`` that still hold Vietnamese once marked strings are removed."""
    for pattern in MARKED:
        text = pattern.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), 1)
        if VIETNAMESE.search(line)
    ]


def _templates() -> list[str]:
    return sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("name", [n for n in _templates() if n not in NOT_YET_TRANSLATED])
def test_template_has_no_unmarked_vietnamese(name: str) -> None:
    found = unmarked((TEMPLATES / name).read_text(encoding="utf-8"))
    assert not found, f"{name}: Vietnamese outside _() / trans:\n" + "\n".join(found)


def test_the_list_of_untranslated_templates_only_shrinks() -> None:
    done = [n for n in NOT_YET_TRANSLATED if not unmarked((TEMPLATES / n).read_text("utf-8"))]
    missing = [n for n in NOT_YET_TRANSLATED if not (TEMPLATES / n).exists()]
    assert not done, f"translated now, take them off NOT_YET_TRANSLATED: {sorted(done)}"
    assert not missing, f"no such template: {missing}"


def test_the_scan_sees_unmarked_text() -> None:
    """The scan itself: marked text passes, the same text unmarked does not."""
    assert unmarked("<p>{{ _('Tra cứu') }}</p>{% trans %}Gửi{% endtrans %}{# ghi chú #}") == []
    assert unmarked('<strong lang="vi">Tiếng Việt</strong> <a>English</a>') == []
    assert unmarked("<p>Tra cứu</p>") == ["1: <p>Tra cứu</p>"]
    assert unmarked("{{ 'Thứ Hai' if x }}") == ["1: {{ 'Thứ Hai' if x }}"]


def _extracted() -> dict[tuple[str | None, str], list[str]]:
    """(msgctxt, msgid) → where it was found, from the code and templates that babel.cfg
    names; a label in context (``C_("action", "mở lại")``) is its own entry."""
    method_map = [("feedback/**.py", "python"), ("templates/**.html", "jinja2")]
    found: dict[tuple[str | None, str], list[str]] = {}
    keywords = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "N_": None}
    keywords |= {"ngettext": (1, 2), "pgettext": ((1, "c"), 2), "C_": ((1, "c"), 2)}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords, options_map={"templates/**.html": {}}
    ):
        if filename.startswith(("tests", ".venv")):
            continue
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault((context, msgid), []).append(filename)
    return found


PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}")


def test_every_marked_string_has_an_english_translation() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        po = read_po(handle, locale="en")
    entries = {(m.context, m.id): m for m in po if m.id}
    problems = []
    for (context, msgid), where in sorted(
        _extracted().items(), key=lambda i: (i[0][0] or "", i[0][1])
    ):
        entry = entries.get((context, msgid))
        if entry is None:
            problems.append(f"missing: {msgid!r} ({where[0]})")
        elif not entry.string or entry.fuzzy:
            problems.append(f"empty or fuzzy: {msgid!r} ({where[0]})")
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(entry.string)):
            problems.append(f"placeholders differ: {msgid!r} → {entry.string!r}")
        elif VIETNAMESE.search(entry.string):
            problems.append(f"still Vietnamese: {msgid!r} → {entry.string!r}")
    assert not problems, f"{len(problems)} catalogue problems (pybabel update?):\n" + "\n".join(
        problems
    )


def test_the_compiled_catalogue_matches_the_po() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        po = {(m.context, m.id): m.string for m in read_po(handle, locale="en") if m.id}
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        mo = {(m.context, m.id): m.string for m in read_mo(handle) if m.id}
    assert mo == po, "messages.mo is stale: run pybabel compile -d feedback/translations"
