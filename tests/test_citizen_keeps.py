"""Issue 15: nothing the citizen gives is lost, and the form says what will happen first.

- Files chosen before "Xem phản ánh tương tự" (or before a refused "Gửi") are kept and
  shown with a way to remove them; "Gửi" attaches them; the success page and the status
  page list them.
- The similar-case check needs no name and no phone, and its results sit beside its
  button (an anchor the browser scrolls to).
- Only a filed case counts against RATELIMIT_SUBMIT; the refusal re-renders the form as
  typed, with when to retry (429).
- The status page shows the citizen's text, files, and a line when the case moved unit.
- The kinds and their limits come from the policies in force (form, success page, home
  page, footer); an anonymous complaint or denunciation is warned before it is sent.

Web tests with CSRF on, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import io
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, pdf_bytes, png_bytes
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.deadlines import local_date
from feedback.extensions import db
from feedback.models import Attachment, Case, SlaPolicy, User
from feedback.services.handling import actions as handling
from feedback.services.intake import pending

SUBJECT = "Đèn đường tổ 5 hỏng cả tuần"
BODY = "Ba cột đèn đường trước nhà văn hoá tổ 5 không sáng từ thứ Hai, đi lại rất nguy hiểm."
UNIT = "UBND-00688"  # 6.3b in ward 00688


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def hidden(page: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}"[^>]*value="([^"]*)"', page) + re.findall(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )


def fields(page: str, **extra: Any) -> dict[str, Any]:
    """The form's text as a citizen filled it in, with the tokens the page carries."""
    data: dict[str, Any] = {
        "csrf_token": csrf_from(page),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00688",
        "address": "Tổ 5, phường Quang Trung",
        "subject": SUBJECT,
        "body": BODY,
        "reporter_name": "Vàng Thị Dung",
        "reporter_phone": "0912 888 777",
        "reporter_email": "",
    }
    for name in ("upload_token", "submission_token"):
        found = hidden(page, name)
        if found:
            data[name] = found[0]
    kept = hidden(page, "kept_upload")
    if kept:
        data["kept_upload"] = kept
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def post(client: FlaskClient, data: dict[str, Any], files: list[tuple[str, bytes]] = ()) -> Any:
    payload = dict(data)
    if files:
        payload["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/gui", data=payload, content_type="multipart/form-data")


def case_of(app: Flask, code: str) -> tuple[Case, list[str]]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        names = list(
            db.session.scalars(
                select(Attachment.original_name)
                .where(Attachment.case_id == case.id)
                .order_by(Attachment.id)
            )
        )
        db.session.expunge(case)
        return case, names


def cases(app: Flask) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Case.id)).all())


def pending_dirs(app: Flask) -> list[Path]:
    with app.app_context():
        base = pending.folder()
    return [p for p in base.iterdir() if p.is_dir()] if base.exists() else []


def success(client: FlaskClient, response: Any) -> tuple[str, str, str]:
    """(code, key, success page text) after a redirect to the success page."""
    assert response.status_code == 302, text_of(response)[:3000]
    code = response.headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/gui/da-nhan/{code}")
    key = re.search(r'data-testid="access-key">([^<]+)<', page.text)
    assert key, page.text
    return code, key.group(1).strip(), text_of(page)


def status_page(app: Flask, code: str, key: str) -> str:
    browser = app.test_client()
    form = browser.get("/tra-cuu")
    proved = browser.post(
        "/tra-cuu", data={"csrf_token": csrf_from(form.text), "code": code, "access_key": key}
    )
    assert proved.status_code == 303, proved.text
    return text_of(browser.get(f"/tra-cuu/{code}"))


# --- the photo survives the check ----------------------------------------------------------


