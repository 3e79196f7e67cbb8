"""Effective-dated SLA policies (issue 14): the policy in force when a clock starts
applies; complaint suspension from 1 July 2026; second-time complaints; denunciation
extensions by complexity (test_handling); the admin changes a policy from a future day;
and the invariant that stored due times equal what the timeline derives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.extensions import db
from feedback.models import AuditLog, Case, SlaPolicy, User
from feedback.services.errors import Conflict, Forbidden, ValidationError
from feedback.services.handling import actions, followup
from feedback.services.handling.deadlines import derive
from feedback.services.reference.policy_admin import change_policy


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)  # type: ignore[misc]


def end_of(y: int, m: int, d: int) -> datetime:
    return local(y, m, d, 23, 59, 59)


@pytest.fixture
def work(app: Flask) -> Callable[..., Any]:
    def run(code: str, fn: Callable[[Case], Any]) -> Any:
        with app.app_context(), unit_of_work():
            return fn(db.session.scalar(select(Case).where(Case.code == code)))

    return run


@pytest.fixture
def users(make_user: Callable[..., Any]) -> Callable[..., Callable[[], User]]:
    made: dict[tuple[str, str | None], int] = {}

    def account(role: str, unit: str | None = None) -> Callable[[], User]:
        if (role, unit) not in made:
            made[(role, unit)] = make_user(role, unit_code=unit)[0]
        user_id = made[(role, unit)]
        return lambda: db.session.get(User, user_id)

    return account


def due(app: Flask, code: str) -> datetime:
    with app.app_context():
        return db.session.scalar(select(Case.response_due_at).where(Case.code == code))


def assert_stored_equals_derived(app: Flask) -> int:
    """Every case's stored due times are what its timeline derives; returns how many."""
    with app.app_context():
        cases = db.session.scalars(select(Case)).all()
        for case in cases:
            derived = derive(case)
            assert (case.ack_due_at, case.response_due_at) == (
                derived.ack_due_at,
                derived.response_due_at,
            ), (case.code, case.kind, derived.steps)
        return len(cases)


def complaint(make_case: Callable[..., str], received: datetime) -> str:
    return make_case(
        kind="complaint",
        category_code="6.3b",
        area_code="00688",
        received_at=received,
        now=received,
    )


