"""The citizen follow-up: status, answer, reply, rating, reopening (code + access key)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("follow", __name__, url_prefix="/tra-cuu")
