"""The one parser of query parameters and paging, for the pages, the JSON API and Open311.

Every list of the service is paged, filtered by codes and bounded by dates, and each used
to read its own parameters; they disagreed on what a bad value was, and one forgot to
bound an integer (``?trang=99999999999999999999`` reached the database as an OFFSET it
cannot hold: a 500). Here a bad value is always a ValidationError that names the
parameter in Vietnamese, so the caller answers 4xx (422 on a page or the API, 400 in
Open311), never 500.

The functions read any mapping of parameters: werkzeug's ``request.args`` (a MultiDict),
``request.args.to_dict(flat=False)`` (name → list of values) or a plain dict. They raise
at once, or, given an ``errors`` dict, add to it and return the default, so a form can
name every bad parameter in one answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..domain.codes import CODE
from ..domain.marks import N_, Said
from ..extensions import db
from ..models import Area, Category, Unit
from .errors import ValidationError

MAX_PAGE = 1_000_000
"""No list is that long; a bigger page number is a typo or a probe."""
_INT = re.compile(r"[0-9]{1,18}")  # ASCII digits only: int() would take "５" and "1_0"

Args = Mapping[str, Any]


@dataclass(frozen=True)
class Page:
    """A checked page request: ``number`` from 1, ``size`` rows per page."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIGNED_CURSOR = re.compile(r"(-?[0-9]{1,18})\.([0-9]{1,18})")
_UNSIGNED_CURSOR = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})")
INVALID = N_("Tham số không hợp lệ.")


def sentence(clause: str, **values: Any) -> str:
    """A parameter's problem as its field shows it, ``clause`` and a full stop. The clause
    is kept apart (a marked template with its values) so ``invalid`` can name it in its
    summary without the stop and the summary is still translated."""
    return N_("%(text)s.", text=N_(clause, **values) if values else clause)


CURSOR_MESSAGE = sentence(N_("Vị trí trang không hợp lệ"))


def cursor_of(moment: datetime, row_id: int) -> str:
    """A keyset pager's ``sau``: the last row's sort time (microseconds since 1970) and id,
    so the next page starts after that pair whatever was added before it."""
    return f"{(moment - _EPOCH) // timedelta(microseconds=1)}.{row_id}"


def cursor_param(
    value: str | None, errors: dict[str, str], *, signed: bool = True
) -> tuple[datetime, int] | None:
    """``sau`` read back (None when absent); anything but what ``cursor_of`` writes goes
    into ``errors`` under ``sau``. ``signed=False`` refuses times before 1970 (a page of
    answers, which none has)."""
    if not value:
        return None
    pattern = _SIGNED_CURSOR if signed else _UNSIGNED_CURSOR
    match = pattern.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError
        return _EPOCH + timedelta(microseconds=int(match[1])), int(match[2])
    except (ValueError, OverflowError):
        errors["sau"] = CURSOR_MESSAGE
        return None


