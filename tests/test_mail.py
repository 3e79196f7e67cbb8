"""Outbox delivery against a real SMTP server (aiosmtpd on 127.0.0.1).

The citizen's receipt and acknowledgement, the SLA warning and breach to staff, and the
answer each arrive exactly once, in Vietnamese, with a Message-ID that does not change;
a server that is down loses nothing; an address the server refuses for good is marked
and never tried again; a denouncer's sealed address reaches the real mailbox.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from smtp_helpers import MailServer, Received, add_staff
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, FailedAddress, Notification, User
from feedback.services.handling import actions
from feedback.services.intake.submission import Reporter
from feedback.services.sla import delivery
from feedback.services.sla.sweep import sweep

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Giang, no holiday near
CITIZEN = "tran.thi.binh@example.vn"
SENDER = "no-reply@hagiang.invalid"
MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")


@pytest.fixture
def app_config(smtp: MailServer) -> dict[str, Any]:
    return smtp.config()


# --- helpers -------------------------------------------------------------------------------


def deliver(app: Flask, now: datetime, times: int = 3) -> list[dict[str, int]]:
    """Run the delivery job ``times`` times at ``now``, each in a fresh app context, as the
    scheduler does."""
    results = []
    for _ in range(times):
        with app.app_context():
            try:
                results.append(delivery.deliver(now))
            finally:
                db.session.remove()
    return results


def sweep_at(app: Flask, now: datetime) -> dict[str, Any]:
    with app.app_context():
        try:
            return sweep(now)
        finally:
            db.session.remove()


def act(app: Flask, code: str, fn: Callable[..., Any], user_id: int, now: datetime) -> None:
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        fn(case, db.session.get(User, user_id), now)


def outbox(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        found = [
            {
                c: getattr(n, c)
                for c in (
                    "id",
                    "dedupe_key",
                    "kind",
                    "channel",
                    "recipient",
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "lease_until",
                    "message_id",
                    "last_error",
                    "subject",
                    "body",
                )
            }
            for n in rows
        ]
        db.session.remove()
        return found


def failed_addresses(app: Flask) -> dict[str, str]:
    with app.app_context():
        found = {f.address: f.reason for f in db.session.scalars(select(FailedAddress))}
        db.session.remove()
        return found


def check_vietnamese(mail: Received, body_has: str) -> None:
    """The decoded body carries the Vietnamese text; the wire form is proper MIME (an
    RFC 2047 Subject, a utf-8 text part). The decoded Subject is compared by the callers
    with the outbox row's subject."""
    assert body_has in mail.text, mail.text
    assert "UBND thành phố Hà Giang" in mail.text  # the signature, with its diacritics
    part = mail.message.get_body(preferencelist=("plain",))
    assert part is not None and part.get_content_charset() == "utf-8"
    raw_subject = re.search(rb"^Subject: (.*(?:\r?\n[ \t].*)*)", mail.raw, re.MULTILINE)
    assert raw_subject is not None
    assert raw_subject.group(1).isascii() and b"=?utf-8?" in raw_subject.group(1).lower()
    assert MESSAGE_ID.match(mail.message_id), mail.message_id
    assert mail.message["Date"] is not None
    assert mail.mail_from == SENDER and str(mail.message["From"]) == SENDER
    assert [str(mail.message["To"])] == mail.rcpt_tos


def garbled_subjects(app: Flask, mails: list[Received]) -> list[tuple[str, str]]:
    """(subject in the outbox, subject the receiver decodes) wherever the two differ."""
    written = {r["message_id"]: r["subject"] for r in outbox(app)}
    return [(written[m.message_id], m.subject) for m in mails if written[m.message_id] != m.subject]


def new_mail(smtp: MailServer, before: int) -> list[Received]:
    return smtp.received[before:]


# --- the four kinds of mail -----------------------------------------------------------------


