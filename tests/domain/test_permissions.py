"""The permission table, role by role."""

from __future__ import annotations

import pytest

from feedback.domain.permissions import CaseFacts, Op, Subject, allowed, granted

CASE = CaseFacts(handling_unit_code="UBND-00688", kind="feedback", created_by_id=7)
DENUNCIATION = CaseFacts(handling_unit_code="TTR", kind="denunciation", created_by_id=None)


def who(role: str, unit: str | None = None, user_id: int = 1) -> Subject:
    return Subject(role=role, unit_code=unit, user_id=user_id)


def test_officer_works_only_own_unit() -> None:
    mine = who("officer", "UBND-00688")
    other = who("officer", "UBND-00691")
    assert allowed(mine, Op.DRAFT_ANSWER, CASE)
    assert not allowed(mine, Op.APPROVE_ANSWER, CASE)
    assert not allowed(mine, Op.ASSIGN, CASE)
    assert granted(other, CASE) == frozenset()


def test_unit_head_assigns_approves_and_closes_own_unit() -> None:
    head = who("unit_head", "UBND-00688")
    for op in (Op.ASSIGN, Op.APPROVE_ANSWER, Op.CLOSE, Op.REJECT, Op.DRAFT_ANSWER, Op.EXTEND):
        assert allowed(head, op, CASE)
    assert not allowed(head, Op.MERGE, CASE)
    assert granted(who("unit_head", "DL"), CASE) == frozenset()


def test_coordinator_triages_the_whole_city_but_does_not_answer() -> None:
    coordinator = who("coordinator", "VP")
    for op in (Op.ACKNOWLEDGE, Op.ROUTE, Op.TRANSFER, Op.REJECT, Op.MERGE, Op.CLOSE, Op.REOPEN):
        assert allowed(coordinator, op, CASE)
    assert not allowed(coordinator, Op.APPROVE_ANSWER, CASE)
    assert not allowed(coordinator, Op.DRAFT_ANSWER, CASE)
    assert not allowed(coordinator, Op.EXTEND, CASE)
    assert allowed(coordinator, Op.CLASSIFY, CASE)


def test_inspector_sees_everything_and_changes_nothing() -> None:
    inspector = who("inspector", "TTR")
    assert granted(inspector, CASE) == {Op.VIEW, Op.VIEW_IDENTITY, Op.NOTE, Op.LINK}
    assert allowed(inspector, Op.VIEW_IDENTITY, DENUNCIATION)


@pytest.mark.parametrize(
    "subject",
    [who("coordinator", "VP"), who("officer", "TTR"), who("unit_head", "TTR"), who("operator")],
    ids=["coordinator", "officer-TTR", "head-TTR", "operator"],
)
def test_only_inspectors_see_a_denouncer(subject: Subject) -> None:
    assert not allowed(subject, Op.VIEW_IDENTITY, DENUNCIATION)


def test_intake_staff_see_what_they_entered_only() -> None:
    assert granted(who("operator", user_id=7), CASE) == {Op.VIEW, Op.VIEW_IDENTITY}
    assert granted(who("clerk", "UBND-00688", user_id=8), CASE) == frozenset()


def test_admin_and_unknown_roles_get_nothing() -> None:
    assert granted(who("admin"), CASE) == frozenset()
    assert granted(who("visitor"), CASE) == frozenset()
