"""Working a case through the desk pages (CSRF on): the coordinator's triage queue, the
unit's workflow on the case page, and what each role is shown, refused and told."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import select, update

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case
from feedback.services.handling import followup
from feedback.views.workflow import STEPS, holders, time_left

CASE = "/can-bo/ho-so/{}"


class Desk:
    """One staff member's browser: its own cookie jar, logged in through the login page."""

    def __init__(self, client: FlaskClient, username: str) -> None:
        self.client, self.username = client, username
        self.name = f"Cán bộ {username}"

    @classmethod
    def login(cls, app: Flask, make_user: Callable[..., Any], role: str, unit: str) -> Desk:
        _, username = make_user(role, unit_code=unit)
        return cls(client_for(app, username), username)

    def page(self, code: str) -> str:
        response = self.client.get(CASE.format(code))
        assert response.status_code == 200, response.status_code
        return html.unescape(response.text)

    def post(self, code: str, action: str, **form: str) -> Any:
        """Post one workflow action with the token of the page it is posted from."""
        token = csrf_from(self.client.get("/can-bo/").text)
        url = f"{CASE.format(code)}/{STEPS[action].slug}"
        return self.client.post(url, data={"csrf_token": token, **form})

    def act(self, code: str, action: str, **form: str) -> str:
        """Post, expect 303 back to the case page, and return that page (with the flash)."""
        response = self.post(code, action, **form)
        assert response.status_code == 303, response.text
        assert response.headers["Location"].endswith(CASE.format(code))
        return self.page(code)


def facts(app: Flask, code: str) -> tuple[str, int, str]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        result = (case.status, len(case.events), case.handling_unit.code)
        db.session.remove()
        return result


def flashes(text: str) -> list[str]:
    return re.findall(r'<p class="flash (?:ok|error)">(.*?)</p>', text, re.S)


def timeline(text: str) -> list[tuple[str, str, str]]:
    """(time, actor, note) of each step on the case page."""
    found = re.findall(r"<li><time>([^<]+)</time> <strong>([^<]+)</strong>: ([^\n<]+)", text)
    return [(t, who, note.strip()) for t, who, note in found]


@pytest.fixture
def desk(app: Flask, make_user: Callable[..., Any]) -> Callable[[str, str], Desk]:
    return lambda role, unit: Desk.login(app, make_user, role, unit)


def test_time_left_is_said_in_vietnamese() -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert time_left(now + timedelta(hours=5, minutes=20, seconds=30), now) == (
        "còn 5 giờ 20 phút",
        False,
    )
    assert time_left(now - timedelta(hours=2), now) == ("quá hạn 2 giờ", True)
    assert time_left(now - timedelta(days=3, hours=1, minutes=5), now) == (
        "quá hạn 3 ngày 1 giờ",
        True,
    )
    assert time_left(now + timedelta(seconds=20), now) == ("còn dưới 1 phút", False)


def test_time_left_and_the_desk_s_flashes_in_english(app: Flask, make_case: Any, desk: Any) -> None:
    from flask_babel import force_locale

    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with app.test_request_context("/"), force_locale("en"):
        assert time_left(now + timedelta(hours=1, minutes=1), now) == (
            "1 hour 1 minute left",
            False,
        )
        assert time_left(now - timedelta(days=3, hours=2), now) == ("3 days 2 hours overdue", True)
        assert time_left(now + timedelta(seconds=20), now) == ("under a minute left", False)
    code = make_case()
    officer = desk("officer", "UBND-00694")
    assert officer.client.get("/can-bo/?lang=en").status_code == 200
    page = officer.act(code, "acknowledge")
    assert flashes(page) == [f"Case {code} acknowledged; the sender has been told."]
    officer.act(code, "start")
    desk("unit_head", "UBND-00694")  # the unit has a head: the draft waits for him
    page = officer.act(code, "draft_answer", body="Đèn đường đã được thay trong ngày 3/12.")
    assert flashes(page) == ["Draft answer saved; it waits for approval by the head of the unit."]


