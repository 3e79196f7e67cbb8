"""Security headers on every response."""

from __future__ import annotations

from flask import Response, current_app

from ..config import is_relaxed
from .limits import retry_after

# Every page works without JavaScript and styles come from static/style.css only: no inline
# script, no style attribute or element (SVG charts use presentation attributes, which CSP
# does not govern). `data:` images are allowed for small inline icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "bluetooth=(), magnetometer=(), gyroscope=(), accelerometer=()"
)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if not is_relaxed(current_app.config):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.status_code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(retry_after())
    return response
