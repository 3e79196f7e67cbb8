"""Issue 13, findings 2 and 8: what a similar-case hint, a link and a 1022 batch may reveal.

- The citizen's "similar cases" check gives no trace of a complaint or a denunciation (no
  code, no subject, no time of receipt), and never a case code at all.
- Intake staff (the hotline desk, box transcription) are hinted only cases they may open.
- Linking to a case out of reach is refused like an unknown code, and writes nothing on it.
- A 1022 batch is read by its uploader and the coordinator only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for, csrf_from
from sqlalchemy import func, select

from feedback.domain.calendar import LOCAL_TZ
from feedback.models import Case, CaseEvent, CaseLink, ImportBatch, User

WASTE = {
    "subject": "Rác thải không được thu gom ở tổ 5",
    "body": "Rác thải ở tổ 5 phường Quang Trung ba ngày nay không được thu gom, bốc mùi.",
    "category_code": "6.3c",
    "area_code": "00688",
}
# The same matter in other words and without diacritics, as someone checking would type it.
ASKED = {
    "subject": "to 5 rac thai khong ai thu gom",
    "body": "rac o to 5 quang trung boc mui may ngay roi khong ai thu gom",
}
DENOUNCED = {
    "subject": "Cán bộ địa chính phường Quang Trung nhận tiền của dân",
    "body": "Ông cán bộ địa chính phường Quang Trung nhận tiền để ký xác nhận hồ sơ đất ở tổ 5.",
}
DENOUNCED_ASKED = {
    "subject": "can bo dia chinh phuong quang trung nhan tien",
    "body": "can bo dia chinh quang trung nhan tien cua dan de ky xac nhan ho so dat to 5",
}
UNKNOWN = "HG-1999-000001"


def entered_by(app: Flask, user_id: int, **overrides: Any) -> str:
    """A case a member of staff entered himself (a hotline call), through the intake."""
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        **WASTE,
        "kind": "feedback",
        "channel": "hotline",
        "received_at": now - timedelta(hours=1),
        "reporter": Reporter(name="Lò Văn Páo", phone="0912345678"),
    }
    fields.update(overrides)
    with app.app_context(), unit_of_work():
        actor = db.session.get(User, user_id)
        return submit_case(CaseInput(**fields), actor=actor, now=now).case.code


def received_text(app: Flask, code: str) -> str:
    """The case's time of receipt as the pages print it."""
    from feedback.extensions import db
    from feedback.i18n import format_local

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        return format_local(case.received_at)


def events_on(app: Flask, code: str) -> list[str]:
    from feedback.extensions import db

    with app.app_context():
        return list(
            db.session.scalars(
                select(CaseEvent.action).join(Case).where(Case.code == code).order_by(CaseEvent.id)
            )
        )


def count(app: Flask, model: Any) -> int:
    from feedback.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- the public check (finding 2) ---------------------------------------------------------


def check_publicly(client: FlaskClient, category: str, area: str, words: dict[str, str]) -> str:
    """Post the citizen's form with action=check, not logged in; the page's text."""
    page = client.get("/gui")
    response = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "feedback",
            "category_code": category,
            "area_code": area,
            **words,
            "anonymous": "y",
            "action": "check",
        },
    )
    assert response.status_code == 200, response.text
    return response.text


def test_the_public_check_gives_no_trace_of_a_denunciation_or_a_complaint(
    app: Flask, client: FlaskClient, make_case: Callable[..., str]
) -> None:
    """A denounced official who types the denunciation's category, ward and words learns
    nothing: not its code, not its subject, not when it came; in a public category or not."""
    for kind, category in (
        ("denunciation", "6.3c"),
        ("denunciation", "4.1"),
        ("complaint", "6.3c"),
    ):
        code = make_case(kind=kind, category_code=category, area_code="00688", **DENOUNCED)
        html = check_publicly(client, category, "00688", DENOUNCED_ASKED)
        assert code not in html, (kind, category)
        assert DENOUNCED["subject"] not in html, (kind, category)
        assert received_text(app, code) not in html, (kind, category)
        assert "Chưa thấy phản ánh nào tương tự." in html, (kind, category)


def test_the_public_check_tells_that_similar_public_cases_exist_without_their_code(
    app: Flask, client: FlaskClient, make_case: Callable[..., str]
) -> None:
    code = make_case(kind="feedback", **WASTE)
    html = check_publicly(client, "6.3c", "00688", ASKED)
    assert "đang xử lý 1 phản ánh có nội dung tương tự" in html
    assert received_text(app, code) in html
    assert code not in html and WASTE["subject"] not in html
    assert not re.search(r"HG-\d{4}-\d{6}", html)


