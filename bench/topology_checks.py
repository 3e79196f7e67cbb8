"""The checks of ``bench/topology.py``: waiting for the schedulers to catch up, the files
through the other machine, and what the database and the delivery logs must show."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fault_db_restart import Db
from .fault_db_restart import verify as verify_milestones
from .topology_procs import Deployment, Process, call

if TYPE_CHECKING:
    from .topology import Options
    from .topology_load import Submission, Web


@dataclass
class Upload:
    """A file a citizen added through the API, and what came of it."""

    code: str
    via: str
    data: bytes
    status: int | str = 0
    attachment_id: int | None = None
    busy: int = 0  # 503 answers met (and tried again)


# --- while it runs -----------------------------------------------------------------------------


def wait_busy(db: Db, name: str, seconds: float) -> str:
    """What the process ``name`` (its application_name) is doing, waiting up to ``seconds``
    to see it sweep (holding the sweep's advisory lock), else any transaction of it."""
    import psycopg

    from feedback.services.sla.sweep import LOCK_KEY

    busy = "idle between jobs"
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline + 5:
            sweeping, in_transaction = conn.execute(
                "SELECT (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.objid = %s AND a.application_name = %s),"
                " (SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND xact_start IS NOT NULL)",
                (LOCK_KEY, name, name),
            ).fetchone() or (0, 0)
            if sweeping:
                return "sweeping"
            if in_transaction and time.monotonic() >= deadline:
                return "in a transaction (outbox delivery or another job)"
            time.sleep(0.02)
    return busy


def settle(
    db: Db, area_of: dict[int, str], options: Options, note: Callable[..., None]
) -> dict[str, Any]:
    """Wait until every milestone of the due cases is recorded and the outbox holds
    nothing pending ("caught up"); rows under a lease of the killed scheduler stay
    'sending' for 5 minutes (seen as a 'sending' count that no longer moves), which
    ``drain_leases`` waits out too, until every row is sent."""
    t0 = time.monotonic()
    ids = list(area_of)
    limit = options.settle_timeout + (330.0 if options.drain_leases else 0.0)
    last: tuple[int, int] | None = None
    stable_since = t0
    state: dict[str, int] = {}
    found: dict[str, Any] = {}
    while time.monotonic() - t0 < limit:
        state = dict(db.query("SELECT status, count(*) FROM notifications GROUP BY status"))
        recorded = db.recorded(ids) if ids else 0
        now = (state.get("pending", 0), state.get("sending", 0))
        if not found:
            found["outbox_backlog_when_the_load_ended"] = sum(now)
        if now != last:
            last, stable_since = now, time.monotonic()
        still = now[1] == 0 or time.monotonic() - stable_since >= 4.0
        if "caught_up_s" not in found and recorded == 4 * len(ids) and now[0] == 0 and still:
            found["caught_up_s"] = round(time.monotonic() - t0, 1)
            found["left_under_the_killed_schedulers_lease"] = now[1]
            note("schedulers caught up", outbox=state)
        if "caught_up_s" in found and (now[1] == 0 or not options.drain_leases):
            if options.drain_leases:
                found["drained_s"] = round(time.monotonic() - t0, 1)
                note("leases drained", outbox=state)
            return {**found, "timed_out": False, "outbox_status": state}
        time.sleep(0.5)
    note("schedulers did NOT catch up", outbox=state)
    return {**found, "timed_out": True, "outbox_status": state}


# --- a file received by the dead machine, served by the other ----------------------------------


def sign_in(web: Web, username: str, password: str) -> dict[str, str]:
    """The login page's form, with its CSRF token, as a browser behind nginx sends it."""
    from urllib.parse import urlencode

    page = call(web.port, "GET", "/can-bo/dang-nhap", address="192.0.2.20")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.body) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', page.body
    )
    if token is None:
        raise RuntimeError(f"no CSRF token on {web.name}'s login page ({page.status})")
    form = {"username": username, "password": password, "csrf_token": token.group(1).decode()}
    reply = call(
        web.port,
        "POST",
        "/can-bo/dang-nhap",
        address="192.0.2.20",
        body=urlencode(form).encode(),
        cookies=page.cookies,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"https://127.0.0.1:{web.port}/can-bo/dang-nhap",
        },
    )
    if reply.status != 302:
        raise RuntimeError(f"login on {web.name} answered {reply.status}")
    return {**page.cookies, **reply.cookies}


