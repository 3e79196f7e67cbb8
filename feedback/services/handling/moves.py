"""Moving a case and recording what happened: the core every case action is built on.

``move`` applies one transition of the state machine with a conditional UPDATE on the
expected status (two officers acting at once cannot both win) and appends its event with
``events.record``, which actions without a move call directly.
``require`` checks the permission table and ``checked_text`` the free text an action needs.
The actions themselves live in ``actions`` (staff) and ``followup`` (the citizen).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from ...domain.marks import N_
from ...domain.permissions import Op
from ...domain.states import OPEN_STATUSES, Action, InvalidTransition, Status, next_status
from ...extensions import db
from ...models import Case, CaseEvent, User
from ..errors import Conflict, Forbidden, ValidationError
from .deadlines import recompute
from .events import record
from .visibility import ops_for

MIN_REASON = 5
OPEN = {s.value for s in OPEN_STATUSES}


class InvalidMove(Conflict):
    code = "invalid_transition"


NO_RIGHT = N_("Ông/bà không có quyền thực hiện thao tác này với hồ sơ.")


def require(user: User, case: Case, op: Op) -> None:
    if op not in ops_for(user, case):
        raise Forbidden(NO_RIGHT)


def checked_text(
    value: str | None,
    field: str,
    label: str,
    minimum: int = MIN_REASON,
    *,
    heading: str | None = None,
) -> str:
    """The trimmed text, or a refusal naming it: ``label`` inside a sentence ("Cần nhập
    lý do chuyển."), ``heading`` at its start ("Lý do chuyển quá dài."). The caller marks
    both with N_, so the refusal reads in the page's language; without a heading the
    label is capitalised, which only Vietnamese shows."""
    text = (value or "").strip()
    heading = heading or label.capitalize()
    if len(text) < minimum:
        field_message = N_(
            "%(heading)s (ít nhất %(minimum)s ký tự).", heading=heading, minimum=minimum
        )
        raise ValidationError(N_("Cần nhập %(label)s.", label=label), {field: field_message})
    if len(text) > 10000:
        raise ValidationError(
            N_("%(heading)s quá dài.", heading=heading), {field: N_("Tối đa 10.000 ký tự.")}
        )
    return text


def move(
    case: Case,
    action: Action,
    *,
    user: User | None,
    now: datetime,
    note: str,
    public: bool,
    data: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    label: str | None = None,
) -> CaseEvent:
    """Apply one transition: refuse what the state machine refuses, and lose no race."""
    current = Status(case.status)
    try:
        target = next_status(current, action)
    except InvalidTransition as exc:
        raise InvalidMove(exc.message) from None  # marked: the page translates it
    values = dict(values or {})
    resumes = current is Status.WAITING_CITIZEN and case.waiting_since is not None
    if resumes:
        # Leaving the wait, however it ends (the citizen's reply, an answer, a closure):
        # deadlines.derive credits the pause from "paused_since".
        data = {**(data or {}), "paused_since": case.waiting_since.isoformat()}
        values["waiting_since"] = None
    result = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == current.value)
        .values(status=target.value, updated_at=now, next_sla_check_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            N_("Hồ sơ vừa được người khác cập nhật; vui lòng tải lại trang rồi thử lại.")
        )
    db.session.refresh(case)
    event = record(
        case,
        action.value,
        user=user,
        now=now,
        note=note,
        public=public,
        data=data,
        from_status=current.value,
        to_status=target.value,
        label=label,
    )
    if resumes:
        recompute(case, now, N_("kết thúc thời gian chờ người dân bổ sung"))
    return event
