"""``flask seed`` and ``flask users``: reference data as a file any city can load, loaded
idempotently and atomically; staff accounts and API tokens from the command line; the
calendar's overrides live in the database and drive the deadlines."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import csrf_from
from sqlalchemy import func, select

from feedback.domain.calendar import LOCAL_TZ

REFERENCE_TABLES = (
    "units",
    "areas",
    "dimensions",
    "categories",
    "routing_rules",
    "sla_policies",
    "calendar_overrides",
    "settings",
)
AREAS = ("00688", "00691", "00692", "00694", "00697", "00700", "00946", "00949")
CITY_UNITS = (
    "VP",
    "NV",
    "VHTT",
    "LDTBXH",
    "TCKH",
    "TNMT",
    "GDDT",
    "TP",
    "KT",
    "QLDT",
    "TTR",
    "CA",
    "TTYT",
    "TAND",
    "DL",
    "CTN",
    "MTDT",
    "MTTQ",
    "HDBT",
)
ALL_UNITS = set(CITY_UNITS) | {f"{p}-{a}" for a in AREAS for p in ("UBND", "CA")}


def dump(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row of every reference table, in primary-key order."""
    from feedback.extensions import db

    with app.app_context():
        out = {}
        for name in REFERENCE_TABLES:
            table = db.metadata.tables[name]
            stmt = select(table).order_by(*table.primary_key.columns)
            out[name] = [tuple(row) for row in db.session.execute(stmt)]
        return out


def run(app: Flask, *args: str) -> Any:
    # ``flask --app feedback ...`` (FlaskGroup) pushes an app context before any command.
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def seed_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def default_toml() -> str:
    from feedback.services.reference.loader import DEFAULT_FILE

    return DEFAULT_FILE.read_text(encoding="utf-8")


# --- seed ---------------------------------------------------------------------------------


def test_seed_again_changes_nothing(app: Flask) -> None:
    before = dump(app)
    assert all(before[name] for name in REFERENCE_TABLES), "template is not seeded"
    report = seed_json(run(app, "seed"))
    assert report["changed"] == 0, report
    assert not any(k.endswith((".created", ".updated")) for k in report["counts"]), report
    assert report["counts"]["categories.unchanged"] == 32
    assert dump(app) == before


def test_seed_works_under_the_plain_test_cli_runner(app: Flask) -> None:
    """Flask documents that commands on ``app.cli`` always have an app context, and
    ``app.test_cli_runner()`` is its way to test them: ``seed`` must not depend on being
    started through the ``flask`` executable."""
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, repr(result.exception)
    assert json.loads(result.output)["changed"] == 0


def test_seeded_reference_data_matches_the_design(app: Flask) -> None:
    from feedback.extensions import db
    from feedback.models import Area, Category, RoutingRule, SlaPolicy, Unit

    def count(model: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(model))

    with app.app_context():
        assert count(Area) == 8
        assert set(db.session.scalars(select(Area.code))) == set(AREAS)
        assert count(Category) == 32
        assert count(RoutingRule) == 32
        # One row per kind, and per complaint round before and from 1 July 2026.
        assert count(SlaPolicy) == 8
        assert set(db.session.scalars(select(SlaPolicy.kind))) == {
            "feedback",
            "petition",
            "suggestion",
            "complaint",
            "denunciation",
        }
        units = {u.code: u for u in db.session.scalars(select(Unit))}
        assert set(units) >= ALL_UNITS, ALL_UNITS - set(units)
        for area in AREAS:
            assert units[f"UBND-{area}"].area.code == area
            assert units[f"UBND-{area}"].function == "people_committee"
            assert units[f"CA-{area}"].area.code == area
            assert units[f"CA-{area}"].function == "police"


