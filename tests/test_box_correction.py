"""Văn phòng corrects a miscounted letter count, so the opening can close; nobody else may,
the count cannot fall below what was transcribed, and the change is on record."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from helpers import csrf_from, png_bytes, staff_client
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import AuditLog, BoxOpening, User
from feedback.services.errors import Forbidden, ValidationError
from feedback.services.intake.attachments import make_upload
from feedback.services.intake.box_correction import correct_letter_count
from feedback.services.intake.boxes import (
    BoxInput,
    Conflict,
    OpeningInput,
    close_opening,
    create_box,
    record_opening,
    transcribe_letter,
)
from feedback.services.intake.submission import CaseInput, Reporter

NOW = datetime.now(UTC)
REASON = "Đếm lại cùng hai người chứng kiến: có 2 thư dính vào nhau."


@pytest.fixture
def opening(app: Flask, make_user: Callable[..., Any]) -> dict[str, int]:
    """An opening of a box of Phường Quang Trung whose minutes say 3 letters; 2 of them
    transcribed."""
    coordinator_id, _ = make_user("coordinator", unit_code="VP")
    clerk_id, _ = make_user("clerk", unit_code="UBND-00688")
    with app.app_context(), unit_of_work():
        coordinator = db.session.get(User, coordinator_id)
        box = create_box(
            BoxInput("HT-SUA-1", "Nhà văn hóa tổ 5", "00688", None), actor=coordinator, now=NOW
        )
        found = record_opening(
            box,
            OpeningInput(
                opened_at=NOW - timedelta(hours=2),
                witnesses="Nguyễn Văn An\nHoàng Thị Hoa",
                letter_count=3,
                minutes=make_upload("bien-ban.png", png_bytes(), field="minutes"),
            ),
            actor=coordinator,
            now=NOW,
        )
        for i in range(2):
            transcribe_letter(
                found,
                CaseInput(
                    kind="feedback",
                    subject=f"Thư số {i + 1}: đèn đường hỏng",
                    body="Đèn đường tổ 5 không sáng đã một tuần, đề nghị sửa.",
                    category_code="6.3b",
                    area_code="00688",
                    reporter=Reporter(name="Trần Văn Bình"),
                    uploads=(make_upload(f"thu-{i}.png", png_bytes(), field="scan"),),
                ),
                actor=coordinator,
                now=NOW,
            )
        return {
            "opening": found.id,
            "box": box.id,
            "coordinator": coordinator_id,
            "clerk": clerk_id,
        }


def _load(ids: dict[str, int]) -> tuple[BoxOpening, User, User]:
    return (
        db.session.get(BoxOpening, ids["opening"]),
        db.session.get(User, ids["coordinator"]),
        db.session.get(User, ids["clerk"]),
    )


def test_a_corrected_count_lets_the_opening_close_and_is_on_record(
    app: Flask, opening: dict[str, int]
) -> None:
    with app.app_context():
        found, coordinator, _ = _load(opening)
        with pytest.raises(Conflict, match="còn thiếu 1 thư"), unit_of_work():
            close_opening(found, actor=coordinator, now=NOW)
        with unit_of_work():
            correct_letter_count(found, letter_count=2, reason=REASON, actor=coordinator, now=NOW)
        assert found.letter_count == 2
        assert "sửa số thư trong biên bản từ 3 thành 2" in found.note and REASON in found.note
        logged = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "box_opening.update")
        ).all()
        changes = [a.details["letter_count"] for a in logged if "letter_count" in a.details]
        assert changes == [2]  # (the other updates are the transcriptions' row claims)
        with unit_of_work():
            close_opening(found, actor=coordinator, now=NOW)
        assert found.status == "closed"
        with pytest.raises(Conflict, match="đã đóng"), unit_of_work():
            correct_letter_count(found, letter_count=3, reason=REASON, actor=coordinator, now=NOW)


@pytest.mark.parametrize(
    ("count", "reason", "field"),
    [
        (1, REASON, "letter_count"),  # fewer than the 2 cases already transcribed
        (3, REASON, "letter_count"),  # unchanged
        (None, REASON, "letter_count"),
        (5000, REASON, "letter_count"),
        (4, "sai", "reason"),
        (4, "", "reason"),
    ],
)
def test_bad_corrections_are_refused_with_a_reason_and_change_nothing(
    app: Flask, opening: dict[str, int], count: int | None, reason: str, field: str
) -> None:
    with app.app_context():
        found, coordinator, _ = _load(opening)
        with pytest.raises(ValidationError) as refused, unit_of_work():
            correct_letter_count(
                found, letter_count=count, reason=reason, actor=coordinator, now=NOW
            )
        assert field in refused.value.fields
        db.session.expire_all()
        assert db.session.get(BoxOpening, opening["opening"]).letter_count == 3


def test_only_the_coordinator_may_correct(app: Flask, opening: dict[str, int]) -> None:
    with app.app_context():
        found, _, clerk = _load(opening)
        with pytest.raises(Forbidden), unit_of_work():
            correct_letter_count(found, letter_count=2, reason=REASON, actor=clerk, now=NOW)


def test_the_opening_page_offers_the_correction_to_the_coordinator_only(
    app: Flask, opening: dict[str, int], make_user: Callable[..., Any]
) -> None:
    page = f"/can-bo/hom-thu/lan-mo/{opening['opening']}"
    coordinator = staff_client(app, make_user, "coordinator", "VP")
    clerk = staff_client(app, make_user, "clerk", "UBND-00688")
    assert 'data-testid="correct-count"' not in clerk.get(page).text
    shown = coordinator.get(page)
    assert 'data-testid="correct-count"' in shown.text

    # a bad value comes back on the page with its message, the reason kept
    bad = coordinator.post(
        page + "/so-thu",
        data={"letter_count": "1", "reason": REASON, "csrf_token": csrf_from(shown.text)},
    )
    assert bad.status_code == 422
    text = html.unescape(bad.text)
    assert "Đã nhập 2 hồ sơ từ lần mở này; số thư không thể ít hơn." in text
    assert REASON in text

    done = coordinator.post(
        page + "/so-thu",
        data={"letter_count": "2", "reason": REASON, "csrf_token": csrf_from(shown.text)},
    )
    assert done.status_code == 303
    after = html.unescape(coordinator.get(page).text)
    assert "Đã sửa số thư trong biên bản thành 2." in after
    assert 'data-testid="transcribed">2/2' in after

    # the clerk's POST is refused by the route itself
    own_token = csrf_from(clerk.get(page).text)
    refused = clerk.post(
        page + "/so-thu", data={"letter_count": "3", "reason": REASON, "csrf_token": own_token}
    )
    assert refused.status_code in (403, 404)
    with app.app_context():
        assert db.session.get(BoxOpening, opening["opening"]).letter_count == 2
        logged = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "box_opening.update")
        ).all()
        changes = [a for a in logged if "letter_count" in a.details]
        # one change, by the signed-in coordinator (the refused attempts left nothing)
        assert len(changes) == 1 and changes[0].actor_id is not None
        assert changes[0].details["letter_count"] == 2
