"""Backup and restore of a SQLite deployment: the database and the uploaded files.

The database is copied with SQLite's online backup API, so the copy is a consistent
snapshot even while the web workers and the scheduler keep writing; each copy is checked
with ``PRAGMA integrity_check`` before it is reported. Uploads go into a tar.gz beside it.

Every file written here (the copy, its uploads archive) is created readable by its owner
only (0600): a backup holds every citizen's name, phone and address. A restore never
rewinds the case counter: codes already given out are never given out again.

PostgreSQL is backed up with its own tools (pg_dump / pg_restore): ``POSTGRES_HELP``.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app

from ..extensions import db
from .errors import ServiceError

POSTGRES_HELP = """\
Cơ sở dữ liệu là PostgreSQL: sao lưu và khôi phục bằng công cụ của PostgreSQL.

Sao lưu (ứng dụng vẫn chạy; pg_dump chụp một ảnh nhất quán):
  pg_dump --format=custom --no-owner --file=feedback-$(date +%Y%m%d-%H%M%S).dump "$DATABASE_URL"
  tar -czf feedback-$(date +%Y%m%d-%H%M%S)-uploads.tar.gz -C instance uploads

Khôi phục (dừng web và bộ lập lịch trước):
  createdb feedback_restored
  pg_restore --no-owner --exit-on-error --dbname=postgresql://.../feedback_restored FILE.dump
  # bộ đếm mã hồ sơ không được lùi lại (mã đã cấp không bao giờ cấp lần nữa): chép các
  # bộ đếm của cơ sở dữ liệu đang dùng ($DATABASE_URL) sang, lấy giá trị lớn hơn
  psql "$DATABASE_URL" -Atc "SELECT format('INSERT INTO case_counters (year, last) \\
    VALUES (%s, %s) ON CONFLICT (year) DO UPDATE SET last = \\
    GREATEST(case_counters.last, EXCLUDED.last);', year, last) FROM case_counters" \\
    | psql postgresql://.../feedback_restored
  # kiểm tra, rồi trỏ DATABASE_URL sang feedback_restored (hoặc đổi tên cơ sở dữ liệu)
  tar -xzf FILE-uploads.tar.gz -C instance
  flask --app feedback db upgrade
Xem mục «Sao lưu và khôi phục» trong README."""


class BackupError(ServiceError):
    status = 409
    code = "backup_refused"


def _dialect() -> str:
    return db.engine.dialect.name


def database_path() -> Path:
    """The live SQLite file; refuses any other engine (the caller explains PostgreSQL)."""
    if _dialect() != "sqlite":
        raise BackupError(POSTGRES_HELP)
    name = db.engine.url.database
    if not name or name == ":memory:":
        raise BackupError("Cơ sở dữ liệu SQLite trong bộ nhớ: không có gì để sao lưu.")
    return Path(name).resolve()


def default_folder() -> Path:
    return Path(current_app.instance_path) / "backups"


def integrity(path: Path) -> str:
    """``ok`` for a healthy SQLite database, else SQLite's first complaint."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "ok" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:5])