def test_suspension_from_july_2026_moves_the_deadline_by_the_suspended_time(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    officer, head = users("officer", "UBND-00688"), users("unit_head", "UBND-00688")
    code = complaint(make_case, local(2026, 7, 6, 9))
    work(code, lambda c: actions.acknowledge(c, officer(), local(2026, 7, 7, 9)))
    # Accepted Tue 7 Jul: 30 days (Law on Complaints 2011, art. 28) → Thu 6 Aug.
    assert due(app, code) == end_of(2026, 8, 6)
    work(code, lambda c: actions.suspend(c, head(), local(2026, 7, 10, 9), "Chờ kết quả vụ án."))
    with pytest.raises(Conflict, match="đang tạm đình chỉ"):
        work(code, lambda c: actions.suspend(c, head(), local(2026, 7, 11, 9), "Lần nữa."))
    assert due(app, code) == end_of(2026, 8, 6)  # the clock stands still, nothing moved yet
    work(code, lambda c: actions.resume(c, head(), local(2026, 7, 20, 9), "Đã có kết quả."))
    # Suspended 10 to 20 July: 10 days do not count → Sun 16 Aug.
    assert due(app, code) == end_of(2026, 8, 16)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.suspended_since is None
        assert [e.action for e in case.events][-3:] == ["suspend", "resume", "recompute"]
        steps = " ".join(derive(case).steps)
        assert "Tạm đình chỉ giải quyết" in steps and "01/07/2026" in steps
    # Partial withdrawal: recorded, the deadline unchanged.
    work(
        code,
        lambda c: actions.withdraw_part(c, head(), local(2026, 7, 21, 9), "Yêu cầu bồi thường."),
    )
    assert due(app, code) == end_of(2026, 8, 16)
    assert_stored_equals_derived(app)


def test_suspension_before_july_2026_is_refused_and_moves_nothing(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    officer, head = users("officer", "UBND-00688"), users("unit_head", "UBND-00688")
    code = complaint(make_case, local(2026, 6, 1, 9))
    work(code, lambda c: actions.acknowledge(c, officer(), local(2026, 6, 2, 9)))
    before = due(app, code)
    assert before == end_of(2026, 7, 2)
    with pytest.raises(Conflict, match="01/07/2026"):
        work(code, lambda c: actions.suspend(c, head(), local(2026, 6, 10, 9), "Chờ kết quả."))
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.suspended_since is None
        assert "suspend" not in [e.action for e in case.events]
    assert due(app, code) == before
    # Officers may not suspend.
    with pytest.raises(Forbidden):
        work(code, lambda c: actions.suspend(c, officer(), local(2026, 7, 10, 9), "Chờ."))


@pytest.mark.parametrize(
    ("complexity", "remote", "days"),
    [("normal", False, 45), ("complex", False, 60), ("normal", True, 60), ("complex", True, 70)],
)
def test_second_time_complaint_limits(
    app: Flask, make_case: Any, work: Any, users: Any, complexity: str, remote: bool, days: int
) -> None:
    """Law on Complaints 2011, art. 37: 45 days from acceptance, 60 if complex; in remote
    areas 60, 70 if complex."""
    coordinator = users("coordinator", "VP")
    officer = users("officer", "UBND-00688")
    code = complaint(make_case, local(2025, 3, 3, 9))
    work(
        code,
        lambda c: actions.classify(
            c,
            coordinator(),
            local(2025, 3, 3, 10),
            complexity=complexity,
            remote=remote,
            round_=2,
            reason="Khiếu nại lần hai sau quyết định lần đầu.",
        ),
    )
    work(code, lambda c: actions.acknowledge(c, officer(), local(2025, 3, 5, 9)))
    assert due(app, code) == end_of(2025, 3, 5) + timedelta(days=days)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.round == 2
        steps = derive(case).steps
        assert "Khiếu nại lần hai (lần hai)" in steps[0] and "Điều 37" in steps[0]
    assert_stored_equals_derived(app)


def test_policy_in_force_at_receipt_applies(
    app: Flask, make_case: Any, work: Any, users: Any, make_user: Any
) -> None:
    """A policy changed later (from a future day) does not touch an earlier case; a case
    received from that day gets the new limit."""
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    start = today + timedelta(days=40)
    admin_id, _ = make_user("admin")
    early = make_case(received_at=datetime.now(UTC), now=datetime.now(UTC))
    early_due = due(app, early)
    with app.app_context(), unit_of_work():
        row = db.session.scalar(
            select(SlaPolicy).where(SlaPolicy.kind == "feedback", SlaPolicy.valid_to.is_(None))
        )
        form = {
            "ack_hours": "24",
            "ack_days": "",
            "response_days": "10",
            "warn_before_ack_hours": "4",
            "warn_before_response_working_days": "2",
            "reopen_window_days": "7",
        }
        change_policy(
            row.id, form, start, "Quyết định thử nghiệm", user=db.session.get(User, admin_id),
            now=datetime.now(UTC),
        )  # fmt: skip
    later_at = datetime.combine(start, datetime.min.time(), tzinfo=LOCAL_TZ) + timedelta(hours=9)
    later = make_case(received_at=later_at.astimezone(UTC), now=later_at.astimezone(UTC))
    with app.app_context():
        early_case = db.session.scalar(select(Case).where(Case.code == early))
        assert early_case.response_due_at == early_due == derive(early_case).response_due_at
        later_case = db.session.scalar(select(Case).where(Case.code == later))
        assert "Phản ánh, hiệu lực từ" in derive(later_case).steps[0]
        counted = later_case.response_due_at.astimezone(LOCAL_TZ).date() - start
        assert counted >= timedelta(days=13)  # 10 working days, not 6
    assert_stored_equals_derived(app)


def test_policy_change_is_refused_for_today_or_the_past(app: Flask, make_user: Any) -> None:
    admin_id, _ = make_user("admin")
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    with app.app_context(), pytest.raises(ValidationError) as refused, unit_of_work():
        row = db.session.scalar(select(SlaPolicy).where(SlaPolicy.kind == "petition"))
        change_policy(
            row.id, {"ack_hours": "24", "response_days": "5", "reopen_window_days": "7"},
            today, "Thử áp dụng hôm nay", user=db.session.get(User, admin_id),
            now=datetime.now(UTC),
        )  # fmt: skip
    assert "sau hôm nay" in refused.value.fields["valid_from"]
    with app.app_context():
        assert (
            len(db.session.scalars(select(SlaPolicy).where(SlaPolicy.kind == "petition")).all())
            == 1
        )


def test_admin_page_changes_a_threshold_with_an_effective_date_and_audit(
    app: Flask, client: FlaskClient, login_as: Any
) -> None:
    login_as("admin")
    page = client.get("/quan-tri/thoi-han")
    assert page.status_code == 200 and "Chính sách thời hạn" in page.text
    with app.app_context():
        row = db.session.scalar(
            select(SlaPolicy).where(SlaPolicy.kind == "petition", SlaPolicy.valid_to.is_(None))
        )
        row_id = row.id
    start = datetime.now(UTC).astimezone(LOCAL_TZ).date() + timedelta(days=10)
    form = {
        "csrf_token": csrf_from(page.text),
        "ack_hours": "24",
        "ack_days": "",
        "response_days": "6",
        "warn_before_ack_hours": "8",  # was 4
        "warn_before_response_working_days": "1",
        "reopen_window_days": "7",
        "valid_from": start.isoformat(),
        "reason": "Công văn tăng thời gian cảnh báo",
    }
    check = client.post(f"/quan-tri/thoi-han/{row_id}", data=form)
    assert check.status_code == 200 and 'data-testid="confirm"' in check.text
    with app.app_context():  # nothing written before the confirmation
        assert db.session.get(SlaPolicy, row_id).valid_to is None
    done = client.post(
        f"/quan-tri/thoi-han/{row_id}",
        data={**form, "confirm": "1", "csrf_token": csrf_from(check.text)},
    )
    assert done.status_code == 303
    with app.app_context():
        rows = db.session.scalars(
            select(SlaPolicy).where(SlaPolicy.kind == "petition").order_by(SlaPolicy.valid_from)
        ).all()
        assert [(r.valid_to, r.warn_before_ack_hours) for r in rows] == [(start, 4), (None, 8)]
        assert rows[1].valid_from == start
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "sla_policy.change"))
        assert log is not None and log.target == "petition/1"
        assert log.details["warn_before_ack_hours_after"] == 8
    # A bad value is a Vietnamese form error, never a 500; nothing is written.
    bad = client.post(
        f"/quan-tri/thoi-han/{row_id}",
        data={**form, "csrf_token": csrf_from(client.get("/quan-tri/thoi-han").text),
              "response_days": "mười", "valid_from": "2020-01-01"},
    )  # fmt: skip
    assert bad.status_code == 422 and "Nhập một số nguyên" in bad.text
    # Without the CSRF token: refused.
    assert client.post(f"/quan-tri/thoi-han/{row_id}", data={"confirm": "1"}).status_code == 400


