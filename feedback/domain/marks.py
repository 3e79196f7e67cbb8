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


class InContext(str):
    """A label that means something else elsewhere ("mở lại": the action, to reopen, and
    the status, reopened): its ``context`` tells the catalogue which one (msgctxt)."""

    context: str

    def __new__(cls, context: str, text: str) -> InContext:
        labelled = super().__new__(cls, text)
        labelled.context = context
        return labelled

    def __reduce__(self) -> tuple[Any, ...]:
        return (InContext, (self.context, str.__str__(self)))


def C_(context: str, text: str) -> str:
    """``text`` itself, marked for the catalogue under ``context`` (``-k C_:1c,2``)."""
    return InContext(context, text)


_CONTEXT_GLUE = "\x04"  # how a .mo file keys an entry with a context: "context\x04msgid"


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
    if isinstance(message, InContext):
        key = f"{message.context}{_CONTEXT_GLUE}{str.__str__(message)}"
        found = lookup(key)
        return str.__str__(message) if found == key else found
    return lookup(message) if message else message
