"""The 1022 hotline desk: a call becomes a case received at the call's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import func, select

from feedback.domain.deadlines import compute_deadlines
from feedback.i18n import LOCAL_TZ
from feedback.models import Case, CaseLink
from feedback.services.reference.policies import load_calendar, load_policy, to_domain_policy

URL = "/can-bo/1022/"


def _post(client: FlaskClient, **fields: Any) -> Any:
    page = client.get(URL)
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_from(page.text),
        "caller_phone": "0912 345 678",
        "caller_name": "Lò Văn Páo",
        "call_started_at": (datetime.now(LOCAL_TZ) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "kind": "feedback",
        "category": "6.3a – Điện sinh hoạt",
        "area_code": "00949",
        "address": "Thôn Tân Tiến",
        "subject": "Mất điện cả thôn từ chiều qua",
        "body": "Cả thôn Tân Tiến mất điện từ 16 giờ chiều qua, chưa thấy ai đến sửa.",
        "action": "save",
    }
    data.update(fields)
    return client.post(URL, data=data)


def _count(app: Flask) -> int:
    from feedback.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count(Case.id))) or 0


def test_call_becomes_case_received_at_call_start(
    app: Flask, client: FlaskClient, login_as: Any
) -> None:
    login_as("operator", unit_code="VP")
    response = _post(client, call_started_at="2024-02-02T15:40")
    # A call from 2024 is too old for the desk (it belongs in a 1022 batch): refused.
    assert response.status_code == 422
    assert "quá 30 ngày" in response.text

    started = (datetime.now(LOCAL_TZ) - timedelta(hours=5)).replace(second=0, microsecond=0)
    response = _post(client, call_started_at=started.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 200, response.text
    assert "Đọc lại cho người gọi" in response.text
    from feedback.extensions import db

    with app.app_context():
        case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert case is not None
        assert case.code in response.text
        assert case.channel == "hotline"
        assert case.received_at == started.astimezone(UTC)
        assert case.handling_unit.code == "DL"
        assert case.lead_unit is not None and case.lead_unit.code == "KT"
        expected = compute_deadlines(
            case.received_at, to_domain_policy(load_policy("feedback")), load_calendar()
        )
        assert (case.ack_due_at, case.response_due_at) == (
            expected.ack_due_at,
            expected.response_due_at,
        )
        assert case.reporter_phone == "0912 345 678"
        assert case.created_by_id is not None


def test_future_call_and_bad_input_write_nothing(
    app: Flask, client: FlaskClient, login_as: Any
) -> None:
    login_as("operator", unit_code="VP")
    before = _count(app)
    future = (datetime.now(LOCAL_TZ) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    cases = [
        ({"call_started_at": future}, "tương lai"),
        ({"call_started_at": "hôm qua"}, "Thời điểm không hợp lệ"),
        ({"caller_phone": "12ab"}, "Số điện thoại không hợp lệ"),
        ({"caller_phone": ""}, "Cần số điện thoại"),
        ({"category": "rác rưởi"}, "Chọn lĩnh vực trong danh sách"),
        ({"subject": ""}, "Vui lòng điền"),
        ({"area_code": "99999"}, "Lựa chọn không hợp lệ"),
    ]
    for fields, message in cases:
        response = _post(client, **fields)
        assert response.status_code == 422, fields
        assert message in response.text, (fields, message)
        # What the operator typed is still there.
        assert "Cả thôn Tân Tiến mất điện" in response.text
    assert _count(app) == before


def test_anonymous_caller_needs_no_phone(app: Flask, client: FlaskClient, login_as: Any) -> None:
    login_as("operator", unit_code="VP")
    response = _post(client, caller_phone="", caller_name="Ai đó", anonymous="y")
    assert response.status_code == 200, response.text
    from feedback.extensions import db

    with app.app_context():
        case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert case is not None and case.anonymous
        assert case.reporter_name is None and case.reporter_phone is None


def test_expired_token_keeps_the_call(app: Flask, client: FlaskClient, login_as: Any) -> None:
    login_as("operator", unit_code="VP")
    before = _count(app)
    response = _post(client, csrf_token="not-a-token")
    assert response.status_code == 422
    assert "Phiên làm việc đã hết hạn" in response.text
    assert "Mất điện cả thôn từ chiều qua" in response.text
    assert _count(app) == before


def test_duplicate_hint_finds_reworded_case_and_links(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    original = make_case(
        subject="Rác thải không được thu gom ở tổ 5",
        body="Rác thải ở tổ 5 phường Quang Trung ba ngày nay không được thu gom, bốc mùi.",
        category_code="6.3c",
        area_code="00688",
    )
    unrelated = make_case(
        subject="Đèn đường hỏng",
        body="Đèn đường tổ 5 không sáng.",
        category_code="6.3c",
        area_code="00688",
    )
    # The coordinator, who may open every case; an operator is hinted only the calls he
    # entered himself (tests/test_reach.py).
    login_as("coordinator", unit_code="VP")
    fields = {
        "category": "6.3c",
        "area_code": "00688",
        "subject": "to 5 rac thai khong ai thu gom",
        "body": "rac o to 5 quang trung boc mui may ngay roi khong ai thu gom",
    }
    response = _post(client, action="check", **fields)
    assert response.status_code == 200
    assert original in response.text
    assert unrelated not in response.text
    assert _count(app) == 2  # checking writes nothing

    response = _post(client, action="save", link_to=original, **fields)
    assert response.status_code == 200, response.text
    from feedback.extensions import db

    with app.app_context():
        link = db.session.scalars(select(CaseLink)).one()
        assert link.linked_case.code == original
        assert link.case.channel == "hotline"
        assert [e.action for e in link.linked_case.events][-1] == "link"


def test_only_operators_and_coordinators_use_the_desk(client: FlaskClient, login_as: Any) -> None:
    assert client.get(URL).status_code == 302  # anonymous → login
    login_as("officer", unit_code="DL")
    assert client.get(URL).status_code == 403
