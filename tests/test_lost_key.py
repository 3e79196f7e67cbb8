""" "Lost my key" (issue 15): the case code and the phone or e-mail on record → a new key,
sent to that contact only (never on screen); the old key stops working. A wrong contact
or an unknown code gets the same page and nothing is sent. Rate-limited per address and
per case, audited. Through the real pages (CSRF on), against a stand-in SMS gateway and a
real SMTP server on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gateway_helpers import Gateway
from helpers import csrf_from
from smtp_helpers import MailServer
from sqlalchemy import select
from test_sms_zalo import KEY, run, submit_on_the_web

from feedback.extensions import db
from feedback.models import AuditLog, Notification

SAME_ANSWER = "Nếu mã hồ sơ và số điện thoại hoặc thư điện tử ông/bà nhập khớp"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_config(gateway: Gateway, smtp: MailServer) -> dict[str, Any]:
    return {"SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_TOKEN": "t", **smtp.config()}


def ask_for_a_new_key(client: FlaskClient, code: str, contact: str) -> Any:
    page = client.get(f"/tra-cuu/quen-ma?ma={code}")
    assert page.status_code == 200 and f'value="{code}"' in page.text
    return client.post(
        "/tra-cuu/quen-ma",
        data={"csrf_token": csrf_from(page.text), "code": code, "contact": contact},
    )


def looks_up(client: FlaskClient, code: str, key: str) -> bool:
    page = client.get("/tra-cuu")
    response = client.post(
        "/tra-cuu", data={"csrf_token": csrf_from(page.text), "code": code, "access_key": key}
    )
    return response.status_code == 303


def outbox(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        found = db.session.execute(
            select(Notification.kind, Notification.channel).order_by(Notification.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in found]


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        found = db.session.scalars(
            select(AuditLog.action)
            .where(AuditLog.action.like("case.access_key%"))
            .order_by(AuditLog.id)
        ).all()
        db.session.remove()
    return list(found)


def test_the_right_phone_gets_a_new_key_that_works_and_the_old_stops(
    app: Flask, client: FlaskClient, gateway: Gateway, smtp: MailServer
) -> None:
    code, old_key = submit_on_the_web(
        client, reporter_phone="0912 345 678", reporter_email="pao.citizen@example.vn"
    )
    run(app, datetime.now(UTC))  # the receipt, by SMS and e-mail
    sms_before, mail_before = len(gateway.received()), len(smtp.received)

    # Another spelling of the same number.
    response = ask_for_a_new_key(client, code, "+84 912-345-678")
    assert response.status_code == 303
    shown = client.get(response.headers["Location"])
    assert SAME_ANSWER in shown.text
    assert not KEY.search(shown.text), "the new key is never shown on screen"

    assert run(app, datetime.now(UTC)) == {"sent": 1}
    assert len(smtp.received) == mail_before, "only the contact that asked"
    (request,) = gateway.received()[sms_before:]
    assert request.body["to"] == "+84912345678"
    new_key = KEY.search(request.body["text"])
    assert new_key and new_key.group(0) != old_key and code in request.body["text"]

    assert looks_up(app.test_client(), code, new_key.group(0))
    assert not looks_up(app.test_client(), code, old_key)
    assert audit_actions(app) == ["case.access_key_reissued"]
    # Not in clear text anywhere it rests.
    with app.app_context():
        rows = db.session.scalars(select(Notification.body)).all()
        db.session.remove()
    assert all(new_key.group(0) not in body for body in rows)


def test_the_right_email_gets_it_by_mail_only(
    app: Flask, client: FlaskClient, gateway: Gateway, smtp: MailServer
) -> None:
    code, old_key = submit_on_the_web(
        client, reporter_phone="0912345678", reporter_email="Pao.Citizen@example.vn"
    )
    run(app, datetime.now(UTC))
    sms_before, mail_before = len(gateway.received()), len(smtp.received)
    assert ask_for_a_new_key(client, code, "pao.citizen@EXAMPLE.vn").status_code == 303
    assert run(app, datetime.now(UTC)) == {"sent": 1}
    assert len(gateway.received()) == sms_before
    (mail,) = smtp.received[mail_before:]
    assert mail.rcpt_tos == ["Pao.Citizen@example.vn"]
    new_key = KEY.search(mail.text)
    assert new_key and new_key.group(0) != old_key
    assert f"/tra-cuu?ma={code}" in mail.text
    assert looks_up(app.test_client(), code, new_key.group(0))
    assert not looks_up(app.test_client(), code, old_key)


@pytest.mark.parametrize(
    "contact",
    ["0912 999 999", "someone.else@example.vn", "0912345679"],
)
def test_a_wrong_contact_gets_the_same_page_and_nothing_is_sent(
    app: Flask, client: FlaskClient, gateway: Gateway, smtp: MailServer, contact: str
) -> None:
    code, _ = submit_on_the_web(
        client, reporter_phone="0912345678", reporter_email="pao.citizen@example.vn"
    )
    rows_before = outbox(app)
    right = ask_for_a_new_key(app.test_client(), code, "0912345678")
    wrong = ask_for_a_new_key(client, code, contact)
    unknown = ask_for_a_new_key(client, "HG-1999-000001", contact)
    assert right.status_code == wrong.status_code == unknown.status_code == 303
    assert right.headers["Location"] == wrong.headers["Location"] == unknown.headers["Location"]
    assert outbox(app) == [*rows_before, ("access_key", "sms")]  # the right one only
    assert audit_actions(app) == [
        "case.access_key_reissued",
        "case.access_key_refused",
        "case.access_key_refused",
    ]


def test_nothing_sent_when_wrong_and_the_old_key_keeps_working(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    code, old_key = submit_on_the_web(client, reporter_phone="0912345678")
    run(app, datetime.now(UTC))
    before = len(gateway.received())
    ask_for_a_new_key(client, code, "0987654321")
    assert run(app, datetime.now(UTC)) == {}
    assert len(gateway.received()) == before
    assert looks_up(app.test_client(), code, old_key)


def test_a_new_key_by_phone_goes_by_zalo_too_when_it_has_a_template(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    """A phone is one contact whether it reads SMS or Zalo; the e-mail is another."""
    app.config["ZALO_TEMPLATE_IDS"] = {"access_key": "240905"}
    code, _ = submit_on_the_web(
        client, reporter_phone="0912345678", reporter_email="pao.citizen@example.vn"
    )
    ask_for_a_new_key(client, code, "0912345678")
    assert [r for r in outbox(app) if r[0] == "access_key"] == [
        ("access_key", "sms"),
        ("access_key", "zalo"),
    ]


def test_a_denouncer_gets_the_key_sealed_and_the_log_shows_no_number(
    app: Flask, client: FlaskClient, make_case: Any
) -> None:
    from feedback.services.intake.submission import Reporter

    app.config["SMS_GATEWAY_URL"] = None  # the log file
    code = make_case(
        kind="denunciation",
        subject="Cán bộ địa chính nhận tiền của dân",
        body="Ông cán bộ địa chính phường nhận tiền để ký xác nhận hồ sơ đất ở tổ 5.",
        reporter=Reporter(name="Người tố cáo", phone="0987 654 321"),
    )
    assert ask_for_a_new_key(client, code, "0987654321").status_code == 303
    with app.app_context():
        note = db.session.scalar(select(Notification).where(Notification.kind == "access_key"))
        assert note is not None and note.recipient.startswith("sealed:")
        assert note.secret is not None and note.secret.startswith("sealed:")
        db.session.remove()
    run(app, datetime.now(UTC))
    log = (Path(app.instance_path) / "sms.log").read_text()
    assert "Ma tra cuu moi" in log and "987654321" not in log and "****" in log
    assert not KEY.search(log)


def test_at_most_so_many_new_keys_a_day_for_one_case(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    app.config["KEY_REISSUE_PER_CASE_DAY"] = 2
    code, _ = submit_on_the_web(client, reporter_phone="0912345678")
    for _ in range(4):
        assert ask_for_a_new_key(client, code, "0912345678").status_code == 303
    assert outbox(app).count(("access_key", "sms")) == 2
    assert audit_actions(app) == ["case.access_key_reissued"] * 2 + ["case.access_key_limited"] * 2


def test_bad_input_is_a_form_error_not_a_500(app: Flask, client: FlaskClient) -> None:
    for contact in ("", "không phải số", "a@b", "12"):
        page = client.get("/tra-cuu/quen-ma")
        response = client.post(
            "/tra-cuu/quen-ma",
            data={"csrf_token": csrf_from(page.text), "code": "HG-2026-000001", "contact": contact},
        )
        assert response.status_code == 422, contact
        assert 'class="error' in response.text or "Vui lòng" in response.text
    # No CSRF token: refused, nothing done.
    response = client.post(
        "/tra-cuu/quen-ma", data={"code": "HG-2026-000001", "contact": "0912345678"}
    )
    assert response.status_code == 422
    assert audit_actions(app) == []


class TestRateLimit:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_KEY_REISSUE": "3/hour"}

    def test_per_address(self, app: Flask, client: FlaskClient) -> None:
        statuses = [
            ask_for_a_new_key(client, f"HG-2026-00000{i}", "0912345678").status_code
            for i in range(4)
        ]
        assert statuses == [303, 303, 303, 429]
        # Look-ups are a separate budget.
        assert client.get("/tra-cuu").status_code == 200
        assert re.search(r"\d+", client.post("/tra-cuu/quen-ma").headers["Retry-After"])
