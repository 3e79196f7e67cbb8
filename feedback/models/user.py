"""Staff accounts and API tokens. Citizens have no account."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.marks import N_
from ..domain.permissions import STAFF_ROLES as ROLES
from ..domain.permissions import UNIT_BOUND_ROLES
from ..extensions import db
from .reference import Unit, in_list
from .types import UTCDateTime, utcnow

ROLE_LABELS = {
    "operator": N_("Điện thoại viên 1022"),
    "clerk": N_("Cán bộ mở hòm thư"),
    "coordinator": N_("Văn phòng HĐND-UBND (điều phối)"),
    "officer": N_("Cán bộ đơn vị"),
    "unit_head": N_("Lãnh đạo đơn vị"),
    "inspector": N_("Thanh tra thành phố"),
    "admin": N_("Quản trị hệ thống"),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_list("role", ROLES), name="role"),
        CheckConstraint(
            f"NOT ({in_list('role', UNIT_BOUND_ROLES)}) OR unit_id IS NOT NULL",
            name="unit_bound_role_has_unit",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Written into the signed session cookie at login (see ``get_id``); bumping it ends
    # every session issued before, because a cookie cannot be recalled from the browser.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    unit: Mapped[Unit | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session version, so the
        loader can refuse a cookie saved before a logout, password change or deactivation."""
        return f"{self.id}:{self.session_version}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored (tokens are 256-bit random). It works
    until ``expires_at`` unless ``revoked_at`` is set first: a leaked token is not forever."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class UnitApprover(db.Model):
    """Who approves a unit's answers while it has no active head (issue 16): an account of
    that unit or a coordinator, named by the coordinator or an admin. Keyed by the unit's
    code, not its row, so a reference pack that re-issues the unit keeps the setting. A
    unit with a head ignores this row: the head approves."""

    __tablename__ = "unit_approvers"

    unit_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
