"""The word index over cases.search_text (issue 17): kept current by the database itself,
used by staff search, the API and the duplicate hints, diacritics-insensitive, ranked.

Rows are written here through plain SQL on purpose: the index must follow whoever writes a
case (a bulk import, a DBA's fix), not only the intake service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from helpers import staff_client
from sqlalchemy import select, text

from feedback.domain.text import fold
from feedback.extensions import db
from feedback.models import Case, User
from feedback.services.oversight import search

WASTE = {
    "subject": "Rác thải không được thu gom",
    "body": "Rác thải tồn đọng ở đầu ngõ 12 đường Trần Phú mấy ngày nay.",
    "category_code": "6.3c",
    "area_code": "00688",
}


def found(app: Flask, user_id: int, q: str) -> list[str]:
    """The codes staff search lists for ``q``, in its order."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        results = search.search(user, {"q": [q], "per_page": ["100"]}, datetime.now(UTC))
        return [case.code for case in results.cases]


def copy_case(app: Flask, code: str, new_code: str, search_text: str) -> None:
    """A new case written with plain SQL: every column copied from ``code`` but the code,
    the access key and the text (no ORM, no service, no event)."""
    with app.app_context():
        table = Case.__table__
        row = dict(db.session.execute(select(table).where(table.c.code == code)).one()._mapping)
        row.pop("id")
        row.update(code=new_code, search_text=search_text)
        if "access_key_hash" in row:
            row["access_key_hash"] = f"copy-{new_code}"
        db.session.execute(table.insert().values(**row))
        db.session.commit()


@pytest.fixture
def inspector(make_user: Callable[..., Any]) -> int:
    user_id, _ = make_user("inspector")
    return int(user_id)


def test_insert_update_delete_through_plain_sql_show_in_search(
    app: Flask, make_case: Callable[..., str], inspector: int
) -> None:
    original = make_case(**WASTE)
    copy_case(app, original, "HG-2099-000001", "cay xanh do nga chan loi di")
    assert found(app, inspector, "cay xanh") == ["HG-2099-000001"]
    assert found(app, inspector, "rac thai") == [original]

    with app.app_context():
        db.session.execute(
            text("UPDATE cases SET search_text = 'nuoc ngap sau mua lon' WHERE code = :c"),
            {"c": "HG-2099-000001"},
        )
        db.session.commit()
    assert found(app, inspector, "cay xanh") == []
    assert found(app, inspector, "nước ngập") == ["HG-2099-000001"]

    with app.app_context():
        db.session.execute(text("DELETE FROM cases WHERE code = :c"), {"c": "HG-2099-000001"})
        db.session.commit()
    assert found(app, inspector, "nuoc ngap") == []
    assert found(app, inspector, "rac thai") == [original]


def test_search_goes_through_the_word_index(app: Flask, inspector: int) -> None:
    """The statement asks the index (MATCH on SQLite, @@ on PostgreSQL), not a LIKE scan,
    and the engine's plan reads the index."""
    with app.app_context():
        user = db.session.get(User, inspector)
        assert user is not None
        stmt = search.query(user, search.parse({"q": ["rác thải"]}), datetime.now(UTC))
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        sql = str(compiled)
        assert "LIKE" not in sql.upper()
        if db.engine.dialect.name == "sqlite":
            assert "MATCH" in sql
            explain = "EXPLAIN QUERY PLAN "
        else:
            assert "@@" in sql
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN "
        plan = db.session.connection().exec_driver_sql(explain + sql).all()
        shown = "\n".join(str(tuple(row)) for row in plan)
        expected = (
            "cases_fts VIRTUAL TABLE INDEX"
            if explain.endswith("PLAN ")
            else ("ix_cases_search_text_fts")
        )
        assert expected in shown, shown


@pytest.mark.parametrize(
    "q",
    [
        "rác",
        "rac",
        "RÁC THẢI",
        "rac thai",
        "thải rác",
        "thu gom rác",
        "tran phu rac",
        "Trần Phú",
        "dường",  # a wrong mark folds the same way: d/đ and tones are all gone
        "ngõ 12",
    ],
)
def test_one_to_three_words_with_and_without_diacritics(
    app: Flask, make_case: Callable[..., str], inspector: int, q: str
) -> None:
    waste = make_case(**WASTE)
    make_case()  # a street light on Nguyễn Trãi: shares no word asked above but "duong"
    hits = found(app, inspector, q)
    assert waste in hits and len(hits) == (2 if fold(q) == "duong" else 1), (q, hits)


def test_whole_syllables_only_and_every_word_must_be_there(
    app: Flask, make_case: Callable[..., str], inspector: int
) -> None:
    road = make_case(subject="Ổ gà lớn giữa đường Nguyễn Trãi")
    make_case(**WASTE)  # "ngày" holds "ngay", never "o ga"
    assert found(app, inspector, "o ga") == [road]
    assert found(app, inspector, "ga") == [road]
    assert found(app, inspector, "g") == []  # no prefix matching
    assert found(app, inspector, "rac thai nguyen trai") == []
    # Words FTS5 would read as operators are plain words here.
    assert found(app, inspector, "and or not near") == []


def test_matches_come_newest_first(
    app: Flask, make_case: Callable[..., str], inspector: int
) -> None:
    now = datetime.now(UTC)
    codes = [make_case(**WASTE, now=now - timedelta(days=d)) for d in (3, 1, 2)]
    assert found(app, inspector, "rac thai") == [codes[1], codes[2], codes[0]]


