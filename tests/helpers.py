"""Helpers shared by test modules (imported as ``helpers``: ``tests/`` is on the path, as
for ``smtp_helpers``). Fixtures stay in conftest.py; plain values and functions live here,
so no test module imports conftest or another test module for them."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient


def server_database(reason: str) -> list[Any]:
    """The ``database_url`` parameters of a test that needs a database server: PostgreSQL
    only. Without TEST_DATABASE_URL it cannot run here, and says why (``reason``); under
    CI it is never skipped: a missing server is an error."""
    import os

    import pytest

    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("CI") == "true":
        return ["postgresql"]
    return [pytest.param("postgresql", marks=pytest.mark.skip(reason=reason))]


TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "mat-khau-thu-nghiem-1"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


# --- real, tiny files ---------------------------------------------------------------------


def png_bytes() -> bytes:
    """A 1×1 red RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then R G B
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """An 8×8 mid-grey baseline JPEG: one block whose DC difference is 0, then end-of-block,
    with one-code Huffman tables."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload

    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    quant = b"\x00" + bytes([1] * 64)
    frame = struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00"
    dc_table = b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    ac_table = b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    scan = b"\x01\x01\x00\x00\x3f\x00"
    entropy = b"\x3f"  # bits 0 (DC 0), 0 (EOB), padded with ones
    return (
        b"\xff\xd8"
        + segment(0xE0, jfif)
        + segment(0xDB, quant)
        + segment(0xC0, frame)
        + segment(0xC4, dc_table)
        + segment(0xC4, ac_table)
        + segment(0xDA, scan)
        + entropy
        + b"\xff\xd9"
    )


def pdf_bytes() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


WEBP = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00"
    b"\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


LOGIN = "/can-bo/dang-nhap"


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """Sign ``client`` in through the real login form, CSRF on: the one place tests post
    the form to get in (the tests of the form itself post it their own way)."""
    page = client.get(LOGIN)
    response = client.post(
        LOGIN,
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302, response.text


def client_for(app: Flask, username: str) -> FlaskClient:
    """A client of its own, signed in as ``username``."""
    client = app.test_client()
    log_in(client, username)
    return client


def staff_client(
    app: Flask, make_user: Callable[..., Any], role: str, unit: str | None
) -> FlaskClient:
    """A client of its own, signed in as a new account of ``role`` (in ``unit``)."""
    return client_for(app, make_user(role, unit_code=unit)[1])


def on_engine(engine: str) -> Any:
    """The mark that runs a browser test module on one engine instead of both.

    A browser test proves what the pages do in Chromium; what the database does under
    them is proven on both engines by the rest of the suite (every service and page test,
    the fuzzing of every route). Running each browser flow twice doubled the suite's
    slowest part for nothing new, so each module names its engine: the citizen's flows
    run on SQLite (the embedded default), the staff's on PostgreSQL (production's)."""
    import pytest

    engines = ["sqlite"] if engine == "sqlite" else server_database("needs PostgreSQL")
    return pytest.mark.parametrize("database_url", engines, indirect=True)
