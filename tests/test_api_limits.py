"""The API under the citizen's limits (issue 13, finding 4).

An anonymous caller of the JSON API is a citizen: the same counters as the web form for
submissions (10 a minute, 100 a day per address), the same as the web look-up for every
use of an access key, and a daily quota of files per address; a case holds a bounded
number of files and bytes whoever adds them. Staff tokens keep their own limit. Limits are
off in the rest of the suite: these tests turn them on."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, png_bytes
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.i18n import HTTP_MESSAGES
from feedback.models import Attachment, User
from feedback.services.accounts.users import issue_token

CASE = {
    "kind": "feedback",
    "subject": "Ống nước vỡ trên đường Minh Khai",
    "body": "Ống nước vỡ, nước chảy tràn mặt đường từ sáng.",
    "category_code": "6.3d",
    "area_code": "00697",
    "reporter": {"anonymous": True},
}
TOO_MANY = HTTP_MESSAGES[429]


def _token(app: Flask, make_user: Any, role: str = "operator", unit: str = "VP") -> dict[str, str]:
    """Staff send their token from their own client (a cookie jar without the citizen's
    session: Flask-Login's strong session protection ignores a token beside a foreign
    session cookie)."""
    user_id, _ = make_user(role, unit_code=unit)
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def _web_case(page: str, n: int) -> dict[str, str]:
    """A valid public form, the n-th of a series (only filed cases count, issue 15)."""
    return {
        "csrf_token": csrf_from(page),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "subject": f"Nắp cống vỡ số {n}",
        "body": "Nắp cống trước nhà văn hoá tổ 3 bị vỡ, rất nguy hiểm khi trời tối.",
        "anonymous": "y",
    }


def _refused(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.mimetype == "application/json"
    assert response.json["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 86401


def _attachments(app: Flask) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count(Attachment.id))) or 0
        db.session.remove()
        return n


def _files(n: int, name: str = "anh") -> dict[str, Any]:
    return {"file": [(io.BytesIO(png_bytes()), f"{name}-{i}.png") for i in range(n)]}


def _upload(client: FlaskClient, code: str, key: str | None, n: int, **kwargs: Any) -> Any:
    headers = {"X-Access-Key": key} if key else {}
    headers.update(kwargs.pop("headers", {}))
    return client.post(
        f"/api/v1/cases/{code}/attachments",
        data=_files(n),
        headers=headers,
        content_type="multipart/form-data",
        **kwargs,
    )


class TestSharedCounters:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True}

    def test_the_defaults_are_the_web_forms(self, app: Flask) -> None:
        assert app.config["RATELIMIT_SUBMIT"] == "10/minute;100/day"
        assert app.config["RATELIMIT_LOOKUP"] == "20/minute"

    def test_ten_web_posts_and_one_api_post_in_a_minute_is_refused(
        self, app: Flask, client: FlaskClient, make_user: Any
    ) -> None:
        page = client.get("/gui").text
        for n in range(10):
            assert client.post("/gui", data=_web_case(page, n)).status_code == 302
        _refused(client.post("/api/v1/cases", json=CASE))
        # A staff token keeps its own limit; another address its own budget.
        assert (
            app.test_client()
            .post("/api/v1/cases", json=CASE, headers=_token(app, make_user))
            .status_code
            == 201
        )
        other = {"REMOTE_ADDR": "10.7.7.7"}
        assert client.post("/api/v1/cases", json=CASE, environ_base=other).status_code == 201

    def test_api_posts_use_up_the_web_forms_budget(self, client: FlaskClient) -> None:
        for _ in range(10):
            assert client.post("/api/v1/cases", json={}).status_code == 422  # refused, counted
        # A refused web form is no submission: only the one that would file a case is
        # refused, and shown again as typed (issue 15).
        assert client.post("/gui", data={}).status_code == 422
        refused = client.post("/gui", data=_web_case(client.get("/gui").text, 1))
        assert refused.status_code == 429 and "Nắp cống vỡ số 1" in refused.text

    def test_api_look_ups_share_the_web_look_ups_limit(
        self, app: Flask, client: FlaskClient, make_user: Any
    ) -> None:
        created = client.post("/api/v1/cases", json=CASE)
        code, key = created.json["code"], created.json["access_key"]
        for _ in range(19):
            assert (
                client.post("/tra-cuu", data={"code": code, "access_key": "x"}).status_code == 422
            )
        guess = client.get(f"/api/v1/cases/{code}", headers={"X-Access-Key": "AAAA-BBBB-CCCC-DDDD"})
        assert guess.status_code == 404  # the twentieth guess of the minute
        _refused(client.get(f"/api/v1/cases/{code}", headers={"X-Access-Key": key}))
        # Adding files with the key is a use of the key too.
        _refused(_upload(client, code, key, 1))
        assert client.post("/tra-cuu", data={"code": code, "access_key": key}).status_code == 429
        # Staff read the case with their token whatever the address has used.
        staff = _token(app, make_user, "officer", "CTN")
        assert app.test_client().get(f"/api/v1/cases/{code}", headers=staff).status_code == 200


class TestDailyCap:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_SUBMIT": "100/minute;3/day"}

    def test_the_daily_cap_holds_for_the_api(self, client: FlaskClient) -> None:
        page = client.get("/gui").text
        for n in range(2):
            assert client.post("/gui", data=_web_case(page, n)).status_code == 302
        assert client.post("/api/v1/cases", json=CASE).status_code == 201
        _refused(client.post("/api/v1/cases", json=CASE))


class TestCaseQuota:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"ATTACHMENT_CASE_MAX_COUNT": 3}

    def test_a_case_takes_so_many_files_whoever_sends_them(
        self, app: Flask, client: FlaskClient, make_user: Any
    ) -> None:
        created = client.post("/api/v1/cases", json=CASE)
        code, key = created.json["code"], created.json["access_key"]
        assert _upload(client, code, key, 2).status_code == 201
        full = _upload(client, code, key, 2)
        assert full.status_code == 413, full.text
        assert full.json["error"] == "case_attachments_full"
        assert "tối đa 3 tệp" in full.json["fields"]["file"]
        assert _attachments(app) == 2  # the refused request stored none of its files
        assert _upload(client, code, key, 1).status_code == 201
        staff = _token(app, make_user, "officer", "CTN")
        assert _upload(app.test_client(), code, None, 1, headers=staff).status_code == 413
        assert _attachments(app) == 3


class TestCaseBytes:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"ATTACHMENT_CASE_MAX_BYTES": 2 * len(png_bytes())}

    def test_a_case_takes_so_many_bytes(self, app: Flask, client: FlaskClient) -> None:
        created = client.post("/api/v1/cases", json=CASE)
        code, key = created.json["code"], created.json["access_key"]
        assert _upload(client, code, key, 2).status_code == 201
        full = _upload(client, code, key, 1)
        assert full.status_code == 413 and "dung lượng" in full.json["message"]
        assert _attachments(app) == 2


class TestDailyUploadQuota:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True, "ATTACHMENT_DAILY_MAX_COUNT": 4}

    def test_an_address_sends_so_many_files_a_day(
        self, app: Flask, client: FlaskClient, make_user: Any
    ) -> None:
        # Two files with a case sent through the web form count too.
        page = client.get("/gui")
        sent = client.post(
            "/gui",
            data={
                "csrf_token": csrf_from(page.text),
                "kind": "feedback",
                "category_code": "6.3b",
                "area_code": "00694",
                "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
                "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
                "reporter_name": "Trần Thị Bình",
                "reporter_phone": "0912000111",
                "attachments": [(io.BytesIO(png_bytes()), f"den-{i}.png") for i in range(2)],
            },
            content_type="multipart/form-data",
        )
        assert sent.status_code == 302, sent.text
        created = client.post("/api/v1/cases", json=CASE)
        code, key = created.json["code"], created.json["access_key"]
        wrong = _upload(client, code, "AAAA-BBBB-CCCC-DDDD", 2)
        assert wrong.status_code == 404  # refused: costs nothing
        assert _upload(client, code, key, 2).status_code == 201
        over = _upload(client, code, key, 1)
        _refused(over)
        assert over.json["error"] == "upload_quota_exceeded"
        assert "ngày" in over.json["fields"]["file"]
        assert _attachments(app) == 4
        # Another address, and staff tokens, are not held by this address's quota.
        assert (
            _upload(client, code, key, 1, environ_base={"REMOTE_ADDR": "10.8.8.8"}).status_code
            == 201
        )
        staff = _token(app, make_user, "officer", "CTN")
        assert _upload(app.test_client(), code, None, 1, headers=staff).status_code == 201