def test_stored_due_times_equal_the_derivation_after_every_service_move(
    app: Flask, make_case: Any, work: Any, users: Any
) -> None:
    coordinator = users("coordinator", "VP")
    officer, head = users("officer", "UBND-00688"), users("unit_head", "UBND-00688")
    ttr = users("unit_head", "TTR")
    t = local(2026, 7, 6, 9)
    plain = make_case(category_code="6.3b", area_code="00688", received_at=t, now=t)
    comp = complaint(make_case, t)
    den = make_case(
        kind="denunciation", category_code="4.1", area_code="00688", received_at=t, now=t
    )

    def at(hours: float) -> datetime:
        return t + timedelta(hours=hours)

    moves: list[tuple[str, Callable[[Case], Any]]] = [
        (plain, lambda c: actions.acknowledge(c, officer(), at(1))),
        (plain, lambda c: actions.start(c, officer(), at(2))),
        (plain, lambda c: actions.ask_citizen(c, officer(), at(3), "Xin cho biết số nhà.")),
        (plain, lambda c: followup.citizen_reply(c, at(50), "Số nhà 120.")),
        (plain, lambda c: actions.approve_answer(c, head(), at(60), "Đã sửa xong đèn đường.")),
        (plain, lambda c: followup.reopen(c, at(70), "Đèn lại hỏng.", user=coordinator())),
        (plain, lambda c: actions.transfer(c, coordinator(), at(71), "VP", "Phân loại lại.")),
        (comp, lambda c: actions.acknowledge(c, officer(), at(24))),
        (comp, lambda c: actions.classify(
            c, head(), at(25), complexity="complex", remote=True, reason="Nhiều hộ liên quan.")),
        (comp, lambda c: actions.suspend(c, head(), at(48), "Chờ kết quả giám định.")),
        (comp, lambda c: actions.resume(c, head(), at(200), "Đã có kết quả giám định.")),
        (den, lambda c: actions.transfer(c, coordinator(), at(1), "TTR", "Thẩm quyền.")),
        (den, lambda c: actions.acknowledge(c, ttr(), at(30))),
        (den, lambda c: actions.classify(
            c, ttr(), at(31), complexity="especially_complex", remote=False, reason="Rộng.")),
        (den, lambda c: actions.extend(c, ttr(), at(500), "Cần xác minh.", "QĐ 1/QĐ-TTr")),
        (den, lambda c: actions.extend(c, ttr(), at(900), "Cần xác minh thêm.", "QĐ 2/QĐ-TTr")),
    ]  # fmt: skip
    assert_stored_equals_derived(app)
    for code, move in moves:
        work(code, move)
        assert assert_stored_equals_derived(app) == 3