def test_find_similar_public_hints_only_public_kinds_of_public_categories(
    app: Flask, make_case: Callable[..., str]
) -> None:
    from feedback.services.intake.duplicates import PublicHint, find_similar_public

    make_case(kind="feedback", **WASTE)
    make_case(kind="denunciation", **WASTE)
    make_case(kind="complaint", **WASTE)
    make_case(kind="feedback", **{**WASTE, "category_code": "4.1"})  # not a public category
    now = datetime.now(UTC)
    text = f"{ASKED['subject']} {ASKED['body']}"
    with app.app_context():
        hints = find_similar_public("6.3c", "00688", text, now=now)
        assert [type(h) for h in hints] == [PublicHint]
        assert not hasattr(hints[0], "code") and not hasattr(hints[0], "subject")
        assert find_similar_public("4.1", "00688", text, now=now) == []


# --- staff hints (finding 2) ----------------------------------------------------------------


def test_staff_are_hinted_exactly_the_cases_they_may_open(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    from feedback.extensions import db
    from feedback.services.handling.visibility import can_view
    from feedback.services.intake.duplicates import find_similar

    operator_id, _ = make_user("operator", unit_code="VP")
    colleague_id, _ = make_user("operator", unit_code="VP")
    clerk_id, _ = make_user("clerk", unit_code="UBND-00688")
    codes = {
        "citizen": make_case(kind="feedback", **WASTE),
        "denunciation": make_case(kind="denunciation", **WASTE),
        "complaint": make_case(kind="complaint", **WASTE),
        "mine": entered_by(app, operator_id),
        "colleague's": entered_by(app, colleague_id),
    }
    viewers = [
        operator_id,
        colleague_id,
        clerk_id,
        make_user("coordinator", unit_code="VP")[0],
        make_user("inspector", unit_code="TTR")[0],
        make_user("officer", unit_code="MTDT")[0],
        make_user("officer", unit_code="DL")[0],
    ]
    text = f"{ASKED['subject']} {ASKED['body']}"
    with app.app_context():
        cases = {c.code: c for c in db.session.scalars(select(Case))}
        for viewer_id in viewers:
            viewer = db.session.get(User, viewer_id)
            assert viewer is not None
            hinted = {h.code for h in find_similar("6.3c", "00688", text, viewer=viewer, now=now())}
            may_open = {code for code, case in cases.items() if can_view(viewer, case)}
            assert hinted == may_open, viewer.role
        operator = db.session.get(User, operator_id)
        assert operator is not None
        mine = find_similar("6.3c", "00688", text, viewer=operator, now=now())
        assert [h.code for h in mine] == [codes["mine"]]
        clerk = db.session.get(User, clerk_id)
        assert find_similar("6.3c", "00688", text, viewer=clerk, now=now()) == []


def now() -> datetime:
    return datetime.now(UTC)


HOTLINE = "/can-bo/1022/"


def post_call(client: FlaskClient, **fields: Any) -> Any:
    page = client.get(HOTLINE)
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_from(page.text),
        "caller_phone": "0912 345 678",
        "caller_name": "Lò Văn Páo",
        "call_started_at": (datetime.now(LOCAL_TZ) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "kind": "feedback",
        "category": "6.3c",
        "area_code": "00688",
        "address": "Tổ 5",
        **ASKED,
        "action": "check",
    }
    data.update(fields)
    return client.post(HOTLINE, data=data)


def test_the_hotline_operator_is_not_hinted_cases_he_cannot_open(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    citizens = make_case(kind="feedback", **WASTE)
    denounced = make_case(kind="denunciation", **{**WASTE, "subject": DENOUNCED["subject"]})
    operator_id, operator = make_user("operator", unit_code="VP")
    own_subject = "Tổ 5 rác thải để lâu không ai thu gom"
    mine = entered_by(app, operator_id, subject=own_subject)
    client = client_for(app, operator)
    response = post_call(client)
    assert response.status_code == 200, response.text
    html = response.text
    assert mine in html and own_subject in html
    for code in (citizens, denounced):
        assert code not in html
    assert WASTE["subject"] not in html and DENOUNCED["subject"] not in html


# --- links (finding 8) ----------------------------------------------------------------------


def flash_about(html: str, code: str) -> str:
    """The flash message that names ``code``, with the code taken out."""
    found = re.findall(r'<p class="flash [^"]*">([^<]*)</p>', html)
    about = [m for m in found if code in m]
    assert len(about) == 1, found
    return about[0].replace(code, "<MÃ>")


def link_from_case_page(client: FlaskClient, code: str, other: str) -> str:
    page = client.get(f"/can-bo/ho-so/{code}")
    assert page.status_code == 200
    response = client.post(
        f"/can-bo/ho-so/{code}/lien-ket",
        data={"csrf_token": csrf_from(page.text), "link_to": other},
    )
    assert response.status_code == 303
    return client.get(response.headers["Location"]).text


def test_an_officer_cannot_link_to_another_units_case_nor_learn_that_it_exists(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    mine = make_case(area_code="00688", category_code="6.3b")
    theirs = make_case(area_code="00691", category_code="6.3b")
    _, officer = make_user("officer", unit_code="UBND-00688")
    client = client_for(app, officer)
    before = events_on(app, theirs)

    refused = link_from_case_page(client, mine, theirs)
    unknown = link_from_case_page(client, mine, UNKNOWN)
    assert count(app, CaseLink) == 0
    assert events_on(app, theirs) == before  # nothing written on the other unit's case
    assert "link" not in events_on(app, mine)
    # The same words whether the code exists out of reach or not at all.
    assert flash_about(refused, theirs) == flash_about(unknown, UNKNOWN)


def test_link_cases_refuses_a_target_out_of_reach_in_the_service(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    from feedback.extensions import db
    from feedback.services.errors import NotFound
    from feedback.services.intake.duplicates import link_cases

    mine = make_case(area_code="00688", category_code="6.3b")
    theirs = make_case(area_code="00691", category_code="6.3b")
    officer_id, _ = make_user("officer", unit_code="UBND-00688")
    messages = []
    with app.app_context():
        officer = db.session.get(User, officer_id)
        case = db.session.scalar(select(Case).where(Case.code == mine))
        assert officer is not None and case is not None
        for other in (theirs, UNKNOWN):
            try:
                link_cases(case, other, actor=officer, now=now())
            except NotFound as exc:
                messages.append((exc.message.replace(other, "<MÃ>"), exc.fields))
            else:
                raise AssertionError(f"linked to {other}")
        db.session.rollback()
    assert messages[0] == messages[1]
    assert count(app, CaseLink) == 0


def test_the_hotline_cannot_link_a_new_call_to_a_case_out_of_reach(
    app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]
) -> None:
    citizens = make_case(kind="denunciation", **WASTE)
    _, operator = make_user("operator", unit_code="VP")
    client = client_for(app, operator)
    cases_before, events_before = count(app, Case), events_on(app, citizens)
    alerts = []
    for other in (citizens, UNKNOWN):
        response = post_call(client, action="save", link_to=other)
        assert response.status_code == 422, response.text
        html = response.text.replace(other, "[MÃ]")
        alerts.append(re.findall(r'<div class="alert" role="alert">([^<]*)</div>', html))
    assert count(app, Case) == cases_before  # no half-written case
    assert count(app, CaseLink) == 0
    assert events_on(app, citizens) == events_before
    # The same answer whether the code exists out of reach or not at all.
    assert alerts[0] == alerts[1] == ["Không có hồ sơ [MÃ] trong phạm vi ông/bà được xem."]


# --- 1022 batches (finding 8) ---------------------------------------------------------------

BATCH = (
    "ticket,received_at,kind,category_code,area_code,subject,body\n"
    "T-1,05/02/2024 08:30,Phản ánh,6.3c,00688,Rác thải tổ 5,Rác thải ở tổ 5 không được thu gom.\n"
).encode()


def import_as(app: Flask, user_id: int | None, name: str) -> int:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.services.intake.import1022 import import_1022

    with app.app_context(), unit_of_work():
        actor = db.session.get(User, user_id) if user_id else None
        return import_1022(BATCH, name, actor=actor, now=datetime(2024, 3, 20, 3, tzinfo=UTC)).id


def test_an_operator_reads_only_his_own_1022_batches_and_the_coordinator_all(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    uploader_id, uploader = make_user("operator", unit_code="VP")
    _, other = make_user("operator", unit_code="VP")
    _, coordinator = make_user("coordinator", unit_code="VP")
    batch = import_as(app, uploader_id, "lo-cua-tong-dai-vien-a.csv")
    from_cli = import_as(app, None, "lo-dong-lenh.csv")
    assert count(app, ImportBatch) == 2
    pages = {name: client_for(app, name) for name in (uploader, other, coordinator)}

    def status(name: str, batch_id: int) -> int:
        return pages[name].get(f"/can-bo/nhap-1022/lo/{batch_id}").status_code

    assert status(uploader, batch) == 200
    assert status(other, batch) == 404  # as for a batch that does not exist
    assert status(other, 999_999) == 404
    assert status(coordinator, batch) == 200
    assert status(coordinator, from_cli) == 200
    assert status(uploader, from_cli) == 404
    listing = {name: client.get("/can-bo/nhap-1022/").text for name, client in pages.items()}
    assert "lo-cua-tong-dai-vien-a.csv" in listing[uploader]
    assert "lo-cua-tong-dai-vien-a.csv" not in listing[other]
    assert "lo-dong-lenh.csv" not in listing[other] and "lo-dong-lenh.csv" not in listing[uploader]
    assert "lo-cua-tong-dai-vien-a.csv" in listing[coordinator]
    assert "lo-dong-lenh.csv" in listing[coordinator]
