"""The case state machine.

Every status change of a case is an event in an append-only timeline, so the set of legal
moves is spelled out here once, as a table, rather than scattered over views and services:
a move missing from ``TRANSITIONS`` is refused everywhere, with a message an officer can
read.
"""

from __future__ import annotations

from enum import StrEnum

from .marks import C_, N_


class Status(StrEnum):
    """Where a case is in its life."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING_CITIZEN = "waiting_citizen"
    ANSWERED = "answered"
    CLOSED = "closed"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    REOPENED = "reopened"
    MERGED = "merged"


class Action(StrEnum):
    """What staff (or the citizen) do to a case."""

    ACKNOWLEDGE = "acknowledge"
    START = "start"
    ASK_CITIZEN = "ask_citizen"
    CITIZEN_REPLY = "citizen_reply"
    TRANSFER = "transfer"
    ANSWER = "answer"
    CLOSE = "close"
    REOPEN = "reopen"
    REJECT = "reject"
    MERGE = "merge"


S = Status
A = Action

TRANSITIONS: dict[tuple[Status, Action], Status] = {
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
"""Every legal move: (from status, action) → to status. Anything else is refused."""

del S, A

STATUS_LABELS: dict[Status, str] = {
    Status.RECEIVED: N_("mới tiếp nhận"),
    Status.ACKNOWLEDGED: N_("đã xác nhận tiếp nhận"),
    Status.IN_PROGRESS: N_("đang xử lý"),
    Status.WAITING_CITIZEN: N_("chờ người dân bổ sung"),
    Status.ANSWERED: N_("đã trả lời"),
    Status.CLOSED: N_("đã đóng"),
    Status.REJECTED: N_("không tiếp nhận"),
    Status.TRANSFERRED: N_("đã chuyển"),
    Status.REOPENED: N_("mở lại"),
    Status.MERGED: N_("đã gộp"),
}

ACTION_LABELS: dict[Action, str] = {
    Action.ACKNOWLEDGE: N_("xác nhận tiếp nhận"),
    Action.START: N_("bắt đầu xử lý"),
    Action.ASK_CITIZEN: N_("đề nghị người dân bổ sung"),
    Action.CITIZEN_REPLY: N_("ghi nhận người dân bổ sung"),
    Action.TRANSFER: N_("chuyển"),
    Action.ANSWER: N_("trả lời"),
    Action.CLOSE: N_("đóng"),
    # The same word as the status «mở lại» (reopened): the action is told apart by context.
    Action.REOPEN: C_("action", "mở lại"),
    Action.REJECT: N_("từ chối tiếp nhận"),
    Action.MERGE: N_("gộp"),
}

TERMINAL_STATUSES: frozenset[Status] = frozenset({Status.REJECTED, Status.MERGED})
"""No action leaves these: a rejected or merged case is never worked again."""

OPEN_STATUSES: frozenset[Status] = frozenset(Status) - {
    Status.CLOSED,
    Status.REJECTED,
    Status.MERGED,
}
"""Cases still owed work (and watched by the SLA sweep)."""

ACKNOWLEDGED_STATUSES: frozenset[Status] = frozenset(Status) - {Status.RECEIVED}
"""Statuses that count as acknowledged for the 24-hour promise.

Only ``received`` is unacknowledged. A ``rejected`` case counts (the design says so), and
so does ``transferred``: whether it had been acknowledged before the transfer is not
knowable from the status alone; the timeline holds that.
"""


class InvalidTransition(ValueError):
    """A move the state machine does not allow; its message is for the officer."""

    def __init__(self, current: Status, action: Action) -> None:
        self.current = current
        self.action = action
        # Kept marked: ``str(exc)`` is the plain Vietnamese text, ``exc.message`` the
        # message a page can show in the reader's language (``translated``).
        self.message = N_(
            "Không thể «%(action)s» hồ sơ đang ở trạng thái «%(status)s».",
            action=ACTION_LABELS[action],
            status=STATUS_LABELS[current],
        )
        super().__init__(self.message)


def _as_status(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValueError(N_("Trạng thái không hợp lệ: %(value)s.", value=repr(value))) from None


def _as_action(value: Action | str) -> Action:
    try:
        return Action(value)
    except ValueError:
        raise ValueError(N_("Thao tác không hợp lệ: %(value)s.", value=repr(value))) from None


def next_status(current: Status | str, action: Action | str) -> Status:
    """The status after ``action``; raises InvalidTransition if the move is not allowed.

    Plain strings are accepted because statuses come from database rows and actions from
    form posts; an unknown value raises a plain ValueError.
    """
    status = _as_status(current)
    act = _as_action(action)
    try:
        return TRANSITIONS[(status, act)]
    except KeyError:
        raise InvalidTransition(status, act) from None


def allowed_actions(current: Status | str) -> frozenset[Action]:
    """The actions allowed from ``current`` (to show only the buttons that will work)."""
    status = _as_status(current)
    return frozenset(action for (source, action) in TRANSITIONS if source is status)
