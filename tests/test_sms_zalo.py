"""Issue 15: citizens' messages on the channels people use — SMS through an HTTP gateway
and Zalo ZNS — behind the outbox like e-mail, against a stand-in gateway on 127.0.0.1.

- A phone-only citizen gets the receipt by SMS, once, with the case code, the link to the
  look-up page and the access key; the key rests nowhere in clear text.
- The gateway down (5xx, connection refused, too slow) → retried with back-off, nothing
  lost, nothing doubled (every attempt carries the same id); 4xx → failed for good.
- Zalo: the request shape of ZNS, error 0 sent, a rate error retried, others refused.
- Unconfigured: sms.log / zalo.log, with the key masked and a denouncer's number hidden.
- Every citizen message goes to every contact they gave.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gateway_helpers import Gateway, Reply
from helpers import csrf_from
from smtp_helpers import mail_log_text
from sqlalchemy import select
from test_access_keys_at_rest import _stored_bytes

from feedback.extensions import db
from feedback.models import Case, Notification
from feedback.services.sla.delivery import deliver

KEY = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
TOKEN = "sms-token-thu-nghiem"
ZALO_TOKEN = "zalo-access-token-thu-nghiem"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def zalo() -> Iterator[Gateway]:
    server = Gateway(Reply(200, {"error": 0, "message": "Success", "data": {"msg_id": "m1"}}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_config(gateway: Gateway, zalo: Gateway) -> dict[str, Any]:
    return {
        "SMS_GATEWAY_URL": gateway.url,
        "SMS_GATEWAY_TOKEN": TOKEN,
        "ZALO_ZNS_URL": zalo.url,
        "ZALO_ACCESS_TOKEN": ZALO_TOKEN,
        "NOTIFY_HTTP_TIMEOUT": 1,
        "PUBLIC_URL": "https://phananh.hagiang.gov.vn",
    }


def submit_on_the_web(client: FlaskClient, **reporter: str) -> tuple[str, str]:
    """The public form, CSRF and all; the code and the key the success page shows."""
    page = client.get("/gui")
    fields = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3c",
        "area_code": "00691",
        "subject": "Rác thải ùn ứ ở chợ Trần Phú",
        "body": "Rác không được thu gom ba ngày nay, bốc mùi cả khu chợ.",
        "reporter_name": "Lò Văn Páo",
        **reporter,
    }
    response = client.post("/gui", data=fields)
    assert response.status_code == 302, response.text
    shown = client.get(response.headers["Location"])
    key = KEY.search(shown.text)
    code = re.search(r"HG-\d{4}-\d{6}", shown.text)
    assert key and code, shown.text
    return code.group(0), key.group(0)


def run(app: Flask, now: datetime) -> dict[str, int]:
    with app.app_context():
        summary = deliver(now)
        db.session.remove()
    return summary


def rows(app: Flask, channel: str) -> list[Notification]:
    with app.app_context():
        found = db.session.scalars(
            select(Notification).where(Notification.channel == channel).order_by(Notification.id)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return list(found)


def test_a_phone_only_citizen_gets_the_receipt_by_sms_once(
    app: Flask, client: FlaskClient, gateway: Gateway, zalo: Gateway
) -> None:
    code, key = submit_on_the_web(client, reporter_phone="0912 345 678")
    now = datetime.now(UTC)
    assert run(app, now) == {"sent": 1}
    for later in (now, now + timedelta(minutes=10), now + timedelta(days=1)):
        assert run(app, later) == {}

    (request,) = gateway.received()
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"].startswith("application/json")
    assert set(request.body) == {"to", "text", "id"}
    assert request.body["to"] == "+84912345678"  # E.164 at the edge
    (row,) = rows(app, "sms")
    assert request.body["id"] == row.dedupe_key and row.status == "sent"
    text = request.body["text"]
    assert code in text and key in text
    assert f"https://phananh.hagiang.gov.vn/tra-cuu?ma={code}" in text
    assert text.isascii() and "Ma tra cuu" in text  # unaccented, case kept
    assert len(text) <= 160, text
    assert zalo.received() == [], "no Zalo template configured for receipts"
    assert rows(app, "email") == []

    # The key travelled, but rests nowhere in clear text.
    dump = _stored_bytes(app)
    assert code.encode() in dump
    assert key.encode() not in dump and key.replace("-", "").encode() not in dump


def test_the_link_in_the_message_fills_the_code_in(app: Flask, client: FlaskClient) -> None:
    code, _ = submit_on_the_web(client, reporter_phone="0912 345 678")
    page = client.get(f"/tra-cuu?ma={code}")
    assert page.status_code == 200
    assert f'value="{code}"' in page.text


def test_accented_sms_when_the_gateway_takes_unicode(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    app.config["SMS_UNACCENTED"] = False
    code, key = submit_on_the_web(client, reporter_phone="0912345678")
    run(app, datetime.now(UTC))
    (request,) = gateway.received()
    assert f"Đã tiếp nhận hồ sơ {code}. Mã tra cứu: {key}." in request.body["text"]


def test_gateway_down_is_retried_nothing_lost_nothing_doubled(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    code, key = submit_on_the_web(client, reporter_phone="0912345678")
    gateway.reply(Reply(503, {"error": "maintenance"}), Reply(500, {}))
    now = datetime.now(UTC)
    assert run(app, now) == {"retry": 1}
    (row,) = rows(app, "sms")
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == now + timedelta(minutes=1)
    assert "503" in (row.last_error or "")
    assert run(app, now + timedelta(seconds=30)) == {}, "not before its back-off"
    assert run(app, now + timedelta(minutes=1)) == {"retry": 1}  # 500
    (row,) = rows(app, "sms")
    assert row.next_attempt_at == now + timedelta(minutes=3)  # 1 + 2 minutes

    # Connection refused: the gateway is gone altogether.
    gateway.stop()
    assert run(app, now + timedelta(minutes=3)) == {"retry": 1}
    (row,) = rows(app, "sms")
    assert "kết nối" in (row.last_error or "") and row.attempts == 3

    gateway.start()
    assert run(app, now + timedelta(minutes=7)) == {"sent": 1}
    assert run(app, now + timedelta(hours=5)) == {}
    requests = gateway.received()
    assert len(requests) == 3  # 503, 500, 200: the refused connection never arrived
    assert {r.body["id"] for r in requests} == {row.dedupe_key}
    assert all(key in r.body["text"] and code in r.body["text"] for r in requests)
    (row,) = rows(app, "sms")
    assert row.status == "sent" and key not in (row.last_error or "")


def test_a_slow_gateway_is_a_timeout_and_the_copy_carries_the_same_id(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    submit_on_the_web(client, reporter_phone="0912345678")
    gateway.reply(Reply(200, {}, delay=2.5))  # longer than NOTIFY_HTTP_TIMEOUT (1 s)
    now = datetime.now(UTC)
    assert run(app, now) == {"retry": 1}
    assert run(app, now + timedelta(minutes=1)) == {"sent": 1}
    first, second = gateway.received()
    assert first.body == second.body, "the far side can drop the copy by its id"


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_4xx_fails_for_good(
    app: Flask, client: FlaskClient, gateway: Gateway, status: int
) -> None:
    _, key = submit_on_the_web(client, reporter_phone="0912345678")
    # A gateway that echoes the request in its refusal: the key must not reach last_error.
    gateway.reply(Reply(status, {"error": "invalid number", "echo": key}))
    now = datetime.now(UTC)
    assert run(app, now) == {"failed": 1}
    assert run(app, now + timedelta(days=1)) == {}
    assert len(gateway.received()) == 1
    (row,) = rows(app, "sms")
    assert row.status == "failed" and str(status) in (row.last_error or "")
    assert key not in (row.last_error or "")


def test_429_from_the_gateway_means_later(
    app: Flask, client: FlaskClient, gateway: Gateway
) -> None:
    submit_on_the_web(client, reporter_phone="0912345678")
    gateway.reply(Reply(429, {"error": "slow down"}))
    now = datetime.now(UTC)
    assert run(app, now) == {"retry": 1}
    assert run(app, now + timedelta(minutes=1)) == {"sent": 1}


def test_zalo_gets_the_shape_of_its_documentation(
    app: Flask, client: FlaskClient, gateway: Gateway, zalo: Gateway
) -> None:
    app.config["ZALO_TEMPLATE_IDS"] = {"receipt": "240901"}
    code, key = submit_on_the_web(client, reporter_phone="0912 345 678")
    assert run(app, datetime.now(UTC)) == {"sent": 2}  # the SMS and the Zalo message
    (request,) = zalo.received()
    assert request.headers["access_token"] == ZALO_TOKEN
    assert "authorization" not in request.headers
    assert request.headers["content-type"].startswith("application/json")
    assert set(request.body) == {"phone", "template_id", "template_data", "tracking_id"}
    assert request.body["phone"] == "84912345678"  # no plus sign for ZNS
    assert request.body["template_id"] == "240901"
    (row,) = rows(app, "zalo")
    assert request.body["tracking_id"] == row.dedupe_key and row.status == "sent"
    data = request.body["template_data"]
    assert data["case_code"] == code and data["access_key"] == key
    assert data["link"] == f"https://phananh.hagiang.gov.vn/tra-cuu?ma={code}"
    assert all(isinstance(v, str) and v for v in data.values())
    assert len(gateway.received()) == 1


def test_zalo_errors_rate_limits_retried_others_refused(
    app: Flask, client: FlaskClient, zalo: Gateway, make_case: Callable[..., str]
) -> None:
    app.config["ZALO_TEMPLATE_IDS"] = {"receipt": "240901"}
    zalo.reply(
        Reply(200, {"error": -100, "message": "Unknown error"}),
        Reply(502, {}),
        Reply(200, {"error": 0, "message": "Success"}),
    )
    submit_on_the_web(client, reporter_phone="0912000001")
    now = datetime.now(UTC)
    run(app, now)
    (row,) = rows(app, "zalo")
    assert row.status == "pending" and "-100" in (row.last_error or "")
    run(app, now + timedelta(minutes=1))
    (row,) = rows(app, "zalo")
    assert row.status == "pending" and "502" in (row.last_error or "")
    run(app, now + timedelta(minutes=3))
    (row,) = rows(app, "zalo")
    assert row.status == "sent"

    zalo.reply(Reply(200, {"error": -108, "message": "Phone number is invalid"}))
    submit_on_the_web(client, reporter_phone="0912000002")
    run(app, now + timedelta(minutes=4))
    second = rows(app, "zalo")[1]
    assert second.status == "failed" and "-108" in (second.last_error or "")
    run(app, now + timedelta(days=1))
    assert len(zalo.received()) == 4
    # The SMS copies went regardless.
    assert [r.status for r in rows(app, "sms")] == ["sent", "sent"]


def test_every_contact_hears_of_every_message(
    app: Flask, client: FlaskClient, gateway: Gateway, make_user: Callable[..., Any]
) -> None:
    """E-mail and SMS for the receipt (both with the key) and for a transfer."""
    from feedback.database import unit_of_work
    from feedback.models import User
    from feedback.services.handling.actions import transfer

    code, key = submit_on_the_web(
        client, reporter_phone="0912345678", reporter_email="pao.citizen@example.vn"
    )
    coordinator_id, _ = make_user("coordinator", unit_code="VP")
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        target = "UBND-00688" if case.handling_unit.code != "UBND-00688" else "UBND-00691"
        transfer(
            case, db.session.get(User, coordinator_id), datetime.now(UTC), target, "Sai địa bàn"
        )
    assert run(app, datetime.now(UTC)) == {"sent": 4}
    kinds = sorted((r.kind, r.channel) for r in rows(app, "email") + rows(app, "sms"))
    assert kinds == [
        ("receipt", "email"),
        ("receipt", "sms"),
        ("transferred", "email"),
        ("transferred", "sms"),
    ]
    texts = [r.body["text"] for r in gateway.received()]
    assert any(key in t for t in texts) and any("chuyen den" in t for t in texts)
    assert "Sai địa bàn" not in " ".join(texts), "the reason is internal"


# --- unconfigured: the log files -------------------------------------------------------------


class TestLogFallback:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"ZALO_TEMPLATE_IDS": {"receipt": "240901"}}

    def test_the_logs_mask_the_key(self, app: Flask, client: FlaskClient) -> None:
        code, key = submit_on_the_web(
            client, reporter_phone="0912345678", reporter_email="pao.citizen@example.vn"
        )
        assert run(app, datetime.now(UTC)) == {"sent": 3}
        instance = Path(app.instance_path)
        sms = (instance / "sms.log").read_text()
        mail = mail_log_text(instance / "mail.log")
        zalo = (instance / "zalo.log").read_text()
        assert code in sms and "+84912345678" in sms and "Ma tra cuu: ****" in sms
        assert "84912345678" in zalo and '"access_key": "****"' in zalo
        for form in (key, key.replace("-", "")):
            assert form not in sms and form not in zalo and form not in mail
        assert "pao.citizen@example.vn" in mail and "Mã tra cứu: ****" in mail

    def test_a_denouncers_number_stays_sealed(
        self, app: Flask, make_case: Callable[..., str]
    ) -> None:
        from feedback.services.intake.submission import Reporter

        code = make_case(
            kind="denunciation",
            subject="Cán bộ địa chính nhận tiền của dân",
            body="Ông cán bộ địa chính phường nhận tiền để ký xác nhận hồ sơ đất ở tổ 5.",
            reporter=Reporter(name="Người tố cáo", phone="0987 654 321"),
        )
        (row,) = rows(app, "sms")
        assert row.recipient.startswith("sealed:") and "987654321" not in row.recipient
        (zrow,) = rows(app, "zalo")
        assert zrow.recipient.startswith("sealed:")
        assert run(app, datetime.now(UTC)) == {"sent": 2}
        logs = "".join(
            (Path(app.instance_path) / name).read_text() for name in ("sms.log", "zalo.log")
        )
        assert code in logs and "987654321" not in logs and "[số được bảo mật]" in logs

    def test_a_key_sealed_under_another_identity_key_is_left_out_not_the_message(
        self, app: Flask, client: FlaskClient
    ) -> None:
        from cryptography.fernet import Fernet

        code, key = submit_on_the_web(client, reporter_phone="0912345678")
        app.config["IDENTITY_KEY"] = Fernet.generate_key().decode()
        assert run(app, datetime.now(UTC)) == {"sent": 2}  # SMS and Zalo, without the key
        (row,) = rows(app, "sms")
        assert (row.last_error or "").startswith("gửi không kèm mã tra cứu")
        sms = (Path(app.instance_path) / "sms.log").read_text()
        assert code in sms and "****" in sms and key not in sms
