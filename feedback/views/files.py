"""Attachments, served only to those allowed to see their case."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("files", __name__, url_prefix="/can-bo/tep")
