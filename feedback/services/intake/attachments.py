"""Attachments: images and PDF sent with a case or a box opening (issue 3).

Three rules hold whatever the channel:

- the type is decided from the bytes (magic numbers), never from the name or the
  browser's content type, and only JPEG, PNG, WebP, GIF and PDF are accepted;
- the file is stored under ``UPLOAD_FOLDER`` with a generated name; the citizen's file
  name is kept only as display text;
- a file belongs to the transaction that wrote it: if that transaction (or the savepoint
  it was written in) is rolled back, the file is deleted, so a refused or failed
  submission leaves nothing on disk.

How the last rule works. ``store_upload`` records each path it writes in
``session.info`` under the innermost transaction in progress: the current SAVEPOINT
(``Session.begin_nested``) if there is one, else the root transaction. Session-class
listeners then follow the transaction tree:

- ``after_commit`` marks the transaction that committed (a SAVEPOINT released, or the
  root committed);
- ``after_transaction_end`` decides: a released SAVEPOINT hands its files up to its
  parent (they now live or die with the outer transaction); a committed root forgets its
  files (they are permanent); any transaction that ends *without* having committed
  (rolled back, or closed by ``Session.close``/``scoped_session.remove`` while still
  open) deletes its files. So a rolled-back SAVEPOINT removes the files written inside
  it and only those, while the outer transaction's files stay until the outer one ends.

SQLAlchemy's internal sub-transactions (one per flush) never carry files: only root and
SAVEPOINT transactions are used as owners. The listeners are installed once, on the
``Session`` class, when this module is imported; they only act on sessions that hold
files in ``info``.

What is *not* covered: a crash of the process between writing a file and the end of its
transaction leaves an orphan file (no row points to it); it is harmless (never served)
and can be swept by comparing the folder with ``attachments.stored_name``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from ...domain.marks import N_
from ...extensions import db
from ...models import Attachment, AttachmentBlob, Case
from ...models.case import ATTACHMENT_PURPOSES
from ..errors import NotFound, ServiceError, ValidationError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_COUNT = 5
# What one case may hold in all, whoever adds the files and however many requests it takes
# (ATTACHMENT_CASE_MAX_COUNT / _BYTES): without it a case's access key was a licence to
# fill the disk, 5 files at a time.
DEFAULT_CASE_MAX_COUNT = 20
DEFAULT_CASE_MAX_BYTES = 100 * 1024 * 1024

# content type → (extension, label shown to staff)
TYPES: dict[str, tuple[str, str]] = {
    "image/jpeg": (".jpg", N_("Ảnh JPEG")),
    "image/png": (".png", N_("Ảnh PNG")),
    "image/webp": (".webp", N_("Ảnh WebP")),
    "image/gif": (".gif", N_("Ảnh GIF")),
    "application/pdf": (".pdf", "PDF"),
}
ACCEPT = ",".join(TYPES)  # for <input type=file accept=...>

_SNIFF_BYTES = 12
_FALLBACK_NAME = "tep-dinh-kem"
_READ_CHUNK = 1024 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    filename: str  # display text only, already sanitised
    data: bytes
    content_type: str  # sniffed from ``data``
    sha256: str


# --- checking -----------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, among the accepted ones; None otherwise."""
    head = data[:_SNIFF_BYTES]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean_filename(name: str | None) -> str:
    """The name as display text: the last path part (``/`` or ``\\``), NFC, without control
    or bidi-format characters (which could disguise an extension), at most 255 chars."""
    raw = (name or "").replace("\x00", "")
    base = PureWindowsPath(PurePosixPath(raw).name).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf"})
    base = base.strip().strip(".").strip()
    return base[:255] or _FALLBACK_NAME


