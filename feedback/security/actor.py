"""Who acts in a web request, for the audit log: the one place that reads the signed-in
user and the client's address for it, so that no service touches the request.

``bind`` runs before every request and hands the request's database session a source
(``services.accounts.audit.set_context``) that the audit hooks ask at each write."""

from __future__ import annotations

from flask import g, has_app_context, has_request_context, request

from ..extensions import db
from ..services.accounts.audit import SYSTEM_LABEL, AuditContext, set_context


def request_context() -> AuditContext:
    """The signed-in staff member, if Flask-Login has loaded one by now (its cache only:
    a user is never loaded inside a flush), else the system; and the client's address."""
    ip = (request.remote_addr or None) if has_request_context() else None
    user = g.get("_login_user") if has_app_context() else None
    if user is not None and getattr(user, "is_authenticated", False) and hasattr(user, "id"):
        return AuditContext(user.id, f"{user.display_name} ({user.username})", ip)
    return AuditContext(None, SYSTEM_LABEL, ip)


def bind() -> None:
    """before_request: this request's session audits as ``request_context`` says."""
    set_context(db.session(), request_context)
