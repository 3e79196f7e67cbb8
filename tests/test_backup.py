"""``flask --app feedback backup`` and ``restore``: a consistent SQLite copy with the
uploads, checked with integrity_check, and restored exactly; PostgreSQL is told to use
pg_dump / pg_restore."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Case


def cases(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(select(Case.code, Case.status, Case.subject).order_by(Case.id))
        result = [tuple(r) for r in rows]
        db.session.remove()
        return result


def run(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_backup_change_restore_gives_back_the_cases(
    app: Flask, make_case: Any, tmp_path: Path
) -> None:
    make_case()
    make_case(subject="Nước sinh hoạt bị đục", category_code="6.3d")
    uploads = Path(app.config["UPLOAD_FOLDER"])
    (uploads / "ab").mkdir(parents=True, exist_ok=True)
    (uploads / "ab" / "anh.jpg").write_bytes(b"\xff\xd8 a photo")
    before = cases(app)
    out = tmp_path / "sao-luu"

    result = run(app, "backup", "--out", str(out))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert result.exit_code == 1
        assert "pg_dump" in result.output and "pg_restore" in result.output
        assert run(app, "restore", str(out / "x.sqlite"), "--yes").exit_code == 1
        return
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    copy = Path(summary["database"])
    assert copy.parent == out and copy.name.startswith("feedback-") and copy.suffix == ".sqlite"
    assert summary["integrity"] == "ok" and summary["cases"] == 2
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (2,)
    assert not Path(str(copy) + "-wal").exists()  # one self-contained file
    assert Path(summary["uploads"]).is_file() and summary["upload_files"] == 1

    # Life goes on: a new case, an edited one, a lost file.
    make_case(subject="Rác thải không được thu gom")
    with app.app_context(), unit_of_work():
        db.session.execute(update(Case).values(subject="đã bị sửa"))
    (uploads / "ab" / "anh.jpg").unlink()
    assert cases(app) != before

    refused = run(app, "restore", str(copy), input="n\n")
    assert refused.exit_code != 0  # asked, and the answer was no
    assert len(cases(app)) == 3

    result = run(app, "restore", str(copy), "--yes")
    assert result.exit_code == 0, result.output
    restored = json.loads(result.output)
    assert restored["cases"] == 2 and restored["uploads_restored"] is True
    assert cases(app) == before
    assert (uploads / "ab" / "anh.jpg").read_bytes() == b"\xff\xd8 a photo"
    # The state it replaced was kept, so a mistaken restore can be undone.
    safety = Path(restored["previous_state_saved_as"])
    with sqlite3.connect(safety) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (3,)
    # The app goes on working on the restored database.
    make_case(subject="Sau khi khôi phục")
    assert len(cases(app)) == 3


def test_restore_refuses_what_is_not_a_backup(app: Flask, tmp_path: Path) -> None:
    garbage = tmp_path / "khong-phai.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    other = tmp_path / "khac.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    for path in (garbage, other, tmp_path / "khong-co.sqlite"):
        result = run(app, "restore", str(path), "--yes")
        assert result.exit_code == 1, result.output


def test_a_backup_taken_while_a_transaction_is_open_is_consistent(
    app: Flask, make_case: Any, tmp_path: Path
) -> None:
    """The online backup API copies a committed snapshot, never a half-written one."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    make_case()
    live = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    writer = sqlite3.connect(live, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE cases SET subject = 'chưa cam kết'")
    try:
        result = run(app, "backup", "--out", str(tmp_path / "b"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0, result.output
    copy = json.loads(result.output)["database"]
    with sqlite3.connect(copy) as conn:
        subjects = [r[0] for r in conn.execute("SELECT subject FROM cases")]
    assert subjects and "chưa cam kết" not in subjects
