"""Attachments: placeholder signatures, being implemented (issue 3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    content_type: str
    sha256: str


def store_upload(
    upload: Upload,
    *,
    case: Any = None,
    box_opening: Any = None,
    purpose: str,
    actor: Any,
    now: datetime,
) -> Any:
    raise NotImplementedError
