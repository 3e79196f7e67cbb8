"""Files added after entry: the hotline desk's attachment and the API's upload endpoint."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import EXE, csrf_from, png_bytes
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.i18n import LOCAL_TZ
from feedback.models import Attachment, Case
from feedback.services.accounts.users import issue_token


def _count(app: Flask) -> int:
    from feedback.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count(Attachment.id))) or 0


def test_hotline_call_with_a_photo(app: Flask, client: FlaskClient, login_as: Any) -> None:
    login_as("operator", "VP")
    page = client.get("/can-bo/1022/")
    fields = {
        "csrf_token": csrf_from(page.text),
        "caller_phone": "0912345678",
        "call_started_at": (datetime.now(LOCAL_TZ) - timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
        "kind": "feedback",
        "category": "6.3b",
        "area_code": "00688",
        "subject": "Cây đổ chắn đường tổ 7",
        "body": "Cây đổ chắn ngang đường tổ 7 sau cơn mưa, xe không qua được.",
        "action": "save",
    }
    bad = client.post(
        "/can-bo/1022/",
        data={**fields, "attachments": (io.BytesIO(EXE), "anh.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "không phải ảnh" in bad.text
    assert _count(app) == 0
    good = client.post(
        "/can-bo/1022/",
        data={**fields, "attachments": (io.BytesIO(png_bytes()), "cay-do.png")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 200, good.text
    from feedback.extensions import db

    with app.app_context():
        att = db.session.scalars(select(Attachment)).one()
        assert att.case is not None and att.case.channel == "hotline"
        assert att.content_type == "image/png" and att.original_name == "cay-do.png"


def _api_case(client: FlaskClient) -> tuple[str, str]:
    response = client.post(
        "/api/v1/cases",
        json={
            "kind": "feedback",
            "subject": "Ống nước vỡ trên đường Minh Khai",
            "body": "Ống nước vỡ, nước chảy tràn mặt đường từ sáng.",
            "category_code": "6.3d",
            "area_code": "00697",
            "reporter": {"anonymous": True},
        },
    )
    assert response.status_code == 201, response.text
    return response.json["code"], response.json["access_key"]


def test_citizen_adds_evidence_with_the_access_key(app: Flask, client: FlaskClient) -> None:
    code, key = _api_case(client)
    url = f"/api/v1/cases/{code}/attachments"
    upload = {"file": (io.BytesIO(png_bytes()), "ong-vo.png")}
    assert client.post(url, data=upload, content_type="multipart/form-data").status_code == 404
    wrong = client.post(
        url,
        data={"file": (io.BytesIO(png_bytes()), "a.png")},
        headers={"X-Access-Key": "AAAA-BBBB-CCCC-DDDD"},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 404
    bad = client.post(
        url,
        data={"file": (io.BytesIO(EXE), "a.png")},
        headers={"X-Access-Key": key},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.json["error"] == "validation_failed"
    assert "file" in bad.json["fields"]
    assert _count(app) == 0
    good = client.post(
        url,
        data={"file": (io.BytesIO(png_bytes()), "ong-vo.png")},
        headers={"X-Access-Key": key},
        content_type="multipart/form-data",
    )
    assert good.status_code == 201, good.text
    assert good.json["attachments"][0]["content_type"] == "image/png"
    from feedback.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None and [e.action for e in case.events][-1] == "attach"
        assert case.events[-1].public


def test_staff_token_must_see_the_case(app: Flask, client: FlaskClient, make_user: Any) -> None:
    code, _ = _api_case(client)  # 6.3d → CTN
    from feedback.extensions import db
    from feedback.models import User

    tokens = {}
    for unit in ("CTN", "DL"):
        user_id, _ = make_user("officer", unit_code=unit)
        with app.app_context(), unit_of_work():
            tokens[unit] = issue_token(db.session.get(User, user_id), datetime.now(LOCAL_TZ))
    url = f"/api/v1/cases/{code}/attachments"
    for unit, status in (("DL", 404), ("CTN", 201)):
        response = client.post(
            url,
            data={"file": (io.BytesIO(png_bytes()), "hien-truong.png")},
            headers={"Authorization": f"Bearer {tokens[unit]}"},
            content_type="multipart/form-data",
        )
        assert response.status_code == status, response.text
    assert _count(app) == 1