def test_receipt_acknowledgement_warning_breach_and_answer_each_arrive_once(
    app: Flask, smtp: MailServer, make_case: Callable[..., str]
) -> None:
    officer = add_staff(app, "officer", "UBND-00688", "can.bo.quang.trung@example.vn")
    head = add_staff(app, "unit_head", "UBND-00688", "lanh.dao.quang.trung@example.vn")
    add_staff(app, "unit_head", "QLDT", "lanh.dao.qldt@example.vn")  # the lead unit of 6.3b
    add_staff(app, "inspector", "TTR", "thanh.tra@example.vn")
    add_staff(app, "coordinator", "VP", "van.phong@example.vn")

    code = make_case(
        now=NOW,
        category_code="6.3b",
        area_code="00688",
        # E-mail only: a phone would add SMS rows (tests/test_sms_zalo.py) to the counts.
        reporter=Reporter(name="Trần Thị Bình", email=CITIZEN),
    )
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.handling_unit.code == "UBND-00688" and case.lead_unit.code == "QLDT"
        assert case.ack_due_at == NOW + timedelta(hours=24)
        db.session.remove()

    garbled: list[tuple[str, str]] = []

    def step(now: datetime, expected: dict[str, tuple[str, str]]) -> list[Received]:
        """Deliver several times at ``now``: exactly the ``expected`` mails arrive (address ->
        (text of the subject, text in the body)), once each."""
        before = len(smtp.received)
        results = deliver(app, now, times=3)
        mails = new_mail(smtp, before)
        assert results[0] == {"sent": len(expected)}, results
        assert results[1:] == [{}, {}], "a second deliver must find nothing to send"
        assert sorted(r for m in mails for r in m.rcpt_tos) == sorted(expected)
        written = {r["message_id"]: r["subject"] for r in outbox(app)}
        for mail in mails:
            subject_has, body_has = expected[mail.rcpt_tos[0]]
            check_vietnamese(mail, body_has)
            assert written[mail.message_id] == f"[{code}] {subject_has}"
            assert code in mail.subject
        # Checked at the end, so that one garbled header does not hide the rest.
        garbled.extend(garbled_subjects(app, mails))
        return mails

    # 1. The receipt, written by the intake in the same transaction as the case.
    subject = "Đèn đường hỏng trên đường Nguyễn Trãi"
    step(NOW, {CITIZEN: (subject, "Hệ thống đã tiếp nhận phản ánh")})

    # 2. Four hours before the acknowledgement is due: the warning to the ward's staff and
    #    the coordinator. A sweep a minute earlier finds nothing.
    assert not sweep_at(app, NOW + timedelta(hours=19, minutes=59)).get("warnings")
    summary = sweep_at(app, NOW + timedelta(hours=20, minutes=1))
    assert summary["warnings"] == 1, summary
    warning = ("Sắp đến hạn phản hồi tiếp nhận", f"Sắp đến hạn phản hồi tiếp nhận: hồ sơ {code}")
    step(
        NOW + timedelta(hours=20, minutes=1),
        {
            "can.bo.quang.trung@example.vn": warning,
            "lanh.dao.quang.trung@example.vn": warning,
            "van.phong@example.vn": warning,
        },
    )

    # 3. At the due time: the breach, escalated to the unit head, the lead unit and Thanh tra.
    later = NOW + timedelta(hours=24, minutes=1)
    assert sweep_at(app, later)["breaches"] == 1
    assert not sweep_at(app, later).get("breaches"), "a second sweep records nothing more"
    breach = ("Quá hạn phản hồi tiếp nhận", "Thanh tra thành phố đã được thông báo")
    step(
        later,
        {
            "lanh.dao.quang.trung@example.vn": breach,
            "lanh.dao.qldt@example.vn": breach,
            "thanh.tra@example.vn": breach,
        },
    )

    # 4. The acknowledgement to the citizen.
    act(app, code, actions.acknowledge, officer, NOW + timedelta(hours=25))
    step(
        NOW + timedelta(hours=25),
        {CITIZEN: (subject, "đã được xác nhận tiếp nhận và giao UBND Phường Quang Trung xử lý")},
    )

    # 5. The answer, approved by the unit head.
    answer = "Đã thay ba bóng đèn hỏng trước số nhà 120; đèn sáng từ tối ngày 03/3/2026."
    act(
        app,
        code,
        lambda c, u, n: actions.approve_answer(c, u, n, answer),
        head,
        NOW + timedelta(days=2),
    )
    mails = step(NOW + timedelta(days=2), {CITIZEN: (subject, answer)})
    assert "Trả lời của UBND Phường Quang Trung" in mails[0].text

    # Later sweeps and deliveries add nothing: the case is answered, every row is sent.
    sweep_at(app, NOW + timedelta(days=10))
    assert deliver(app, NOW + timedelta(days=10)) == [{}, {}, {}]

    rows = outbox(app)
    assert len(rows) == len(smtp.received) == 9
    assert Counter(r["kind"] for r in rows) == {
        "receipt": 1,
        "ack_warning": 3,
        "ack_breach": 3,
        "acknowledged": 1,
        "answered": 1,
    }
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows), rows
    # Each row's Message-ID went out once; it is what the row records and what the
    # deterministic function of the dedupe key gives.
    sent_ids = Counter(m.message_id for m in smtp.received)
    assert set(sent_ids.values()) == {1}
    with app.app_context():
        for note in db.session.scalars(select(Notification)):
            assert note.message_id == delivery.message_id(note)
            assert sent_ids[note.message_id] == 1
        db.session.remove()
    # The receiver decodes the very subject the outbox holds, spaces included.
    assert garbled == [], garbled


