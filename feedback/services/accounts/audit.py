"""The audit log: what staff did, written in the same transaction as the change.

Hooked centrally, so no service has to remember it:

- every ``CaseEvent`` with a staff actor (every case action, through any service, from the
  pages, the API or the command line) becomes ``case.<action>``;
- inserts, changes and deletions of the objects in ``AUDITED`` (calendar overrides,
  accounts, API tokens, 1022 imports, apology letters, suggestion boxes and openings,
  settings), whether through the ORM or a bulk ``update()``/``delete()``;
- logins and failed logins are written by ``security`` with ``record``; logouts, ended
  sessions, password changes, (de)activations and revoked tokens by the account services.

Who acts and from which address is the caller's to say, never read here from the request:
each session carries an :class:`AuditContext` source in its ``info`` (``set_context``), which
the web layer binds for every request (``feedback.security.actor``); a session nobody bound
(commands, the scheduler) writes as the system, with no address.

The rows are append-only: the migration installs triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

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


def _clip(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


@dataclass(frozen=True)
class AuditContext:
    """Who acts (a staff account, or the system) and from which address."""

    actor_id: int | None = None
    actor_label: str = SYSTEM_LABEL
    ip: str | None = None

    @property
    def actor(self) -> tuple[int, str] | None:
        return (self.actor_id, self.actor_label) if self.actor_id is not None else None


SYSTEM = AuditContext()
_CONTEXT = "feedback_audit_context"  # the key in Session.info


def set_context(session: Session, source: Callable[[], AuditContext]) -> None:
    """Say who acts in ``session``. ``source`` is asked at each write, not once: someone
    who signs in or out during a request is credited as the request then sees him."""
    session.info[_CONTEXT] = source


def context_of(session: Session) -> AuditContext:
    source = session.info.get(_CONTEXT)
    return source() if source is not None else SYSTEM


def _row(
    context: AuditContext,
    action: str,
    *,
    actor: tuple[int | None, str] | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    actor_id, label = actor or (context.actor_id, context.actor_label)
    return {
        "at": at or datetime.now(UTC),
        "actor_id": actor_id,
        "actor_label": _clip(label) or SYSTEM_LABEL,
        "action": action[:64],
        "target": _clip(target) or "",
        "details": {k: _clip(v) for k, v in (details or {}).items()},
        "ip": context.ip,
    }


def record(
    action: str,
    *,
    actor: tuple[int | None, str] | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add one row to the current transaction (the caller commits); ``actor`` overrides
    the session's context (a failed login names the account tried), the address does not."""
    context = context_of(db.session())
    row = _row(context, action, actor=actor, target=target, details=details)
    db.session.add(AuditLog(**row))


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


def _actor_for(context: AuditContext, obj: Any) -> tuple[int | None, str] | None:
    """Objects that name their author are credited to it when no one is signed in."""
    if context.actor is not None:
        return context.actor
    author = getattr(obj, "uploaded_by_id", None) or getattr(obj, "issued_by_id", None)
    if author:
        return author, f"Tài khoản #{author}"
    return None


def _after_flush(session: Session, flush_context: Any) -> None:
    context = context_of(session)
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
                    context,
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
                _row(
                    context,
                    f"{prefix}.{kind}",
                    actor=_actor_for(context, obj),
                    target=_label(obj),
                    details=details,
                )
            )
    for obj in session.deleted:
        prefix = AUDITED.get(type(obj))
        if prefix is not None:
            rows.append(
                _row(context, f"{prefix}.delete", target=_label(obj), details=_columns(obj))
            )
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
        row = _row(context_of(state.session), f"{prefix}.{kind}", details=details)
        _insert(state.session, [row])
    return result


@functools.cache
def install() -> None:
    """Class-level listeners: every session, in requests, commands and the scheduler.
    Once per process (``functools.cache``): a listener added twice would log twice."""
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _bulk)
