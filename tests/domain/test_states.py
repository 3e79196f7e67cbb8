"""The case state machine: exactly the listed moves, nothing else."""

from __future__ import annotations

import itertools

import pytest

from feedback.domain.states import (
    ACKNOWLEDGED_STATUSES,
    ACTION_LABELS,
    OPEN_STATUSES,
    STATUS_LABELS,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Action,
    InvalidTransition,
    Status,
    allowed_actions,
    next_status,
)

S = Status
A = Action

# Written out independently of the module, so that adding, removing or changing a move
# there fails here.
EXPECTED: dict[tuple[Status, Action], Status] = {
    (S.RECEIVED, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.RECEIVED, A.REJECT): S.REJECTED,
    (S.RECEIVED, A.TRANSFER): S.TRANSFERRED,
    (S.RECEIVED, A.MERGE): S.MERGED,
    (S.ACKNOWLEDGED, A.START): S.IN_PROGRESS,
    (S.ACKNOWLEDGED, A.ASK_CITIZEN): S.WAITING_CITIZEN,
    (S.ACKNOWLEDGED, A.ANSWER): S.ANSWERED,
    (S.ACKNOWLEDGED, A.TRANSFER): S.TRANSFERRED,
    (S.ACKNOWLEDGED, A.REJECT): S.REJECTED,
    (S.ACKNOWLEDGED, A.MERGE): S.MERGED,
    (S.IN_PROGRESS, A.ASK_CITIZEN): S.WAITING_CITIZEN,
    (S.IN_PROGRESS, A.ANSWER): S.ANSWERED,
    (S.IN_PROGRESS, A.TRANSFER): S.TRANSFERRED,
    (S.IN_PROGRESS, A.REJECT): S.REJECTED,
    (S.IN_PROGRESS, A.MERGE): S.MERGED,
    (S.WAITING_CITIZEN, A.CITIZEN_REPLY): S.IN_PROGRESS,
    (S.WAITING_CITIZEN, A.ANSWER): S.ANSWERED,
    (S.WAITING_CITIZEN, A.REJECT): S.REJECTED,
    (S.WAITING_CITIZEN, A.CLOSE): S.CLOSED,
    (S.TRANSFERRED, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.TRANSFERRED, A.START): S.IN_PROGRESS,
    (S.TRANSFERRED, A.TRANSFER): S.TRANSFERRED,
    (S.TRANSFERRED, A.REJECT): S.REJECTED,
    (S.TRANSFERRED, A.MERGE): S.MERGED,
    (S.ANSWERED, A.CLOSE): S.CLOSED,
    (S.ANSWERED, A.REOPEN): S.REOPENED,
    (S.CLOSED, A.REOPEN): S.REOPENED,
    (S.REOPENED, A.START): S.IN_PROGRESS,
    (S.REOPENED, A.ASK_CITIZEN): S.WAITING_CITIZEN,
    (S.REOPENED, A.ANSWER): S.ANSWERED,
    (S.REOPENED, A.TRANSFER): S.TRANSFERRED,
}

ALL_PAIRS = list(itertools.product(Status, Action))
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def test_table_is_exactly_the_listed_moves() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(
    ("current", "action", "target"),
    [pytest.param(s, a, t, id=f"{s}-{a}") for (s, a), t in EXPECTED.items()],
)
def test_allowed_transition(current: Status, action: Action, target: Status) -> None:
    assert next_status(current, action) is target
    assert next_status(str(current), str(action)) is target  # plain strings from rows/forms
    assert action in allowed_actions(current)


@pytest.mark.parametrize(
    ("current", "action"), [pytest.param(s, a, id=f"{s}-{a}") for s, a in FORBIDDEN]
)
def test_forbidden_transition(current: Status, action: Action) -> None:
    with pytest.raises(InvalidTransition) as caught:
        next_status(current, action)
    assert caught.value.current is current
    assert caught.value.action is action
    assert action not in allowed_actions(current)


def test_every_pair_is_either_allowed_or_forbidden() -> None:
    assert len(EXPECTED) + len(FORBIDDEN) == len(Status) * len(Action)


@pytest.mark.parametrize("status", [Status.REJECTED, Status.MERGED])
def test_terminal_states_allow_nothing(status: Status) -> None:
    assert allowed_actions(status) == frozenset()
    assert status in TERMINAL_STATUSES


def test_terminal_statuses_are_exactly_those_without_moves() -> None:
    assert {s for s in Status if not allowed_actions(s)} == TERMINAL_STATUSES


def test_invalid_transition_message_is_vietnamese() -> None:
    with pytest.raises(InvalidTransition) as caught:
        next_status(Status.CLOSED, Action.ANSWER)
    assert str(caught.value) == "Không thể «trả lời» hồ sơ đang ở trạng thái «đã đóng»."
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("current", "action"),
    [
        pytest.param("archived", "close", id="unknown-status"),
        pytest.param("received", "fly", id="unknown-action"),
    ],
)
def test_unknown_values_raise_value_error(current: str, action: str) -> None:
    with pytest.raises(ValueError, match="không hợp lệ") as caught:
        next_status(current, action)
    assert not isinstance(caught.value, InvalidTransition)


def test_labels_cover_every_value() -> None:
    assert set(STATUS_LABELS) == set(Status)
    assert set(ACTION_LABELS) == set(Action)
    assert all(STATUS_LABELS.values())
    assert all(ACTION_LABELS.values())


def test_open_and_acknowledged_sets() -> None:
    assert frozenset(Status) - OPEN_STATUSES == {Status.CLOSED, Status.REJECTED, Status.MERGED}
    assert frozenset(Status) - ACKNOWLEDGED_STATUSES == {Status.RECEIVED}
    assert Status.REJECTED in ACKNOWLEDGED_STATUSES


def test_allowed_actions_accepts_strings() -> None:
    assert allowed_actions("closed") == frozenset({Action.REOPEN})