def test_the_photo_survives_the_check_and_is_listed_after_sending(
    app: Flask, client: FlaskClient
) -> None:
    page = client.get("/gui").text
    # The check: no name, no phone, a photo chosen.
    checked = post(
        client,
        fields(page, action="check", reporter_name="", reporter_phone=""),
        [("o-ga.png", png_bytes())],
    )
    assert checked.status_code == 200, text_of(checked)[:2000]
    shown = text_of(checked)
    assert 'data-testid="hints"' in shown
    assert "Vui lòng cho biết họ tên" not in shown and "Vui lòng để lại số" not in shown
    assert 'data-testid="kept-file">o-ga.png<' in shown
    assert 'data-testid="attachments-reselect"' not in shown
    assert cases(app) == 0  # checking files nothing

    sent = post(client, fields(checked.text, action="send"))
    code, key, receipt = success(client, sent)
    assert case_of(app, code)[1] == ["o-ga.png"]
    assert 'data-testid="file">o-ga.png' in receipt
    # The kept copy is gone once the case holds the file (a marker says the form was sent).
    assert [p.name for d in pending_dirs(app) for p in d.iterdir()] == ["sent"]

    status = status_page(app, code, key)
    assert 'data-testid="file">o-ga.png' in status
    assert BODY in status  # the citizen's own text


def test_the_same_form_sent_twice_after_a_check_is_one_case_with_its_photo(
    app: Flask, client: FlaskClient
) -> None:
    """The first answer was lost: the repeat names kept files that went with the case,
    and gets that case back (the one-time form token), not a refusal nor a second case."""
    page = client.get("/gui").text
    checked = post(client, fields(page, action="check"), [("anh.png", png_bytes())])
    again = fields(checked.text, action="send")
    first = post(client, again)
    assert first.status_code == 302
    repeat = post(client, again)
    assert repeat.status_code == 302
    assert repeat.headers["Location"] == first.headers["Location"]
    assert cases(app) == 1
    code = first.headers["Location"].rsplit("/", 1)[-1]
    assert case_of(app, code)[1] == ["anh.png"]
    assert 'data-testid="repeated"' in client.get(f"/gui/da-nhan/{code}").text


