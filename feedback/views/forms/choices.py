"""Choice lists for forms, read from the reference data."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import Category, Dimension
from ...services.oversight.metrics import category_label
from ...services.reference.areas import areas_in_force

# Lazy: the lists are built per request, the words follow the reader's language.
NO_CATEGORY = ("", _l("— Chưa rõ lĩnh vực (cơ quan sẽ phân loại) —"))
NO_AREA = ("", _l("— Không rõ / không gắn với địa bàn —"))


def category_groups(*, staff: bool = False) -> dict[str, list[tuple[str, str]]]:
    """Categories grouped by PAPI dimension, as WTForms optgroups: in the citizen's words
    on public forms, and for staff (``staff``) named as the figures and tables name them
    (metrics.category_label), so a filter and the table it filters agree."""
    groups: dict[str, list[tuple[str, str]]] = {}
    rows = db.session.execute(
        select(Category, Dimension)
        .join(Dimension, Category.dimension_id == Dimension.id)
        .order_by(Category.sort_order)
    ).all()
    for cat, dim in rows:
        label = category_label(cat.code, cat.name) if staff else f"{cat.code} – {cat.citizen_label}"
        groups.setdefault(f"{dim.code}. {dim.name}", []).append((cat.code, label))
    return groups


def category_choices() -> dict[str, list[tuple[str, str]]]:
    return {"": [NO_CATEGORY], **category_groups()}


def area_choices(at: datetime | None = None) -> list[tuple[str, str]]:
    """The areas in force at ``at`` (now by default): an area a reference pack retired is
    no longer offered for a case received after the change."""
    return [NO_AREA, *((a.code, a.name) for a in areas_in_force(at or datetime.now(UTC)))]
