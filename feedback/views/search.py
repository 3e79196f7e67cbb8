"""Staff search across the cases a user may see."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("search", __name__, url_prefix="/can-bo/tim-kiem")