def test_a_kept_file_can_be_removed_and_more_added(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    checked = post(
        client, fields(page, action="check"), [("mot.png", png_bytes()), ("hai.pdf", pdf_bytes())]
    )
    assert checked.status_code == 200
    ids = hidden(checked.text, "kept_upload")
    assert len(ids) == 2
    # Untick nothing, tick "Bỏ tệp này" on the first; add a third file with "Gửi".
    sent = post(
        client,
        fields(checked.text, action="send", remove_upload=ids[0]),
        [("ba.png", png_bytes())],
    )
    code, _, receipt = success(client, sent)
    assert case_of(app, code)[1] == ["hai.pdf", "ba.png"]
    assert "mot.png" not in receipt


def test_a_refused_send_keeps_the_files_too(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    refused = post(client, fields(page, action="send", subject="Hỏi"), [("anh.png", png_bytes())])
    assert refused.status_code == 422
    assert 'data-testid="kept-file">anh.png<' in text_of(refused)
    code, _, _ = success(client, post(client, fields(refused.text, action="send")))
    assert case_of(app, code)[1] == ["anh.png"]


def test_an_expired_kept_file_is_named_not_dropped(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    checked = post(client, fields(page, action="check"), [("anh.png", png_bytes())])
    [directory] = pending_dirs(app)
    old = time.time() - 7 * 3600  # older than PENDING_UPLOAD_HOURS (6)
    for path in directory.iterdir():
        os.utime(path, (old, old))
    refused = post(client, fields(checked.text, action="send"))
    assert refused.status_code == 422
    assert "không còn được lưu tạm" in text_of(refused)
    assert cases(app) == 0
    with app.app_context():
        assert pending.sweep(datetime.now(UTC)) == 1  # housekeeping removes it
    assert pending_dirs(app) == []


def test_kept_files_belong_to_their_form(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    checked = post(client, fields(page, action="check"), [("anh.png", png_bytes())])
    [file_id] = hidden(checked.text, "kept_upload")
    # Another form (another token) naming that file gets nothing of it.
    other = app.test_client()
    form = other.get("/gui").text
    refused = post(other, fields(form, action="send", kept_upload=file_id))
    assert refused.status_code == 422
    assert "không còn được lưu tạm" in text_of(refused)
    assert cases(app) == 0


@pytest.mark.parametrize("app_config", [{"ATTACHMENT_MAX_COUNT": 2}])
def test_kept_and_new_files_share_the_per_form_limit(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    checked = post(
        client, fields(page, action="check"), [("a.png", png_bytes()), ("b.png", png_bytes())]
    )
    again = post(client, fields(checked.text, action="check"), [("c.png", png_bytes())])
    shown = text_of(again)
    assert "Tối đa 2 tệp" in shown
    assert shown.count('data-testid="kept-file"') == 2


# --- the check needs nothing personal, and answers beside its button ------------------------


def test_the_check_needs_no_personal_data_and_answers_beside_its_button(
    client: FlaskClient,
) -> None:
    page = client.get("/gui").text
    data = fields(page, action="check", reporter_name="", reporter_phone="", subject="", body="")
    response = post(client, data)
    assert response.status_code == 200
    shown = response.get_data(as_text=True)
    assert 'data-testid="hints"' in shown
    assert 'class="error"' not in shown
    # The button posts to #tuong-tu and the results are inside that section, before the
    # contact details (not at the bottom of a long page).
    assert re.search(r'formaction="/gui#tuong-tu"', shown)
    section = shown.index('id="tuong-tu"')
    assert section < shown.index('value="check"') < shown.index('data-testid="hints"')
    assert shown.index('data-testid="hints"') < shown.index("<legend>Thông tin liên hệ")


def test_a_check_with_a_wrong_choice_is_refused(client: FlaskClient) -> None:
    page = client.get("/gui").text
    response = post(client, fields(page, action="check", category_code="9.9"))
    assert response.status_code == 422
    assert "Lựa chọn không hợp lệ." in text_of(response)


# --- a rate-limited submission keeps the text ---------------------------------------------


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_SUBMIT": "2/minute;100/day"}]
)
def test_only_filed_cases_count_and_the_refusal_keeps_the_text(
    app: Flask, client: FlaskClient
) -> None:
    page = client.get("/gui").text
    for _ in range(4):  # refused forms and checks are no submissions
        assert post(client, fields(page, action="send", subject="")).status_code == 422
        assert post(client, fields(page, action="check")).status_code == 200
    for n in range(2):
        success(client, post(client, fields(page, action="send", subject=f"{SUBJECT} {n}")))
    refused = post(
        client,
        fields(page, action="send", subject=f"{SUBJECT} lần ba"),
        [("anh.png", png_bytes())],
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    shown = text_of(refused)
    assert "vui lòng bấm «Gửi» lại sau khoảng" in shown and "giây" in shown
    for typed in (f"{SUBJECT} lần ba", BODY, "Vàng Thị Dung", "0912 888 777", "Tổ 5, phường"):
        assert typed in shown, typed
    assert 'data-testid="kept-file">anh.png<' in shown  # and the photo
    assert cases(app) == 2
    # The same form, sent again once the minute has passed, files the case with the photo.
    again = fields(refused.text, action="send", subject=f"{SUBJECT} lần ba")
    with app.app_context():
        from feedback.extensions import limiter

        limiter.reset()
    code, _, _ = success(client, post(client, again))
    assert case_of(app, code)[1] == ["anh.png"]


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_SUBMIT_ATTEMPTS": "3/minute"}]
)
def test_posts_of_the_form_are_bounded_too_and_keep_the_text(client: FlaskClient) -> None:
    page = client.get("/gui").text
    for _ in range(3):
        assert post(client, fields(page, action="check")).status_code == 200
    refused = post(client, fields(page, action="send"))
    assert refused.status_code == 429
    shown = text_of(refused)
    assert "quá nhiều lần" in shown and SUBJECT in shown and BODY in shown


# --- the status page ----------------------------------------------------------------------


def test_the_status_page_shows_the_text_the_files_and_the_move(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    page = client.get("/gui").text
    sent = post(client, fields(page, action="send"), [("bang-chung.pdf", pdf_bytes())])
    code, key, _ = success(client, sent)
    coordinator_id = make_user("coordinator", unit_code="VP")[0]
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        who = db.session.get(User, coordinator_id)
        handling.transfer(
            case, who, datetime.now(UTC), "UBND-00691", "Lý do nội bộ: giáp ranh Trần Phú"
        )
    shown = status_page(app, code, key)
    assert BODY in shown and "Tổ 5, phường Quang Trung" in shown
    assert 'data-testid="file">bang-chung.pdf' in shown
    timeline = shown[shown.index('data-testid="timeline"') :]
    assert "Hồ sơ được chuyển đến UBND Phường Trần Phú để xem xét, giải quyết." in timeline
    assert "giáp ranh" not in shown  # the reason stays with staff


def test_a_case_without_files_says_so(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    code, key, receipt = success(client, post(client, fields(page, action="send")))
    assert "Không có tệp đính kèm." in receipt
    assert 'data-testid="no-files"' in status_page(app, code, key)


# --- what will happen, said before -----------------------------------------------------------


def test_the_form_explains_each_kind_with_the_limits_in_force(client: FlaskClient) -> None:
    shown = text_of(client.get("/gui"))
    kinds = shown[shown.index('data-testid="kinds"') :]
    assert "xác nhận đã tiếp nhận trong 24 giờ" in kinds
    assert "trả lời trong 6 ngày làm việc kể từ ngày tiếp nhận" in kinds
    complaint = re.search(r'data-testid="kind-complaint">(.*?)</dd>', kinds, re.S)
    assert complaint
    assert "thụ lý (nhận giải quyết) trong 10 ngày làm việc" in complaint.group(1)
    assert "giải quyết trong 30 ngày kể từ ngày thụ lý" in complaint.group(1)
    assert "vụ việc phức tạp không quá 45 ngày" in complaint.group(1)
    assert "Khiếu nại gửi ẩn danh sẽ không được thụ lý" in complaint.group(1)
    denunciation = re.search(r'data-testid="kind-denunciation">(.*?)</dd>', kinds, re.S)
    assert denunciation and "thụ lý (nhận giải quyết) trong 7 ngày làm việc" in denunciation.group(
        1
    )
    assert "gia hạn 1 lần" in denunciation.group(1)


def test_home_page_and_footer_promise_per_kind(client: FlaskClient) -> None:
    home = text_of(client.get("/"))
    assert "Phản ánh</strong>: xác nhận đã tiếp nhận trong 24 giờ" in home
    assert re.search(r"Khiếu nại</strong>: xem xét và thông báo việc thụ lý", home)
    footer = home[home.index("<footer>") :]
    assert "Phản ánh, kiến nghị, góp ý: tiếp nhận trong 24 giờ, trả lời trong 6 ngày làm việc" in (
        footer
    )
    assert "Khiếu nại: thụ lý trong 10 ngày làm việc, giải quyết trong 30 ngày" in footer
    assert "Tố cáo: thụ lý trong 7 ngày làm việc, giải quyết trong 30 ngày" in footer
    # The old promise to everyone is gone.
    assert "Tiếp nhận trong 24 giờ, trả lời trong 6 ngày làm việc" not in footer


def test_the_promise_follows_the_policy_in_force(app: Flask, client: FlaskClient) -> None:
    """A new policy from today (an admin's or a law's) changes what the pages promise."""
    today = local_date(datetime.now(UTC))
    with app.app_context(), unit_of_work():
        row = db.session.scalar(
            select(SlaPolicy).where(
                SlaPolicy.kind == "feedback", SlaPolicy.round == 1, SlaPolicy.valid_to.is_(None)
            )
        )
        assert row.valid_from < today
        row.valid_to = today
        db.session.add(
            SlaPolicy(
                kind="feedback",
                round=1,
                valid_from=today,
                label=row.label,
                ack_hours=8,
                response_days=4,
                response_day_type="working",
                response_from="receipt",
                legal_basis="Thử nghiệm",
            )
        )
    shown = text_of(client.get("/gui"))
    feedback = re.search(r'data-testid="kind-feedback">(.*?)</dd>', shown, re.S)
    assert feedback and "xác nhận đã tiếp nhận trong 8 giờ" in feedback.group(1)
    assert "trả lời trong 4 ngày làm việc" in feedback.group(1)
    assert "Phản ánh: tiếp nhận trong 8 giờ, trả lời trong 4 ngày làm việc" in shown
    page = client.get("/gui").text
    _, _, receipt = success(client, post(client, fields(page, action="send")))
    assert "cơ quan sẽ xác nhận đã tiếp nhận trong 8 giờ" in receipt


def test_the_success_page_explains_a_complaints_limits(client: FlaskClient) -> None:
    page = client.get("/gui").text
    sent = post(client, fields(page, action="send", kind="complaint", category_code="3.2"))
    _, _, receipt = success(client, sent)
    promise = re.search(r'data-testid="promise">(.*?)</p>', receipt, re.S)
    assert promise
    assert "Với khiếu nại, cơ quan sẽ xem xét và thông báo việc thụ lý" in promise.group(1)
    assert "giải quyết trong 30 ngày kể từ ngày thụ lý" in promise.group(1)
    assert "24 giờ" not in promise.group(1)


@pytest.mark.parametrize(
    ("kind", "warning"),
    [
        ("complaint", "Khiếu nại gửi ẩn danh sẽ không được thụ lý giải quyết"),
        ("denunciation", "Tố cáo gửi ẩn danh không được giải quyết theo thủ tục tố cáo"),
    ],
)
def test_an_anonymous_complaint_or_denunciation_is_warned_before_it_is_sent(
    app: Flask, client: FlaskClient, kind: str, warning: str
) -> None:
    page = client.get("/gui").text
    anonymous = {"anonymous": "y", "reporter_name": "", "reporter_phone": ""}
    stopped = post(client, fields(page, action="send", kind=kind, category_code="3.2", **anonymous))
    assert stopped.status_code == 422
    shown = text_of(stopped)
    assert warning in shown
    assert 'name="anonymous_understood"' in shown
    assert cases(app) == 0
    sent = post(
        client,
        fields(
            stopped.text,
            action="send",
            kind=kind,
            category_code="3.2",
            anonymous_understood="y",
            **anonymous,
        ),
    )
    _, _, receipt = success(client, sent)
    assert warning in receipt


def test_the_form_warns_of_anonymous_complaints_before_anything_is_sent(
    client: FlaskClient,
) -> None:
    shown = text_of(client.get("/gui"))
    warning = re.search(r'data-testid="named-kinds-warning">(.*?)</p>', shown, re.S)
    assert warning and "Khiếu nại và tố cáo cần họ tên, địa chỉ." in warning.group(1)


def test_housekeeping_keeps_fresh_forms(app: Flask, client: FlaskClient) -> None:
    page = client.get("/gui").text
    post(client, fields(page, action="check"), [("anh.png", png_bytes())])
    with app.app_context():
        assert pending.sweep(datetime.now(UTC)) == 0
        assert pending.sweep(datetime.now(UTC) + timedelta(hours=7)) == 1
    assert pending_dirs(app) == []


def test_the_nightly_housekeeping_sweeps_unsent_forms(app: Flask, client: FlaskClient) -> None:
    from feedback.scheduler import _housekeeping

    page = client.get("/gui").text
    post(client, fields(page, action="check"), [("anh.png", png_bytes())])
    with app.app_context():
        done = _housekeeping(datetime.now(UTC) + timedelta(hours=7))
        db.session.remove()
    assert done["pending_uploads_deleted"] == 1
    assert pending_dirs(app) == []
