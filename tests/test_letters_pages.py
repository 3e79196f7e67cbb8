"""The apology letters page in pages (issue 17): it listed every obligation of the user at
once (3.5 s at a million cases); it now shows a page at a time, oldest first, and the next
page continues after the last letter shown (a cursor, so a deep page costs what the first
does). Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import staff_client
from sqlalchemy import insert, select

from feedback.extensions import db
from feedback.models import ApologyLetter, Case
from feedback.views import letters as letters_view

NOW = datetime.now(UTC).replace(microsecond=0)


def _letters(app: Flask, make_case: Callable[..., str]) -> list[int]:
    """Five letters, two owed since the same moment (the id breaks the tie), the third
    issued; their ids in the list's order."""
    codes = [make_case() for _ in range(5)]
    since = [NOW - timedelta(days=d) for d in (5, 4, 4, 2, 1)]
    with app.app_context():
        ids = dict(db.session.execute(select(Case.code, Case.id).where(Case.code.in_(codes))).all())
        db.session.execute(
            insert(ApologyLetter),
            [
                {
                    "case_id": ids[code],
                    "status": "issued" if n == 2 else "owed",
                    "owed_since": at,
                    "late_by_seconds": 3600,
                }
                for n, (code, at) in enumerate(zip(codes, since, strict=True))
            ],
        )
        db.session.commit()
        rows = db.session.execute(
            select(ApologyLetter.id).order_by(ApologyLetter.owed_since, ApologyLetter.id)
        )
        return list(rows.scalars())


def _walk(client: FlaskClient, url: str) -> list[list[int]]:
    """Follow the "next" links from ``url``; the letter ids of each page."""
    pages: list[list[int]] = []
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        pages.append([int(i) for i in re.findall(r'<tr data-letter="(\d+)"', page.text)])
        found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = html.unescape(found.group(1)) if found else ""
        if len(pages) > 1:
            assert 'rel="first"' in page.text
    return pages


def test_the_letters_come_a_page_at_a_time(
    app: Flask,
    make_case: Callable[..., str],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(letters_view, "PAGE_SIZE", 2)
    ids = _letters(app, make_case)
    client = staff_client(app, make_user, "coordinator", "VP")
    assert _walk(client, "/can-bo/thu-xin-loi/") == [ids[0:2], ids[2:4], ids[4:5]]
    # The filter stays in the links; exactly a page's worth: no empty page after it.
    owed = [i for n, i in enumerate(ids) if n != 2]
    monkeypatch.setattr(letters_view, "PAGE_SIZE", 4)
    assert _walk(client, "/can-bo/thu-xin-loi/?trang_thai=owed") == [owed]
    monkeypatch.setattr(letters_view, "PAGE_SIZE", 2)
    assert _walk(client, "/can-bo/thu-xin-loi/?trang_thai=owed") == [owed[0:2], owed[2:4]]


@pytest.mark.parametrize("cursor", ["abc", "1.2.3", ".1", "-99999999999999999.1"])
def test_a_bad_cursor_is_a_422_with_a_message(
    app: Flask, make_user: Callable[..., Any], cursor: str
) -> None:
    client = staff_client(app, make_user, "coordinator", "VP")
    page = client.get(f"/can-bo/thu-xin-loi/?sau={cursor}")
    assert page.status_code == 422
    assert "Vị trí trang không hợp lệ" in page.text
