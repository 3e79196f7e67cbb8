"""A unit with 500 open cases (issue 16): every queue and inbox filter lists exactly the
cases it should, its count in the navigation agrees with the list, the cursor pages walk
the whole list once in the order of work, and a deep page costs what the first one does.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import client_for
from sqlalchemy import insert, select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import ApologyLetter, Case, CaseEvent, Unit, User

UNIT = "UBND-00694"
N = 500
NOW = datetime.now(UTC).replace(microsecond=0)
KINDS = ("feedback", "petition", "suggestion", "complaint")
CHANNELS = ("web", "hotline", "box", "api")
STATUSES = ("received", "acknowledged", "in_progress", "waiting_citizen", "answered")


def _fill(app: Flask, officer: str) -> dict[str, set[str]]:
    """Insert N open cases of UNIT (plus closed ones) in bulk; what each filter should
    list, computed here from the rows written."""
    expected: dict[str, set[str]] = {
        k: set() for k in ("open", "closed", "assigned", "draft", "returned", "replied")
    }
    expected |= {f"kind:{k}": set() for k in KINDS} | {f"channel:{c}": set() for c in CHANNELS}
    expected |= {"due3": set(), "letters": set()}
    with app.app_context(), unit_of_work():
        unit = db.session.scalar(select(Unit).where(Unit.code == UNIT))
        me = db.session.scalar(select(User).where(User.username == officer))
        rows, events, letters = [], [], []
        for i in range(N + 40):
            status = "closed" if i >= N else STATUSES[i % len(STATUSES)]
            received = NOW - timedelta(days=10) + timedelta(minutes=17 * i)
            code = f"T-{i:05d}"
            acknowledged = None if status == "received" else received + timedelta(hours=2)
            answered = received + timedelta(days=2) if status in ("answered", "closed") else None
            response_due = received + timedelta(days=8, minutes=i % 7)
            rows.append(
                {
                    "code": code,
                    "access_key_hash": "0" * 64,
                    "kind": KINDS[i % len(KINDS)],
                    "status": status,
                    "channel": CHANNELS[i % len(CHANNELS)],
                    "subject": f"Hồ sơ thử {i}",
                    "body": "Nội dung thử nghiệm của hồ sơ.",
                    "handling_unit_id": unit.id,
                    "received_at": received,
                    "ack_due_at": received + timedelta(hours=24),
                    "response_due_at": response_due,
                    "acknowledged_at": acknowledged,
                    "answered_at": answered,
                    "closed_at": answered + timedelta(days=1) if status == "closed" else None,
                    "assigned_to_id": me.id if i % 3 == 0 else None,
                    "answer_draft": "Dự thảo trả lời thử." if i % 10 in (1, 2) else None,
                    "answer_drafted_by_id": me.id if i % 10 in (1, 2) else None,
                    "search_text": "",
                    "next_sla_check_at": None,
                }
            )
            if status == "closed":
                expected["closed"].add(code)
                continue
            expected["open"].add(code)
            expected[f"kind:{KINDS[i % len(KINDS)]}"].add(code)
            expected[f"channel:{CHANNELS[i % len(CHANNELS)]}"].add(code)
            next_due = received + timedelta(hours=24) if acknowledged is None else response_due
            if (acknowledged is None or answered is None) and next_due <= NOW + timedelta(days=3):
                expected["due3"].add(code)
            if i % 3 == 0 and answered is None:
                expected["assigned"].add(code)
            if i % 10 in (1, 2):
                # Drafts: the 1s await approval, the 2s were returned afterwards.
                events.append((code, "draft_answer", me.id))
                if i % 10 == 2:
                    events.append((code, "return_draft", None))
                answerable = status in ("acknowledged", "in_progress", "waiting_citizen")
                if i % 10 == 1 and answerable:
                    expected["draft"].add(code)
                if i % 10 == 2 and answered is None:
                    expected["returned"].add(code)
            if i % 7 == 0:  # a citizen's reply, answered by staff for every 14th
                events.append((code, "citizen_reply", None))
                if i % 14 == 0:
                    events.append((code, "note", me.id))
                else:
                    expected["replied"].add(code)
            if i % 11 == 0:
                letters.append(code)
                expected["letters"].add(code)
        db.session.execute(insert(Case), rows)
        ids = dict(db.session.execute(select(Case.code, Case.id)).all())
        head = db.session.scalar(select(User).where(User.role == "unit_head"))
        db.session.execute(
            insert(CaseEvent),
            [
                {
                    "case_id": ids[code],
                    "at": NOW,
                    "actor_id": actor or head.id,
                    "actor_label": "x" if actor or action != "citizen_reply" else "Người dân",
                    "action": action,
                    "note": "",
                    "data": {},
                    "public": False,
                }
                if action != "citizen_reply"
                else {
                    "case_id": ids[code],
                    "at": NOW,
                    "actor_id": None,
                    "actor_label": "Người dân",
                    "action": action,
                    "note": "",
                    "data": {},
                    "public": True,
                }
                for code, action, actor in events
            ],
        )
        db.session.execute(
            insert(ApologyLetter),
            [
                {"case_id": ids[c], "status": "owed", "owed_since": NOW, "late_by_seconds": 60}
                for c in letters
            ],
        )
    return expected


def walk(client: FlaskClient, query: str) -> tuple[list[str], float, float]:
    """Every case code of an inbox list, following the cursor; the time of the first and
    of the last page."""
    codes: list[str] = []
    url: str | None = f"/can-bo/?{query}"
    timings = []
    while url:
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.text[:300])
        text = html.unescape(response.text)
        codes += re.findall(r'data-code="([^"]+)"', text)
        found = re.search(r'href="([^"]*sau=[^"]*)" rel="next"', text)
        url = found[1] if found else None
        assert len(timings) < 40, "the cursor does not advance"
    return codes, timings[0], timings[-1]


def strip_count(client: FlaskClient, label: str) -> int:
    text = html.unescape(client.get("/can-bo/").text)
    strip = re.search(r'<nav class="queues".*?</nav>', text, re.S)
    assert strip is not None
    found = re.search(re.escape(label) + r'\s*<strong class="count">(\d+)</strong>', strip[0])
    assert found is not None, (label, strip[0])
    return int(found[1])


def test_every_queue_and_filter_of_a_unit_with_500_open_cases(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    _, officer_name = make_user("officer", unit_code=UNIT)
    _, head_name = make_user("unit_head", unit_code=UNIT)
    expected = _fill(app, officer_name)
    officer, head = client_for(app, officer_name), client_for(app, head_name)

    codes, first, last = walk(head, "")
    assert len(codes) == len(set(codes)) == N and set(codes) == expected["open"]
    assert last < max(1.0, 4 * first), f"deep page {last:.3f}s vs first {first:.3f}s"
    with app.app_context():
        rows = db.session.execute(
            select(Case.code, Case.acknowledged_at, Case.ack_due_at, Case.response_due_at).where(
                Case.code.in_(codes)
            )
        ).all()
    due = {c: (a, d, r) for c, a, d, r in rows}
    nearest = [d if a is None else r for a, d, r in (due[c] for c in codes)]
    assert nearest == sorted(nearest), "not in the order of the nearest due time"

    assert set(walk(head, "trang_thai=dong")[0]) == expected["closed"]
    for kind in KINDS:
        assert set(walk(head, f"loai={kind}")[0]) == expected[f"kind:{kind}"], kind
    for channel in CHANNELS:
        assert set(walk(head, f"kenh={channel}")[0]) == expected[f"channel:{channel}"], channel
    assert set(walk(head, "han=3")[0]) == expected["due3"] and expected["due3"]
    print(
        f"\n500 open cases: first page {first * 1000:.0f} ms, last page {last * 1000:.0f} ms;",
        {k: len(v) for k, v in expected.items()},
    )

    queues = (
        (officer, "giao-toi", "Giao cho tôi", "assigned"),
        (officer, "tra-lai", "Dự thảo bị trả lại", "returned"),
        (officer, "dan-bo-sung", "Người dân đã bổ sung", "replied"),
        (head, "duyet", "Dự thảo chờ duyệt", "draft"),
        (head, "thu-xin-loi", "Thư xin lỗi chưa ban hành", "letters"),
    )
    for client, key, label, name in queues:
        listed = walk(client, f"cho={key}")[0]
        assert set(listed) == expected[name], key
        assert expected[name], f"{key}: the fixture must put something in each queue"
        if key != "thu-xin-loi":  # that one links to the letters page
            assert strip_count(client, label) == len(listed), key
        else:
            assert strip_count(client, label) == len(expected[name])
