"""The JSON API v1 (DESIGN.md, "Public contract of the JSON API")."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
