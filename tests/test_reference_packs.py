"""Reference data with history: applying the 2025 pack (Resolution 1684/NQ-UBTVQH15) to a
database holding cases of 2023–2025.

An old case keeps the area and the names of its time; open cases of retired units move to
their successors with a timeline event (to triage where the successor is ambiguous: old
Quang Trung went to two wards); a new case of 00694 goes to the units of Phường Hà Giang 1
and one for an abolished ward is refused; the per-process reading sees the change at
once; the admin sees the accounts still attached to retired units; pages and documents
wear the new owner's name; a second run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from, staff_client
from sqlalchemy import func, select, text

from feedback.database import unit_of_work
from feedback.models import AuditLog, Case, CaseEvent, Notification, User
from feedback.services.accounts.users import issue_token

PACK = Path(__file__).resolve().parent.parent / "feedback" / "data" / "hagiang-2025.toml"
BASE = PACK.with_name("hagiang-2023.toml")


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 2, 0, tzinfo=UTC)  # 09:00 in Hà Giang


def run(app: Flask, *args: str) -> Any:
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def apply(app: Flask) -> dict[str, Any]:
    result = run(app, "reference", "apply", str(PACK))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stamp(app: Flask) -> str:
    from feedback.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT stamp FROM reference_version WHERE id = 1")).scalar_one()


def count(app: Flask, model: Any, *where: Any) -> int:
    from feedback.extensions import db

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return int(n or 0)


def token(app: Flask, make_user: Callable[..., Any], role: str, unit: str | None = None) -> str:
    from feedback.extensions import db

    user_id, _ = make_user(role, unit_code=unit)
    with app.app_context(), unit_of_work():
        return issue_token(db.session.get(User, user_id), datetime.now(UTC))


def shown(client: FlaskClient, code: str, bearer: str) -> dict[str, Any]:
    """Area and units of a case as the API shows them to staff."""
    response = client.get(f"/api/v1/cases/{code}", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 200, response.text
    body = response.get_json()
    pick = ("code", "name")
    return {
        key: {k: body[key][k] for k in pick} if body.get(key) else None
        for key in ("area", "handling_unit", "lead_unit")
    }


@pytest.fixture
def history(app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]) -> dict:
    """Cases of 2023–2025 under the 2023 map, one of them settled."""
    from feedback.extensions import db
    from feedback.services.handling.actions import reject

    codes = {
        # settled in 2023 by UBND Phường Nguyễn Trãi: a recorded fact, never moved
        "settled": make_case(now=at(2023, 10, 2)),
        # open, Minh Khai's UBND: wholly succeeded by Phường Hà Giang 2
        "minh_khai": make_case(now=at(2024, 5, 6), area_code="00697"),
        # open, Quang Trung's UBND: split between two wards → triage
        "quang_trung": make_case(now=at(2025, 3, 3), area_code="00688"),
        # open, the city's Phòng TNMT: its successor is picked by the case's area
        # (Phương Độ → Phường Hà Giang 1 → its Phòng Kinh tế, Hạ tầng và Đô thị)
        "tnmt_phuong_do": make_case(now=at(2025, 6, 2), area_code="00946", category_code="5.3"),
        # open, Phòng TNMT with no area: no single successor → triage
        "tnmt_no_area": make_case(now=at(2025, 6, 10), area_code=None, category_code="5.3"),
        # open, the power company, which the pack keeps: not moved
        "power": make_case(now=at(2025, 6, 11), category_code="6.3a"),
    }
    coordinator_id, _ = make_user("coordinator")
    with app.app_context(), unit_of_work():
        coordinator = db.session.get(User, coordinator_id)
        coordinator.email = "dieuphoi@example.vn"
        case = db.session.scalar(select(Case).where(Case.code == codes["settled"]))
        reject(case, coordinator, at(2023, 10, 3), "Nội dung đã được giải quyết tại tổ dân phố.")
    return codes


def test_applying_the_2025_pack_keeps_the_past_and_moves_open_cases(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], history: dict[str, str]
) -> None:
    inspector = token(app, make_user, "inspector")
    before = {name: shown(client, code, inspector) for name, code in history.items()}
    assert before["settled"]["area"] == {"code": "00694", "name": "Phường Nguyễn Trãi"}
    assert before["settled"]["handling_unit"]["code"] == "UBND-00694"
    events_before = count(app, CaseEvent)

    out = apply(app)
    assert out["effective_from"] == "2025-07-01"
    assert out["changed"] > 0
    moved = {m["case"]: m for m in out["moved"]}

    after = {name: shown(client, code, inspector) for name, code in history.items()}
    # Every case keeps the area it was entered with, and its name of that time.
    for name in history:
        assert after[name]["area"] == before[name]["area"], name
    # A settled case keeps its units; so does an open case of a unit the pack keeps.
    assert after["settled"] == before["settled"]
    assert after["power"] == before["power"]
    assert history["settled"] not in moved and history["power"] not in moved
    # Open cases of retired units move on, with an event on their timeline.
    assert after["minh_khai"]["handling_unit"] == {
        "code": "UBND-HG2",
        "name": "UBND phường Hà Giang 2",
    }
    assert after["tnmt_phuong_do"]["handling_unit"]["code"] == "KT-HG1"
    assert after["tnmt_phuong_do"]["lead_unit"]["code"] == "KT-HG1"
    for name in ("quang_trung", "tnmt_no_area"):
        assert after[name]["handling_unit"]["code"] == "VP-HG1", name
        assert moved[history[name]]["triage"] is True
    assert moved[history["minh_khai"]]["triage"] is False
    assert count(app, CaseEvent) == events_before + 4
    from feedback.extensions import db

    with app.app_context():
        for name in ("minh_khai", "quang_trung", "tnmt_phuong_do", "tnmt_no_area"):
            case = db.session.scalar(select(Case).where(Case.code == history[name]))
            event = case.events[-1]
            assert event.action == "reroute"
            assert "hagiang-2025" in event.note
            assert case.needs_triage is (name in ("quang_trung", "tnmt_no_area"))
        quang_trung = db.session.scalar(select(Case).where(Case.code == history["quang_trung"]))
        assert "Quang Trung" in quang_trung.events[-1].note  # why it went to triage
        db.session.remove()
    # The coordinator is told once, with the list.
    notes = count(app, Notification, Notification.kind == "reference")
    assert notes == 1
    assert count(app, AuditLog, AuditLog.action == "reference.apply") == 1

    # A second run changes nothing: no row, no stamp, no event, no message, no audit.
    stamp_before = stamp(app)
    again = apply(app)
    assert again["changed"] == 0
    assert again["moved"] == []
    assert stamp(app) == stamp_before
    assert count(app, CaseEvent) == events_before + 4
    assert count(app, Notification, Notification.kind == "reference") == 1
    assert count(app, AuditLog, AuditLog.action == "reference.apply") == 1
    assert {name: shown(client, code, inspector) for name, code in history.items()} == after


BODY: dict[str, Any] = {
    "kind": "feedback",
    "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
    "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
    "category_code": "6.3b",
    "reporter": {"name": "Trần Thị Bình", "phone": "0912000111"},
}


def test_new_cases_follow_the_map_in_force_at_their_receipt(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    make_case()  # warms this process's reading of the reference data under the 2023 map
    apply(app)

    created = client.post("/api/v1/cases", json={**BODY, "area_code": "00694"})
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert body["area"] == {"code": "00694", "name": "Phường Hà Giang 1"}
    assert body["handling_unit"]["code"] == "UBND-HG1"
    assert body["lead_unit"]["code"] == "KT-HG1"

    refused = client.post("/api/v1/cases", json={**BODY, "area_code": "00697"})
    assert refused.status_code == 422, refused.text
    message = refused.get_json()["fields"]["area_code"]
    assert "Phường Minh Khai" in message and "01/07/2025" in message

    # Staff entering a letter or a call received before the change: the area of that day.
    hotline = token(app, make_user, "operator")
    late = client.post(
        "/api/v1/cases",
        json={
            **BODY,
            "area_code": "00697",
            "channel": "hotline",
            "received_at": "2025-06-30T16:00:00+07:00",
            "external_ref": "1022-2025-0630-01",
        },
        headers={"Authorization": f"Bearer {hotline}"},
    )
    assert late.status_code == 201, late.text
    assert late.get_json()["area"] == {"code": "00697", "name": "Phường Minh Khai"}

    # The public form offers only the areas in force, and refuses an abolished one.
    page = client.get("/gui")
    assert page.status_code == 200
    assert "Phường Hà Giang 1" in page.text and "Xã Ngọc Đường" in page.text
    assert "Phường Minh Khai" not in page.text and "Phường Quang Trung" not in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "kind": "feedback",
        "category_code": "6.3b",
        "area_code": "00697",
        "address": "Số 12, tổ 7",
        "subject": BODY["subject"],
        "body": BODY["body"],
        "reporter_name": "Lê Thị Hoa",
        "reporter_phone": "0912 345 678",
        "reporter_email": "",
    }
    cases = count(app, Case)
    response = client.post("/gui", data=form)
    assert response.status_code in (200, 422), response.status_code  # the form, with its error
    assert 'class="error' in response.text or "field-error" in response.text
    assert count(app, Case) == cases
    assert client.post("/gui", data={**form, "area_code": "00694"}).status_code == 302

    # Open311 takes only areas in force as address_id.
    services = client.get("/open311/v2/services/6.3b.json")
    assert services.status_code == 200
    keys = {v["key"] for a in services.get_json()["attributes"] for v in a.get("values", [])}
    assert "00694" in keys and "00697" not in keys


def test_accounts_of_retired_units_keep_working_and_the_admin_sees_them(
    app: Flask, make_user: Callable[..., Any], history: dict[str, str]
) -> None:
    officer = staff_client(app, make_user, "officer", "UBND-00694")
    out = apply(app)
    listed = {a["username"]: a for a in out["accounts_of_retired_units"]}
    (username,) = [u for u, a in listed.items() if a["unit"] == "UBND-00694"]
    assert listed[username]["retired_on"] == "2025-07-01"
    # The officer still works and still sees the case their unit settled.
    page = officer.get(f"/can-bo/ho-so/{history['settled']}")
    assert page.status_code == 200
    assert "Phường Nguyễn Trãi" in page.text
    admin = staff_client(app, make_user, "admin", None)
    overview = admin.get("/quan-tri/du-lieu-tham-chieu")
    assert overview.status_code == 200
    assert f'data-username="{username}"' in overview.text
    assert "Phường Hà Giang 1" in overview.text and "hagiang-2025" in overview.text
    users = admin.get("/quan-tri/tai-khoan")
    assert users.status_code == 200
    row = users.text.split(f'data-username="{username}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="retired-unit"' in row and "01/07/2025" in row
    # The admin moves the account: only to a unit in force.
    refused = run(app, "users", "move", username, "--unit", "UBND-00697")
    assert refused.exit_code != 0 and "còn hiệu lực" in refused.output
    moved = run(app, "users", "move", username, "--unit", "UBND-HG1")
    assert moved.exit_code == 0, moved.output
    # A new account cannot be bound to the retired unit either.
    args = ("--role", "officer", "--password", "mat-khau-rat-dai-1")
    refused = run(app, "users", "create", "moi.canbo", *args, "--unit", "UBND-00697")
    assert refused.exit_code != 0 and "còn hiệu lực" in refused.output
    created = run(app, "users", "create", "moi.canbo", *args, "--unit", "UBND-HG1")
    assert created.exit_code == 0, created.output
    assert username not in {a["username"] for a in apply(app)["accounts_of_retired_units"]}


def test_branding_follows_the_pack_in_force(app: Flask, client: FlaskClient) -> None:
    from feedback.extensions import db
    from feedback.services.reports.period import city_place

    assert "Thành phố Hà Giang" in client.get("/").text
    apply(app)
    home = client.get("/").text
    assert "Hà Giang 1 · Hà Giang 2 · Ngọc Đường" in home
    assert "UBND phường Hà Giang 1, phường Hà Giang 2 và xã Ngọc Đường" in home
    assert "Ủy ban nhân dân thành phố Hà Giang" not in home
    with app.app_context():
        # A document speaks for the owner of its day.
        assert city_place(at(2024, 3, 1)) == ("Thành phố Hà Giang", "TP. Hà Giang")
        assert city_place(at(2025, 8, 1)) == ("Phường Hà Giang 1", "Hà Giang 1")
        db.session.remove()


def test_a_report_spanning_the_change_breaks_down_by_the_units_of_the_time(
    app: Flask, make_case: Callable[..., str]
) -> None:
    from feedback.extensions import db
    from feedback.services.reports.period import build_report, parse_period

    make_case(now=at(2025, 3, 3), area_code="00700")
    apply(app)
    make_case(now=at(2025, 8, 4), area_code="00700")
    with app.app_context():
        report = build_report(parse_period("2025"), at(2026, 1, 5))
        areas = dict(report.breakdowns["area"])
        db.session.remove()
    # Old and new Xã Ngọc Đường share a name and a code but are two areas, two rows.
    assert areas["Xã Ngọc Đường (đến 30/06/2025)"]["received"] == 1
    assert areas["Xã Ngọc Đường"]["received"] == 1
    assert report.city == "Phường Hà Giang 1"


def test_seed_keeps_working_and_never_loads_a_pack(app: Flask) -> None:
    refused = run(app, "seed", str(PACK))
    assert refused.exit_code != 0
    assert "reference apply" in refused.output
    apply(app)
    again = run(app, "seed", str(BASE))
    assert again.exit_code == 0, again.output
    from feedback.extensions import db
    from feedback.models import Area, Setting

    with app.app_context():
        names = {(a.code, a.name, a.valid_to is None) for a in db.session.scalars(select(Area))}
        assert ("00694", "Phường Nguyễn Trãi", False) in names
        assert ("00694", "Phường Hà Giang 1", True) in names
        assert db.session.get(Setting, "triage_unit").value == "VP-HG1"
        db.session.remove()
    assert apply(app)["changed"] == 0


def test_a_pack_applied_ahead_of_its_day_moves_cases_only_from_that_day(
    app: Flask, make_case: Callable[..., str]
) -> None:
    from feedback.extensions import db
    from feedback.services.reference.packs import apply_pack

    code = make_case(now=at(2025, 6, 2), area_code="00697")
    with app.app_context(), unit_of_work():
        early = apply_pack(PACK, actor=None, now=at(2025, 6, 20))
    assert early.moved == [] and early.waiting == 1
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case.handling_unit.code == "UBND-00697"  # Minh Khai's UBND works until 30/6
        db.session.remove()
    with app.app_context(), unit_of_work():
        due = apply_pack(PACK, actor=None, now=at(2025, 7, 1))
    assert [m["case"] for m in due.moved] == [code]
    assert due.changed == 1


def test_a_1022_batch_takes_each_call_with_the_area_of_its_day(app: Flask) -> None:
    """A batch forwarded after the change: a call from June 2025 keeps Phường Minh Khai,
    one from July 2025 for Minh Khai is refused with the reason, and one for 00694 in July
    goes to Phường Hà Giang 1."""
    from feedback.extensions import db
    from feedback.services.intake.import1022 import import_1022

    apply(app)
    header = (
        "ticket,received_at,kind,category_code,area_code,address,subject,body,"
        "caller_name,caller_phone,caller_email,anonymous"
    )
    rows = [
        "1022-2025-000601,30/06/2025 16:00,feedback,6.3b,00697,Tổ 3,Đèn đường hỏng ở tổ 3,"
        "Hai cột đèn đường tổ 3 không sáng.,Nguyễn Văn An,0912345678,,",
        "1022-2025-000701,02/07/2025 09:00,feedback,6.3b,00697,Tổ 3,Đèn đường hỏng ở tổ 3,"
        "Hai cột đèn đường tổ 3 vẫn không sáng.,Nguyễn Văn An,0912345678,,",
        "1022-2025-000702,02/07/2025 10:00,feedback,6.3b,00694,Tổ 5,Đèn đường hỏng ở tổ 5,"
        "Ba cột đèn đường tổ 5 không sáng.,Trần Thị Bình,0912000111,,",
    ]
    data = "\n".join([header, *rows]).encode()
    with app.app_context(), unit_of_work():
        batch = import_1022(data, "lo.csv", actor=None, now=at(2025, 7, 3))
        report, imported, rejected = batch.report, batch.imported, batch.rejected
    assert (imported, rejected) == (2, 1), report
    (refused,) = report["rejected"]
    assert refused["ticket"] == "1022-2025-000701"
    assert "Phường Minh Khai" in " ".join(refused["errors"].values())
    with app.app_context():
        found = {
            c.external_ref: (c.area.name, c.handling_unit.code)
            for c in db.session.scalars(select(Case).where(Case.channel == "hotline"))
        }
        db.session.remove()
    assert found == {
        "1022-2025-000601": ("Phường Minh Khai", "UBND-00697"),
        "1022-2025-000702": ("Phường Hà Giang 1", "UBND-HG1"),
    }


def test_transfers_offer_only_units_in_force(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    apply(app)
    code = make_case(area_code="00691")
    coordinator = staff_client(app, make_user, "coordinator", None)
    page = coordinator.get(f"/can-bo/ho-so/{code}")
    assert page.status_code == 200
    assert 'value="VHXH-HG2"' in page.text
    assert 'value="UBND-00697"' not in page.text and 'value="TNMT"' not in page.text