def test_a_copy_sent_again_after_a_crash_carries_the_same_message_id(
    app: Flask, smtp: MailServer, make_case: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At-least-once: a process dying between the server's 250 and the UPDATE to 'sent'
    leaves the row leased; after the lease the row is sent again with the same Message-ID,
    so the receiver sees one message twice, never two messages."""
    make_case(now=NOW, reporter=Reporter(name="Trần Thị Bình", email=CITIZEN))
    real_finish = delivery._finish

    def crash(note_id: int, now: datetime, **values: Any) -> None:
        if values.get("status") == "sent":
            raise SystemExit("the scheduler process died right after the SMTP 250")
        real_finish(note_id, now, **values)

    monkeypatch.setattr(delivery, "_finish", crash)
    with pytest.raises(SystemExit):
        deliver(app, NOW, times=1)
    monkeypatch.setattr(delivery, "_finish", real_finish)
    assert len(smtp.received) == 1
    [row] = outbox(app)
    assert row["status"] == "sending" and row["attempts"] == 1
    assert row["lease_until"] == NOW + delivery.LEASE

    assert deliver(app, NOW + delivery.LEASE - timedelta(seconds=1)) == [{}, {}, {}]
    assert len(smtp.received) == 1, "a leased row is not taken by anyone else"

    assert deliver(app, NOW + delivery.LEASE + timedelta(seconds=1))[0] == {"sent": 1}
    first, second = smtp.received
    assert first.message_id == second.message_id
    assert first.subject == second.subject and first.text == second.text
    [row] = outbox(app)
    assert row["status"] == "sent" and row["attempts"] == 2
    assert row["message_id"] == first.message_id


SUBJECTS = [
    "[HG-2026-000001] Đèn đường hỏng trên đường Nguyễn Trãi",
    "[HG-2026-000002] Cán bộ địa chính đòi tiền khi làm thủ tục",
    "[HG-2026-000003] Quá hạn phản hồi tiếp nhận",
    "[HG-2026-000004] Sắp đến hạn phản hồi tiếp nhận",
    "[HG-2026-000005] Quá hạn trả lời",
    "[UBND-00688] Hồ sơ cần xử lý ngày 02/03/2026",
    "[HG-2026-000006] Nước sinh hoạt đục, có mùi lạ ở tổ 3 phường Nguyễn Trãi suốt một tuần",
]


def test_vietnamese_subjects_reach_the_reader_word_for_word(app: Flask, smtp: MailServer) -> None:
    """Long Vietnamese subjects are folded into several RFC 2047 encoded-words; the space
    between two words must survive (CPython's default policy drops it when it falls at a
    fold between two encoded-words, CPython gh-144156: "tiếp nhận" arrives as "tiếpnhận")."""
    from feedback.services.sla.notify import queue

    with app.app_context(), unit_of_work():
        for number, subject in enumerate(SUBJECTS):
            queue(
                dedupe_key=f"test:subject:{number}",
                recipient=CITIZEN,
                subject=subject,
                body="Nội dung thư thử nghiệm.",
                kind="test",
                now=NOW,
            )
    assert deliver(app, NOW)[0] == {"sent": len(SUBJECTS)}
    assert sorted(m.subject for m in smtp.received) == sorted(SUBJECTS)


# --- the server is down ---------------------------------------------------------------------


def test_a_mail_server_that_is_down_loses_nothing(
    app: Flask, smtp: MailServer, make_case: Callable[..., str]
) -> None:
    officer = add_staff(app, "officer", "UBND-00688", "can.bo.quang.trung@example.vn")
    first = make_case(
        now=NOW, area_code="00688", reporter=Reporter(name="Trần Thị Bình", email=CITIZEN)
    )
    assert deliver(app, NOW)[0] == {"sent": 1}
    assert len(smtp.received) == 1

    smtp.stop()
    t1 = NOW + timedelta(hours=1)
    act(app, first, actions.acknowledge, officer, t1)
    make_case(
        now=t1,
        subject="Rác thải không được thu gom ở tổ 5",
        category_code="6.3c",
        area_code="00688",
        reporter=Reporter(name="Lê Văn Cường", email="le.van.cuong@example.vn"),
    )

    t2 = t1 + timedelta(minutes=10)
    assert deliver(app, t2) == [{"deferred": 2}, {}, {}]
    waiting = [r for r in outbox(app) if r["status"] != "sent"]
    assert len(waiting) == 2
    for row in waiting:
        assert row["status"] == "pending" and row["attempts"] == 1
        assert row["next_attempt_at"] == t2 + delivery.backoff(1) > t2
        assert row["lease_until"] is None
        assert "máy chủ thư" in row["last_error"]

    # Still down at the next try: the back-off doubles.
    t3 = t2 + delivery.backoff(1)
    assert deliver(app, t3) == [{"deferred": 2}, {}, {}]
    for row in (r for r in outbox(app) if r["status"] != "sent"):
        assert row["status"] == "pending" and row["attempts"] == 2
        assert row["next_attempt_at"] == t3 + delivery.backoff(2) > t3

    # The server comes back on the same port; nothing is sent before the back-off is over.
    port = smtp.port
    smtp.start()
    assert smtp.port == port
    assert deliver(app, t3 + delivery.backoff(2) - timedelta(seconds=1)) == [{}, {}, {}]
    assert len(smtp.received) == 1

    results = deliver(app, t3 + delivery.backoff(2))
    assert results == [{"sent": 2}, {}, {}]
    assert deliver(app, t3 + timedelta(days=1)) == [{}, {}, {}]

    rows = outbox(app)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"sent"}
    assert sorted(r["attempts"] for r in rows) == [1, 3, 3]
    assert len(smtp.received) == 3
    assert Counter(m.message_id for m in smtp.received) == {r["message_id"]: 1 for r in rows}
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == sorted(
        [CITIZEN, CITIZEN, "le.van.cuong@example.vn"]
    )
    acknowledged = [m for m in smtp.received if "xác nhận tiếp nhận" in m.text]
    assert len(acknowledged) == 1 and acknowledged[0].rcpt_tos == [CITIZEN]


# --- refused addresses ----------------------------------------------------------------------

BAD = "khong.ton.tai@example.vn"


def test_an_address_refused_for_good_is_marked_and_never_tried_again(
    app: Flask, smtp: MailServer, make_case: Callable[..., str]
) -> None:
    smtp.handler.refuse[BAD] = "550 5.1.1 <khong.ton.tai@example.vn>: mailbox unavailable"
    officer = add_staff(app, "officer", "UBND-00688", "can.bo.quang.trung@example.vn")
    # The refused one first: the same SMTP connection must still carry the next message.
    bad_case = make_case(now=NOW, area_code="00688", reporter=Reporter(name="A", email=BAD))
    good_case = make_case(now=NOW, area_code="00688", reporter=Reporter(name="B", email=CITIZEN))

    assert deliver(app, NOW) == [{"failed": 1, "sent": 1}, {}, {}]
    assert [m.rcpt_tos for m in smtp.received] == [[CITIZEN]]
    bad_row, good_row = outbox(app)
    assert bad_row["recipient"] == BAD and bad_row["status"] == "failed"
    assert "550" in bad_row["last_error"] and bad_row["attempts"] == 1
    assert good_row["status"] == "sent"
    reasons = failed_addresses(app)
    assert list(reasons) == [BAD] and "550" in reasons[BAD]
    assert smtp.rcpt_seen.count(BAD) == 1

    # Later mail to that address is not attempted; mail to others still goes.
    act(app, bad_case, actions.acknowledge, officer, NOW + timedelta(hours=1))
    act(app, good_case, actions.acknowledge, officer, NOW + timedelta(hours=1))
    assert deliver(app, NOW + timedelta(hours=1)) == [{"skipped": 1, "sent": 1}, {}, {}]
    assert smtp.rcpt_seen.count(BAD) == 1, "the refused address was tried again"
    later = [r for r in outbox(app) if r["recipient"] == BAD][1]
    assert later["status"] == "failed" and later["attempts"] == 1
    assert later["last_error"] == "địa chỉ đã bị từ chối trước đó"
    assert [m.rcpt_tos for m in smtp.received] == [[CITIZEN], [CITIZEN]]

    # Never retried, however late.
    assert deliver(app, NOW + timedelta(days=30)) == [{}, {}, {}]
    assert smtp.rcpt_seen.count(BAD) == 1
    assert {r["status"] for r in outbox(app) if r["recipient"] == BAD} == {"failed"}


def test_a_temporary_refusal_is_retried_not_marked_failed(
    app: Flask, smtp: MailServer, make_case: Callable[..., str]
) -> None:
    smtp.handler.refuse[CITIZEN] = "450 4.2.1 Mailbox busy, try again later"
    make_case(now=NOW, reporter=Reporter(name="Trần Thị Bình", email=CITIZEN))
    deliver(app, NOW, times=1)
    [row] = outbox(app)
    assert failed_addresses(app) == {}
    assert row["status"] == "pending" and row["next_attempt_at"] > NOW
    del smtp.handler.refuse[CITIZEN]
    assert deliver(app, row["next_attempt_at"])[0] == {"sent": 1}
    assert [m.rcpt_tos for m in smtp.received] == [[CITIZEN]]


# --- a denouncer's sealed address -----------------------------------------------------------

DENOUNCER = "nguoi.to.cao@example.vn"


def denounce(make_case: Callable[..., str]) -> str:
    return make_case(
        now=NOW,
        kind="denunciation",
        subject="Cán bộ địa chính đòi tiền khi làm thủ tục",
        body="Cán bộ địa chính phường yêu cầu nộp thêm tiền ngoài lệ phí khi cấp giấy.",
        category_code="4.1",
        area_code="00688",
        reporter=Reporter(name="Nguyễn Văn Tố", phone="0987000222", email=DENOUNCER),
    )


def test_a_denouncers_sealed_address_reaches_the_real_mailbox(
    app: Flask, smtp: MailServer, make_case: Callable[..., str]
) -> None:
    code = denounce(make_case)
    # The e-mail, and the SMS to the phone (to sms.log here): both sealed.
    assert sorted(r["channel"] for r in outbox(app)) == ["email", "sms"]
    for row in outbox(app):
        assert row["recipient"].startswith("sealed:")
        for secret in (DENOUNCER, "nguoi.to.cao", "Nguyễn Văn Tố", "0987000222"):
            assert secret not in row["recipient"] + row["subject"] + row["body"]

    assert deliver(app, NOW) == [{"sent": 2}, {}, {}]
    [mail] = smtp.received
    assert mail.rcpt_tos == [DENOUNCER] and str(mail.message["To"]) == DENOUNCER
    check_vietnamese(mail, "Hệ thống đã tiếp nhận tố cáo")
    assert code in mail.subject
    assert "Nguyễn Văn Tố" not in mail.text, "the message names nobody"

    # After delivery the outbox still holds only the sealed form.
    [row] = [r for r in outbox(app) if r["channel"] == "email"]
    assert row["status"] == "sent" and row["recipient"].startswith("sealed:")
    assert DENOUNCER not in repr(row)


def test_a_refused_denouncer_address_stays_sealed_at_rest(
    app: Flask, smtp: MailServer, make_case: Callable[..., str]
) -> None:
    smtp.handler.refuse[DENOUNCER] = "550 5.1.1 mailbox unavailable"
    denounce(make_case)
    assert deliver(app, NOW, times=1) == [{"failed": 1, "sent": 1}]  # the SMS went
    [row] = [r for r in outbox(app) if r["channel"] == "email"]
    assert row["status"] == "failed"
    assert DENOUNCER not in repr(row)
    assert DENOUNCER not in repr(failed_addresses(app))


def test_one_undeliverable_row_does_not_stop_the_mail_behind_it(
    app: Flask, smtp: MailServer
) -> None:
    """A sealed address the configured IDENTITY_KEY cannot open (sealed by a process with
    another key) must fail alone, with its reason, not block every message after it."""
    from cryptography.fernet import Fernet

    from feedback.services.sla.notify import queue

    other_key = Fernet(Fernet.generate_key())
    sealed_elsewhere = "sealed:" + other_key.encrypt(DENOUNCER.encode()).decode()
    with app.app_context(), unit_of_work():
        for number, recipient in enumerate([sealed_elsewhere, CITIZEN]):
            queue(
                dedupe_key=f"test:poison:{number}",
                recipient=recipient,
                subject="Thư thử nghiệm",
                body="Nội dung thư thử nghiệm.",
                kind="test",
                now=NOW,
            )
    for hours in range(3):  # the scheduler logs a failing run and tries again later
        with contextlib.suppress(RuntimeError):
            deliver(app, NOW + timedelta(hours=hours), times=1)
    assert [m.rcpt_tos for m in smtp.received] == [[CITIZEN]]
    poisoned, good = outbox(app)
    assert good["status"] == "sent"
    assert poisoned["status"] == "failed" and poisoned["last_error"]
