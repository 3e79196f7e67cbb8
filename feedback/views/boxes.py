"""Suggestion boxes: the register, openings and letter transcription."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("boxes", __name__, url_prefix="/can-bo/hom-thu")
