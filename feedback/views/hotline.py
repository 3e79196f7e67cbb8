"""The 1022 hotline desk: entering a call while the caller is on the line."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("hotline", __name__, url_prefix="/can-bo/1022")