def test_another_city_loads_its_own_file(app: Flask, tmp_path: Path) -> None:
    from feedback.extensions import db
    from feedback.models import Area, Unit

    source = default_toml()
    assert source.count('name = "Phòng Nội vụ"') == 1
    changed = source.replace('name = "Phòng Nội vụ"', 'name = "Sở Nội vụ thử nghiệm"')
    changed += '\n[[areas]]\ncode = "00999"\nname = "Xã Thử Nghiệm"\nkind = "commune"\n'
    path = tmp_path / "other-city.toml"
    path.write_text(changed, encoding="utf-8")
    before = dump(app)

    report = seed_json(run(app, "seed", str(path)))
    assert report["changed"] == 2, report
    assert report["counts"].get("units.updated") == 1
    assert report["counts"].get("areas.created") == 1
    with app.app_context():
        assert db.session.scalar(select(Unit.name).where(Unit.code == "NV")) == (
            "Sở Nội vụ thử nghiệm"
        )
        area = db.session.scalar(select(Area).where(Area.code == "00999"))
        assert area is not None and area.name == "Xã Thử Nghiệm" and area.kind == "commune"
        assert db.session.scalar(select(func.count()).select_from(Area)) == 9
    after = dump(app)
    for name in ("dimensions", "categories", "routing_rules", "sla_policies", "calendar_overrides"):
        assert after[name] == before[name], name

    # The new file is now the state: loading it again changes nothing.
    assert seed_json(run(app, "seed", str(path)))["changed"] == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s + "\n[[areas]\ncode = \n", "TOML"),
        # Valid TOML but a dangling reference, after an earlier change in the same file:
        # the earlier change must not survive the failure.
        (
            lambda s: (
                s.replace('name = "Phòng Nội vụ"', 'name = "Đổi tên dở dang"')
                + '\n[[routing]]\ncategory = "7.2"\narea = "00688"\nlead = "KHONGCO"\n'
                'handling = "unit:KT"\n'
            ),
            "KHONGCO",
        ),
    ],
    ids=["syntax", "dangling-reference"],
)
def test_broken_file_fails_clearly_and_changes_nothing(
    app: Flask, tmp_path: Path, mutate: Callable[[str], str], message: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(mutate(default_toml()), encoding="utf-8")
    before = dump(app)
    result = run(app, "seed", str(path))
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert str(path) in result.output or "KHONGCO" in result.output
    assert "Traceback" not in result.output
    assert dump(app) == before


def test_seed_of_a_missing_file_fails(app: Flask, tmp_path: Path) -> None:
    before = dump(app)
    result = run(app, "seed", str(tmp_path / "khong-co.toml"))
    assert result.exit_code != 0
    assert "khong-co.toml" in result.output
    assert dump(app) == before


# --- users --------------------------------------------------------------------------------


def test_users_create_with_password(app: Flask) -> None:
    from feedback.extensions import db
    from feedback.models import User
    from feedback.services.accounts.users import authenticate

    result = run(
        app,
        "users",
        "create",
        "canbo.quangtrung",
        "--role",
        "officer",
        "--unit",
        "UBND-00688",
        "--password",
        "mat-khau-rat-dai-1",
        "--name",
        "Nguyễn Văn Cán",
    )
    assert result.exit_code == 0, result.output
    assert "canbo.quangtrung" in result.output
    assert "mat-khau-rat-dai-1" not in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "canbo.quangtrung"))
        assert user is not None
        assert (user.role, user.unit.code, user.full_name) == (
            "officer",
            "UBND-00688",
            "Nguyễn Văn Cán",
        )
        assert user.password_hash.startswith("$argon2id$")
        assert authenticate("canbo.quangtrung", "mat-khau-rat-dai-1", datetime.now(UTC)) is user
        db.session.rollback()


def test_users_create_generates_a_password_once(app: Flask) -> None:
    from feedback.services.accounts.users import authenticate

    result = run(app, "users", "create", "thanhtra1", "--role", "inspector")
    assert result.exit_code == 0, result.output
    match = re.search(r"Mật khẩu: (\S+)", result.output)
    assert match, result.output
    with app.app_context():
        assert authenticate("thanhtra1", match.group(1), datetime.now(UTC)) is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "officer", "--unit", "KHONGCO", "--password", "mat-khau-dai-1"], "KHONGCO"),
        (["--role", "officer", "--password", "mat-khau-dai-1"], "đơn vị"),
        (["--role", "vua", "--password", "mat-khau-dai-1"], "Vai trò"),
        (["--role", "admin", "--password", "ngan"], "Mật khẩu"),
    ],
    ids=["unknown-unit", "officer-without-unit", "unknown-role", "short-password"],
)
def test_users_create_refuses_bad_input(app: Flask, args: list[str], message: str) -> None:
    from feedback.extensions import db
    from feedback.models import User

    result = run(app, "users", "create", "sai.du.lieu", *args)
    assert result.exit_code != 0
    assert message in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "sai.du.lieu")) is None


