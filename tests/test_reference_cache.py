"""Intake keeps the reference data per process (feedback.services.reference.cache), keyed
on a stamp the database's own triggers change: whatever path changes a category, an area,
a routing rule, a unit, a setting, an SLA policy or a calendar override, the very next
submission sees it, in this process as in any other."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from feedback.models import Case
from feedback.services.intake.submission import Reporter
from feedback.services.reference import cache as reference_cache

# Monday 2 March 2026, 09:00 in Hà Giang: an ordinary working week around it.
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

BODY: dict[str, Any] = {
    "kind": "feedback",
    "subject": "Mất điện kéo dài ở tổ 5",
    "body": "Khu tổ 5 phường Minh Khai mất điện từ sáng đến giờ vẫn chưa có lại.",
    "category_code": "6.3a",
    "area_code": "00697",
    "reporter": {"name": "Nguyễn Văn An", "phone": "0912345678", "email": "an@example.vn"},
}


def sql(app: Flask, statement: str, **params: Any) -> None:
    """A write outside the ORM and outside any request: as psql would do it."""
    from feedback.extensions import db

    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(statement), params)


def stamp(app: Flask) -> str:
    from feedback.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT stamp FROM reference_version WHERE id = 1")).scalar_one()


def case_row(app: Flask, code: str) -> dict[str, Any]:
    from feedback.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        out = {
            "handling": case.handling_unit.code,
            "triage": case.needs_triage,
            "ack_due_at": case.ack_due_at,
            "response_due_at": case.response_due_at,
        }
        db.session.remove()
        return out


def post(client: FlaskClient, **changes: Any) -> Any:
    return client.post("/api/v1/cases", json={**BODY, **changes})


def expected_deadlines(app: Flask, kind: str = "feedback") -> tuple[datetime, datetime]:
    """Both due times computed the old way: policy and calendar read from the database."""
    from feedback.extensions import db
    from feedback.services.reference.policies import deadlines_for

    with app.app_context():
        due = deadlines_for(kind, NOW)
        db.session.remove()
        return due.ack_due_at, due.response_due_at


def test_a_write_to_any_reference_table_changes_the_stamp(app: Flask) -> None:
    changes = {
        "settings": "UPDATE settings SET value = value",
        "areas": "UPDATE areas SET name = name",
        "units": "UPDATE units SET name = name",
        "dimensions": "UPDATE dimensions SET name = name",
        "categories": "UPDATE categories SET name = name",
        "routing_rules": "UPDATE routing_rules SET note = note",
        "sla_policies": "UPDATE sla_policies SET label = label",
        "calendar_overrides": (
            "INSERT INTO calendar_overrides (day, kind, source, note, created_at) "
            "VALUES ('2031-01-06', 'off', 'Thông báo thử', '', '2026-01-01 00:00:00')"
        ),
        "reference_packs": (
            "INSERT INTO reference_packs (name, effective_from, digest, source, settings,"
            " summary, applied_at) VALUES ('thu', '2031-01-01', '', '', '{}', '{}',"
            " '2026-01-01 00:00:00')"
        ),
    }
    assert set(changes) == set(reference_cache.REFERENCE_TABLES)
    for table, statement in changes.items():
        before = stamp(app)
        sql(app, statement)
        assert stamp(app) != before, table
    before = stamp(app)
    sql(app, "DELETE FROM calendar_overrides WHERE day = '2031-01-06'")
    assert stamp(app) != before
    before = stamp(app)
    sql(app, "UPDATE cases SET subject = subject")  # not reference data: no change
    assert stamp(app) == before


def test_sla_policy_changed_in_the_database_is_seen_by_the_next_submission(
    app: Flask, make_case: Callable[..., str]
) -> None:
    first = case_row(app, make_case(now=NOW))  # warms this process's cache
    assert (first["ack_due_at"], first["response_due_at"]) == expected_deadlines(app)
    sql(app, "UPDATE sla_policies SET response_days = response_days + 10 WHERE kind = 'feedback'")
    second = case_row(app, make_case(now=NOW))
    assert second["response_due_at"] > first["response_due_at"]
    assert (second["ack_due_at"], second["response_due_at"]) == expected_deadlines(app)


def test_calendar_override_added_by_the_admin_service_moves_the_next_deadline(
    app: Flask, make_case: Callable[..., str]
) -> None:
    from feedback.database import unit_of_work
    from feedback.services.reference.calendar import add_override

    first = case_row(app, make_case(now=NOW))
    with app.app_context(), unit_of_work():
        add_override(date(2026, 3, 3), "off", "Thông báo 12/TB-UBND", "", now=NOW)
    second = case_row(app, make_case(now=NOW))
    assert second["response_due_at"] > first["response_due_at"]
    assert (second["ack_due_at"], second["response_due_at"]) == expected_deadlines(app)
    with app.app_context():
        from feedback.extensions import db
        from feedback.models import CalendarOverride

        row = db.session.scalar(
            select(CalendarOverride).where(CalendarOverride.day == date(2026, 3, 3))
        )
        override_id = row.id
        db.session.remove()
    from feedback.services.reference.calendar import remove_override

    with app.app_context(), unit_of_work():
        remove_override(override_id, now=NOW)
    third = case_row(app, make_case(now=NOW))
    assert third["response_due_at"] == first["response_due_at"]


def test_routing_rule_area_category_and_setting_changes_reach_the_api(
    app: Flask, client: FlaskClient
) -> None:
    answer = post(client)
    assert answer.status_code == 201, answer.text
    assert answer.json["code"].startswith("HG-")
    assert not case_row(app, answer.json["code"])["triage"]

    sql(
        app,
        "UPDATE routing_rules SET handling = 'triage', handling_unit_id = NULL "
        "WHERE category_id = (SELECT id FROM categories WHERE code = '6.3a')",
    )
    answer = post(client)
    assert answer.status_code == 201, answer.text
    assert case_row(app, answer.json["code"])["triage"]

    sql(app, "UPDATE settings SET value = 'XY' WHERE key = 'city_code'")
    assert post(client).json["code"].startswith("XY-")

    sql(app, "UPDATE areas SET active = :no WHERE code = '00697'", no=False)
    refused = post(client)
    assert refused.status_code == 422
    assert "area_code" in refused.json["fields"]

    assert post(client, area_code=None, category_code="9.9z").status_code == 422
    sql(
        app,
        "INSERT INTO categories (code, dimension_id, name, citizen_label, name_en, public, "
        "sort_order) SELECT '9.9z', dimension_id, 'Thử', 'Thử', 'Test', :yes, 99 "
        "FROM categories WHERE code = '6.3a'",
        yes=True,
    )
    answer = post(client, area_code=None, category_code="9.9z")
    assert answer.status_code == 201, answer.text
    assert answer.json["category"] == {"code": "9.9z", "name": "Thử"}


def test_a_change_rolled_back_is_never_served(app: Flask, client: FlaskClient) -> None:
    from feedback.extensions import db
    from feedback.models import Setting

    with app.app_context():
        db.session.get(Setting, "city_code").value = "ZZ"
        # In the same transaction the change is seen (the session is flushed first) ...
        assert reference_cache.current().setting("city_code", "?") == "ZZ"
        db.session.rollback()
        # ... and once rolled back, never again.
        assert reference_cache.current().setting("city_code", "?") == "HG"
        db.session.remove()
    assert post(client).json["code"].startswith("HG-")


def test_a_restored_copy_of_the_database_is_read_again(
    app: Flask, client: FlaskClient, database_url: str, tmp_path: Path
) -> None:
    """The same URL, other contents (a restored backup; the suite reusing a name)."""
    from feedback.extensions import db

    if not database_url.startswith("sqlite"):
        sql(app, "UPDATE settings SET value = 'XY' WHERE key = 'city_code'")
        assert post(client).json["code"].startswith("XY-")
        return  # the file copy below is SQLite's; PostgreSQL's restore is pg_restore
    path = database_url.removeprefix("sqlite:///")
    assert post(client).json["code"].startswith("HG-")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    shutil.copyfile(path, tmp_path / "backup.sqlite")
    sql(app, "UPDATE settings SET value = 'XY' WHERE key = 'city_code'")
    assert post(client).json["code"].startswith("XY-")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "backup.sqlite", path)
    assert post(client).json["code"].startswith("HG-")


def test_receipt_is_queued_once_per_key(app: Flask, make_case: Callable[..., str]) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Notification
    from feedback.services.sla.notify import tell_citizen

    code = make_case(reporter=Reporter(name="Lê Văn C", email="c@example.vn"))
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        tell_citizen(case, kind="receipt", reason="submit", text="lần hai", now=NOW)
    with app.app_context():
        rows = db.session.scalars(
            select(Notification).where(Notification.case_id.isnot(None))
        ).all()
        mine = [n for n in rows if n.dedupe_key == f"case:{code}:receipt:submit"]
        assert len(mine) == 1
        assert "lần hai" not in mine[0].body
        db.session.remove()
