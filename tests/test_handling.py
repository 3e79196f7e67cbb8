"""The handling services: every move, its permission, its event, its refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case, CaseEvent, Notification, User
from feedback.services.errors import Conflict, Forbidden, ServiceError, ValidationError
from feedback.services.handling import actions, followup
from feedback.services.handling.moves import InvalidMove
from feedback.services.intake.submission import Reporter

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Giang


@pytest.fixture
def work(app: Flask) -> Callable[..., Any]:
    """Run ``fn(case, *args)`` as one unit of work, like a view would."""

    def run(code: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with app.app_context(), unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == code))
            return fn(case, *args, **kwargs)

    return run


@pytest.fixture
def users(make_user: Callable[..., Any]) -> Callable[..., Callable[[], User]]:
    """users(role, unit) creates the account now (outside any unit of work) and returns a
    loader that fetches it in the caller's session."""
    made: dict[tuple[str, str | None], int] = {}

    def account(role: str, unit: str | None = None) -> Callable[[], User]:
        if (role, unit) not in made:
            made[(role, unit)] = make_user(role, unit_code=unit)[0]
        user_id = made[(role, unit)]
        return lambda: db.session.get(User, user_id)

    return account


@contextmanager
def state(app: Flask, code: str) -> Iterator[Case]:
    with app.app_context():
        yield db.session.scalar(select(Case).where(Case.code == code))


