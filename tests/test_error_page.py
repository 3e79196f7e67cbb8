"""The error page shows a message made in Python in the reader's language, and a message
holding a "%" (a figure, a quoted text) without crashing (Jinja's ``_()`` %-formats)."""

from __future__ import annotations

from flask import Flask, render_template
from flask.testing import FlaskClient


def test_a_message_with_a_percent_sign_is_shown_as_it_is(app: Flask) -> None:
    with app.test_request_context("/"):
        html = render_template("errors/error.html", status=422, message="Tỷ lệ 100% là sai.")
    assert "Tỷ lệ 100% là sai." in html


def test_a_known_message_is_translated(client: FlaskClient) -> None:
    english = client.get("/khong-co-trang-nay", query_string={"lang": "en"})
    assert english.status_code == 404
    assert "Không tìm thấy trang" not in english.text
    assert "Không tìm thấy trang" in client.get("/khong-co-trang-nay?lang=vi").text


def test_a_staff_page_asked_in_english_sends_to_an_english_login(client: FlaskClient) -> None:
    response = client.get("/can-bo/?lang=en")
    assert response.status_code == 302
    assert "lang=en" in response.headers["Location"]
    login = client.get(response.headers["Location"])
    assert login.status_code == 200 and '<html lang="en"' in login.text
    # An unknown language is not passed on.
    assert "lang=" not in client.get("/can-bo/?lang=xx").headers["Location"].split("?", 1)[1]
