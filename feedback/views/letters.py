"""Apology letters for late answers: generated, issued, delivered."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("letters", __name__, url_prefix="/can-bo/thu-xin-loi")