def download_through(
    web: Web, username: str, password: str, uploads: Sequence[Upload]
) -> dict[str, Any]:
    """Every file stored through another machine, downloaded through ``web``."""
    others = [u for u in uploads if u.status == 201 and u.via != web.name]
    cookies = sign_in(web, username, password)
    differ: list[str] = []
    for u in others:
        reply = call(
            web.port, "GET", f"/can-bo/tep/{u.attachment_id}", address="192.0.2.20", cookies=cookies
        )
        if reply.status != 200 or reply.body != u.data:
            differ.append(f"{u.code} #{u.attachment_id}: {reply.status}, {len(reply.body)} bytes")
    return {
        "through": web.name,
        "files_stored_elsewhere": len(others),
        "byte_identical": len(others) - len(differ),
        "problems": differ,
    }


# --- after it ran ------------------------------------------------------------------------------


def verify_escalations(db: Db, area_of: dict[int, str]) -> dict[str, Any]:
    """The escalation ladder's steps (issue 16) of the due cases: all arrived (received 30
    days ago), each recorded once, with one timeline event each."""
    ids = list(area_of)
    steps = Counter(k for (k,) in db.query("SELECT kind FROM escalation_steps"))
    kinds = dict(db.query("SELECT id, kind FROM cases WHERE id = ANY(%s)", (ids,)))
    rows = db.query(
        "SELECT case_id, level, obligation, count(*) FROM case_escalations"
        " WHERE case_id = ANY(%s) GROUP BY 1, 2, 3",
        (ids,),
    )
    per_case = Counter(c for c, _level, _obligation, _n in rows)
    events = dict(
        db.query(
            "SELECT case_id, count(*) FROM case_events WHERE action = 'escalate'"
            " AND case_id = ANY(%s) GROUP BY 1",
            (ids,),
        )
    )
    expected = sum(steps[kinds[c]] for c in ids)
    return {
        "escalations_expected": expected,
        "escalations_recorded": sum(n for *_, n in rows),
        "escalate_events": sum(events.values()),
        "problems": {
            "escalation_twice": [f"{c}/{lv}/{ob}" for c, lv, ob, n in rows if n > 1],
            "escalation_lost": [str(c) for c in ids if per_case[c] < steps[kinds[c]]],
            "escalate_event_not_once": [str(c) for c in ids if events.get(c, 0) != per_case[c]],
        },
    }


def verify_submissions(db: Db, subs: Sequence[Submission]) -> dict[str, Any]:
    """Every 201 one case, with the answer's code and key; nothing twice or unasked."""
    from feedback.services.intake.submission import hash_access_key

    cases: dict[str, list[tuple[int, str, str]]] = {}
    received: dict[str, datetime] = {}
    for case_id, code, key_hash, email, at in db.query(
        "SELECT id, code, access_key_hash, reporter_email, received_at FROM cases"
        " WHERE reporter_email LIKE 'topo.%%'"
    ):
        cases.setdefault(email, []).append((case_id, code, key_hash))
        received[email] = at
    keys = {k: c for k, c in db.query("SELECT key, case_id FROM idempotency_keys")}
    asked = {s.email for s in subs}
    answered = [s for s in subs if s.answer is not None]
    problems: dict[str, list[str]] = {
        "201_not_stored": [],
        "201_other_code_or_key": [],
        "stored_twice": [],
        "answered_two_codes": [],
        "key_not_pointing_at_case": [],
        "stored_although_refused": [],
        "never_answered": [],
        "cases_nobody_sent": [],
    }
    for s in subs:
        got = cases.get(s.email, [])
        if len(got) > 1:
            problems["stored_twice"].append(s.key)
        if s.answer is not None:
            if not got:
                problems["201_not_stored"].append(s.key)
                continue
            case_id, code, key_hash = got[0]
            if code != s.answer["code"] or key_hash != hash_access_key(s.answer["access_key"]):
                problems["201_other_code_or_key"].append(s.key)
            if len(s.codes) > 1:
                problems["answered_two_codes"].append(s.key)
            if keys.get(s.key) != case_id:
                problems["key_not_pointing_at_case"].append(s.key)
        elif s.probe_refused:
            if got:
                problems["stored_although_refused"].append(s.key)
        else:
            problems["never_answered"].append(f"{s.key}: {s.tries[-3:]}")
    problems["cases_nobody_sent"] = [e for e in cases if e not in asked]
    tries = Counter(len(s.tries) for s in subs)
    # A retry answered with a case received before it was sent: an earlier try had
    # committed and its answer was lost with the machine; the key gave it back.
    replayed = sum(
        1
        for s in subs
        if len(s.tries) > 1
        and s.last_try_at is not None
        and s.email in received
        and received[s.email] < s.last_try_at
    )
    failovers = sum(1 for s in subs if len({w for w, _ in s.tries}) > 1)
    outcomes = Counter(str(st) for s in subs for _, st in s.tries)
    return {
        "submissions": len(subs),
        "answered_201": len(answered),
        "answered_by": dict(Counter(s.answered_by for s in answered)),
        "cases_stored": sum(len(v) for v in cases.values()),
        "retried": sum(n for t, n in tries.items() if t > 1),
        "failed_over_to_the_other_machine": failovers,
        "answer_lost_then_replayed": replayed,
        "attempt_outcomes": dict(outcomes),
        "problems": problems,
    }


