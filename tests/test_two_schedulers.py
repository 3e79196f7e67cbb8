"""Two real scheduler processes against one PostgreSQL database double nothing.

Both run ``flask --app feedback scheduler`` (APScheduler, sweep and delivery every second)
over a set of cases whose deadlines are long past; each process sweeps them many times and
delivers to a real SMTP server. Afterwards every warning and breach is recorded once, its
timeline event written once, each notification written once and sent once, and the mail
server has seen each Message-ID exactly once. The same holds for the escalation ladder's
steps (issue 16): each case reaches level 1 at the breach and level 2 five working days
later once, with one timeline event each, and the chairman is mailed once per case.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import TEST_SECRET, server_database
from smtp_helpers import MailServer, add_staff
from sqlalchemy import func, select

from feedback import PROJECT_ROOT
from feedback.domain.sla import Milestone, arrived
from feedback.extensions import db
from feedback.models import (
    Case,
    CaseEscalation,
    CaseEvent,
    Notification,
    Setting,
    SlaEvent,
    SlaPolicy,
)
from feedback.services.intake.submission import Reporter
from feedback.services.reference.policies import load_calendar
from feedback.services.sla.sweep import clock_of, thresholds

CASES = 40
RUN_AT_LEAST = 10.0  # seconds both processes keep sweeping, after which they are stopped
TIMEOUT = 60.0
MILESTONES = tuple(m.value for m in Milestone)

AREAS = ("00688", "00694")  # Quang Trung and Nguyễn Trãi: UBND-NNNNN handles, QLDT leads
STAFF = {
    ("officer", "UBND-00688"): "can.bo.00688@example.vn",
    ("unit_head", "UBND-00688"): "lanh.dao.00688@example.vn",
    ("officer", "UBND-00694"): "can.bo.00694@example.vn",
    ("unit_head", "UBND-00694"): "lanh.dao.00694@example.vn",
    ("unit_head", "QLDT"): "lanh.dao.qldt@example.vn",
    ("inspector", "TTR"): "thanh.tra@example.vn",
    ("coordinator", "VP"): "van.phong@example.vn",
}
CHAIRMAN = "chu.tich@example.vn"


# The advisory lock only saves redundant work; correctness must not depend on it. This
# launcher runs the same ``flask`` command with the lock query made to succeed in every
# process, so both sweep the same cases at the same time.
WITHOUT_LOCK = """
import sys

import sqlalchemy
from flask.cli import main

from feedback.services.sla import sweep as sla_sweep


def text(sql, *args, **kwargs):
    if "pg_try_advisory" in sql:
        sql = "SELECT CAST(:k AS bigint) IS NOT NULL"
    return sqlalchemy.text(sql, *args, **kwargs)