def test_from_submission_to_a_rated_answer(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = (
        make_case(email_reporter=None)
        if False
        else make_case(category_code="6.3b", area_code="00688", now=NOW)
    )
    officer = users("officer", "UBND-00688")
    head = users("unit_head", "UBND-00688")
    work(code, lambda c: actions.acknowledge(c, officer(), NOW + timedelta(hours=1)))
    work(code, lambda c: actions.assign(c, head(), NOW + timedelta(hours=2), officer().username))
    work(code, lambda c: actions.start(c, officer(), NOW + timedelta(hours=3)))
    work(
        code,
        lambda c: actions.ask_citizen(
            c, officer(), NOW + timedelta(hours=4), "Xin cho biết số nhà cụ thể."
        ),
    )
    work(code, lambda c: followup.citizen_reply(c, NOW + timedelta(hours=5), "Trước số nhà 120."))
    work(
        code,
        lambda c: actions.draft_answer(
            c, officer(), NOW + timedelta(days=1), "Đã thay bóng đèn trước số nhà 120."
        ),
    )
    work(code, lambda c: actions.approve_answer(c, head(), NOW + timedelta(days=1, hours=1)))
    work(code, lambda c: followup.rate(c, NOW + timedelta(days=2), 5, "Nhanh, cảm ơn."))
    work(code, lambda c: actions.close(c, head(), NOW + timedelta(days=3)))
    with state(app, code) as case:
        assert case.status == "closed"
        assert case.answer_body == "Đã thay bóng đèn trước số nhà 120."
        assert case.acknowledged_at == NOW + timedelta(hours=1)
        assert case.answered_at == NOW + timedelta(days=1, hours=1)
        assert case.rating == 5
        steps = [(e.action, e.from_status, e.to_status, e.actor_label) for e in case.events]
        names = [s[0] for s in steps]
        assert names == [
            "submit",
            "acknowledge",
            "assign",
            "start",
            "ask_citizen",
            "citizen_reply",
            "draft_answer",
            "answer",
            "rate",
            "close",
        ]
        assert steps[5][3] == "Người dân"
        assert steps[7][3].startswith("Cán bộ unit_head")
        times = [e.at for e in case.events]
        assert times == sorted(times)


def test_invalid_moves_change_nothing(app: Flask, make_case: Any, work: Any, users: Any) -> None:
    code = make_case(category_code="6.3b", area_code="00688", now=NOW)
    head = users("unit_head", "UBND-00688")
    officer = users("officer", "UBND-00688")

    def events() -> int:
        with state(app, code) as case:
            return len(case.events)

    before = events()
    # answering a case nobody acknowledged: the state machine refuses
    with pytest.raises(InvalidMove, match="Không thể"):
        work(code, lambda c: actions.approve_answer(c, head(), NOW, "Nội dung trả lời đủ dài."))
    # transfer without a reason
    with pytest.raises(ValidationError) as info:
        work(code, lambda c: actions.transfer(c, officer(), NOW, "DL", "  "))
    assert "reason" in info.value.fields
    # an officer may not approve; an officer of another unit may do nothing
    work(code, lambda c: actions.acknowledge(c, officer(), NOW))
    with pytest.raises(Forbidden):
        work(code, lambda c: actions.approve_answer(c, officer(), NOW, "Nội dung trả lời đủ dài."))
    dl_officer = users("officer", "DL")
    with pytest.raises(Forbidden):
        work(code, lambda c: actions.start(c, dl_officer(), NOW))
    assert events() == before + 1  # only the acknowledgement
    work(code, lambda c: actions.approve_answer(c, head(), NOW, "Nội dung trả lời đủ dài."))
    work(code, lambda c: actions.close(c, head(), NOW))
    with pytest.raises(InvalidMove):
        work(
            code, lambda c: actions.approve_answer(c, head(), NOW, "Trả lời lần hai sau khi đóng.")
        )
    with state(app, code) as case:
        assert case.status == "closed" and case.answer_body == "Nội dung trả lời đủ dài."


def test_reopen_inside_and_after_the_window(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688", now=NOW)
    head = users("unit_head", "UBND-00688")
    work(code, lambda c: actions.acknowledge(c, head(), NOW))
    work(code, lambda c: actions.approve_answer(c, head(), NOW, "Đã xử lý xong việc này."))
    with pytest.raises(Conflict, match="quá thời hạn"):
        work(
            code, lambda c: followup.reopen(c, NOW + timedelta(days=7, seconds=1), "Chưa sửa xong.")
        )
    with state(app, code) as case:
        assert case.status == "answered"
    work(code, lambda c: followup.reopen(c, NOW + timedelta(days=6), "Đèn lại hỏng sau hai ngày."))
    with state(app, code) as case:
        assert case.status == "reopened" and case.reopen_count == 1 and case.answered_at is None
        assert case.response_due_at > NOW + timedelta(days=6)


def test_triage_transfer_and_back(app: Flask, make_case: Any, work: Any, users: Any) -> None:
    code = make_case(category_code="4.4", area_code=None, now=NOW)  # "the unit concerned"
    coordinator = users("coordinator", "VP")
    with state(app, code) as case:
        assert case.needs_triage and case.handling_unit.code == "VP"
    with pytest.raises(ValidationError):
        work(code, lambda c: actions.confirm_routing(c, coordinator(), NOW))
    work(
        code,
        lambda c: actions.transfer(c, coordinator(), NOW, "NV", "Tuyển dụng thuộc Phòng Nội vụ."),
    )
    with state(app, code) as case:
        assert case.status == "transferred" and case.handling_unit.code == "NV"
        assert not case.needs_triage
        assert "Phòng Nội vụ" in case.events[-1].note
    nv_officer = users("officer", "NV")
    work(code, lambda c: actions.transfer(c, nv_officer(), NOW, None, "Sai thẩm quyền."))
    with state(app, code) as case:
        assert case.handling_unit.code == "VP" and case.needs_triage


def test_reject_counts_as_acknowledged_and_answered(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = make_case(reporter=Reporter(name="Lý Thị Sen", email="sen@example.vn"), now=NOW)
    coordinator = users("coordinator", "VP")
    work(code, lambda c: actions.reject(c, coordinator(), NOW, "Không thuộc thẩm quyền."))
    with state(app, code) as case:
        assert case.status == "rejected"
        assert case.acknowledged_at == NOW and case.answered_at == NOW
        kinds = db.session.scalars(
            select(Notification.kind).where(Notification.case_id == case.id)
        ).all()
        assert sorted(kinds) == ["receipt", "rejected"]


def test_merge_tells_where_to_follow(app: Flask, make_case: Any, work: Any, users: Any) -> None:
    original = make_case(now=NOW)
    duplicate = make_case(now=NOW)
    coordinator = users("coordinator", "VP")
    with pytest.raises(ServiceError):
        work(duplicate, lambda c: actions.merge(c, coordinator(), NOW, duplicate))
    work(duplicate, lambda c: actions.merge(c, coordinator(), NOW, original))
    with state(app, duplicate) as case:
        assert case.status == "merged" and case.merged_into_id is not None
        assert original in case.events[-1].note
    with state(app, original) as case:
        assert case.events[-1].action == "merge_in"


def test_a_stale_move_loses_the_race(app: Flask, make_case: Any, users: Any) -> None:
    code = make_case(now=NOW)
    coordinator = users("coordinator", "VP")
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        case_status_seen = case.status
        # another request acknowledges in between
        db.session.execute(
            Case.__table__.update().where(Case.code == code).values(status="acknowledged")
        )
        case.status = case_status_seen  # this request still believes "received"
        with pytest.raises(Conflict, match="vừa được người khác cập nhật"):
            actions.acknowledge(case, coordinator(), NOW)
        db.session.rollback()
        events = db.session.scalar(
            select(func.count(CaseEvent.id)).join(Case).where(Case.code == code)
        )
        assert events == 1


def test_waiting_for_the_citizen_pauses_the_response_clock(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    """Received Mon 2 Mar 2026 09:00 → due Tue 10 Mar. Asked Tue 3 Mar, answered Thu 5 Mar:
    Tue 3 and Wed 4 were lost → due Thu 12 Mar 23:59:59 local."""
    code = make_case(category_code="6.3b", area_code="00688", now=NOW)
    officer = users("officer", "UBND-00688")
    work(code, lambda c: actions.acknowledge(c, officer(), NOW))
    with state(app, code) as case:
        assert case.response_due_at == datetime(2026, 3, 10, 16, 59, 59, tzinfo=UTC)
    work(code, lambda c: actions.ask_citizen(c, officer(), NOW + timedelta(days=1), "Số nhà?"))
    work(code, lambda c: followup.citizen_reply(c, NOW + timedelta(days=3), "Số nhà 12."))
    with state(app, code) as case:
        assert case.response_due_at == datetime(2026, 3, 12, 16, 59, 59, tzinfo=UTC)
        reply = next(e for e in case.events if e.action == "citizen_reply")
        assert reply.data["paused_since"].startswith("2026-03-03")
        assert case.events[-1].action == "recompute" and case.deadline_rev == 1


def test_denunciation_extensions_follow_the_law(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    """Law on Denunciations 2018, art. 30: a normal case is not extended, a complex one
    once, an especially complex one twice; each extension adds the policy's 30 days, by a
    recorded decision."""
    code = make_case(kind="denunciation", category_code="4.1", area_code="00688", now=NOW)
    coordinator = users("coordinator", "VP")
    work(code, lambda c: actions.transfer(c, coordinator(), NOW, "TTR", "Thẩm quyền Thanh tra."))
    head = users("unit_head", "TTR")
    work(code, lambda c: actions.acknowledge(c, head(), NOW + timedelta(days=1)))

    def extend(days: int, decision: str) -> None:
        work(
            code,
            lambda c: actions.extend(
                c, head(), NOW + timedelta(days=days), "Cần xác minh thêm.", decision
            ),
        )

    def classify(days: int, complexity: str) -> None:
        work(
            code,
            lambda c: actions.classify(
                c,
                head(),
                NOW + timedelta(days=days),
                complexity=complexity,
                remote=False,
                reason="Nhiều nội dung, nhiều nơi.",
            ),
        )

    with pytest.raises(Conflict, match="thông thường không được gia hạn"):
        extend(10, "QĐ 11/QĐ-TTr")
    classify(11, "complex")
    with state(app, code) as case:
        due, rev = case.response_due_at, case.deadline_rev
        assert case.complexity == "complex" and case.is_complex and case.extensions == 0
    extend(20, "QĐ 12/QĐ-TTr")
    with state(app, code) as case:
        assert case.response_due_at == due + timedelta(days=30)
        assert case.deadline_rev == rev + 1 and case.extensions == 1
    with pytest.raises(Conflict, match="phức tạp được gia hạn tối đa 1 lần"):
        extend(21, "QĐ 13")
    classify(22, "especially_complex")
    extend(23, "QĐ 14/QĐ-TTr")
    with state(app, code) as case:
        assert case.extensions == 2
        assert case.response_due_at == due + timedelta(days=60)
        steps = [e.action for e in case.events]
        assert steps.count("extend") == 2 and steps.count("classify") == 2
    with pytest.raises(Conflict, match="đặc biệt phức tạp được gia hạn tối đa 2 lần"):
        extend(24, "QĐ 15")
    with state(app, code) as case:
        assert case.extensions == 2 and case.response_due_at == due + timedelta(days=60)


def test_especially_complex_is_for_denunciations_only(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = make_case(kind="complaint", category_code="6.3b", area_code="00688", now=NOW)
    coordinator = users("coordinator", "VP")
    with pytest.raises(ValidationError, match="Chỉ vụ việc tố cáo"):
        work(
            code,
            lambda c: actions.classify(
                c,
                coordinator(),
                NOW,
                complexity="especially_complex",
                remote=False,
                reason="Thử phân loại.",
            ),
        )
    with state(app, code) as case:
        assert case.complexity == "normal" and not case.is_complex


def test_officers_cannot_extend(app: Flask, make_case: Any, work: Any, users: Any) -> None:
    code = make_case(kind="complaint", category_code="6.3b", area_code="00688", now=NOW)
    officer = users("officer", "UBND-00688")
    with pytest.raises(Forbidden):
        work(code, lambda c: actions.extend(c, officer(), NOW, "Lý do đủ dài.", "QĐ 1"))


def test_assign_refused_on_a_finished_case(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = make_case(category_code="6.3b", area_code="00688", now=NOW)
    head = users("unit_head", "UBND-00688")
    officer = users("officer", "UBND-00688")
    coordinator = users("coordinator", "VP")
    work(code, lambda c: actions.reject(c, coordinator(), NOW, "Không thuộc thẩm quyền."))
    with pytest.raises(InvalidMove):
        work(code, lambda c: actions.assign(c, head(), NOW, officer().username))


def test_starting_a_transferred_case_acknowledges_it(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = make_case(category_code="4.4", area_code=None, now=NOW)
    coordinator = users("coordinator", "VP")
    nv = users("officer", "NV")
    work(code, lambda c: actions.transfer(c, coordinator(), NOW, "NV", "Thuộc Phòng Nội vụ."))
    work(code, lambda c: actions.start(c, nv(), NOW + timedelta(hours=2)))
    with state(app, code) as case:
        assert case.status == "in_progress"
        assert case.acknowledged_at == NOW + timedelta(hours=2)
        assert case.events[-1].public


def test_case_page_explains_each_due_time(
    app: Flask, client: Any, login_as: Any, make_case: Any, work: Any, users: Any
) -> None:
    """Received Fri 2 Feb 2024 → due Mon 19 Feb: the page names Tết and the days counted;
    after a pause it says how far the due time moved."""
    received = datetime(2024, 2, 2, 3, 0, tzinfo=UTC)
    code = make_case(category_code="6.3b", area_code="00688", now=received)
    officer = users("officer", "UBND-00688")
    work(code, lambda c: actions.acknowledge(c, officer(), received + timedelta(hours=1)))
    work(code, lambda c: actions.ask_citizen(c, officer(), received + timedelta(days=3), "Số nhà?"))
    work(code, lambda c: followup.citizen_reply(c, received + timedelta(days=5), "Số 12."))
    login_as("officer", "UBND-00688")
    page = client.get(f"/can-bo/ho-so/{code}")
    assert page.status_code == 200
    steps = page.text.split('data-testid="deadline-steps"')[1].split("</details>")[0]
    assert "Tết" in steps and "19/02" in steps
    assert "Tạm dừng khi chờ người dân bổ sung" in steps and "đã tính lại 1 lần" in steps


def test_a_second_acknowledgement_after_transfer_tells_nobody(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    code = make_case(
        category_code="4.4",
        area_code=None,
        now=NOW,
        reporter=Reporter(name="Lý Thị Sen", email="sen@example.vn"),
    )
    coordinator = users("coordinator", "VP")
    nv = users("officer", "NV")
    work(code, lambda c: actions.acknowledge(c, coordinator(), NOW))
    work(code, lambda c: actions.transfer(c, coordinator(), NOW, "NV", "Thuộc Phòng Nội vụ."))
    work(code, lambda c: actions.acknowledge(c, nv(), NOW + timedelta(hours=3)))
    with state(app, code) as case:
        assert case.acknowledged_at == NOW  # the promise was kept the first time
        assert not case.events[-1].public
        kinds = db.session.scalars(
            select(Notification.kind).where(Notification.case_id == case.id)
        ).all()
        # The transfer is told (issue 15); the second acknowledgement is not.
        assert sorted(kinds) == ["acknowledged", "receipt", "transferred"]