def pages(total: int, per_page: int) -> int:
    """How many pages ``total`` rows fill (at least one, so "page 1 of 1" when empty)."""
    return max(1, -(-total // max(1, per_page)))


def values(args: Args, name: str) -> list[str]:
    """Every value given for ``name``, whatever the mapping."""
    if hasattr(args, "getlist"):
        return [str(v) for v in args.getlist(name)]
    given = args.get(name)
    if given is None:
        return []
    return [str(v) for v in given] if isinstance(given, list | tuple) else [str(given)]


def text_param(args: Args, name: str) -> str:
    """The first value of ``name``, stripped; empty when not given."""
    found = values(args, name)
    return found[0].strip() if found else ""


def _without_stop(text: str) -> str:
    """``text`` without its full stop: the clause of a ``sentence``, still translatable; a
    message written otherwise is cut as it is (and stays Vietnamese in a summary)."""
    if isinstance(text, Said) and text.template == "%(text)s.":
        clause: str = text.values["text"]
        return clause
    return text.rstrip(".")


def _clause(name: str, text: str) -> str:
    return N_("%(name)s: %(problem)s", name=name, problem=_without_stop(text))


def _joined(clauses: list[str]) -> str:
    if len(clauses) <= 1:
        return clauses[0] if clauses else ""
    return N_("%(first)s; %(rest)s", first=clauses[0], rest=_joined(clauses[1:]))


def invalid(fields: Mapping[str, str], message: str = INVALID) -> ValidationError:
    """One refusal naming every bad parameter, in the message as well as in ``fields``
    (an Open311 client or an error page shows only the message)."""
    named = _joined([_clause(name, text) for name, text in fields.items()])
    if message == INVALID:
        summary = N_("Tham số không hợp lệ (%(named)s).", named=named)
    else:
        summary = N_("%(message)s (%(named)s).", message=_without_stop(message), named=named)
    return ValidationError(summary, dict(fields))


def _refuse(errors: dict[str, str] | None, name: str, message: str) -> None:
    if errors is None:
        raise invalid({name: message})
    errors[name] = message


def int_param(
    args: Args,
    name: str,
    *,
    default: int,
    low: int,
    high: int,
    errors: dict[str, str] | None = None,
) -> int:
    """An integer from ``low`` to ``high`` written in ASCII digits; ``default`` when absent."""
    text = text_param(args, name)
    if not text:
        return default
    if not _INT.fullmatch(text) or not low <= int(text) <= high:
        _refuse(
            errors,
            name,
            sentence(N_("Phải là số nguyên từ %(low)s đến %(high)s"), low=low, high=high),
        )
        return default
    return int(text)


def page_of(
    args: Args,
    *,
    per_page_default: int,
    per_page_max: int | None = None,
    page_name: str = "page",
    size_name: str = "per_page",
    errors: dict[str, str] | None = None,
) -> Page:
    """The page asked for. Without ``per_page_max`` the size is fixed (the parameter
    ``size_name`` is not read)."""
    number = int_param(args, page_name, default=1, low=1, high=MAX_PAGE, errors=errors)
    size = per_page_default
    if per_page_max is not None:
        size = int_param(
            args, size_name, default=per_page_default, low=1, high=per_page_max, errors=errors
        )
    return Page(number, size)


def csv_param(args: Args, name: str, *, limit: int | None = None) -> list[str]:
    """Comma-separated values, from every occurrence of ``name`` (``a,b&name=c``)."""
    found = [v.strip() for raw in values(args, name) for v in raw.split(",") if v.strip()]
    if limit is not None and len(found) > limit:
        raise invalid({name: sentence(N_("Tối đa %(limit)s giá trị mỗi lần"), limit=limit)})
    return found


def date_param(args: Args, name: str, *, errors: dict[str, str] | None = None) -> date | None:
    """A calendar day written YYYY-MM-DD, from year 2000 to 2100."""
    text = text_param(args, name)
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2100:
        _refuse(errors, name, sentence(N_("Ngày không hợp lệ (định dạng YYYY-MM-DD)")))
        return None
    return day


def datetime_param(
    args: Args, name: str, *, errors: dict[str, str] | None = None
) -> datetime | None:
    """A moment in ISO 8601 / W3C form with its offset (never guessed), in UTC."""
    text = text_param(args, name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 40 else None
        if moment is None or moment.tzinfo is None or not 2000 <= moment.year <= 2100:
            raise ValueError
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        _refuse(
            errors, name, sentence(N_("Phải theo W3C, có múi giờ, ví dụ 2024-01-01T00:00:00+07:00"))
        )
        return None


REFERENCES: tuple[tuple[str, type[Unit] | type[Area] | type[Category], str], ...] = (
    ("unit", Unit, sentence(N_("Không có đơn vị mã này"))),
    ("area", Area, sentence(N_("Không có xã, phường mã này"))),
    ("category", Category, sentence(N_("Không có lĩnh vực mã này"))),
)
"""The reference filters every list offers, with what a wrong code is told."""


def reference_params(given: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The unit, area and category rows named by their codes in ``given`` (one stripped
    value per name). Only a well-formed code is looked up: PostgreSQL refuses NUL bytes
    outright. A code that names nothing is added to ``errors``."""
    found: dict[str, Any] = {}
    for name, model, message in REFERENCES:
        code = given.get(name)
        if not code:
            continue
        row = (
            db.session.scalar(select(model).where(model.code == code))
            if CODE.fullmatch(code.upper())
            else None
        )
        if row is None:
            errors[name] = message
        found[name] = row
    return found


def choice_params(
    given: Mapping[str, str],
    choices: tuple[tuple[str, tuple[str, ...]], ...],
    errors: dict[str, str],
) -> dict[str, str]:
    """The values of ``given`` that must be one of a fixed list (kind, channel, status…)."""
    found: dict[str, str] = {}
    for name, allowed in choices:
        value = given.get(name)
        if not value:
            continue
        if value in allowed:
            found[name] = value
        else:
            errors[name] = sentence(
                N_("Giá trị phải là một trong: %(allowed)s"), allowed=", ".join(allowed)
            )
    return found