sla_sweep.text = text
sys.argv[0] = "flask"
sys.exit(main())
"""


def told(area: str, milestone: str) -> set[str]:
    """Who the sweep tells (services.sla.Sweeper.recipients, for these staff)."""
    officer, head = STAFF[("officer", f"UBND-{area}")], STAFF[("unit_head", f"UBND-{area}")]
    if milestone.endswith("breach"):
        return {head, STAFF[("unit_head", "QLDT")], STAFF[("inspector", "TTR")]}
    if milestone == Milestone.ACK_WARNING.value:
        return {officer, head, STAFF[("coordinator", "VP")]}
    return {officer, head}


# Replace the app fixture's engine parameter (sqlite, postgresql) by PostgreSQL alone.
pytestmark = pytest.mark.parametrize(
    "database_url",
    server_database("two scheduler processes need PostgreSQL: set TEST_DATABASE_URL"),
    indirect=True,
)


def scheduler_env(database_url: str, instance: Path, smtp: MailServer) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FEEDBACK_", "MAIL_", "FLASK_")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=database_url,
        FEEDBACK_ENV="production",
        SECRET_KEY="two-schedulers-test-secret-0123456789-abcdefghij",
        # The key the test app seals with (derived from its SECRET_KEY), as every process of
        # a deployment shares one: receipts carry the access key sealed under it.
        IDENTITY_KEY=base64.urlsafe_b64encode(
            hashlib.sha256(b"identity:" + TEST_SECRET.encode()).digest()
        ).decode(),
        FEEDBACK_INSTANCE_PATH=str(instance),
        FEEDBACK_SCHEDULER="off",
        MAIL_SERVER=smtp.host,
        MAIL_PORT=str(smtp.port),
        FEEDBACK_SWEEP_SECONDS="1",
        FEEDBACK_DELIVER_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def progress(app: Flask) -> dict[str, int]:
    with app.app_context():
        try:
            return {
                "sla_events": db.session.scalar(select(func.count(SlaEvent.id))) or 0,
                "notifications": db.session.scalar(select(func.count(Notification.id))) or 0,
                "unfinished": db.session.scalar(
                    select(func.count(Notification.id)).where(
                        Notification.status.in_(("pending", "sending"))
                    )
                )
                or 0,
            }
        finally:
            db.session.remove()


def logged(log: str, job: str) -> list[dict[str, Any]]:
    """The summaries a process logged for ``job`` (``run_job`` logs "name: {...}")."""
    found = []
    for match in re.finditer(rf"feedback\.scheduler {job}: (\{{.*\}})$", log, re.MULTILINE):
        found.append(ast.literal_eval(match.group(1)))
    return found


@pytest.mark.parametrize("advisory_lock", [True, False], ids=["advisory-lock", "no-lock"])
def test_two_scheduler_processes_record_and_send_everything_exactly_once(
    advisory_lock: bool,
    app: Flask,
    database_url: str,
    make_case: Callable[..., str],
    smtp: MailServer,
    tmp_path: Path,
) -> None:
    assert database_url.startswith("postgresql")

    # --- the data: staff with e-mails, cases whose every deadline is long past ------------
    for (role, unit), address in STAFF.items():
        add_staff(app, role, unit, address)
    start = datetime.now(UTC)
    received = start - timedelta(days=30)
    area_of: dict[str, str] = {}
    citizens = 0
    for number in range(CASES):
        area = AREAS[number % 2]
        email = f"cong.dan.{number}@example.vn" if number % 2 == 0 else None
        citizens += email is not None
        code = make_case(
            now=received + timedelta(minutes=number),
            kind=("feedback", "petition", "suggestion")[number % 3],
            subject=f"Đèn đường hỏng số {number} trên đường Nguyễn Trãi",
            category_code="6.3b",
            area_code=area,
            reporter=Reporter(name=f"Công dân {number}", phone="0912000111", email=email),
        )
        area_of[code] = area

    expected_events: set[tuple[str, str]] = set()
    with app.app_context():
        calendar = load_calendar()
        policies = {p.kind: p for p in db.session.scalars(select(SlaPolicy))}
        for case in db.session.scalars(select(Case)):
            assert case.handling_unit.code == f"UBND-{area_of[case.code]}"
            assert case.lead_unit.code == "QLDT"
            policy = policies[case.kind]
            due = arrived(clock_of(case, policy), thresholds(policy), calendar, start)
            assert len(due) == 4, f"{case.code}: every deadline should be past, got {due}"
            expected_events |= {(case.code, m.value) for m in due}
        db.session.remove()
    expected_notes = {
        (code, milestone, address)
        for code, milestone in expected_events
        for address in told(area_of[code], milestone)
    }
    # The default ladder: level 1 at the breach (its mail is the breach's), level 2 five
    # working days later to the chairman and the inspectorate, long past for every case.
    with app.app_context():
        db.session.add(Setting(key="escalation_chairman_email", value=CHAIRMAN))
        db.session.commit()
        db.session.remove()
    expected_steps = {(code, level) for code in area_of for level in (1, 2)}
    expected_ladder_notes = {
        (code, "escalation", address)
        for code in area_of
        for address in (CHAIRMAN, STAFF[("inspector", "TTR")])
    }
    expected_total = len(expected_notes) + len(expected_ladder_notes) + citizens
    # Every citizen left a phone: one receipt SMS each (to each process's sms.log) besides
    # the mails, which are what the mail server counts below.
    sms = CASES
    assert progress(app) == {
        "sla_events": 0,
        "notifications": citizens + sms,
        "unfinished": citizens + sms,
    }

    # --- two scheduler processes -----------------------------------------------------------
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    processes: list[subprocess.Popen[bytes]] = []
    began = time.monotonic()
    done_after: float | None = None
    try:
        for n, log in enumerate(logs, start=1):
            instance = tmp_path / f"instance-{n}"
            instance.mkdir()
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            *(["-m", "flask"] if advisory_lock else ["-c", WITHOUT_LOCK]),
                            *("--app", "feedback", "scheduler"),
                        ],
                        cwd=PROJECT_ROOT,
                        env=scheduler_env(database_url, instance, smtp),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        state: dict[str, int] = {}
        while time.monotonic() - began < TIMEOUT:
            for n, process in enumerate(processes, start=1):
                if process.poll() is not None:
                    pytest.fail(
                        f"scheduler {n} exited with {process.returncode}:\n"
                        + logs[n - 1].read_text(errors="replace")[-3000:]
                    )
            state = progress(app)
            finished = (
                state["sla_events"] == len(expected_events)
                and state["notifications"] == expected_total + sms
                and state["unfinished"] == 0
                and len(smtp.received) >= expected_total
            )
            if finished and done_after is None:
                done_after = time.monotonic() - began
            if finished and time.monotonic() - began >= RUN_AT_LEAST:
                break
            time.sleep(0.25)
        else:
            pytest.fail(
                f"not done after {TIMEOUT:.0f} s: {state}, {len(smtp.received)} mails received; "
                f"expected {len(expected_events)} SLA events and {expected_total} mails\n"
                + "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            )
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    ran_for = time.monotonic() - began

    # --- what the logs say ------------------------------------------------------------------
    texts = [log.read_text(errors="replace") for log in logs]
    sweeps = [len(re.findall(r'Job "sweep \(.*executed successfully', t)) for t in texts]
    delivers = [len(re.findall(r'Job "deliver \(.*executed successfully', t)) for t in texts]

    def total(job: str, key: str) -> list[int]:
        return [sum(summary.get(key, 0) for summary in logged(t, job)) for t in texts]

    breaches, skipped, sent = (
        total("sweep", "breaches"),
        total("sweep", "skipped"),
        total("deliver", "sent"),
    )
    failures = [line for t in texts for line in t.splitlines() if "failed" in line.lower()]
    print(
        f"\ntwo schedulers ({'with' if advisory_lock else 'without'} the advisory lock): "
        f"everything recorded and sent after {done_after:.1f} s, "
        f"stopped after {ran_for:.1f} s; per process: sweeps run {sweeps}, deliveries run "
        f"{delivers}, breaches recorded {breaches}, sweeps skipped on the advisory lock "
        f"{skipped}, mails sent {sent}; {len(expected_events)} SLA events, "
        f"{expected_total} mails"
    )
    assert failures == [], "\n".join(failures)
    assert all(n >= 3 for n in sweeps), f"each process should sweep many times: {sweeps}"
    assert sum(breaches) == sum(1 for _, m in expected_events if m.endswith("breach"))
    assert sum(sent) == expected_total + sms
    if not advisory_lock:
        assert skipped == [0, 0]

    # --- what the database says -------------------------------------------------------------
    with app.app_context():
        code_of = dict(db.session.execute(select(Case.id, Case.code)).all())
        events = Counter(
            (code_of[e.case_id], e.milestone, e.deadline_rev)
            for e in db.session.scalars(select(SlaEvent))
        )
        timeline = Counter(
            (code_of[e.case_id], e.action)
            for e in db.session.scalars(select(CaseEvent).where(CaseEvent.action.in_(MILESTONES)))
        )
        steps = Counter(
            (code_of[e.case_id], e.level) for e in db.session.scalars(select(CaseEscalation))
        )
        step_events = Counter(
            (code_of[e.case_id], e.data["level"])
            for e in db.session.scalars(select(CaseEvent).where(CaseEvent.action == "escalate"))
        )
        levels = set(db.session.scalars(select(Case.escalation_level)))
        notes = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        texts_sent = [n for n in notes if n.channel == "sms"]
        notes = [n for n in notes if n.channel == "email"]
        rows = [
            {
                "dedupe_key": n.dedupe_key,
                "what": (code_of.get(n.case_id or 0), n.kind, n.recipient),
                "status": n.status,
                "attempts": n.attempts,
                "message_id": n.message_id,
            }
            for n in notes
        ]
        db.session.remove()

    assert set(events.values()) == {1}
    assert {(code, m) for code, m, _rev in events} == expected_events
    assert len(events) == len(expected_events) == CASES * 4
    assert set(timeline.values()) == {1} and set(timeline) == expected_events
    assert set(steps.values()) == {1} and set(steps) == expected_steps
    assert set(step_events.values()) == {1} and set(step_events) == expected_steps
    assert levels == {2}

    assert len(rows) == expected_total
    assert Counter(r["dedupe_key"] for r in rows).most_common(1)[0][1] == 1
    sla_rows = Counter(r["what"] for r in rows if r["what"][1] in MILESTONES)
    assert set(sla_rows.values()) == {1} and set(sla_rows) == expected_notes
    ladder_rows = Counter(r["what"] for r in rows if r["what"][1] == "escalation")
    assert set(ladder_rows.values()) == {1} and set(ladder_rows) == expected_ladder_notes
    receipts = [r for r in rows if r["what"][1] == "receipt"]
    assert len(receipts) == citizens
    assert {r["status"] for r in rows} == {"sent"}
    assert Counter(r["attempts"] for r in rows) == {1: len(rows)}, "a row was claimed twice"

    # The SMS: each sent once, by one of the two processes.
    assert len(texts_sent) == sms and {n.status for n in texts_sent} == {"sent"}
    assert {n.attempts for n in texts_sent} == {1}, "an SMS was claimed twice"
    sms_lines = [
        line
        for n in (1, 2)
        if (tmp_path / f"instance-{n}" / "sms.log").exists()
        for line in (tmp_path / f"instance-{n}" / "sms.log").read_text().splitlines()
    ]
    assert sorted(line.split("\t")[2] for line in sms_lines) == sorted(
        n.dedupe_key for n in texts_sent
    )

    # --- what the mail server says ----------------------------------------------------------
    received_ids = Counter(m.message_id for m in smtp.received)
    assert len(smtp.received) == len(rows), "a message was sent twice (or lost)"
    assert set(received_ids.values()) == {1}
    assert set(received_ids) == {r["message_id"] for r in rows}
    delivered_to = Counter(r for m in smtp.received for r in m.rcpt_tos)
    assert delivered_to == Counter(r["what"][2] for r in rows)
