"""Files a citizen chose on the public form, kept while the form is shown again.

A browser never refills a file input: before this, pressing "Xem phản ánh tương tự" (or
sending a form the server refused) reloaded the page with the file field empty and "Gửi"
then filed the case without the photo, silently. Now every file that passed the checks
(``attachments.read_uploads``) is kept here, provisionally, under a random token the form
carries in a hidden field, and shown on the re-rendered form with a way to remove it;
"Gửi" attaches what is kept together with anything newly chosen.

Where and how long:

- on disk, never in the database (nothing is filed yet), under ``PENDING_UPLOAD_FOLDER``
  (default ``instance/pending-uploads``), one directory per form named by a hash of the
  token (the token itself is never written down, so the folder does not hand it out);
  each file has a generated name, its data and a small JSON description beside it;
- for ``PENDING_UPLOAD_HOURS`` (default 6, longer than the form's four-hour CSRF token):
  older files are ignored when read and removed by the scheduler's housekeeping
  (``sweep``); a successful submission removes its directory at once;
- at most ``ATTACHMENT_MAX_COUNT`` files per form, kept and new together, each checked
  again (type from the bytes, size, digest) when it is attached.

The daily upload quota per address (security.limits) is charged when a file is kept
here, and not again when it is attached: a file costs the address once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app

from ...domain.marks import N_
from ..errors import ValidationError
from .attachments import Upload, human_size, limits, make_upload

DEFAULT_HOURS = 6
_SENT = "sent"
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{32,64}")
_FILE_ID = re.compile(r"[0-9a-f]{32}")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingFile:
    """One kept file, as the form shows it."""

    id: str
    filename: str
    content_type: str
    size: int

    @property
    def size_label(self) -> str:
        return human_size(self.size)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def usable_token(value: str | None) -> str | None:
    """The posted token if it has the shape of ours (anything else keeps nothing)."""
    value = (value or "").strip()
    return value if _TOKEN.fullmatch(value) else None


def file_ids(values: Iterable[str]) -> list[str]:
    """The posted file ids that have the shape of ours, in order, without repeats."""
    return list(dict.fromkeys(v for v in values if _FILE_ID.fullmatch(v or "")))


def folder() -> Path:
    configured = current_app.config.get("PENDING_UPLOAD_FOLDER")
    return Path(configured or Path(current_app.instance_path) / "pending-uploads")


def lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config.get("PENDING_UPLOAD_HOURS") or DEFAULT_HOURS))


def _directory(token: str) -> Path:
    return folder() / hashlib.sha256(token.encode()).hexdigest()[:40]


def _fresh(path: Path, now: datetime) -> bool:
    try:
        return now.timestamp() - path.stat().st_mtime < lifetime().total_seconds()
    except OSError:
        return False


def held(token: str | None, now: datetime) -> list[PendingFile]:
    """The files kept under ``token`` and not yet expired, oldest first."""
    if token is None:
        return []
    directory = _directory(token)
    found: list[tuple[float, PendingFile]] = []
    for meta in directory.glob("*.json") if directory.is_dir() else ():
        file_id = meta.stem
        if not _FILE_ID.fullmatch(file_id) or not _fresh(meta, now):
            continue
        try:
            info = json.loads(meta.read_text("utf-8"))
            kept = PendingFile(
                file_id, str(info["filename"]), str(info["content_type"]), int(info["size"])
            )
            found.append((float(info["kept_at"]), kept))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [f for _, f in sorted(found, key=lambda pair: pair[0])]


def check_room(kept: int, new: Sequence[Upload]) -> None:
    """Refuse more files than one form may send, kept and new together."""
    max_count, _ = limits()
    if kept + len(new) > max_count:
        message = N_(
            "Tối đa %(most)s tệp cho mỗi phản ánh; ông/bà đang có %(kept)s tệp đã chọn. "
            "Vui lòng bỏ bớt tệp trước khi chọn thêm.",
            most=max_count,
            kept=kept,
        )
        raise ValidationError(message, {"attachments": message})


def keep(token: str, uploads: Sequence[Upload], now: datetime) -> list[PendingFile]:
    """Write ``uploads`` under ``token``; the caller checked them (read_uploads) and the
    room left (check_room). Each file's description is written after its data, so a
    file read back is always complete."""
    directory = _directory(token)
    directory.mkdir(parents=True, exist_ok=True)
    kept: list[PendingFile] = []
    for n, upload in enumerate(uploads):
        file_id = uuid.uuid4().hex
        _write(directory / f"{file_id}.bin", upload.data)
        info = {
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": len(upload.data),
            "sha256": upload.sha256,
            # Order of choice: the time, and the position within one request.
            "kept_at": now.timestamp() + n / 1000,
        }
        _write(directory / f"{file_id}.json", json.dumps(info).encode())
        kept.append(PendingFile(file_id, upload.filename, upload.content_type, len(upload.data)))
    return kept


def load(token: str, wanted: Sequence[str], now: datetime) -> list[Upload]:
    """The kept files ``wanted`` (ids the form showed), checked again, in that order. A
    file that is gone (expired, removed) is a refusal naming it, never a silent gap."""
    present = {f.id: f for f in held(token, now)}
    directory = _directory(token)
    uploads: list[Upload] = []
    for file_id in wanted:
        found = present.get(file_id)
        data = b""
        if found is not None:
            try:
                data = (directory / f"{file_id}.bin").read_bytes()
            except OSError:
                data = b""
        if found is None or not data:
            message = N_(
                "Một tệp đã chọn trước đó không còn được lưu tạm (quá thời hạn "
                "%(hours)s giờ). Vui lòng chọn lại tệp rồi gửi.",
                hours=_hours(),
            )
            raise ValidationError(message, {"attachments": message})
        upload = make_upload(found.filename, data)
        if upload.content_type != found.content_type or len(data) != found.size:
            raise ValidationError(message_changed(found), {"attachments": message_changed(found)})
        uploads.append(upload)
    return uploads


def message_changed(found: PendingFile) -> str:
    return N_(
        "Tệp «%(name)s» lưu tạm đã bị thay đổi; vui lòng bỏ tệp này và chọn lại.",
        name=found.filename,
    )


def drop(token: str | None, ids: Iterable[str]) -> None:
    """Remove the kept files ``ids`` (the citizen ticked "Bỏ tệp này")."""
    if token is None:
        return
    directory = _directory(token)
    for file_id in file_ids(ids):
        for suffix in (".json", ".bin"):
            (directory / f"{file_id}{suffix}").unlink(missing_ok=True)


def discard(token: str | None) -> None:
    """Remove everything kept under ``token`` once the case holding the files is filed,
    leaving a marker (swept like the rest) so that a repeat of the same form, whose
    answer was lost on the way, is known for one (``was_sent``)."""
    if token is None:
        return
    directory = _directory(token)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _SENT).touch()


def was_sent(token: str | None) -> bool:
    """Whether a form with ``token`` already filed its case with the files kept here."""
    return token is not None and (_directory(token) / _SENT).is_file()


def sweep(now: datetime) -> int:
    """Housekeeping: remove every form's directory untouched for longer than the lifetime;
    returns how many were removed."""
    base = folder()
    if not base.is_dir():
        return 0
    removed = 0
    for directory in base.iterdir():
        if not directory.is_dir():
            continue
        newest = max(
            (p.stat().st_mtime for p in directory.iterdir()),
            default=directory.stat().st_mtime,
        )
        if now.timestamp() - newest >= lifetime().total_seconds():
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed


def _hours() -> str:
    hours = lifetime().total_seconds() / 3600
    return f"{hours:g}".replace(".", ",")


def _write(path: Path, data: bytes) -> None:
    """Create ``path`` (never overwrite, never follow a symlink) and write it whole."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
