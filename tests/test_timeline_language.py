"""Timeline notes in the reader's language (issue 15): a note made from a marked template
is stored in Vietnamese, as every note is, and shown in English on an English page; a note
typed by staff stays as typed, marked as Vietnamese for screen readers."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.marks import N_
from feedback.extensions import db
from feedback.models import Case, CaseEvent
from feedback.services.handling.events import record


def test_a_marked_note_is_shown_translated_and_stored_in_vietnamese(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    make_case: Callable[..., str],
) -> None:
    code = make_case()
    with app.app_context(), unit_of_work():
        case = db.session.scalars(select(Case).where(Case.code == code)).one()
        now = datetime.now(UTC)
        record(
            case,
            "note",
            user=None,
            now=now,
            note=N_("Đã liên kết với hồ sơ %(code)s.", code="HG-X"),
        )
        record(case, "note", user=None, now=now, note="Đã gọi điện cho người dân.")
    with app.app_context():
        stored = db.session.scalars(
            select(CaseEvent.note).join(Case).where(Case.code == code).order_by(CaseEvent.id)
        ).all()
        assert stored[-2:] == ["Đã liên kết với hồ sơ HG-X.", "Đã gọi điện cho người dân."]
    login_as("inspector")
    vietnamese = html.unescape(client.get(f"/can-bo/ho-so/{code}").text)
    assert "Đã liên kết với hồ sơ HG-X." in vietnamese
    english = client.get(f"/can-bo/ho-so/{code}?lang=en").text
    assert "Linked to case HG-X." in english
    assert "Đã liên kết" not in html.unescape(english)
    assert '<span lang="vi">Đã gọi điện cho người dân.</span>' in html.unescape(english)
    assert "<strong>Citizen</strong>" in english
