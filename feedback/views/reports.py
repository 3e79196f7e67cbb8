"""Period reports (quarter, half-year, year) as XLSX and PDF."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/bao-cao")
