"""The staff actions of the JSON API (DESIGN.md, "Public contract of the JSON API (v1)";
issue 4): acknowledge, transfer, answer, close, reopen.

Each allowed action moves the case and appends exactly one event; each refusal is checked
for its status, its error shape and for changing nothing (the case and the row counts are
compared before and after).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.database import unit_of_work
from feedback.domain.permissions import STAFF_ROLES, Op, roles_holding
from feedback.extensions import db
from feedback.models import Case, CaseEvent, Notification, User
from feedback.services.accounts.users import issue_token
from feedback.services.handling import actions as handling

URL = "/api/v1/cases"
UNIT = "UBND-00688"  # handles 6.3b (street lights) in Phường Quang Trung
ANSWER = "Đã thay bóng đèn hỏng trước số nhà 120 vào sáng nay."
ERROR_KEYS = {"error", "message", "fields"}


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert set(data) == ERROR_KEYS, data
    assert isinstance(data["message"], str) and data["message"]
    if code is not None:
        assert data["error"] == code, data
    return data


@pytest.fixture
def token_for(app: Flask, make_user: Callable[..., Any]) -> Callable[..., str]:
    """A new account of ``role`` and its API token: token_for("officer", "DL")."""

    def factory(role: str, unit_code: str | None = None) -> str:
        if unit_code is None and role in {"officer", "unit_head", "clerk"}:
            unit_code = UNIT
        user_id, _ = make_user(role, unit_code=unit_code)
        with app.app_context(), unit_of_work():
            return issue_token(db.session.get(User, user_id), datetime.now(UTC))

    return factory


@pytest.fixture
def code(make_case: Callable[..., str]) -> str:
    return make_case(category_code="6.3b", area_code="00688")


def snapshot(app: Flask, code: str) -> dict[str, Any]:
    """Everything an action could change."""
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        return {
            "status": case.status,
            "unit": case.handling_unit.code,
            "needs_triage": case.needs_triage,
            "acknowledged_at": case.acknowledged_at,
            "answer": case.answer_body,
            "draft": case.answer_draft,
            "closed_at": case.closed_at,
            "reopen_count": case.reopen_count,
            "events": [e.action for e in case.events],
            "all_events": db.session.scalar(select(func.count()).select_from(CaseEvent)),
            "notifications": db.session.scalar(select(func.count()).select_from(Notification)),
        }


def post(client: FlaskClient, code: str, action: str, token: str | None, body: Any = None) -> Any:
    if body is None:
        return client.post(f"{URL}/{code}/{action}", headers=auth(token))
    return client.post(f"{URL}/{code}/{action}", json=body, headers=auth(token))


def moved(before: dict[str, Any], after: dict[str, Any], action: str) -> None:
    """Exactly one new event, the action's own."""
    assert after["events"] == [*before["events"], action]
    assert after["all_events"] == before["all_events"] + 1


@pytest.fixture
def advance(client: FlaskClient, token_for: Callable[..., str]) -> Callable[[str, str], None]:
    """Bring a case of UNIT to ``acknowledged``, ``answered`` or ``closed`` by the API."""
    head = token_for("unit_head")

    def run(code: str, status: str) -> None:
        steps = [("acknowledge", None), ("answer", {"body": ANSWER}), ("close", None)]
        for action, body in steps[: ["acknowledged", "answered", "closed"].index(status) + 1]:
            assert post(client, code, action, head, body).status_code == 200

    return run


# --- each action by a role allowed to do it -----------------------------------------------


@pytest.mark.parametrize(
    ("role", "unit"), [("coordinator", "VP"), ("officer", UNIT), ("unit_head", UNIT)]
)
def test_acknowledge(
    app: Flask, client: FlaskClient, token_for: Any, code: str, role: str, unit: str
) -> None:
    token = token_for(role, unit)
    before = snapshot(app, code)
    response = post(client, code, "acknowledge", token)
    assert response.status_code == 200, response.text
    after = snapshot(app, code)
    assert after["status"] == "acknowledged" and after["acknowledged_at"] is not None
    moved(before, after, "acknowledge")
    data = response.get_json()
    assert data["status"] == "acknowledged" and data["acknowledged_at"].endswith("+07:00")
    # The same serialisation as GET /cases/{code} for the same token.
    assert data == client.get(f"{URL}/{code}", headers=auth(token)).get_json()


