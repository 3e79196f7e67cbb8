"""The breach monitor's filters and paging, checked once for the page, the API and the
dashboard (whose figures the same filters narrow; the monitor's own filter on the
escalation level, ``escalated``, is not one of them: a figure of cases received in a
period does not depend on how high an open case has climbed today)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from ...domain.marks import N_
from ...domain.permissions import CASE_KINDS
from ...models import CHANNELS, Area, Case, Category, Unit
from ..errors import ValidationError
from ..params import Page, choice_params, page_of, reference_params

OVERDUE, AT_RISK, MISSED, ALL = "overdue", "at_risk", "missed", "all"
STATES = (OVERDUE, AT_RISK, MISSED, ALL)
STATE_LABELS = {
    OVERDUE: N_("Quá hạn"),
    AT_RISK: N_("Sắp đến hạn"),
    MISSED: N_("Trễ ngày đã hẹn"),
    ALL: N_("Tất cả"),
}
FILTERS = ("unit", "kind", "channel", "area", "category", "state")
ESCALATED = "escalated"  # the monitor's: escalation level at least N
MAX_ESCALATION_LEVEL = 20
PAGING = ("page", "per_page")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Filters:
    """A checked set of filters; the same ones narrow the dashboard's figures."""

    unit: Unit | None = None
    kind: str | None = None
    channel: str | None = None
    area: Area | None = None
    category: Category | None = None
    state: str = ALL
    escalated: int | None = None  # the monitor only: cases.escalation_level >= N

    def conditions(self) -> list[ColumnElement[bool]]:
        """On ``Case`` columns only, so ``figures.summarise(where=...)`` can take them."""
        found: list[ColumnElement[bool]] = []
        for column, row in (
            (Case.handling_unit_id, self.unit),
            (Case.area_id, self.area),
            (Case.category_id, self.category),
        ):
            if row is not None:
                found.append(column == row.id)
        if self.kind is not None:
            found.append(Case.kind == self.kind)
        if self.channel is not None:
            found.append(Case.channel == self.channel)
        return found

    def monitor_conditions(self) -> list[ColumnElement[bool]]:
        """``conditions`` and the monitor's own filter on the escalation level."""
        found = self.conditions()
        if self.escalated is not None:
            found.append(Case.escalation_level >= self.escalated)
        return found

    def params(self, *, state: bool = True) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        found = {
            name: row.code
            for name, row in (("unit", self.unit), ("area", self.area), ("category", self.category))
            if row is not None
        }
        found.update({k: v for k, v in (("kind", self.kind), ("channel", self.channel)) if v})
        if state and self.state != ALL:
            found["state"] = self.state
        if self.escalated is not None:
            found[ESCALATED] = str(self.escalated)
        return found


def _escalated(text: str, errors: dict[str, str]) -> int | None:
    if not text:
        return None
    try:
        level = int(text)
    except ValueError:
        level = 0
    if not 1 <= level <= MAX_ESCALATION_LEVEL:
        errors[ESCALATED] = N_(
            "Bậc chuyển cấp là số nguyên từ 1 đến %(n)s.", n=MAX_ESCALATION_LEVEL
        )
        return None
    return level


def parse_filters(args: Mapping[str, str], *, monitor: bool = False) -> Filters:
    """Check the known parameters (others are ignored); every bad one is named at once.
    ``escalated`` is read for the monitor only."""
    given = {name: (args.get(name) or "").strip() for name in FILTERS}
    errors: dict[str, str] = {}
    found: dict[str, Any] = reference_params(given, errors)
    choices = (("kind", CASE_KINDS), ("channel", CHANNELS), ("state", STATES))
    found.update(choice_params(given, choices, errors))
    if monitor:
        found[ESCALATED] = _escalated((args.get(ESCALATED) or "").strip(), errors)
    if errors:
        raise ValidationError(N_("Bộ lọc không hợp lệ."), errors)
    return Filters(**found)


def parse_request(
    args: Mapping[str, str], *, default_per_page: int = DEFAULT_PER_PAGE
) -> tuple[Filters, Page]:
    """The filters and the page (``page``, ``per_page`` from 1 to ``MAX_PER_PAGE``); every
    bad parameter is named at once."""
    errors: dict[str, str] = {}
    page = page_of(
        args, per_page_default=default_per_page, per_page_max=MAX_PER_PAGE, errors=errors
    )
    try:
        filters = parse_filters(args, monitor=True)
    except ValidationError as exc:
        raise ValidationError(exc.message, exc.fields | errors) from None
    if errors:
        raise ValidationError(N_("Tham số phân trang không hợp lệ."), errors)
    return filters, page