def _private_file(path: Path) -> int:
    """Open ``path`` for writing, created (or truncated) with mode 0600 whatever the
    umask: the file descriptor, for the caller to close."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _copy_database(source: Path, target: Path) -> None:
    """Online backup of ``source`` into a new, self-contained file ``target``, created
    0600 before SQLite opens it (SQLite gives its journal the same mode)."""
    os.close(_private_file(target))
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=1024)
            # One file, no -wal beside it: the copy can be moved and opened anywhere.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _unique(folder: Path, stem: str, suffix: str) -> Path:
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path


def _uploads_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def _count(path: Path, table: str) -> int | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def backup(
    now: datetime, out_dir: Path | None = None, *, prefix: str = "feedback"
) -> dict[str, Any]:
    """Copy the database and the uploads into ``out_dir`` (default instance/backups)."""
    source = database_path()
    folder = (out_dir or default_folder()).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = f"{prefix}-{now:%Y%m%d-%H%M%S}"
    target = _unique(folder, stamp, ".sqlite")
    partial = target.with_name(target.name + ".partial")
    _copy_database(source, partial)
    verdict = integrity(partial)
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"Bản sao không qua được kiểm tra toàn vẹn: {verdict}")
    os.replace(partial, target)

    uploads = _uploads_folder()
    archive = target.with_name(target.stem + "-uploads.tar.gz")
    files = 0
    with (
        os.fdopen(_private_file(archive), "wb") as raw,
        tarfile.open(fileobj=raw, mode="w:gz") as tar,
    ):
        if uploads.is_dir():
            tar.add(uploads, arcname="uploads")
            files = sum(1 for p in uploads.rglob("*") if p.is_file())
    return {
        "database": str(target),
        "uploads": str(archive),
        "upload_files": files,
        "integrity": verdict,
        "cases": _count(target, "cases"),
        "bytes": target.stat().st_size,
    }


def _revision(path: Path) -> str | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()
    return row[0] if row else None


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    config = current_app.extensions["migrate"].migrate.get_config()
    return {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}


def check_backup(file: Path) -> dict[str, Any]:
    """Refuse anything that is not a healthy backup of this service at a known schema."""
    if not file.is_file():
        raise BackupError(f"Không có tệp «{file}».")
    verdict = integrity(file)
    if verdict != "ok":
        raise BackupError(f"Tệp «{file.name}» không phải cơ sở dữ liệu SQLite lành: {verdict}")
    revision = _revision(file)
    if revision is None or _count(file, "cases") is None:
        raise BackupError(f"Tệp «{file.name}» không phải bản sao lưu của dịch vụ này.")
    if revision not in _known_revisions():
        raise BackupError(
            f"Bản sao lưu ở phiên bản lược đồ {revision}, mới hơn mã nguồn đang chạy: "
            "cập nhật mã nguồn trước khi khôi phục."
        )
    return {"revision": revision, "cases": _count(file, "cases")}


def restore(file: Path, now: datetime) -> dict[str, Any]:
    """Replace the live database (and uploads, when the backup has its archive) with a
    backup. The current state is first backed up as ``pre-restore-*`` so a mistaken
    restore can itself be undone. The web workers and the scheduler must be stopped."""
    file = file.resolve()
    live = database_path()
    facts = check_backup(file)
    given_out = codes_given_out(live)
    safety = backup(now, prefix="pre-restore")

    # No pooled connection of ours may hold the old file open while it is overwritten.
    db.session.remove()
    db.engine.dispose()
    src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(live, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    verdict = integrity(live)
    if verdict != "ok":
        raise BackupError(f"Cơ sở dữ liệu sau khôi phục không lành: {verdict}")
    counters = _keep_counters(live, given_out)

    archive = file.with_name(file.stem + "-uploads.tar.gz")
    uploads_restored = False
    if archive.is_file():
        uploads = _uploads_folder()
        with tempfile.TemporaryDirectory(dir=uploads.parent) as tmp:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
            unpacked = Path(tmp) / "uploads"
            unpacked.mkdir(exist_ok=True)
            if uploads.exists():
                shutil.rmtree(uploads)
            shutil.move(str(unpacked), uploads)
        uploads_restored = True
    return {
        "restored": str(file),
        "revision": facts["revision"],
        "cases": _count(live, "cases"),
        "uploads_restored": uploads_restored,
        "previous_state_saved_as": safety["database"],
        "integrity": verdict,
        "case_counters": counters,
    }


# HG-2026-000123: the year and the sequence at the end (domain.codes.case_code).
_CASE_CODE = re.compile(r"-(\d{4})-(\d+)$")


def codes_given_out(path: Path) -> dict[int, int]:
    """The highest case-code sequence handed out per year in the database at ``path``:
    its counters, and the codes of its cases (should a counter ever lag behind them)."""
    highest: dict[int, int] = {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for year, last in conn.execute("SELECT year, last FROM case_counters"):
            highest[int(year)] = max(highest.get(int(year), 0), int(last or 0))
        for (code,) in conn.execute("SELECT code FROM cases"):
            match = _CASE_CODE.search(code or "")
            if match:
                year, number = int(match.group(1)), int(match.group(2))
                highest[year] = max(highest.get(year, 0), number)
    finally:
        conn.close()
    return highest


def _keep_counters(live: Path, given_out: dict[int, int]) -> dict[str, int]:
    """Raise each year's counter in the restored database to at least what had been
    handed out before the restore: an older backup's counter would otherwise give the
    codes issued since it was taken to new cases, and a citizen's code would then open
    someone else's case. Returns every year's counter as it now stands."""
    conn = sqlite3.connect(live, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for year, last in sorted(given_out.items()):
            conn.execute(
                "INSERT INTO case_counters (year, last) VALUES (?, ?) "
                "ON CONFLICT (year) DO UPDATE SET last = max(last, excluded.last)",
                (year, last),
            )
        conn.execute("COMMIT")
        rows = conn.execute("SELECT year, last FROM case_counters ORDER BY year").fetchall()
    finally:
        conn.close()
    return {str(year): int(last) for year, last in rows}