def _logged(folder: Path) -> tuple[list[str], list[str]]:
    """Message-IDs in mail.log, dedupe ids in sms.log and zalo.log of one scheduler."""
    mail = folder / "mail.log"
    ids = re.findall(r"^Message-ID: (<[^>]+>)$", mail.read_text(), re.M) if mail.exists() else []
    phones: list[str] = []
    if (folder / "sms.log").exists():
        phones += [ln.split("\t")[2] for ln in (folder / "sms.log").read_text().splitlines()]
    if (folder / "zalo.log").exists():
        for line in (folder / "zalo.log").read_text().splitlines():
            phones.append(json.loads(line.split("\t", 1)[1])["tracking_id"])
    return ids, phones


def verify_deliveries(db: Db, schedulers: Sequence[Process], killed: str) -> dict[str, Any]:
    """Each outbox row once; each sent row in one log once; copies only where the killed
    scheduler had sent a row it could not mark (its lease ran out, the survivor resent)."""
    rows = db.query("SELECT dedupe_key, channel, status, attempts, message_id FROM notifications")
    seen: dict[str, list[str]] = {}
    for process in schedulers:
        mails, phones = _logged(process.log_path.parent)
        for sent_id in mails + phones:
            seen.setdefault(sent_id, []).append(process.name)
    doubled_keys = [k for k, n in Counter(r[0] for r in rows).items() if n > 1]
    problems: dict[str, list[str]] = {
        "dedupe_key_twice": doubled_keys,
        "sent_not_in_a_log": [],
        "sent_twice": [],
        "still_pending": [],
        "failed": [],
        "logged_without_a_row": [],
    }
    known: set[str] = set()
    resent = leased = second_claim = 0
    for key, channel, status, attempts, mid in rows:
        sent_id = key if channel != "email" else (mid or _message_id(key))
        known.add(sent_id)
        copies = seen.get(sent_id, [])
        if status == "sent":
            second_claim += attempts > 1
            if not copies:
                problems["sent_not_in_a_log"].append(key)
            elif len(copies) > 1:
                if killed in copies and attempts > 1 and len(copies) == 2:
                    resent += 1  # at-least-once: same Message-ID / id, the far side drops it
                else:
                    problems["sent_twice"].append(f"{key}: {copies}")
        elif status == "sending":
            leased += 1
            if len(copies) > 1 or (copies and copies != [killed]):
                problems["sent_twice"].append(f"{key}: {copies} (still leased)")
        elif status == "pending":
            problems["still_pending"].append(key)
        else:
            problems["failed"].append(key)
    problems["logged_without_a_row"] = [i for i in seen if i not in known]
    return {
        "outbox_rows": len(rows),
        "by_channel": dict(Counter(r[1] for r in rows)),
        "by_status": dict(Counter(r[2] for r in rows)),
        "sent_by": dict(Counter(n for names in seen.values() for n in names)),
        "leased_by_the_killed_scheduler": leased,
        "resent_after_its_lease": resent,
        "sent_on_a_second_claim": second_claim,
        "problems": problems,
    }