def human_size(n: int) -> str:
    """10485760 → "10 MB", 1536 → "1,5 KB" (Vietnamese decimal comma)."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            value = f"{n / size:.1f}".rstrip("0").rstrip(".")
            return f"{value.replace('.', ',')} {unit}"
    return f"{n} byte"


def _limits(max_count: int | None, max_bytes: int | None) -> tuple[int, int]:
    config = current_app.config
    count = max_count if max_count is not None else config.get("ATTACHMENT_MAX_COUNT")
    size = max_bytes if max_bytes is not None else config.get("ATTACHMENT_MAX_BYTES")
    return (
        int(count if count is not None else DEFAULT_MAX_COUNT),
        int(size if size is not None else DEFAULT_MAX_BYTES),
    )


def limits() -> tuple[int, int]:
    """(max count, max bytes per file) as configured, for forms to show."""
    return _limits(None, None)


class CaseFilesFull(ServiceError):
    """The case already holds as many files, or as many bytes, as one case may: 413, the
    request is too large for what is left, whoever sends it."""

    status = 413
    code = "case_attachments_full"


def case_quota() -> tuple[int, int]:
    """(max files, max bytes) one case may hold in all, as configured."""
    config = current_app.config
    return (
        int(config.get("ATTACHMENT_CASE_MAX_COUNT") or DEFAULT_CASE_MAX_COUNT),
        int(config.get("ATTACHMENT_CASE_MAX_BYTES") or DEFAULT_CASE_MAX_BYTES),
    )


def _check_case_quota(case: Any, upload: Upload) -> None:
    """Refuse ``upload`` if the case would then exceed its quota. The case row is locked
    first (PostgreSQL; SQLite's writer already holds the database), so two requests adding
    files at once cannot both pass on the same count."""
    max_count, max_bytes = case_quota()
    session = db.session
    if case.id is None:
        session.flush()
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    count, total = session.execute(
        select(func.count(Attachment.id), func.coalesce(func.sum(Attachment.size_bytes), 0)).where(
            Attachment.case_id == case.id
        )
    ).one()
    if count + 1 > max_count or total + len(upload.data) > max_bytes:
        message = N_(
            "Hồ sơ đã có %(count)s tệp (%(size)s); mỗi hồ sơ nhận tối đa "
            "%(most)s tệp, tổng dung lượng không quá %(total)s.",
            count=count,
            size=human_size(total),
            most=max_count,
            total=human_size(max_bytes),
        )
        raise CaseFilesFull(message, {"attachments": message})


def _read_at_most(stream: Any, n: int) -> bytes:
    """Up to ``n`` bytes; loops because a raw stream may return short reads."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def make_upload(
    filename: str | None, data: bytes, *, field: str = "attachments", max_bytes: int | None = None
) -> Upload:
    """Check one file already in memory (an API payload, a scan): size, emptiness, type."""
    _, limit = _limits(None, max_bytes)
    name = clean_filename(filename)
    if not data:
        message = N_("Tệp «%(name)s» rỗng.", name=name)
        raise ValidationError(message, {field: message})
    if len(data) > limit:
        message = N_("Tệp «%(name)s» lớn hơn %(size)s.", name=name, size=human_size(limit))
        raise ValidationError(message, {field: message})
    content_type = sniff(data)
    if content_type is None:
        message = N_("Tệp «%(name)s» không phải ảnh (JPEG, PNG, WebP, GIF) hoặc PDF.", name=name)
        raise ValidationError(message, {field: message})
    return Upload(name, data, content_type, hashlib.sha256(data).hexdigest())


