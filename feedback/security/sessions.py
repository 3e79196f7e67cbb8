"""The session cookie belongs to the web pages only.

The JSON API and Open311 authenticate each request by its bearer token and never trust
the browser's session cookie (``access.load_user``). They must not write one either: a
script's token call would otherwise receive, refresh or rewrite a cookie (Flask refreshes
a permanent session on every request; Flask-Login's strong session protection rewrites a
session seen from another address), and a cookie handed to an API client is a second,
unrevoked credential. Under those prefixes the session is neither read nor saved."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from .access import API_PREFIXES


def _stateless(request: Request) -> bool:
    return request.path.startswith(API_PREFIXES)


class WebOnlySessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, switched off for the API and Open311."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if _stateless(request):
            # An empty session, whatever cookie came: nothing to protect, nothing to save.
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        from flask import request

        if _stateless(request):
            return
        super().save_session(app, session, response)
