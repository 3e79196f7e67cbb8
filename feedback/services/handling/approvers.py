"""Who approves a unit's answers (issue 16).

A unit's head approves. A unit without an active head (the environment company had none,
and its officers' drafts waited on nobody) is answered for by its named approver (a
``unit_approvers`` row: an account of that unit or a coordinator) or, when none is named
or the named account is inactive, by the coordinator. The permission table decides who
may act (``CaseFacts.head_absent``/``approver_id``); this module finds the facts, names
the approver on the draft form, and refuses a draft nobody could approve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, false, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ...domain.marks import N_
from ...domain.permissions import APPROVER_FALLBACK_ROLES, NAMED_APPROVER_ROLES
from ...extensions import db
from ...models import Case, Unit, User
from ...models.user import UnitApprover
from ..accounts import audit
from ..errors import NotFound, ValidationError


@dataclass(frozen=True)
class Approval:
    """Who approves the answers of one unit, and how to say it on the draft form."""

    head_absent: bool
    approver_id: int | None  # the named approver in a unit without a head
    users: tuple[User, ...]  # every account able to approve now (empty: nobody)

    @property
    def label(self) -> str:
        """The end of "Dự thảo sẽ được … phê duyệt"."""
        if not self.users:
            return N_("không ai")
        if not self.head_absent:
            names = ", ".join(u.display_name for u in self.users)
            return N_("lãnh đạo đơn vị (%(names)s)", names=names)
        if self.approver_id is not None:
            return N_(
                "%(name)s (người được giao phê duyệt thay lãnh đạo)",
                name=self.users[0].display_name,
            )
        return N_("Văn phòng HĐND-UBND (đơn vị chưa có lãnh đạo)")

    @property
    def role_label(self) -> str:
        """Who, by role, for the timeline ("trình … duyệt"): names change, roles stay."""
        return N_("lãnh đạo đơn vị") if not self.head_absent else self.label


def _active(role: str | tuple[str, ...]) -> ColumnElement[bool]:
    roles = (role,) if isinstance(role, str) else role
    return and_(User.active.is_(True), User.role.in_(roles))


def head_exists(unit_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """SQL: the unit has an active head (correlates with ``Case.handling_unit_id``)."""
    return exists(select(User.id).where(User.unit_id == unit_id, _active("unit_head")))


def approval_for(unit: Unit) -> Approval:
    heads = db.session.scalars(
        select(User).where(User.unit_id == unit.id, _active("unit_head")).order_by(User.id)
    ).all()
    if heads:
        return Approval(False, None, tuple(heads))
    named = db.session.get(UnitApprover, unit.code)
    if named is not None and named.user.active and _may_be_named(named.user, unit):
        return Approval(True, named.user_id, (named.user,))
    fallback = db.session.scalars(
        select(User).where(_active(APPROVER_FALLBACK_ROLES)).order_by(User.id)
    ).all()
    return Approval(True, None, tuple(fallback))


def _may_be_named(user: User, unit: Unit) -> bool:
    if user.role not in NAMED_APPROVER_ROLES:
        return False
    return user.role == "coordinator" or user.unit_id == unit.id


def require_approver(case: Case) -> Approval:
    """The unit's approval, refusing (in Vietnamese) when nobody could approve a draft."""
    found = approval_for(case.handling_unit)
    if not found.users:
        raise ValidationError(
            N_(
                "Đơn vị chưa có lãnh đạo và chưa có ai được giao phê duyệt, nên dự thảo sẽ "
                "không có người duyệt. Đề nghị Văn phòng HĐND-UBND chỉ định người phê duyệt "
                "cho đơn vị trước khi lưu dự thảo."
            ),
            {"body": N_("Chưa có người phê duyệt cho đơn vị.")},
        )
    return found


def approves_for(user: User) -> ColumnElement[bool]:
    """SQL on ``Case``: the cases whose answer ``user`` approves (the approval queue)."""
    no_head = not_(head_exists(Case.handling_unit_id))
    named = (
        select(UnitApprover.user_id)
        .join(Unit, Unit.code == UnitApprover.unit_code)
        .join(User, User.id == UnitApprover.user_id)
        .where(Unit.id == Case.handling_unit_id, User.active.is_(True))
        .correlate(Case)
    )
    conditions: list[ColumnElement[bool]] = []
    if user.role == "unit_head" and user.unit_id is not None:
        conditions.append(Case.handling_unit_id == user.unit_id)
    if user.role in NAMED_APPROVER_ROLES:
        mine = exists(named.where(UnitApprover.user_id == user.id))
        if user.role == "officer":
            mine = and_(mine, Case.handling_unit_id == user.unit_id)
        conditions.append(and_(no_head, mine))
    if user.role in APPROVER_FALLBACK_ROLES:
        conditions.append(and_(no_head, not_(exists(named))))
    return or_(*conditions) if conditions else false()


def set_approver(unit_code: str, username: str, *, actor: User, now: datetime) -> UnitApprover:
    """Name the approver of a unit without a head (empty ``username``: back to the
    coordinator). Audited through the audit log's hook on UnitApprover rows."""
    unit = db.session.scalar(
        select(Unit).where(Unit.code == unit_code, Unit.active.is_(True)).order_by(Unit.id.desc())
    )
    if unit is None:
        raise NotFound(N_("Không tìm thấy đơn vị."))
    row = db.session.get(UnitApprover, unit.code)
    name = (username or "").strip().lower()
    if not name:
        if row is not None:
            db.session.delete(row)
            db.session.flush()
        audit.record("unit_approver.clear", target=unit.code)
        return UnitApprover(unit_code=unit.code, user_id=0)
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None or not user.active or not _may_be_named(user, unit):
        raise ValidationError(
            N_("Người phê duyệt phải là cán bộ của chính đơn vị hoặc Văn phòng HĐND-UBND."),
            {"username": N_("Chọn một tài khoản trong danh sách.")},
        )
    if row is None:
        row = UnitApprover(unit_code=unit.code, user_id=user.id, set_by_id=actor.id, set_at=now)
        db.session.add(row)
    else:
        row.user_id, row.set_by_id, row.set_at = user.id, actor.id, now
    db.session.flush()
    audit.record("unit_approver.set", target=unit.code, details={"username": user.username})
    return row