def test_acknowledge_takes_an_optional_note(
    app: Flask, client: FlaskClient, token_for: Any, code: str
) -> None:
    response = post(
        client, code, "acknowledge", token_for("officer"), {"note": "Đã nhận, đang xác minh."}
    )
    assert response.status_code == 200, response.text
    assert response.get_json()["timeline"][-1]["note"] == "Đã nhận, đang xác minh."


def test_officer_transfers_to_another_unit(
    app: Flask, client: FlaskClient, token_for: Any, code: str
) -> None:
    before = snapshot(app, code)
    response = post(
        client,
        code,
        "transfer",
        token_for("officer"),
        {"unit_code": "QLDT", "reason": "Đèn đường do Phòng Quản lý đô thị quản lý."},
    )
    assert response.status_code == 200, response.text
    after = snapshot(app, code)
    assert (after["status"], after["unit"]) == ("transferred", "QLDT")
    moved(before, after, "transfer")
    assert response.get_json()["handling_unit"]["code"] == "QLDT"


@pytest.mark.parametrize(
    "body", [{"unit_code": None, "reason": "Sai thẩm quyền."}, {"reason": "Sai thẩm quyền."}]
)
def test_transfer_without_a_unit_goes_back_to_triage(
    app: Flask, client: FlaskClient, token_for: Any, code: str, body: dict[str, Any]
) -> None:
    before = snapshot(app, code)
    response = post(client, code, "transfer", token_for("unit_head"), body)
    assert response.status_code == 200, response.text
    after = snapshot(app, code)
    assert (after["unit"], after["needs_triage"]) == ("VP", True)
    moved(before, after, "transfer")


def test_officer_drafts_then_unit_head_answers(
    app: Flask, client: FlaskClient, token_for: Any, code: str, advance: Any
) -> None:
    advance(code, "acknowledged")
    before = snapshot(app, code)
    draft = post(client, code, "answer", token_for("officer"), {"body": ANSWER})
    assert draft.status_code == 202, draft.text
    data = draft.get_json()
    assert data["status"] == "draft_saved" and data["code"] == code
    assert data["case_status"] == "acknowledged" and data["draft"] == ANSWER
    middle = snapshot(app, code)
    assert (middle["status"], middle["draft"], middle["answer"]) == ("acknowledged", ANSWER, None)
    moved(before, middle, "draft_answer")

    head = token_for("unit_head")
    answered = post(client, code, "answer", head, {"body": ANSWER + " Xin cảm ơn."})
    assert answered.status_code == 200, answered.text
    after = snapshot(app, code)
    assert (after["status"], after["answer"]) == ("answered", ANSWER + " Xin cảm ơn.")
    moved(middle, after, "answer")
    assert answered.get_json() == client.get(f"{URL}/{code}", headers=auth(head)).get_json()


def test_unit_head_without_a_body_approves_the_draft(
    app: Flask, client: FlaskClient, token_for: Any, code: str, advance: Any
) -> None:
    advance(code, "acknowledged")
    assert post(client, code, "answer", token_for("officer"), {"body": ANSWER}).status_code == 202
    response = post(client, code, "answer", token_for("unit_head"), {})
    assert response.status_code == 200, response.text
    assert response.get_json()["answer"] == ANSWER


@pytest.mark.parametrize(("role", "unit"), [("unit_head", UNIT), ("coordinator", "VP")])
def test_close_an_answered_case(
    app: Flask, client: FlaskClient, token_for: Any, code: str, advance: Any, role: str, unit: str
) -> None:
    advance(code, "answered")
    before = snapshot(app, code)
    response = post(client, code, "close", token_for(role, unit), {})
    assert response.status_code == 200, response.text
    after = snapshot(app, code)
    assert after["status"] == "closed" and after["closed_at"] is not None
    moved(before, after, "close")


