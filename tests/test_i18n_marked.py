"""Every refusal and every flash can be read in English (issue 15).

A refusal (``raise SomeError("…")``) and a flash are what a member of staff reads when the
service says no or yes; written as a bare Vietnamese literal or f-string, they stay
Vietnamese on an English page. This reads the package's source: the message of every
``raise`` (and the texts of its ``fields``) and of every ``flash`` must be marked
(``N_``, ``_``, ``gettext``, ``lazy_gettext``) or come from elsewhere (a variable, an
exception's message), and a flash of an exception's message must go through
``translated``. Not read: what no page shows — the command line (``cli.py``, which speaks
both languages itself) and the services only it calls (backup, demo data), a gateway's
failure kept in the outbox's log (``sla/channels.py``) — and the migrations, which are
history.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "feedback"
VIETNAMESE = re.compile(
    "[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ]"
)
MARKERS = {"N_", "_", "gettext", "lazy_gettext", "_l", "translated", "translated_fields"}
NOT_READ = (
    "cli.py",
    "migrations",
    "services/backup.py",
    "services/demo.py",
    "services/sla/channels.py",
)


def _name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _unmarked(node: ast.AST) -> list[ast.AST]:
    """The Vietnamese literals under ``node`` that no marker call wraps."""
    if isinstance(node, ast.Call) and _name(node) in MARKERS:
        return []
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) and VIETNAMESE.search(node.value) else []
    return [found for child in ast.iter_child_nodes(node) for found in _unmarked(child)]


def _untranslated_message(node: ast.AST) -> bool:
    """``exc.message`` (or ``exc.fields…``) shown without ``translated``."""
    if isinstance(node, ast.Call) and _name(node) in MARKERS:
        return False
    if isinstance(node, ast.Attribute) and node.attr in {"message", "fields"}:
        return True
    return any(_untranslated_message(child) for child in ast.iter_child_nodes(node))


def problems(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            if _name(node.exc) == "ClickException":
                continue
            texts = [*node.exc.args, *(k.value for k in node.exc.keywords)]
            for literal in (hit for text in texts for hit in _unmarked(text)):
                found.append(f"{where}:{literal.lineno}: raise with {literal.value!r:.70}")  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and _name(node) == "flash" and node.args:
            message = node.args[0]
            for literal in _unmarked(message):
                found.append(f"{where}:{literal.lineno}: flash of {literal.value!r:.70}")  # type: ignore[attr-defined]
            if _untranslated_message(message):
                found.append(f"{where}:{node.lineno}: flash of a message not translated")
    return found


def test_every_refusal_and_flash_is_marked() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if str(relative).startswith(NOT_READ):
            continue
        found += problems(path.read_text(encoding="utf-8"), str(relative))
    assert not found, f"{len(found)} texts an English page cannot show:\n" + "\n".join(found)


def test_the_reading_sees_what_it_must() -> None:
    bad = """
raise Conflict(f"Hồ sơ {code} đã đóng.")
raise ValidationError("Sai.", {"day": "Ngày không hợp lệ."})
flash("Đã lưu.", "ok")
flash(exc.message, "error")
"""
    good = """
raise Conflict(N_("Hồ sơ %(code)s đã đóng.", code=code))
raise ValidationError(N_("Sai."), {"day": N_("Ngày không hợp lệ.")})
raise click.ClickException("Lệnh sai.")
flash(gettext("Đã lưu."), "ok")
flash(translated(exc.message), "error")
flash(message, "ok")
"""
    assert len(problems(bad, "bad")) == 5, problems(bad, "bad")
    assert problems(good, "good") == []
