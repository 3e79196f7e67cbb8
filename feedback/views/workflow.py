"""Working a case from the desk: triage queue and the case page actions."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workflow", __name__, url_prefix="/can-bo")
