"""The catalogue's marker for texts kept in Vietnamese where they are defined.

Labels such as a case's kind or status are stored, compared and logged in Vietnamese;
``N_`` returns them unchanged and only tells ``pybabel extract`` (``-k N_``) to put them in
the catalogue, so a page can show them in the reader's language with ``_(label)``. Pure:
no Flask here, so the domain can use it."""

from __future__ import annotations


def N_(text: str) -> str:
    """``text`` itself; marked for translation where it is shown."""
    return text
