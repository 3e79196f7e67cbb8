"""The dashboard's monthly rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class FigureMonth(db.Model):
    """The dashboard's figures of one local month, so a year at national scale is read
    as twelve rows rather than a million cases (``feedback.services.oversight.figures``).

    Holds only what does not move with the clock (receipts, acknowledgements, answers,
    ratings, apologies); "overdue now" is always counted live. Database triggers on
    ``cases`` and ``apology_letters`` set ``dirty`` whenever a change touches the month,
    whatever path wrote it; a rebuild clears ``dirty`` *before* it reads, so a change
    that lands during the rebuild leaves the month dirty again.
    """

    __tablename__ = "figure_months"
    __table_args__ = (CheckConstraint("month LIKE '____-__'", name="month_format"),)

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    dirty: Mapped[bool] = mapped_column(default=True)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