def read_uploads(
    files: Iterable[Any],
    *,
    field: str = "attachments",
    max_count: int | None = None,
    max_bytes: int | None = None,
) -> list[Upload]:
    """Read and check werkzeug ``FileStorage`` objects; writes nothing.

    A part with neither a name nor data (what a browser sends for an empty file input) is
    skipped. At most ``max_bytes + 1`` bytes are read from each file, enough to tell that
    it is too big. The first problem found is raised as a ``ValidationError`` whose
    ``fields`` hold ``{field: message}``."""
    count_limit, size_limit = _limits(max_count, max_bytes)
    uploads: list[Upload] = []
    for storage in files:
        if storage is None:
            continue
        stream = getattr(storage, "stream", storage)
        data = _read_at_most(stream, size_limit + 1)
        if not (storage.filename or "").strip() and not data:
            continue
        if len(uploads) >= count_limit:
            message = N_("Tối đa %(most)s tệp.", most=count_limit)
            raise ValidationError(message, {field: message})
        uploads.append(make_upload(storage.filename, data, field=field, max_bytes=size_limit))
    return uploads


# --- storing ------------------------------------------------------------------------------

_WRITTEN = "feedback.attachments.written"  # {SessionTransaction: [Path, ...]}
_COMMITTED = "feedback.attachments.committed"  # {SessionTransaction, ...}


def _owner(session: Session) -> SessionTransaction:
    """The innermost root-or-SAVEPOINT transaction in progress."""
    owner = session.get_nested_transaction() or session.get_transaction()
    if owner is None:  # pragma: no cover - store_upload adds a row first, which begins one
        raise RuntimeError("no transaction in progress")
    return owner


def _remember(session: Session, path: Path) -> None:
    written: dict[SessionTransaction, list[Path]] = session.info.setdefault(_WRITTEN, {})
    written.setdefault(_owner(session), []).append(path)


def _forget(session: Session, path: Path) -> None:
    for paths in session.info.get(_WRITTEN, {}).values():
        if path in paths:
            paths.remove(path)


def _after_commit(session: Session) -> None:
    if not session.info.get(_WRITTEN):
        return
    # Dispatched before the committing transaction is closed, so it is still the current
    # one: the innermost SAVEPOINT when one was released, else the root.
    session.info.setdefault(_COMMITTED, set()).add(_owner(session))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    written: dict[SessionTransaction, list[Path]] | None = session.info.get(_WRITTEN)
    if written is None:
        return
    committed: set[SessionTransaction] = session.info.get(_COMMITTED, set())
    was_committed = transaction in committed
    committed.discard(transaction)
    paths = written.pop(transaction, [])
    if was_committed:
        if transaction.parent is not None:
            written.setdefault(_parent_owner(transaction), []).extend(paths)
        # a committed root: the files are permanent
    else:
        _delete(paths)
    if transaction.parent is None:
        # The whole transaction is over. Every SAVEPOINT ends before its root, so nothing
        # should be left; if something is, it lives or dies with the root.
        if not was_committed:
            for leftover in written.values():
                _delete(leftover)
        session.info.pop(_WRITTEN, None)
        session.info.pop(_COMMITTED, None)


def _parent_owner(transaction: SessionTransaction) -> SessionTransaction:
    """The nearest ancestor that is a SAVEPOINT or the root."""
    parent = transaction.parent
    assert parent is not None
    while parent.parent is not None and not parent.nested:
        parent = parent.parent
    return parent


def _delete(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # pragma: no cover - best effort; an orphan file is harmless
            log.warning("could not delete rolled-back upload %s", path)


@functools.cache
def install_listeners() -> None:
    """Called when this module is imported; once per process (``functools.cache``)."""
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _after_transaction_end)


