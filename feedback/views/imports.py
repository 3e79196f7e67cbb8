"""Batch import of entries forwarded by the provincial 1022 system."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/can-bo/nhap-1022")