def test_users_token_prints_a_token_once_and_stores_its_hash(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    from feedback.extensions import db
    from feedback.models import ApiToken
    from feedback.services.accounts.users import user_for_token

    user_id, username = make_user("operator")
    result = run(app, "users", "token", username)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].strip()
    assert len(token) >= 32
    assert result.output.count(token) == 1
    with app.app_context():
        rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.token_hash != token
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in " ".join(str(getattr(row, c.key)) for c in ApiToken.__table__.c)
        found = user_for_token(token, datetime.now(UTC))
        assert found is not None and found.id == user_id
        db.session.rollback()

    second = run(app, "users", "token", username)
    assert second.exit_code == 0
    assert second.output.strip() != token


def test_users_token_for_unknown_user_fails(app: Flask) -> None:
    from feedback.extensions import db
    from feedback.models import ApiToken

    result = run(app, "users", "token", "khong.ai")
    assert result.exit_code != 0
    assert "khong.ai" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


# --- calendar overrides are data ----------------------------------------------------------


def _calendar(app: Flask) -> Any:
    from feedback.domain.calendar import CalendarOverride as DomainOverride
    from feedback.domain.calendar import WorkingCalendar
    from feedback.extensions import db
    from feedback.models import CalendarOverride

    with app.app_context():
        return WorkingCalendar(
            DomainOverride(day=r.day, kind=r.kind, source=r.source, note=r.note)
            for r in db.session.scalars(select(CalendarOverride))
        )


def _add_override(app: Flask, day: date, kind: str) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import CalendarOverride

    with app.app_context(), unit_of_work():
        db.session.add(
            CalendarOverride(day=day, kind=kind, source="Thông báo thử nghiệm số 1/TB", note="")
        )


def _submit(app: Flask) -> tuple[date, date]:
    """Submit a case on the web form; its (local receipt day, local response due day)."""
    from feedback.extensions import db
    from feedback.models import Case

    client = app.test_client()
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "feedback",
            "category_code": "6.3b",
            "area_code": "00688",
            "subject": "Ổ gà trên đường Trần Phú",
            "body": "Đoạn trước chợ có nhiều ổ gà sâu, xe máy dễ ngã khi trời mưa.",
            "reporter_name": "Phạm Văn Bình",
            "reporter_phone": "0987654321",
        },
    )
    assert response.status_code == 302, response.text
    code = response.headers["Location"].rsplit("/", 1)[-1]
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        return (
            case.received_at.astimezone(LOCAL_TZ).date(),
            case.response_due_at.astimezone(LOCAL_TZ).date(),
        )


def test_an_extra_day_off_in_the_database_moves_the_due_date(app: Flask) -> None:
    calendar = _calendar(app)
    today = datetime.now(LOCAL_TZ).date()
    # From the 2nd working day on: inside the 6-day window even if midnight passes.
    day_off = next(
        d
        for d in (calendar.nth_working_day_after(today, n) for n in range(2, 6))
        if d.weekday() < 5 and calendar.override_for(d) is None
    )

    received, due_without = _submit(app)
    _add_override(app, day_off, "off")
    received_again, due_with = _submit(app)

    assert received_again - received <= timedelta(days=1)
    if received_again == received:
        assert due_with == calendar.nth_working_day_after(due_without, 1)
        assert due_with > due_without
    with_off = _calendar(app)
    assert not with_off.is_working_day(day_off)
    assert due_with == with_off.nth_working_day_after(received_again, 6)


def test_a_make_up_saturday_in_the_database_moves_the_due_date(app: Flask, make_case: Any) -> None:
    """Received Mon 2 Mar 2026 09:00: due Tue 10 Mar; with Sat 7 Mar made a working day in
    the database, the 6th working day is Mon 9 Mar."""
    from feedback.domain.deadlines import local_date

    received = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    before = make_case(now=received)
    _add_override(app, date(2026, 3, 7), "work")
    after = make_case(now=received)
    from feedback.extensions import db
    from feedback.models import Case

    with app.app_context():
        due = {
            c.code: local_date(c.response_due_at)
            for c in db.session.scalars(select(Case).where(Case.code.in_([before, after])))
        }
    assert due[before] == date(2026, 3, 10)
    assert due[after] == date(2026, 3, 9)
