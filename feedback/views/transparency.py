"""The public transparency page: figures and answered cases, no personal data."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transparency", __name__, url_prefix="/cong-khai")