def test_coordinator_reopens_within_the_window(
    app: Flask, client: FlaskClient, token_for: Any, code: str, advance: Any
) -> None:
    advance(code, "closed")
    before = snapshot(app, code)
    response = post(
        client,
        code,
        "reopen",
        token_for("coordinator"),
        {"reason": "Người dân gọi 1022: đèn lại hỏng."},
    )
    assert response.status_code == 200, response.text
    after = snapshot(app, code)
    assert (after["status"], after["reopen_count"], after["closed_at"]) == ("reopened", 1, None)
    moved(before, after, "reopen")


# --- refusals that change nothing ---------------------------------------------------------

FORBIDDEN = [
    # (action, role, unit, the case's status first, body)
    ("acknowledge", "inspector", None, "received", None),
    ("transfer", "inspector", None, "received", {"unit_code": "QLDT", "reason": "Thử chuyển."}),
    ("answer", "inspector", None, "acknowledged", {"body": ANSWER}),
    ("answer", "coordinator", "VP", "acknowledged", {"body": ANSWER}),
    ("close", "officer", UNIT, "answered", None),
    ("close", "inspector", None, "answered", None),
    ("reopen", "officer", UNIT, "answered", {"reason": "Người dân chưa đồng ý."}),
    ("reopen", "unit_head", UNIT, "answered", {"reason": "Người dân chưa đồng ý."}),
    ("reopen", "inspector", None, "answered", {"reason": "Người dân chưa đồng ý."}),
    ("acknowledge", "admin", None, "received", None),
    ("answer", "admin", None, "acknowledged", {"body": ANSWER}),
]


@pytest.mark.parametrize(("action", "role", "unit", "status", "body"), FORBIDDEN)
def test_roles_without_the_permission_get_403(
    app: Flask,
    client: FlaskClient,
    token_for: Any,
    code: str,
    advance: Any,
    action: str,
    role: str,
    unit: str | None,
    status: str,
    body: Any,
) -> None:
    if status != "received":
        advance(code, status)
    token = token_for(role, unit)
    before = snapshot(app, code)
    assert_error(post(client, code, action, token, body), 403, "forbidden")
    assert snapshot(app, code) == before


def test_operator_may_read_but_not_work_the_call_he_entered(
    app: Flask, client: FlaskClient, token_for: Any
) -> None:
    token = token_for("operator")
    created = client.post(
        URL,
        json={
            "kind": "feedback",
            "subject": "Đèn đường hỏng ở tổ 3",
            "body": "Hai cột đèn ở tổ 3 phường Quang Trung không sáng.",
            "category_code": "6.3b",
            "area_code": "00688",
            "channel": "hotline",
            "reporter": {"name": "Hoàng Văn Nam", "phone": "0912888999"},
        },
        headers=auth(token),
    )
    assert created.status_code == 201, created.text
    code = created.get_json()["code"]
    before = snapshot(app, code)
    assert_error(post(client, code, "acknowledge", token), 403, "forbidden")
    assert snapshot(app, code) == before


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("acknowledge", None),
        ("transfer", {"unit_code": "QLDT", "reason": "Không thuộc đơn vị."}),
        ("answer", {"body": ANSWER}),
        ("close", None),
        ("reopen", {"reason": "Người dân chưa đồng ý."}),
    ],
)
@pytest.mark.parametrize("role", ["officer", "unit_head", "operator"])
def test_staff_who_cannot_see_the_case_get_404(
    app: Flask, client: FlaskClient, token_for: Any, code: str, action: str, body: Any, role: str
) -> None:
    token = token_for(role, "DL" if role != "operator" else None)
    before = snapshot(app, code)
    # A role that can never perform the action is stopped at the door (403), as on the
    # pages; one that could, but not on a case it cannot see, gets 404.
    ops = {
        "acknowledge": (Op.ACKNOWLEDGE,),
        "transfer": (Op.TRANSFER,),
        "answer": (Op.DRAFT_ANSWER, Op.APPROVE_ANSWER),
        "close": (Op.CLOSE,),
        "reopen": (Op.REOPEN,),
    }[action]
    if role in roles_holding(*ops, roles=STAFF_ROLES):
        expected = (404, "not_found")
    else:
        expected = (403, "forbidden")
    assert_error(post(client, code, action, token, body), *expected)
    assert snapshot(app, code) == before
    # An unknown code looks the same.
    assert_error(post(client, "HG-1999-999999", action, token, body), *expected)