def test_the_api_and_the_page_use_the_index(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    waste = make_case(**WASTE)
    copy_case(app, waste, "HG-2099-000002", "rac thai chat dong bo song lo")
    client = staff_client(app, make_user, "coordinator", "VP")
    page = client.get("/can-bo/tim-kiem/", query_string={"q": "sông Lô"})
    assert page.status_code == 200 and 'data-code="HG-2099-000002"' in page.text
    assert waste not in page.text


# --- duplicate hints ----------------------------------------------------------------------


def test_hints_reach_past_the_most_recent_cases_of_the_place(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    """More than CANDIDATE_LIMIT newer open cases of the same place say something else:
    the word index still finds the older one that says the same thing (the 300 most
    recent of the place were all that was scored before)."""
    from feedback.services.intake.duplicates import (
        CANDIDATE_LIMIT,
        find_similar,
        find_similar_public,
    )

    now = datetime.now(UTC)
    same = make_case(**WASTE, now=now - timedelta(days=10))
    other = make_case(
        subject="Cây xanh đổ chắn lối đi",
        body="Cây xanh bật gốc sau mưa bão chắn lối đi của học sinh.",
        category_code="6.3c",
        area_code="00688",
        now=now - timedelta(days=1),
    )
    for n in range(CANDIDATE_LIMIT + 5):
        copy_case(app, other, f"HG-2098-{n:06d}", "cay xanh do chan loi di")
    coordinator_id, _ = make_user("coordinator", unit_code="VP")
    asked = "Rác thải không được thu gom ở ngõ 12 Trần Phú"
    with app.app_context():
        viewer = db.session.get(User, coordinator_id)
        staff = find_similar("6.3c", "00688", asked, viewer=viewer, now=now)
        assert [h.code for h in staff] == [same]
        public = find_similar_public("6.3c", "00688", asked, now=now)
        assert len(public) == 1


def test_hints_rank_all_words_first_then_most_recent(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    from feedback.services.intake.duplicates import find_similar

    now = datetime.now(UTC)
    place = {"category_code": "6.3c", "area_code": "00688"}
    some_new = make_case(subject="Rác thải ven đường", body="Rác thải ven đường.", **place, now=now)
    all_old = make_case(**WASTE, now=now - timedelta(days=5))
    all_new = make_case(**WASTE, now=now - timedelta(days=2))
    coordinator_id, _ = make_user("coordinator", unit_code="VP")
    with app.app_context():
        viewer = db.session.get(User, coordinator_id)
        hints = find_similar("6.3c", "00688", WASTE["body"], viewer=viewer, now=now)
    assert [h.code for h in hints] == [all_new, all_old, some_new]


def test_hints_keep_their_visibility(
    app: Flask, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    from feedback.services.intake.duplicates import find_similar, find_similar_public

    now = datetime.now(UTC)
    feedback = make_case(kind="feedback", **WASTE)
    complaint = make_case(kind="complaint", **WASTE)
    denunciation = make_case(kind="denunciation", **WASTE)
    inspector_id, _ = make_user("inspector")
    officer_id, _ = make_user("officer", unit_code="UBND-00694")  # another commune
    with app.app_context():
        inspector = db.session.get(User, inspector_id)
        officer = db.session.get(User, officer_id)
        body = WASTE["body"]
        seen = {h.code for h in find_similar("6.3c", "00688", body, viewer=inspector, now=now)}
        assert seen == {feedback, complaint, denunciation}
        assert find_similar("6.3c", "00688", body, viewer=officer, now=now) == []
        assert len(find_similar_public("6.3c", "00688", body, now=now)) == 1


@pytest.mark.parametrize("walk_from", [0, 10_000])
def test_both_plans_list_and_count_the_same(
    app: Flask,
    make_case: Callable[..., str],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    walk_from: int,
) -> None:
    """Many matches walk the cases newest first, few are read by id (fulltext.WALK_FROM);
    a citywide role's words-only total comes from the index. Same answers either way."""
    from feedback.services import fulltext

    monkeypatch.setattr(fulltext, "WALK_FROM", walk_from)
    monkeypatch.setattr(fulltext, "WALK_FROM_POSTGRESQL", walk_from)
    now = datetime.now(UTC)
    waste = [make_case(**WASTE, now=now - timedelta(hours=h)) for h in (5, 1, 3)]
    road = make_case(subject="Rác thải ven đường", area_code="00694", now=now)
    inspector_id, _ = make_user("inspector")
    officer_id, _ = make_user("officer", unit_code="UBND-00694")
    with app.app_context():
        for user_id, args, expected in (
            (inspector_id, {"q": ["rác thải"]}, [road, waste[1], waste[2], waste[0]]),
            (inspector_id, {"q": ["rac thai"], "per_page": ["2"], "page": ["2"]}, waste[2::-2]),
            (inspector_id, {"q": ["rac"], "area": ["00694"]}, [road]),
            (officer_id, {"q": ["rac thai"]}, [road]),
            (inspector_id, {"q": ["khong co dau"]}, []),
        ):
            user = db.session.get(User, user_id)
            assert user is not None
            results = search.search(user, args, now)
            assert [c.code for c in results.cases] == expected, args
            listed_all = search.search(user, {**args, "page": ["1"], "per_page": ["100"]}, now)
            assert results.total == len(listed_all.cases), args
