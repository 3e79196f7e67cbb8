"""The catalogue's marker for texts kept in Vietnamese where they are defined.

Labels such as a case's kind or status are stored, compared and logged in Vietnamese;
``N_`` returns them unchanged and only tells ``pybabel extract`` (``-k N_``) to put them in
the catalogue, so a page can show them in the reader's language with ``_(label)``.

A message with values (a refusal naming a case, a count, a date) is written the same way,
``N_("Hồ sơ %(code)s đã đóng.", code=code)``: it is the Vietnamese text filled in, as
before, and it also keeps its template and values, so ``translate`` can fill the English
template instead. Services raise and log it as the string it is; only the page that shows
it translates it. Pure: no Flask here, so the domain can use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, overload


class Said(str):
    """A message filled in from a marked template: the Vietnamese text, with the template
    and the values kept for translation. It compares, joins and stores as a plain str."""

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, values: Mapping[str, Any]) -> Said:
        said = super().__new__(cls, template % values)
        said.template = template
        said.values = dict(values)
        return said

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle keep the template
        return (Said, (self.template, self.values))


@overload
def N_(text: str, /) -> str: ...
@overload
def N_(text: str, /, **values: Any) -> Said: ...
def N_(text: str, /, **values: Any) -> str:
    """``text`` itself, or ``text % values`` remembering both; marked for translation
    where it is shown."""
    return Said(text, values) if values else text


def translate(message: str, lookup: Callable[[str], str]) -> str:
    """``message`` in the language of ``lookup`` (a catalogue's gettext): a filled-in
    ``Said`` is filled in again from the translated template, its text values translated
    too (a status or kind label passed as a value); anything else is looked up whole, and
    a text not in the catalogue (a typed note) comes back as it is."""
    if isinstance(message, Said):
        values = {
            key: translate(value, lookup) if isinstance(value, str) else value
            for key, value in message.values.items()
        }
        try:
            return lookup(message.template) % values
        except (KeyError, TypeError, ValueError):  # a broken translation: say it in Vietnamese
            return str.__str__(message)
    return lookup(message) if message else message
