"""CSV and XLSX exports of filtered case lists, without confidential fields."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__, url_prefix="/can-bo/xuat")