@pytest.mark.parametrize("reason", [None, "", "   ", "ab"])
def test_transfer_without_a_reason_is_422(
    app: Flask, client: FlaskClient, token_for: Any, code: str, reason: str | None
) -> None:
    before = snapshot(app, code)
    body = {"unit_code": "QLDT"} if reason is None else {"unit_code": "QLDT", "reason": reason}
    data = assert_error(
        post(client, code, "transfer", token_for("officer"), body), 422, "validation_failed"
    )
    assert "reason" in data["fields"]
    assert snapshot(app, code) == before


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("transfer", {"unit_code": "KHONG-CO", "reason": "Chuyển đơn vị khác."}, "unit_code"),
        ("transfer", {"unit_code": UNIT, "reason": "Chuyển về chính mình."}, "unit_code"),
        ("transfer", {"unit_code": 5, "reason": "Chuyển đơn vị khác."}, "unit_code"),
        ("transfer", {"unit_code": "QLDT", "reason": "Lý do\x00 có NUL."}, "reason"),
        ("acknowledge", {"priority": "high"}, "priority"),
        ("close", {"note": ["a"]}, "note"),
        ("answer", {"body": ANSWER, "send": True}, "send"),
        ("answer", {"body": "ngắn"}, "body"),
        ("reopen", {"reason": "Chưa đồng ý.", "unit_code": "DL"}, "unit_code"),
    ],
)
def test_unknown_or_bad_fields_are_422(
    app: Flask,
    client: FlaskClient,
    token_for: Any,
    code: str,
    advance: Any,
    action: str,
    body: dict[str, Any],
    field: str,
) -> None:
    if action in ("answer", "reopen"):
        advance(code, "acknowledged" if action == "answer" else "answered")
    token = token_for("coordinator", "VP") if action == "reopen" else token_for("unit_head")
    before = snapshot(app, code)
    data = assert_error(post(client, code, action, token, body), 422, "validation_failed")
    assert field in data["fields"], data
    assert snapshot(app, code) == before


@pytest.mark.parametrize("action", ["transfer", "answer", "reopen"])
def test_actions_with_fields_need_a_json_object(
    app: Flask, client: FlaskClient, token_for: Any, code: str, action: str
) -> None:
    # a role that may perform the action, so the body is what gets refused
    token = token_for("unit_head") if action == "answer" else token_for("coordinator", "VP")
    before = snapshot(app, code)
    assert_error(post(client, code, action, token), 400, "invalid_json")
    for raw, ctype in (
        (b"[1]", "application/json"),
        (b"reason=x", "application/x-www-form-urlencoded"),
    ):
        response = client.post(
            f"{URL}/{code}/{action}", data=raw, content_type=ctype, headers=auth(token)
        )
        assert_error(response, 400, "invalid_json")
    assert snapshot(app, code) == before


def test_acknowledge_refuses_a_body_that_is_not_an_object(
    app: Flask, client: FlaskClient, token_for: Any, code: str
) -> None:
    before = snapshot(app, code)
    response = client.post(
        f"{URL}/{code}/acknowledge",
        data=b"[]",
        content_type="application/json",
        headers=auth(token_for("officer")),
    )
    assert_error(response, 400, "invalid_json")
    assert snapshot(app, code) == before


# --- invalid transitions: 409 -------------------------------------------------------------


@pytest.mark.parametrize("role", ["unit_head", "officer"])
def test_answering_a_closed_case_is_409(
    app: Flask, client: FlaskClient, token_for: Any, code: str, advance: Any, role: str
) -> None:
    advance(code, "closed")
    before = snapshot(app, code)
    response = post(client, code, "answer", token_for(role), {"body": ANSWER + " Bổ sung."})
    data = assert_error(response, 409, "invalid_transition")
    assert "Không thể" in data["message"] or "chưa thể" in data["message"]
    assert snapshot(app, code) == before


