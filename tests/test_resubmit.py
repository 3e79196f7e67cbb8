"""The citizen's form sent twice files one case (issue 13, "Reliability under lock and
retry"): a one-time token rendered into the form; the same token and content twice give
the same case and the same success page, a new form (or changed content) a new case; the
stored answer holds the access key only sealed."""

from __future__ import annotations

import html
import re
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import Case, IdempotencyKey

SUBJECT = "Cống thoát nước tổ 7 bị tắc"
BODY = "Cống thoát nước trước nhà số 12 tổ 7 bị tắc, nước tràn ra đường mỗi khi mưa."


def hidden(page_html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page_html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page_html
    )
    assert match, f"no {name} in the page"
    return match.group(1)


def form_data(page_html: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_from(page_html),
        "submission_token": hidden(page_html, "submission_token"),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "address": "Số 12, tổ 7",
        "subject": SUBJECT,
        "body": BODY,
        "reporter_name": "Lê Thị Hoa",
        "reporter_phone": "0912 345 678",
        "reporter_email": "",
    } | fields


def code_from(response: Any) -> str:
    assert response.status_code == 302, response.text
    match = re.search(r"/gui/da-nhan/([A-Z0-9-]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def by_testid(page: str, name: str) -> str | None:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', page, re.S)
    return html.unescape(match.group(1)).strip() if match else None


def count_cases(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Case.id))) or 0


def test_the_same_form_sent_twice_files_one_case_and_shows_the_same_page(
    app: Flask, client: FlaskClient
) -> None:
    before = count_cases(app)
    page = client.get("/gui")
    data = form_data(page.text)
    assert len(data["submission_token"]) >= 16
    cookie = client.get_cookie("session")
    assert cookie is not None
    first = client.post("/gui", data=data)
    code = code_from(first)
    shown = client.get(first.headers["Location"]).text
    key = by_testid(shown, "access-key")
    assert key and by_testid(shown, "repeated") is None

    # The answer was lost on the way: the browser still has the cookie it had, and the
    # citizen presses "Gửi" again on the same page.
    client.set_cookie("session", cookie.value)
    second = client.post("/gui", data=data)
    assert code_from(second) == code
    again = client.get(second.headers["Location"]).text
    assert by_testid(again, "case-code") == code
    assert by_testid(again, "access-key") == key  # the page the citizen never saw
    assert by_testid(again, "repeated")
    assert count_cases(app) == before + 1

    # The key works, and rests only sealed.
    lookup = client.get("/tra-cuu")
    found = client.post(
        "/tra-cuu", data={"csrf_token": csrf_from(lookup.text), "code": code, "access_key": key}
    )
    assert found.status_code == 303
    with app.app_context():
        (stored,) = db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.scope == "web"))
        assert stored.response_body.startswith("sealed:")
        assert key not in stored.response_body and key.replace("-", "") not in stored.response_body
        assert data["submission_token"] not in stored.key

    # A new form is a new case; so is the same form with its text changed (Back, edit).
    other = client.post("/gui", data=form_data(client.get("/gui").text))
    assert code_from(other) != code
    edited = client.post("/gui", data=data | {"subject": "Cống thoát nước tổ 8 bị tắc"})
    assert code_from(edited) not in {code, code_from(other)}
    assert count_cases(app) == before + 3


def test_a_form_without_a_token_still_files_its_case(app: Flask, client: FlaskClient) -> None:
    before = count_cases(app)
    data = form_data(client.get("/gui").text)
    for token in ("", "<script>", "x" * 300):
        code_from(client.post("/gui", data=data | {"submission_token": token}))
    assert count_cases(app) == before + 3


def test_a_refused_form_keeps_its_token(client: FlaskClient) -> None:
    page = client.get("/gui")
    data = form_data(page.text, subject="")
    refused = client.post("/gui", data=data)
    assert refused.status_code == 422
    assert hidden(refused.text, "submission_token") == data["submission_token"]


def test_two_concurrent_posts_of_one_form_file_one_case(app: Flask, client: FlaskClient) -> None:
    twins = 3
    before = count_cases(app)
    page = client.get("/gui")
    data = form_data(page.text)
    cookie = client.get_cookie("session")
    assert cookie is not None
    codes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(twins)

    def post() -> None:
        twin = app.test_client()
        twin.set_cookie("session", cookie.value)
        start.wait()
        try:
            codes.append(code_from(twin.post("/gui", data=data)))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(twins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(codes) == twins and len(set(codes)) == 1
    assert count_cases(app) == before + 1