def test_each_action_is_open_only_to_roles_that_can_hold_it() -> None:
    # A unit without a head is approved by its named approver (an officer of the unit or a
    # coordinator) or the coordinator (issue 16); the case's facts decide which.
    assert set(holders(STEPS["approve_answer"].op)) == {"coordinator", "officer", "unit_head"}
    assert holders(STEPS["assign"].op) == ("unit_head",)
    assert holders(STEPS["merge"].op) == ("coordinator",)
    assert holders(STEPS["reopen"].op) == ("coordinator",)
    assert set(holders(STEPS["acknowledge"].op)) == {"coordinator", "officer", "unit_head"}
    assert set(holders(STEPS["note"].op)) == {"coordinator", "officer", "unit_head", "inspector"}


def test_from_triage_to_an_approved_answer_through_the_pages(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any, desk: Any
) -> None:
    now = datetime.now(UTC)
    late = make_case(category_code="4.4", area_code=None, now=now - timedelta(hours=26))
    code = make_case(category_code="4.4", area_code=None, now=now - timedelta(hours=3, minutes=40))
    routed = make_case(category_code="6.3b", area_code="00688")  # received, not in triage
    coordinator = login_as("coordinator", "VP")

    queue = html.unescape(client.get("/can-bo/phan-loai").text)
    assert 'href="/can-bo/phan-loai"' in queue  # the menu link
    rows = re.findall(r'<tr data-code="([^"]+)"', queue)
    assert rows == [late, code, routed]  # oldest first
    assert re.search(r"còn 20 giờ (19|20) phút", queue)
    assert re.search(r'class="overdue">quá hạn 2 giờ', queue)
    assert "do đơn vị liên quan xử lý" in queue  # the routing reason
    assert "Văn phòng HĐND-UBND" in queue

    token = csrf_from(queue)
    response = client.post(
        f"{CASE.format(code)}/chuyen",
        data={
            "csrf_token": token,
            "unit_code": "NV",
            "reason": "Tuyển dụng công chức thuộc Phòng Nội vụ.",
            "back": "triage",
            "trang": "1",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/can-bo/phan-loai")
    queue = html.unescape(client.get("/can-bo/phan-loai").text)
    assert re.findall(r'<tr data-code="([^"]+)"', queue) == [late, routed]
    assert "Chuyển từ Văn phòng HĐND-UBND thành phố đến Phòng Nội vụ" in flashes(queue)[0]
    assert facts(app, code)[0::2] == ("transferred", "NV")

    officer = desk("officer", "NV")
    head = desk("unit_head", "NV")
    assert code in officer.client.get("/can-bo/").text
    assert "Nhận xử lý" in officer.page(code)

    assert "Đã xác nhận tiếp nhận" in flashes(officer.act(code, "acknowledge"))[0]
    page = head.page(code)
    assert f'<option value="{officer.username}"' in page
    page = head.act(code, "assign", officer=officer.username)
    assert re.search(rf'data-testid="assigned">{officer.name}<', page)
    officer.act(code, "start")
    officer.act(code, "note", note="Đã gọi điện cho người gửi để xác minh.")
    page = officer.act(code, "draft_answer", body="Phòng Nội vụ đã kiểm tra quy trình tuyển dụng.")
    assert "chờ lãnh đạo đơn vị duyệt" in flashes(page)[0]
    assert "Duyệt và gửi trả lời" not in page and "/duyet-tra-loi" not in page
    assert "Phòng Nội vụ đã kiểm tra quy trình tuyển dụng." in page  # prefilled draft

    page = head.page(code)
    assert "Duyệt và gửi trả lời" in page
    assert re.search(
        rf'data-testid="draft-meta"><span lang="vi">{officer.name}</span> soạn lúc', page
    )
    page = head.act(
        code,
        "approve_answer",
        body="Phòng Nội vụ đã kiểm tra quy trình tuyển dụng; kết quả đúng quy định.",
    )
    assert facts(app, code)[0] == "answered"
    assert "kết quả đúng quy định" in page and f'<span lang="vi">{head.name}</span> duyệt' in page
    assert "Lưu dự thảo trả lời" not in page  # no second answer from an answered case

    steps = timeline(page)
    assert [(who, note) for _, who, note in steps[1:]] == [
        (
            f"Cán bộ {coordinator}",
            "Chuyển từ Văn phòng HĐND-UBND thành phố đến Phòng Nội vụ. "
            "Lý do: Tuyển dụng công chức thuộc Phòng Nội vụ.",
        ),
        (officer.name, "Đã xác nhận tiếp nhận; hồ sơ đang được xem xét, giải quyết."),
        (head.name, f"Giao cán bộ {officer.name} xử lý."),
        (officer.name, "Bắt đầu xử lý."),
        (officer.name, "Đã gọi điện cho người gửi để xác minh."),
        (officer.name, "Soạn dự thảo trả lời, trình lãnh đạo đơn vị duyệt."),
        (head.name, "Đã trả lời người dân."),
    ]
    assert all(re.fullmatch(r"\d\d:\d\d \d\d/\d\d/\d{4}", t) for t, _, _ in steps)


def _answered(app: Flask, make_case: Any, desk: Any) -> tuple[str, Desk, Desk]:
    code = make_case(category_code="6.3b", area_code="00688")
    officer = desk("officer", "UBND-00688")
    head = desk("unit_head", "UBND-00688")
    officer.act(code, "acknowledge")
    head.act(code, "approve_answer", body="Đã thay bóng đèn trước số nhà 120.")
    return code, officer, head


def test_buttons_follow_permissions_and_the_state_machine(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any, desk: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    officer = desk("officer", "UBND-00688")
    head = desk("unit_head", "UBND-00688")
    inspector = desk("inspector", "TTR")
    page = officer.page(code)
    assert "Xác nhận tiếp nhận" in page and "Nhận xử lý" not in page  # received: not yet
    assert "Giao xử lý" not in page and "Duyệt và gửi trả lời" not in page
    assert "Gộp vào" not in page and "Không tiếp nhận" not in page  # coordinator, head
    page = inspector.page(code)
    assert "Thêm ghi chú" in page and "Xác nhận tiếp nhận" not in page
    assert "Chuyển hồ sơ" not in page
    page = head.page(code)
    assert "Không tiếp nhận" in page and "Giao xử lý" in page
    assert "Lưu dự thảo trả lời" not in page  # nothing to answer before acknowledgement

    head.act(code, "acknowledge")
    page = officer.page(code)
    assert "Lưu dự thảo trả lời" in page and "Đề nghị người dân bổ sung" in page
    assert "Duyệt và gửi trả lời" not in page and "/duyet-tra-loi" not in page
    head.act(code, "approve_answer", body="Đã thay bóng đèn trước số nhà 120.")
    head.act(code, "close")
    assert facts(app, code)[0] == "closed"
    login_as("coordinator", "VP")
    pages = [officer.page(code), head.page(code), html.unescape(client.get(CASE.format(code)).text)]
    for page in pages:
        assert "Duyệt và gửi trả lời" not in page and "Lưu dự thảo trả lời" not in page
        assert "/du-thao" not in page and "/duyet-tra-loi" not in page
        assert f'{CASE.format(code)}/giao"' not in page and f'{CASE.format(code)}/dong"' not in page
    assert "Mở lại hồ sơ" in pages[2]  # the coordinator may reopen for the citizen


def test_forbidden_actions_get_403_and_change_nothing(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any, desk: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    officer = desk("officer", "UBND-00688")
    officer.act(code, "acknowledge")
    officer.act(code, "draft_answer", body="Dự thảo trả lời đủ dài để duyệt.")
    before = facts(app, code)
    response = officer.post(code, "approve_answer", body="Tự duyệt câu trả lời của mình.")
    assert response.status_code == 403
    assert "không có quyền" in html.unescape(response.text)
    inspector = desk("inspector", "TTR")
    assert inspector.post(code, "close").status_code == 403
    login_as("coordinator", "VP")
    token = csrf_from(client.get(CASE.format(code)).text)
    response = client.post(f"{CASE.format(code)}/giao", data={"csrf_token": token})
    assert response.status_code == 403
    assert facts(app, code) == before


def test_invalid_moves_are_explained_and_change_nothing(
    app: Flask, make_case: Any, desk: Any
) -> None:
    code, officer, head = _answered(app, make_case, desk)
    head.act(code, "close")
    before = facts(app, code)
    assert before[0] == "closed"
    page = head.act(code, "approve_answer", body="Trả lời lần hai sau khi đã đóng.")
    assert "Không thể «trả lời» hồ sơ đang ở trạng thái «đã đóng»" in flashes(page)[0]
    page = officer.act(code, "draft_answer", body="Dự thảo sau khi đã đóng hồ sơ.")
    assert "chưa thể trả lời" in flashes(page)[0]
    page = head.act(code, "assign", officer=officer.username)
    assert "đã kết thúc" in flashes(page)[0]
    assert facts(app, code) == before

    other = make_case(category_code="6.3b", area_code="00688")
    before = facts(app, other)
    page = officer.act(other, "transfer", unit_code="DL", reason="  ")
    assert "Cần nhập lý do chuyển" in flashes(page)[0]
    page = officer.act(other, "transfer", unit_code="KHONG-CO", reason="Sai thẩm quyền xử lý.")
    assert "Đơn vị không tồn tại" in flashes(page)[0]
    page = head.act(other, "reject", reason="")
    assert "lý do không tiếp nhận" in flashes(page)[0]
    page = head.act(other, "approve_answer", body="Trả lời khi chưa xác nhận tiếp nhận.")
    assert "Không thể" in flashes(page)[0]
    assert facts(app, other) == before


def test_missing_csrf_token_is_refused(app: Flask, make_case: Any, desk: Any) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    officer = desk("officer", "UBND-00688")
    before = facts(app, code)
    response = officer.client.post(f"{CASE.format(code)}/xac-nhan-tiep-nhan")
    assert response.status_code == 400
    assert "Phiên làm việc đã hết hạn" in html.unescape(response.text)
    response = officer.client.post(
        f"{CASE.format(code)}/xac-nhan-tiep-nhan", data={"csrf_token": "sai"}
    )
    assert response.status_code == 400
    assert facts(app, code) == before


def test_an_officer_of_another_unit_gets_404(app: Flask, make_case: Any, desk: Any) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    stranger = desk("officer", "UBND-00691")
    before = facts(app, code)
    assert stranger.client.get(CASE.format(code)).status_code == 404
    assert stranger.post(code, "acknowledge").status_code == 404
    assert stranger.post(code, "note", note="Ghi chú của đơn vị khác.").status_code == 404
    assert stranger.client.post("/can-bo/ho-so/HG-1999-000001/ghi-chu").status_code in (400, 404)
    assert facts(app, code) == before


def test_transferring_out_of_ones_unit_returns_to_the_inbox(
    app: Flask, make_case: Any, desk: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    officer = desk("officer", "UBND-00688")
    response = officer.post(
        code, "transfer", unit_code="DL", reason="Đèn đường do Điện lực quản lý."
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/can-bo/")
    assert facts(app, code)[0::2] == ("transferred", "DL")
    assert officer.client.get(CASE.format(code)).status_code == 404
    back = make_case(category_code="6.3b", area_code="00688")
    officer.post(back, "transfer", unit_code="VP", reason="Không thuộc thẩm quyền của phường.")
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == back))
        assert case.needs_triage and case.handling_unit.code == "VP"


def test_triage_actions_from_the_queue(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any, desk: Any
) -> None:
    first = make_case(category_code="6.3b", area_code="00688")
    second = make_case(category_code="6.3b", area_code="00688", subject="Đèn đường lại hỏng")
    third = make_case(category_code="4.4", area_code=None, subject="Nội dung không rõ ràng")
    with app.app_context(), unit_of_work():  # a routed case someone flagged for checking
        db.session.execute(update(Case).where(Case.code == first).values(needs_triage=True))
    login_as("coordinator", "VP")
    queue = client.get("/can-bo/phan-loai").text
    assert queue.count("/dung-don-vi") == 1  # only where a unit other than VP was chosen

    def post(code: str, slug: str, **form: str) -> Any:
        token = csrf_from(client.get("/can-bo/phan-loai").text)
        data = {"csrf_token": token, "back": "triage", **form}
        return client.post(f"{CASE.format(code)}/{slug}", data=data)

    assert post(first, "dung-don-vi").status_code == 303
    assert post(first, "xac-nhan-tiep-nhan").status_code == 303
    assert post(second, "gop", into=first.lower()).status_code == 303
    assert post(third, "khong-tiep-nhan", reason="Không có nội dung cụ thể.").status_code == 303
    queue = client.get("/can-bo/phan-loai").text
    assert re.findall(r'<tr data-code="([^"]+)"', queue) == []
    assert facts(app, first)[0] == "acknowledged"
    assert facts(app, second)[0] == "merged"
    assert facts(app, third)[0] == "rejected"
    assert post(first, "gop", into="HG-1999-000001").status_code == 303
    assert "Không có hồ sơ để gộp vào" in html.unescape(client.get("/can-bo/phan-loai").text)


def test_triage_is_for_coordinators_and_pages_by_fifty(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any, desk: Any
) -> None:
    officer = desk("officer", "UBND-00688")
    assert officer.client.get("/can-bo/phan-loai").status_code == 403
    assert 'href="/can-bo/phan-loai"' not in officer.client.get("/can-bo/").text
    start = datetime.now(UTC) - timedelta(hours=2)
    codes = [make_case(now=start + timedelta(seconds=i)) for i in range(51)]
    login_as("coordinator", "VP")
    first = client.get("/can-bo/phan-loai").text
    assert re.findall(r'<tr data-code="([^"]+)"', first) == codes[:50]
    assert "Trang sau" in first
    second = client.get("/can-bo/phan-loai?trang=2").text
    assert re.findall(r'<tr data-code="([^"]+)"', second) == codes[50:]


def test_case_page_shows_the_workflow_facts(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any, desk: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688")
    officer = desk("officer", "UBND-00688")
    head = desk("unit_head", "UBND-00688")
    officer.act(code, "acknowledge")
    page = officer.act(code, "ask_citizen", question="Xin cho biết số nhà cụ thể.")
    assert facts(app, code)[0] == "waiting_citizen"
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        followup.citizen_reply(case, now, "Trước số nhà 120 đường Nguyễn Trãi.")
    page = officer.page(code)
    assert "Người dân bổ sung: Trước số nhà 120 đường Nguyễn Trãi." in page
    assert 'data-testid="replies"' in page
    head.act(code, "approve_answer", body="Đã thay bóng đèn trước số nhà 120.")
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        followup.rate(case, now, 4, "Nhanh nhưng cần báo trước.")
    page = head.page(code)
    assert re.search(r'data-testid="rating"><strong>4/5</strong>', page)
    assert "Nhanh nhưng cần báo trước." in page
    login_as("coordinator", "VP")
    page = html.unescape(
        client.post(
            f"{CASE.format(code)}/mo-lai",
            data={
                "csrf_token": csrf_from(client.get(CASE.format(code)).text),
                "reason": "Người dân gọi 1022: đèn lại hỏng.",
            },
            follow_redirects=True,
        ).text
    )
    assert "Đã mở lại hồ sơ" in page
    assert facts(app, code)[0] == "reopened"
    assert 'data-testid="rating"' not in page  # the rating went with the reopened answer