install_listeners()


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never overwrite, never follow a symlink), write, fsync."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_upload(
    upload: Upload,
    *,
    case: Any = None,
    box_opening: Any = None,
    purpose: str,
    actor: Any,
    now: datetime,
) -> Attachment:
    """Write the file under ``UPLOAD_FOLDER/yyyy/mm/<uuid4 hex><ext>`` and add its row to
    the session. The file is deleted again if the transaction (or SAVEPOINT) in progress
    does not commit; see the module docstring."""
    if case is None and box_opening is None:
        raise ValueError("an attachment belongs to a case or a box opening")
    if purpose not in ATTACHMENT_PURPOSES:
        raise ValueError(f"unknown attachment purpose {purpose!r}")
    # Re-check the bytes: an Upload may have been built by hand, not by read_uploads.
    content_type = sniff(upload.data)
    if content_type is None or not upload.data:
        name = clean_filename(upload.filename)
        message = N_("Tệp «%(name)s» không phải ảnh (JPEG, PNG, WebP, GIF) hoặc PDF.", name=name)
        raise ValidationError(message, {"attachments": message})
    digest = hashlib.sha256(upload.data).hexdigest()
    if upload.sha256 and upload.sha256 != digest:
        raise ValueError("Upload.sha256 does not match its data")
    if case is not None:
        _check_case_quota(case, upload)  # before the row below joins the session

    relative = PurePosixPath(f"{now:%Y}", f"{now:%m}", uuid.uuid4().hex + TYPES[content_type][0])
    session = db.session()
    attachment = Attachment(
        case=case,
        box_opening_id=None,
        stored_name=str(relative),
        original_name=clean_filename(upload.filename),
        content_type=content_type,
        size_bytes=len(upload.data),
        sha256=digest,
        purpose=purpose,
        uploaded_by_id=getattr(actor, "id", None),
        created_at=now,
    )
    if box_opening is not None:
        if box_opening.id is None:
            session.flush()
        attachment.box_opening_id = box_opening.id
    session.add(attachment)  # begins the transaction the file will belong to

    if in_database():
        # Shared by every web machine and held by a database backup; the bytes commit or
        # roll back with the row, so there is no file to clean up.
        session.flush()
        session.add(AttachmentBlob(attachment_id=attachment.id, data=upload.data))
        return attachment

    path = upload_folder() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    _remember(session, path)
    try:
        _write_new(path, upload.data)
        _fsync_dir(path.parent)
    except BaseException:
        _forget(session, path)
        _delete([path])
        session.expunge(attachment)
        raise
    return attachment


# --- reading ------------------------------------------------------------------------------


def in_database() -> bool:
    """Where new files go: ``ATTACHMENT_STORAGE=database`` (every machine shares them) or
    ``disk`` under ``UPLOAD_FOLDER`` (the embedded default, one machine)."""
    return current_app.config.get("ATTACHMENT_STORAGE", "disk") == "database"


def stored_bytes(att: Attachment) -> bytes | None:
    """The bytes of an attachment kept in the database, or None when it is on disk (a
    file received before the setting changed stays where it was written)."""
    blob = db.session.get(AttachmentBlob, att.id)
    return None if blob is None else bytes(blob.data)


def open_attachment(att: Attachment) -> Path:
    """The file of an attachment, guaranteed inside ``UPLOAD_FOLDER``; ``NotFound`` when
    the stored name points elsewhere (absolute, ``..``, a symlink out) or the file is gone."""
    missing = NotFound(N_("Không tìm thấy tệp đính kèm."))
    name = att.stored_name or ""
    if not name or "\x00" in name or "\\" in name or PurePosixPath(name).is_absolute():
        raise missing
    base = upload_folder().resolve()
    try:
        path = (base / name).resolve(strict=True)
    except (OSError, RuntimeError):
        raise missing from None
    if not path.is_relative_to(base) or path == base or not path.is_file():
        raise missing
    return path


def download_name(att: Attachment) -> str:
    """A safe name to offer the browser: the display name's stem, without quotes, slashes
    or control characters, with the extension of the type the bytes really are."""
    stem = PurePosixPath(clean_filename(att.original_name)).stem
    stem = "".join(ch for ch in stem if ch not in '"\\/;:*?<>|').strip()[:100]
    ext = TYPES.get(att.content_type, (".bin", ""))[0]
    return f"{stem or f'tep-{att.id}'}{ext}"


def type_label(content_type: str) -> str:
    return TYPES.get(content_type, ("", content_type))[1]
