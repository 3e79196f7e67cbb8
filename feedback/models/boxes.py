"""The suggestion-box register and each opening of a box."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .reference import Area, Unit, in_list
from .types import UTCDateTime, utcnow


class SuggestionBox(db.Model):
    """A hòm thư góp ý at a ward/commune office or a village/residential-group house."""

    __tablename__ = "suggestion_boxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    location: Mapped[str] = mapped_column(String(300))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    opener_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    area: Mapped[Area] = relationship()
    opener_unit: Mapped[Unit] = relationship()


class BoxOpening(db.Model):
    __tablename__ = "box_openings"
    __table_args__ = (
        CheckConstraint("letter_count >= 0", name="letter_count_nonnegative"),
        CheckConstraint(in_list("status", ("open", "closed")), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    box_id: Mapped[int] = mapped_column(ForeignKey("suggestion_boxes.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    witnesses: Mapped[str] = mapped_column(Text)  # one name per line; at least two
    letter_count: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    box: Mapped[SuggestionBox] = relationship()