def test_acknowledging_twice_is_409(
    app: Flask, client: FlaskClient, token_for: Any, code: str
) -> None:
    token = token_for("officer")
    assert post(client, code, "acknowledge", token).status_code == 200
    before = snapshot(app, code)
    data = assert_error(post(client, code, "acknowledge", token), 409, "invalid_transition")
    assert "xác nhận tiếp nhận" in data["message"]
    assert snapshot(app, code) == before


def test_reopening_after_the_window_is_409(
    app: Flask, client: FlaskClient, make_user: Any, make_case: Any, token_for: Any
) -> None:
    then = datetime.now(UTC) - timedelta(days=30)
    code = make_case(category_code="6.3b", area_code="00688", now=then)
    head_id, _ = make_user("unit_head", unit_code=UNIT)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        head = db.session.get(User, head_id)
        handling.acknowledge(case, head, then + timedelta(hours=1))
        handling.approve_answer(case, head, then + timedelta(days=1), ANSWER)
    token = token_for("coordinator", "VP")
    before = snapshot(app, code)
    response = post(client, code, "reopen", token, {"reason": "Người dân chưa đồng ý."})
    data = assert_error(response, 409, "invalid_transition")
    assert "quá thời hạn" in data["message"]
    assert snapshot(app, code) == before


def test_reopening_a_case_never_answered_is_409(
    app: Flask, client: FlaskClient, token_for: Any, code: str
) -> None:
    before = snapshot(app, code)
    response = post(
        client, code, "reopen", token_for("coordinator", "VP"), {"reason": "Mở lại thử."}
    )
    assert_error(response, 409, "invalid_transition")
    assert snapshot(app, code) == before


# --- citizens cannot act ------------------------------------------------------------------

BODIES: dict[str, dict[str, Any]] = {
    "acknowledge": {},
    "transfer": {"unit_code": "QLDT", "reason": "Chuyển giúp."},
    "answer": {"body": ANSWER},
    "close": {},
    "reopen": {"reason": "Người dân chưa đồng ý."},
}


@pytest.mark.parametrize("action", ["acknowledge", "transfer", "answer", "close", "reopen"])
def test_citizens_get_401(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., str],
    action: str,
) -> None:
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    with app.app_context(), unit_of_work():
        submitted = submit_case(
            CaseInput(
                kind="feedback",
                subject="Đèn đường hỏng trên đường Nguyễn Trãi",
                body="Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
                category_code="6.3b",
                area_code="00688",
                reporter=Reporter(name="Trần Thị Bình", phone="0912000111"),
            ),
            actor=None,
            now=datetime.now(UTC),
        )
        code, key = submitted.case.code, submitted.access_key
    body = BODIES[action]
    before = snapshot(app, code)
    url = f"{URL}/{code}/{action}"
    for headers in (
        {},
        {"X-Access-Key": key},
        auth("fbk_not-a-token"),
        {"Authorization": "Basic eDp5"},
    ):
        response = client.post(url, json=body, headers=headers)
        data = assert_error(response, 401, "unauthorized")
        assert data["fields"] == {}
    # A staff session cookie does not authenticate the API either.
    login_as("coordinator")
    assert_error(client.post(url, json=body), 401, "unauthorized")
    assert snapshot(app, code) == before


def test_after_a_transfer_out_the_officer_no_longer_sees_the_reporter_or_the_case(
    client: FlaskClient, token_for: Any, code: str
) -> None:
    token = token_for("officer")
    assert client.get(f"{URL}/{code}", headers=auth(token)).get_json()["reporter"]["name"]
    response = post(
        client, code, "transfer", token, {"unit_code": "QLDT", "reason": "Thuộc Phòng QLĐT."}
    )
    assert response.status_code == 200, response.text
    assert "reporter" not in response.get_json()
    assert_error(client.get(f"{URL}/{code}", headers=auth(token)), 404, "not_found")
