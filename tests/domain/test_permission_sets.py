"""Who sees what, defined once: every role set and kind set is what the rules say, and none
is defined anywhere but feedback/domain/permissions.py (issue 12)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import feedback
from feedback.domain import permissions as p
from feedback.domain.permissions import (
    CaseFacts,
    Op,
    Subject,
    granted,
    may_read_batch,
    roles_holding,
)

PACKAGE = Path(feedback.__file__).parent
HOME = PACKAGE / "domain" / "permissions.py"
# Migrations keep frozen copies of what they need, so that an old revision never changes.
FROZEN = PACKAGE / "migrations"

# Names that end like a role or kind set but are about something else.
UNRELATED = {
    "SUCCESSION_KINDS": "how reference rows succeed one another (area, unit), not case kinds",
}

ROLE_SETS = [name for name in dir(p) if name.endswith("_ROLES")]
KIND_SETS = [name for name in dir(p) if name.endswith("_KINDS")]


def test_the_rules() -> None:
    assert p.STAFF_ROLES == (
        "operator",
        "clerk",
        "coordinator",
        "officer",
        "unit_head",
        "inspector",
        "admin",
    )
    assert set(p.UNIT_BOUND_ROLES) == {"officer", "unit_head", "clerk"}
    assert set(p.CITYWIDE_ROLES) == {"coordinator", "inspector"}
    assert set(p.UNIT_ROLES) == {"officer", "unit_head"}
    assert set(p.INTAKE_ROLES) == {"operator", "clerk"}
    assert set(p.CASE_READER_ROLES) == set(p.STAFF_ROLES) - {"admin"}
    assert set(p.ON_BEHALF_ROLES) == {"operator", "clerk", "coordinator"}
    assert set(p.HOTLINE_ROLES) == {"operator", "coordinator"}
    assert set(p.IMPORT_ROLES) == {"operator", "coordinator"}
    assert set(p.ALL_BATCHES_ROLES) == {"coordinator"}
    assert set(p.OPEN311_POST_ROLES) == {"operator", "coordinator"}
    assert set(p.BOX_REGISTER_ROLES) == {"admin", "coordinator"}
    assert set(p.BOX_CITYWIDE_ROLES) == {"admin", "coordinator", "inspector"}
    assert set(p.BOX_READER_ROLES) == {"clerk", "coordinator", "inspector", "admin"}
    assert set(p.BOX_OPENER_ROLES) == {"clerk", "coordinator"}
    assert set(p.OPENING_READER_ROLES) == {"clerk", "coordinator", "inspector"}
    assert set(p.BOX_CORRECTOR_ROLES) == {"coordinator"}
    assert set(p.BOX_UNIT_ROLES) == {"clerk", "officer", "unit_head"}
    assert set(p.LETTER_ROLES) == {"coordinator", "inspector", "officer", "unit_head"}
    assert set(p.LETTER_ISSUER_ROLES) == {"coordinator", "unit_head"}
    assert set(p.SEARCH_ROLES) == set(p.CASE_READER_ROLES)
    assert set(p.OVERSIGHT_ROLES) == {"inspector", "coordinator"}
    assert set(p.REPORT_ROLES) == {"inspector", "coordinator", "officer", "unit_head"}

    assert p.CASE_KINDS == ("feedback", "petition", "suggestion", "complaint", "denunciation")
    assert set(p.PUBLIC_KINDS) == {"feedback", "petition", "suggestion"}
    assert set(p.HIDDEN_KINDS) == {"complaint", "denunciation"}
    assert set(p.CONFIDENTIAL_KINDS) == {"denunciation"}


@pytest.mark.parametrize("name", ROLE_SETS)
def test_each_role_set_names_known_roles_once(name: str) -> None:
    roles = getattr(p, name)
    assert isinstance(roles, tuple) and roles, name
    assert set(roles) <= set(p.STAFF_ROLES), name
    assert len(set(roles)) == len(roles), name


def test_the_kinds_split_into_public_and_hidden_and_confidential_is_hidden() -> None:
    assert set(p.PUBLIC_KINDS) | set(p.HIDDEN_KINDS) == set(p.CASE_KINDS)
    assert not set(p.PUBLIC_KINDS) & set(p.HIDDEN_KINDS)
    assert set(p.CONFIDENTIAL_KINDS) <= set(p.HIDDEN_KINDS)
    for name in KIND_SETS:
        assert set(getattr(p, name)) <= set(p.CASE_KINDS), name


def test_the_visibility_sets_are_the_permission_tables() -> None:
    """Each role of CITYWIDE/UNIT/INTAKE sees exactly what the table grants it."""
    assert set(p.CASE_READER_ROLES) == set(roles_holding(Op.VIEW, roles=p.STAFF_ROLES))
    groups = (p.CITYWIDE_ROLES, p.UNIT_ROLES, p.INTAKE_ROLES)
    assert sorted(r for g in groups for r in g) == sorted(p.CASE_READER_ROLES)  # a partition
    others = CaseFacts(handling_unit_code="TP", kind="feedback", created_by_id=99)
    own_unit = CaseFacts(handling_unit_code="DV", kind="feedback", created_by_id=99)
    own_entry = CaseFacts(handling_unit_code="TP", kind="feedback", created_by_id=1)
    for role in p.STAFF_ROLES:
        me = Subject(role, "DV", 1)
        sees = {
            name: Op.VIEW in granted(me, facts)
            for name, facts in (("others", others), ("unit", own_unit), ("entry", own_entry))
        }
        if role in p.CITYWIDE_ROLES:
            assert sees == {"others": True, "unit": True, "entry": True}, role
        elif role in p.UNIT_ROLES:
            assert sees == {"others": False, "unit": True, "entry": False}, role
        elif role in p.INTAKE_ROLES:
            assert sees == {"others": False, "unit": False, "entry": True}, role
        else:
            assert not any(sees.values()), role
    # Link and letter rules follow from the table too.
    assert set(roles_holding(Op.LINK, roles=p.STAFF_ROLES)) == set(p.LETTER_ROLES)
    assert set(p.ON_BEHALF_ROLES) >= set(p.INTAKE_ROLES)


def test_a_batch_is_read_by_its_uploader_and_the_coordinator() -> None:
    assert may_read_batch("operator", 7, 7)
    assert not may_read_batch("operator", 7, 8)
    assert not may_read_batch("operator", 7, None)
    assert may_read_batch("coordinator", 1, 8) and may_read_batch("coordinator", 1, None)
    for role in ("clerk", "officer", "unit_head", "inspector", "admin"):
        assert not may_read_batch(role, 7, 7), role


def test_the_models_check_the_domains_sets() -> None:
    from feedback.models import case, reference, user

    assert user.ROLES is p.STAFF_ROLES
    assert user.UNIT_BOUND_ROLES is p.UNIT_BOUND_ROLES
    assert reference.CASE_KINDS is p.CASE_KINDS
    assert case.CASE_KINDS is p.CASE_KINDS


# --- defined once ---------------------------------------------------------------------------


def _strings(nodes: list[ast.expr]) -> list[str] | None:
    if all(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in nodes):
        return [n.value for n in nodes]  # type: ignore[attr-defined]
    return None


def _literal_set(node: ast.AST, names: frozenset[str], at_least: int) -> bool:
    """A tuple, list or set literal of ``at_least`` or more of ``names`` and nothing else."""
    if not isinstance(node, ast.Tuple | ast.List | ast.Set):
        return False
    values = _strings(node.elts)
    return values is not None and len(values) >= at_least and set(values) <= names


def offences(source: str) -> list[str]:
    """Where ``source`` defines a role or kind set of its own."""
    roles, kinds = frozenset(p.STAFF_ROLES), frozenset(p.CASE_KINDS)
    tree = ast.parse(source)
    found: list[str] = []
    for statement in tree.body:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        for target in targets:
            if (
                isinstance(target, ast.Name)
                and target.id.endswith(("_ROLES", "_KINDS"))
                and target.id not in UNRELATED
            ):
                found.append(f"line {statement.lineno}: {target.id} defined")
        # Any module-level collection of role names, whatever it is called, even of one.
        for node in ast.walk(value):
            if _literal_set(node, roles, 1) or _literal_set(node, kinds, 1):
                found.append(f"line {statement.lineno}: module-level literal set of roles/kinds")
    for node in ast.walk(tree):
        # Anywhere: a literal of two or more roles or kinds ("officer", "unit_head") ...
        if _literal_set(node, roles, 2) or _literal_set(node, kinds, 2):
            found.append(f"line {node.lineno}: literal set of roles/kinds")  # type: ignore[attr-defined]
        # ... or a route gate naming two or more roles one by one: @roles("a", "b").
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "roles"
            and len(node.args) >= 2
        ):
            values = _strings(node.args)
            if values is not None and set(values) <= roles:
                found.append(f"line {node.lineno}: @roles with a literal list of roles")
    return sorted(set(found))


def test_the_walk_finds_what_it_looks_for() -> None:
    """The checker below is not vacuous: each form of a second definition is caught."""
    assert offences('UNIT_ROLES = ("officer", "unit_head")\n')
    assert offences('EXCLUDED_KINDS = ("denunciation",)\n')
    assert offences('READERS = ("clerk", "coordinator")\n')
    assert offences('CORRECTORS = frozenset({"coordinator"})\n')
    assert offences('def f(r):\n    return r in {"officer", "unit_head"}\n')
    assert offences('def f(k):\n    return k not in ("complaint", "denunciation")\n')
    assert offences('@roles("inspector", "coordinator")\ndef view():\n    pass\n')
    assert not offences("from x import UNIT_ROLES\nTHRESHOLD = 0.35\n")
    assert not offences('@roles("admin")\ndef view():\n    pass\n')
    assert not offences('def f(r):\n    return r == "coordinator"\n')
    # What is let through by name is truly something else.
    assert not offences('SUCCESSION_KINDS = ("area", "unit")\n')
    from feedback.models import reference

    for name in UNRELATED:
        values = set(getattr(reference, name))
        assert not values & (set(p.STAFF_ROLES) | set(p.CASE_KINDS)), name


def test_every_role_and_kind_set_is_defined_once_in_the_domain() -> None:
    problems: list[str] = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert HOME in modules
    for path in modules:
        if path == HOME or FROZEN in path.parents:
            continue
        for offence in offences(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(PACKAGE.parent)} {offence}")
    assert problems == [], "define it in feedback/domain/permissions.py:\n" + "\n".join(problems)
