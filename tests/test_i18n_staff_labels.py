"""Staff pages in English name the monitor's states, the letters' statuses and ways of
delivery, and the ladder's audiences in English (issue 15); Vietnamese stays the default."""

from __future__ import annotations

import html
from collections.abc import Callable

from flask.testing import FlaskClient


def text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return html.unescape(response.text)


def test_monitor_and_letters_labels(client: FlaskClient, login_as: Callable[..., str]) -> None:
    login_as("coordinator", "VP")
    assert "Trễ ngày đã hẹn" in text(client, "/thanh-tra/")
    monitor = text(client, "/thanh-tra/?lang=en")
    assert "Promised day missed" in monitor and "Due soon" in monitor
    assert "Trễ ngày đã hẹn" not in monitor and "Sắp đến hạn" not in monitor
    letters = text(client, "/can-bo/thu-xin-loi/")
    assert "Not issued yet" in letters and "Issued, not sent yet" in letters
    assert "Chưa ban hành" not in letters


def test_ladder_audiences(client: FlaskClient, login_as: Callable[..., str]) -> None:
    login_as("admin")
    assert "Lãnh đạo đơn vị xử lý" in text(client, "/quan-tri/chuyen-cap")
    page = text(client, "/quan-tri/chuyen-cap?lang=en")
    assert "the head of the handling unit" in page and "The lead unit" in page
    assert "lãnh đạo đơn vị xử lý" not in page.lower()