def _message_id(dedupe_key: str) -> str:
    from types import SimpleNamespace

    from feedback.services.sla.delivery import message_id

    return message_id(SimpleNamespace(dedupe_key=dedupe_key))  # type: ignore[arg-type]


def verify_files(
    db: Db, deployment: Deployment, uploads: Sequence[Upload], downloads: dict[str, Any]
) -> dict[str, Any]:
    """Stored files are in the database with their bytes' hash; no machine's disk has one."""
    stored = {
        i: (sha, has_blob)
        for i, sha, has_blob in db.query(
            "SELECT a.id, a.sha256, b.attachment_id IS NOT NULL FROM attachments a"
            " LEFT JOIN attachment_blobs b ON b.attachment_id = a.id"
        )
    }
    answered = [u for u in uploads if u.status == 201]
    on_disk = [
        str(p.relative_to(deployment.work))
        for folder in ("web-1", "web-2")
        for sub in ("uploads", "pending-uploads")
        if (deployment.work / folder / sub).exists()
        for p in (deployment.work / folder / sub).rglob("*")
        if p.is_file()
    ]
    wrong = [
        f"{u.code} #{u.attachment_id}"
        for u in answered
        if stored.get(u.attachment_id or 0) != (hashlib.sha256(u.data).hexdigest(), True)
    ]
    return {
        "uploads": len(uploads),
        "answered_201": len(answered),
        "by_machine": dict(Counter(u.via for u in answered)),
        "not_answered": dict(Counter(str(u.status) for u in uploads if u.status != 201)),
        "busy_503_then_retried": sum(u.busy for u in uploads),
        **{k: v for k, v in downloads.items() if k != "problems"},
        "problems": {
            "201_not_in_the_database": wrong,
            "not_byte_identical_through_the_other_machine": downloads["problems"],
            "files_on_a_machines_disk": on_disk,
            # An HTTP answer other than 201, after the retries a 503 gets; a connection lost
            # with the killed machine is reported above, not a failure (nothing was promised).
            "upload_refused": [
                f"{u.code}: {u.status}"
                for u in uploads
                if isinstance(u.status, int) and u.status != 201
            ],
            "no_file_stored_through_the_killed_machine": []
            if downloads["files_stored_elsewhere"]
            else ["none"],
        },
    }


def verify_limits(limits: dict[str, Any]) -> dict[str, Any]:
    problems = {
        "submit_not_accepted_up_to_the_limit": [
            s for s in limits["submit_statuses_web1"] if s != 201
        ],
        "submit_not_refused_on_the_other_machine": []
        if limits["submit_status_web2_after"] == 429
        else [limits["submit_status_web2_after"]],
        "login_refused_before_the_limit": [s for s in limits["login_statuses_web1"] if s == 429],
        "login_not_refused_on_the_other_machine": []
        if limits["login_status_web2_after"] == 429
        else [limits["login_status_web2_after"]],
    }
    return {**limits, "problems": problems}


def verify_all(
    db: Db,
    area_of: dict[int, str],
    subs: Sequence[Submission],
    limits: dict[str, Any],
    downloads: dict[str, Any],
    settled: dict[str, Any],
    deployment: Deployment,
    *,
    webs: Sequence[Process],
    schedulers: Sequence[Process],
) -> dict[str, Any]:
    milestones = verify_milestones(db, area_of)
    bad = (
        "milestones_duplicated",
        "milestones_lost",
        "milestones_unexpected",
        "timeline_duplicated",
        "timeline_lost",
        "outbox_duplicated",
        "outbox_lost",
        "outbox_unexpected",
    )
    milestones["problems"] = {k: [milestones[k]] for k in bad if milestones[k]}
    survivors = {
        "survivor_exited": [p.name for p in (webs[1], schedulers[1]) if not p.alive()],
        "settle_timed_out": ["yes"] if settled["timed_out"] else [],
    }
    parts = {
        "submissions": verify_submissions(db, subs),
        "milestones": milestones,
        "escalations": verify_escalations(db, area_of),
        "deliveries": verify_deliveries(db, schedulers, schedulers[0].name),
        "files": verify_files(db, deployment, [s.file for s in subs if s.file], downloads),
        "rate_limits": verify_limits(limits),
        "processes": {**settled, "problems": survivors},
    }
    failed = {
        f"{part}.{name}": found[:10]
        for part, data in parts.items()
        for name, found in data["problems"].items()
        if found
    }
    return {**parts, "failed_checks": failed, "ok": not failed}


