"""Attachments in a home every machine shares (issue 17): with ATTACHMENT_STORAGE=database
a file received by one web machine is served by another that has its own instance folder
and has never seen the file on disk; the bytes commit and roll back with their row; disk
stays the default, and a file written to disk before the switch is still served."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import _dispose, _make_app
from flask import Flask
from helpers import client_for, png_bytes
from sqlalchemy import func, select

TEN_MIB = 10 * 1024 * 1024


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ATTACHMENT_STORAGE": "database"}


@pytest.fixture
def second_machine(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The same database, another instance folder: a web machine of its own."""
    instance = tmp_path / "machine-2"
    instance.mkdir()
    saved = os.environ.get("FEEDBACK_INSTANCE_PATH")
    other = _make_app(database_url, instance, ATTACHMENT_STORAGE="database")
    if saved is not None:
        os.environ["FEEDBACK_INSTANCE_PATH"] = saved
    yield other
    _dispose(other)


def _attach(app: Flask, code: str, data: bytes) -> int:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Case
    from feedback.services.intake.attachments import make_upload, store_upload

    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        att = store_upload(
            make_upload("anh-hien-truong.png", data),
            case=case,
            purpose="evidence",
            actor=None,
            now=datetime.now(UTC),
        )
        db.session.flush()
        return att.id


def _files_on_disk(app: Flask) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_file_received_by_one_machine_is_served_by_the_other(
    app: Flask,
    second_machine: Flask,
    make_case: Any,
    make_user: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = make_case()
    data = png_bytes() + os.urandom(TEN_MIB - len(png_bytes()))
    started = time.perf_counter()
    attachment_id = _attach(app, code, data)
    stored = time.perf_counter() - started
    assert _files_on_disk(app) == []  # nothing on the first machine's disk

    _, username = make_user("coordinator")
    other = client_for(second_machine, username)
    started = time.perf_counter()
    response = other.get(f"/can-bo/tep/{attachment_id}")
    served = time.perf_counter() - started
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert _files_on_disk(second_machine) == []
    with capsys.disabled():
        print(f"\n10 MiB: stored {stored:.3f} s, served by the other machine {served:.3f} s")


def test_the_bytes_roll_back_with_their_row(app: Flask, make_case: Any) -> None:
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Attachment, AttachmentBlob, Case
    from feedback.services.intake.attachments import make_upload, store_upload

    code = make_case()
    with app.app_context():
        with pytest.raises(RuntimeError), unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == code))
            store_upload(
                make_upload("a.png", png_bytes()),
                case=case,
                purpose="evidence",
                actor=None,
                now=datetime.now(UTC),
            )
            raise RuntimeError("the request fails after the file")
        for model in (Attachment, AttachmentBlob):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_disk_stays_the_default_and_old_files_are_still_served(
    app: Flask, make_case: Any, make_user: Any
) -> None:
    code = make_case()
    app.config["ATTACHMENT_STORAGE"] = "disk"
    on_disk = _attach(app, code, png_bytes())
    assert len(_files_on_disk(app)) == 1
    app.config["ATTACHMENT_STORAGE"] = "database"
    in_database = _attach(app, code, png_bytes() + b"x")
    assert len(_files_on_disk(app)) == 1
    _, username = make_user("coordinator")
    client = client_for(app, username)
    assert client.get(f"/can-bo/tep/{on_disk}").data == png_bytes()
    assert client.get(f"/can-bo/tep/{in_database}").data == png_bytes() + b"x"


def test_the_default_setting_is_disk() -> None:
    from feedback.config import defaults, from_environment

    assert defaults("/tmp")["ATTACHMENT_STORAGE"] == "disk"
    assert from_environment({"ATTACHMENT_STORAGE": "database"})["ATTACHMENT_STORAGE"] == (
        "database"
    )
