"""A denouncer's identity: sealed at rest, shown to inspectors only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import select

from feedback.models import Case, Notification
from feedback.services.intake.identity import identity_of, open_recipient
from feedback.services.intake.submission import Reporter

NAME = "Hoàng Thị Mỵ Denouncer"
PHONE = "0987 654 321"
EMAIL = "my.denouncer@example.vn"


def _denounce(client: FlaskClient) -> str:
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "denunciation",
            "category_code": "4.1",
            "area_code": "00691",
            "subject": "Tố cáo cán bộ phường đòi tiền",
            "body": "Cán bộ địa chính phường đòi 5 triệu đồng mới ký hồ sơ cho gia đình tôi.",
            "reporter_name": NAME,
            "reporter_phone": PHONE,
            "reporter_email": EMAIL,
        },
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_identity_is_sealed_in_the_database(app: Flask, client: FlaskClient) -> None:
    code = _denounce(client)
    from feedback.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert (case.reporter_name, case.reporter_phone, case.reporter_email) == (None, None, None)
        assert case.identity_sealed and NAME not in case.identity_sealed
        assert identity_of(case).name == NAME
        note = db.session.scalar(select(Notification).where(Notification.case_id == case.id))
        assert note is not None and EMAIL not in note.recipient and NAME not in note.body
        assert open_recipient(note.recipient) == EMAIL


def test_stored_bytes_hold_no_clear_identity(app: Flask, client: FlaskClient) -> None:
    """SQLite: the database file itself (and its WAL); PostgreSQL: every row of every
    table rendered as text."""
    _denounce(client)
    from sqlalchemy import text

    from feedback.extensions import db

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        if url.startswith("postgresql"):
            tables = db.session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).all()
            dump = "\n".join(
                row
                for table in tables
                for row in db.session.scalars(text(f'SELECT t::text FROM "{table}" t'))
            ).encode()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()  # SQLite: checkpoint the WAL into the main file
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        dump = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert "Tố cáo cán bộ phường".encode() in dump  # the case itself is there
    for secret in (NAME, PHONE, EMAIL, "0987654321"):
        assert secret.encode() not in dump, secret


@pytest.mark.parametrize(
    ("role", "unit", "sees"),
    [
        ("inspector", "TTR", True),
        ("coordinator", "VP", False),
    ],
)
def test_only_inspectors_see_the_denouncer_on_the_case_page(
    app: Flask, client: FlaskClient, login_as: Any, role: str, unit: str, sees: bool
) -> None:
    code = _denounce(app.test_client())
    login_as(role, unit)
    response = client.get(f"/can-bo/ho-so/{code}")
    assert response.status_code == 200
    assert (NAME in response.text) is sees
    assert (PHONE in response.text) is sees
    assert (EMAIL in response.text) is sees
    if not sees:
        assert "Được bảo mật" in response.text


def test_the_handling_units_officer_does_not_see_the_denouncer(
    app: Flask, client: FlaskClient, login_as: Any
) -> None:
    """4.1 goes to triage at VP; a VP officer works it but may not know who denounced."""
    code = _denounce(app.test_client())
    login_as("officer", "VP")
    response = client.get(f"/can-bo/ho-so/{code}")
    assert response.status_code == 200
    assert NAME not in response.text and PHONE not in response.text


@pytest.mark.parametrize(("purpose_channel", "officer_sees"), [("box", False), ("web", True)])
def test_a_denouncers_letter_scan_goes_with_the_identity(
    app: Flask, make_user: Any, make_case: Any, purpose_channel: str, officer_sees: bool
) -> None:
    """A scanned letter (box) names its writer: inspectors only. Evidence (web) does not:
    the handling unit may open it to work the case."""
    from helpers import png_bytes, staff_client

    from feedback.extensions import db
    from feedback.models import Attachment
    from feedback.services.intake.attachments import make_upload

    with app.app_context():
        upload = make_upload("thu-to-cao.png", png_bytes())
    code = make_case(
        kind="denunciation",
        category_code="4.1",
        channel=purpose_channel,
        uploads=[upload],
        reporter=Reporter(name=NAME, phone=PHONE),
    )
    with app.app_context():
        att = db.session.scalars(select(Attachment).join(Case).where(Case.code == code)).one()
        assert att.purpose == ("letter_scan" if purpose_channel == "box" else "evidence")
        url = f"/can-bo/tep/{att.id}"
    officer = staff_client(app, make_user, "officer", "VP")  # 4.1 waits at VP triage
    inspector = staff_client(app, make_user, "inspector", "TTR")
    assert (officer.get(url).status_code == 200) is officer_sees
    assert inspector.get(url).status_code == 200


def test_the_mail_log_never_holds_a_denouncers_address(app: Flask, client: FlaskClient) -> None:
    """Without a mail server, mail goes to instance/mail.log: a log, so no sealed address."""
    from datetime import UTC, datetime

    from feedback.services.sla.delivery import deliver

    _denounce(client)
    with app.app_context():
        assert app.config.get("MAIL_SERVER") is None
        summary = deliver(datetime.now(UTC))
    assert summary.get("sent") == 2  # the e-mail and the SMS, both to their logs
    log = (Path(app.instance_path) / "mail.log").read_text(encoding="utf-8")
    assert "To: undisclosed-recipients:;" in log
    assert EMAIL not in log and NAME not in log
    sms = (Path(app.instance_path) / "sms.log").read_text(encoding="utf-8")
    assert "[số được bảo mật]" in sms and PHONE.replace(" ", "")[-9:] not in sms