def summary(r: dict[str, Any]) -> str:
    s, m, d, f, lim = (
        r[k] for k in ("submissions", "milestones", "deliveries", "files", "rate_limits")
    )
    sp, p = s["problems"], r["processes"]
    lines = [
        f"topology: 2 web machines (gunicorn -w 2 each), 2 schedulers, 1 PostgreSQL, 1 Redis;"
        f" {r['run_s']} s",
        "kills: "
        + "; ".join(
            f"{k['what']} at {k['load_done']:.0%} of the load"
            + (f" ({k['doing']})" if "doing" in k else "")
            for k in r["kills"]
        ),
        f"load: {s['submissions'] - lim['submit_limit'] - 1} submissions in {r['load_s']} s"
        f" ({(s['submissions'] - lim['submit_limit'] - 1) / max(r['load_s'], 0.1):.0f}/s),"
        f" {r['options']['clients']} clients",
        f"schedulers: outbox backlog when the load ended"
        f" {p.get('outbox_backlog_when_the_load_ended')}, caught up after"
        f" {p.get('caught_up_s')} s with {p.get('left_under_the_killed_schedulers_lease')}"
        f" rows under the killed scheduler's lease"
        + (f", all sent {p['drained_s']} s after the load" if "drained_s" in p else ""),
        f"submissions: {s['submissions']} sent, {s['answered_201']} answered 201"
        f" (by {s['answered_by']}), {s['cases_stored']} cases stored;"
        f" retried {s['retried']}, failed over {s['failed_over_to_the_other_machine']},"
        f" of which answered by replaying the first try {s['answer_lost_then_replayed']};"
        f" not stored {len(sp['201_not_stored'])}, stored twice {len(sp['stored_twice'])},"
        f" refused but stored {len(sp['stored_although_refused'])},"
        f" never answered {len(sp['never_answered'])}",
        f"milestones: {m['milestones_recorded']}/{m['milestones_expected']} recorded"
        f" (duplicated {m['milestones_duplicated']}, lost {m['milestones_lost']});"
        f" timeline {m['timeline_events']} (duplicated {m['timeline_duplicated']},"
        f" lost {m['timeline_lost']}); milestone messages {m['outbox_rows']}/"
        f"{m['outbox_expected']} (duplicated {m['outbox_duplicated']}, lost {m['outbox_lost']})",
        f"escalation steps: {r['escalations']['escalations_recorded']}/"
        f"{r['escalations']['escalations_expected']} recorded, timeline"
        f" {r['escalations']['escalate_events']}; twice"
        f" {len(r['escalations']['problems']['escalation_twice'])}, lost"
        f" {len(r['escalations']['problems']['escalation_lost'])}",
        f"outbox: {d['outbox_rows']} rows {d['by_channel']}, {d['by_status']};"
        f" dedupe keys twice {len(d['problems']['dedupe_key_twice'])};"
        f" sent by {d['sent_by']}; sent twice {len(d['problems']['sent_twice'])};"
        f" leased by the killed scheduler {d['leased_by_the_killed_scheduler']},"
        f" resent after its lease {d['resent_after_its_lease']},"
        f" sent on a second claim {d['sent_on_a_second_claim']}",
        f"files: {f['answered_201']} stored {f['by_machine']}; {f['files_stored_elsewhere']}"
        f" stored through web-1 downloaded through {f['through']}, {f['byte_identical']}"
        f" byte-identical; on a machine's disk {len(f['problems']['files_on_a_machines_disk'])};"
        f" answered 503 (busy) and tried again {f['busy_503_then_retried']},"
        f" not answered {f['not_answered']}",
        f"rate limits: submit {lim['submit_limit']}/min used up through web-1"
        f" ({Counter(lim['submit_statuses_web1'])}), next through web-2:"
        f" {lim['submit_status_web2_after']}; login {lim['login_limit']}/min through web-1,"
        f" next through web-2: {lim['login_status_web2_after']}",
        "result: " + ("OK" if r["ok"] else f"FAILED {r['failed_checks']}"),
    ]
    return "\n".join(lines)
