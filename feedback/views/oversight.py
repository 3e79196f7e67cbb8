"""Oversight for Thanh tra: the breach monitor and the dashboard."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("oversight", __name__, url_prefix="/thanh-tra")