def test_case_page_classifies_suspends_and_names_the_policy(
    app: Flask, client: FlaskClient, make_user: Any, make_case: Any, work: Any, users: Any
) -> None:
    """The coordinator sets a complaint's round on the case page; the page shows it and
    names the policy and its legal basis; the unit head suspends and resumes (today is
    after 1 July 2026, the policy in force stops the clock)."""
    from helpers import log_in

    now = datetime.now(UTC)
    code = complaint(make_case, now - timedelta(days=2))
    officer = users("officer", "UBND-00688")
    work(code, lambda c: actions.acknowledge(c, officer(), now - timedelta(days=1)))
    _, coordinator = make_user("coordinator", unit_code="VP")
    log_in(client, coordinator)
    page = client.get(f"/can-bo/ho-so/{code}")
    assert "Khiếu nại lần đầu" in page.text or "lần đầu" in page.text
    posted = client.post(
        f"/can-bo/ho-so/{code}/phan-loai-ho-so",
        data={"csrf_token": csrf_from(page.text), "complexity": "normal", "round": "2",
              "reason": "Khiếu nại lần hai."},
    )  # fmt: skip
    assert posted.status_code == 303
    page = client.get(f"/can-bo/ho-so/{code}")
    assert "lần hai" in page.text and "Điều 37" in page.text
    assert "Chính sách thời hạn áp dụng: Khiếu nại lần hai (lần hai)" in page.text
    before = due(app, code)
    client.post(
        f"/can-bo/ho-so/{code}/tam-dinh-chi",
        data={"csrf_token": csrf_from(page.text), "reason": "Chờ kết quả vụ án liên quan."},
    )
    page = client.get(f"/can-bo/ho-so/{code}")
    assert 'data-testid="suspended"' in page.text and "Tiếp tục giải quyết" in page.text
    # An empty reason is a Vietnamese message, and the suspension stays.
    client.post(
        f"/can-bo/ho-so/{code}/tiep-tuc-giai-quyet", data={"csrf_token": csrf_from(page.text)}
    )
    with app.app_context():
        assert db.session.scalar(select(Case.suspended_since).where(Case.code == code)) is not None
    client.post(
        f"/can-bo/ho-so/{code}/tiep-tuc-giai-quyet",
        data={"csrf_token": csrf_from(page.text), "reason": "Đã có kết quả vụ án."},
    )
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.suspended_since is None and case.round == 2
        assert [e.action for e in case.events].count("resume") == 1
    assert due(app, code) >= before
    assert_stored_equals_derived(app)


def test_reseeding_ends_an_old_open_ended_row_and_changes_nothing_twice(app: Flask) -> None:
    """A database seeded before policies had periods holds one open-ended complaint row:
    the new data file ends it on 1 July 2026 and adds the later rows; a second run
    changes nothing."""
    from sqlalchemy import delete, update

    from feedback.services.reference.loader import load_reference

    with app.app_context(), unit_of_work():
        db.session.execute(
            delete(SlaPolicy).where(
                SlaPolicy.kind == "complaint",
                (SlaPolicy.round == 2) | (SlaPolicy.valid_from > datetime(2000, 1, 1).date()),
            )
        )
        db.session.execute(
            update(SlaPolicy).where(SlaPolicy.kind == "complaint").values(valid_to=None)
        )
    with app.app_context(), unit_of_work():
        first = load_reference()
    assert first["sla_policies.created"] == 3 and first["sla_policies.updated"] == 1
    with app.app_context():
        rows = db.session.scalars(
            select(SlaPolicy)
            .where(SlaPolicy.kind == "complaint")
            .order_by(SlaPolicy.round, SlaPolicy.valid_from)
        ).all()
        periods = [(r.round, r.valid_from.year > 1900, r.valid_to) for r in rows]
        july = datetime(2026, 7, 1).date()
        assert periods == [(1, False, july), (1, True, None), (2, False, july), (2, True, None)]
    with app.app_context(), unit_of_work():
        second = load_reference()
    assert "sla_policies.created" not in second and "sla_policies.updated" not in second
