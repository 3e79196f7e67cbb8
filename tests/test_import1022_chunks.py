"""The 1022 import at scale (issue 17): the command line imports in chunks, each its own
transaction, recording rows done of total on the batch; interrupted at any row (an error
raised inside the import, or the process killed), the committed chunks stay, nothing of
the running chunk does, and a re-run of the same file leaves every ticket exactly one
case. The batch page shows the progress; the upload page refuses a file over its limit
with the advice to use the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from test_import1022 import NOW, csv_bytes, refused, row

ROOT = Path(__file__).resolve().parent.parent
TICKETS = [f"C-{i:04d}" for i in range(12)]


def _file(tickets: list[str]) -> bytes:
    return csv_bytes(*(row(t) for t in tickets))


def _hotline_tickets(app: Flask) -> list[str]:
    from feedback.extensions import db
    from feedback.models import Case

    with app.app_context():
        found = db.session.scalars(
            select(Case.external_ref).where(Case.channel == "hotline").order_by(Case.external_ref)
        ).all()
        db.session.remove()
    return list(found)  # type: ignore[arg-type]


def _batches(app: Flask) -> list[dict[str, Any]]:
    from feedback.extensions import db
    from feedback.models import ImportBatch

    with app.app_context():
        rows = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id)).all()
        found = [
            {
                "id": b.id,
                "status": b.status,
                "rows_total": b.rows_total,
                "rows_done": b.rows_done,
                "imported": b.imported,
                "already_present": b.already_present,
                "rejected": b.rejected,
                "imported_codes": len(b.report.get("imported", [])),
            }
            for b in rows
        ]
        db.session.remove()
    return found


def _chunked(app: Flask, data: bytes, **kwargs: Any) -> int:
    from feedback.services.intake.import1022 import import_in_chunks

    with app.app_context():
        try:
            return import_in_chunks(data, "lo.csv", actor_id=None, now=NOW, **kwargs)
        finally:
            from feedback.extensions import db

            db.session.remove()


def test_chunks_commit_with_their_progress(app: Flask) -> None:
    seen: list[tuple[int, int]] = []
    data = _file(TICKETS[:11]) + (row("C-0000") + "\n").encode()  # line 13 repeats line 2
    _chunked(app, data, chunk_rows=5, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 12), (5, 12), (10, 12), (12, 12)]
    [batch] = _batches(app)
    assert batch == {
        "id": batch["id"],
        "status": "done",
        "rows_total": 12,
        "rows_done": 12,
        "imported": 11,
        "already_present": 0,
        "rejected": 1,
        "imported_codes": 11,
    }
    assert _hotline_tickets(app) == sorted(TICKETS[:11])


@pytest.mark.parametrize("fail_at", [1, 5, 6, 12])
def test_an_import_interrupted_at_any_row_is_completed_by_a_rerun(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    """Raise inside the n-th row's intake (chunks of 5): the chunks before it stay, its
    own chunk is rolled back, the batch says "interrupted"; the same file again imports
    the rest and every ticket is one case."""
    from feedback.services.intake import import1022

    real = import1022.submit_case
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise RuntimeError("the process dies here")
        return real(*args, **kwargs)

    monkeypatch.setattr(import1022, "submit_case", failing)
    data = _file(TICKETS)
    with pytest.raises(RuntimeError):
        _chunked(app, data, chunk_rows=5)
    committed = (fail_at - 1) // 5 * 5
    [first] = _batches(app)
    assert (first["status"], first["rows_done"], first["imported"]) == (
        "interrupted",
        committed,
        committed,
    )
    assert _hotline_tickets(app) == TICKETS[:committed]

    monkeypatch.setattr(import1022, "submit_case", real)
    _chunked(app, data, chunk_rows=5)
    assert _hotline_tickets(app) == TICKETS  # each exactly once
    second = _batches(app)[1]
    assert (second["status"], second["imported"], second["already_present"]) == (
        "done",
        12 - committed,
        committed,
    )


def test_a_killed_command_line_import_is_completed_by_running_it_again(
    app: Flask, database_url: str, tmp_path: Path, client: FlaskClient, login_as: Any
) -> None:
    """The real command in a process of its own, SIGKILLed once its progress says a chunk
    is committed; the batch stays "running" with those rows, its page shows how far it
    came, and the same command again leaves every ticket exactly once."""
    tickets = [f"K-{i:04d}" for i in range(60)]
    path = tmp_path / "lon.csv"
    path.write_bytes(_file(tickets))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "TEST_"))}
    env.update(
        FEEDBACK_ENV="test",
        FEEDBACK_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=database_url,
        FEEDBACK_SCHEDULER="off",
    )
    command = [str(Path(sys.executable).parent / "flask"), "--app", "feedback", "import-1022"]
    proc = subprocess.Popen(
        [*command, str(path), "--chunk", "10"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    progress = []
    for line in proc.stderr:
        progress.append(line)
        if line.startswith("10/60 dòng"):
            proc.kill()
            break
    proc.wait(timeout=60)
    assert progress[0].startswith("0/60 dòng (0%)"), progress
    [killed] = _batches(app)
    assert killed["status"] == "running" and 10 <= killed["rows_done"] < 60
    assert len(_hotline_tickets(app)) == killed["rows_done"] == killed["imported"]

    login_as("coordinator")
    page = client.get(f"/can-bo/nhap-1022/lo/{killed['id']}")
    assert f'data-progress="{killed["rows_done"]}/60" data-status="running"' in page.text
    assert "chạy lại lệnh nhập với cùng tệp" in page.text

    again = subprocess.run(
        [*command, str(path), "--chunk", "10"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "60/60 dòng (100%)" in again.stderr
    assert _hotline_tickets(app) == tickets
    done = _batches(app)[1]
    assert done["imported"] + done["already_present"] == 60
    assert done["already_present"] == killed["rows_done"]
    page = client.get(f"/can-bo/nhap-1022/lo/{done['id']}")
    assert 'data-progress="60/60" data-status="done"' in page.text


def test_the_upload_page_sends_files_over_its_limit_to_the_command_line(app: Flask) -> None:
    from feedback.services.intake.import1022 import MAX_ROWS

    message = refused(app, csv_bytes(*(row(f"L-{i}") for i in range(MAX_ROWS + 1))))
    assert "5.000 dòng" in message and "flask --app feedback import-1022" in message


def test_the_command_line_takes_more_rows_than_the_page(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.services.intake import import1022

    monkeypatch.setattr(import1022, "CLI_MAX_ROWS", 8)
    _chunked(app, _file(TICKETS[:8]), chunk_rows=3)
    assert len(_hotline_tickets(app)) == 8
    from feedback.services.errors import ValidationError

    with pytest.raises(ValidationError, match="hơn 8 dòng"):
        _chunked(app, _file(TICKETS[:9]))
    assert len(_batches(app)) == 1  # the refused file wrote nothing
