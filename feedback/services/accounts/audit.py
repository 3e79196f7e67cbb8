"""The audit log: what staff did, written in the same transaction as the change.

Hooked centrally, so no service has to remember it:

- every ``CaseEvent`` with a staff actor (every case action, through any service, from the
  pages, the API or the command line) becomes ``case.<action>``;
- inserts, changes and deletions of the objects in ``AUDITED`` (calendar overrides,
  accounts, API tokens, 1022 imports, apology letters, suggestion boxes and openings,
  settings), whether through the ORM or a bulk ``update()``/``delete()``;
- logins, failed logins and logouts are written by ``security`` with ``record``.

The rows are append-only: the migration installs triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import g, has_app_context, has_request_context, request
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from ...extensions import db
from ...models import (
    ApiToken,
    ApologyLetter,
    AuditLog,
    BoxOpening,
    CalendarOverride,
    Case,
    CaseEvent,
    ImportBatch,
    Setting,
    SuggestionBox,
    User,
)

AUDITED: dict[type, str] = {
    CalendarOverride: "calendar",
    User: "user",
    ApiToken: "token",
    ImportBatch: "import",
    ApologyLetter: "letter",
    SuggestionBox: "box",
    BoxOpening: "box_opening",
    Setting: "setting",
}
# Never copied into the log: secrets and bulky payloads.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "report", "body", "response_body"})
# Changes that are bookkeeping, not actions (logins are logged by security; password
# changes and ended sessions by the account services, under their own names).
QUIET_CHANGES = frozenset({"last_login_at", "last_used_at", "password_hash", "session_version"})
SYSTEM_LABEL = "Hệ thống"
_MAX = 200
_installed = False


def _clip(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


def client_ip() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def current_actor() -> tuple[int | None, str]:
    """The signed-in staff member of this request, if loaded; else the system (commands,
    the scheduler). Reads Flask-Login's cache only: never loads a user inside a flush."""
    user = g.get("_login_user") if has_app_context() else None
    if user is not None and getattr(user, "is_authenticated", False) and hasattr(user, "id"):
        return user.id, _clip(f"{user.display_name} ({user.username})")
    return None, SYSTEM_LABEL


def _row(
    action: str,
    *,
    actor: tuple[int | None, str] | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    actor_id, label = actor or current_actor()
    return {
        "at": at or datetime.now(UTC),
        "actor_id": actor_id,
        "actor_label": _clip(label) or SYSTEM_LABEL,
        "action": action[:64],
        "target": _clip(target) or "",
        "details": {k: _clip(v) for k, v in (details or {}).items()},
        "ip": client_ip(),
    }


def record(
    action: str,
    *,
    actor: tuple[int | None, str] | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add one row to the current transaction (the caller commits)."""
    db.session.add(AuditLog(**_row(action, actor=actor, target=target, details=details)))


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.connection().execute(AuditLog.__table__.insert(), rows)


def _label(obj: Any) -> str:
    for name in ("username", "code", "number", "day", "filename", "key", "prefix"):
        value = getattr(obj, name, None)
        if value:
            return str(value)
    ident = inspect(obj).identity
    return f"#{ident[0]}" if ident else ""


def _columns(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {
        attr.key: getattr(obj, attr.key)
        for attr in mapper.column_attrs
        if attr.key not in SECRET_COLUMNS
    }


def _changes(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    changed: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        if attr.key in SECRET_COLUMNS:
            changed[attr.key] = "(đã thay đổi)"
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        changed[attr.key] = f"{_clip(old)} → {_clip(new)}"
    return changed


def _actor_for(obj: Any) -> tuple[int | None, str] | None:
    """Objects that name their author are credited to it when no one is signed in."""
    actor_id, label = current_actor()
    if actor_id is not None:
        return actor_id, label
    author = getattr(obj, "uploaded_by_id", None) or getattr(obj, "issued_by_id", None)
    if author:
        return author, f"Tài khoản #{author}"
    return None


def _after_flush(session: Session, flush_context: Any) -> None:
    rows: list[dict[str, Any]] = []
    events = [o for o in session.new if isinstance(o, CaseEvent) and o.actor_id is not None]
    if events:
        ids = {e.case_id for e in events}
        found = session.connection().execute(select(Case.id, Case.code).where(Case.id.in_(ids)))
        codes = {row.id: row.code for row in found}
        for e in events:
            details = {"event_id": e.id}
            if e.from_status or e.to_status:
                details["status"] = f"{e.from_status or ''} → {e.to_status or ''}"
            rows.append(
                _row(
                    f"case.{e.action}",
                    actor=(e.actor_id, e.actor_label),
                    target=codes.get(e.case_id, f"#{e.case_id}"),
                    details=details,
                    at=e.at,
                )
            )
    for kind, objects in (("create", session.new), ("update", session.dirty)):
        for obj in objects:
            prefix = AUDITED.get(type(obj))
            if prefix is None:
                continue
            if kind == "create":
                details = _columns(obj)
            else:
                details = _changes(obj)
                if not details or set(details) <= QUIET_CHANGES:
                    continue
            rows.append(
                _row(f"{prefix}.{kind}", actor=_actor_for(obj), target=_label(obj), details=details)
            )
    for obj in session.deleted:
        prefix = AUDITED.get(type(obj))
        if prefix is not None:
            rows.append(_row(f"{prefix}.delete", target=_label(obj), details=_columns(obj)))
    _insert(session, rows)


def _bulk(state: ORMExecuteState) -> Any:
    """``update(Model)...`` and ``delete(Model)...`` bypass the flush: log them here."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return None
    prefix = AUDITED.get(state.bind_mapper.class_)
    if prefix is None:
        return None
    result = state.invoke_statement()
    if getattr(result, "rowcount", 0):
        params = state.statement.compile().params
        details = {k: v for k, v in params.items() if k not in SECRET_COLUMNS}
        details["rows"] = result.rowcount
        kind = "update" if state.is_update else "delete"
        _insert(state.session, [_row(f"{prefix}.{kind}", details=details)])
    return result


def install() -> None:
    """Class-level listeners: every session, in requests, commands and the scheduler."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _bulk)
    _installed = True
