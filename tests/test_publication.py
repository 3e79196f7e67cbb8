"""What leaves the office about a case (issue 13, finding 9): Open311 shows a case's
category and ward, and its subject only once the unit head has approved the answer, and
then redacted; the redaction (the transparency page's too) catches names written in
capitals, with and without diacritics."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.text import fold
from feedback.extensions import db
from feedback.models import Case, Category, User
from feedback.services.handling import actions
from feedback.services.oversight.redact import PLACEHOLDER, redact

H = PLACEHOLDER


def approve(app: Flask, make_user: Callable[..., Any], code: str, text: str) -> None:
    """Acknowledged and answered by the head of the handling unit, through the service."""
    with app.app_context():
        unit = db.session.scalar(select(Case).where(Case.code == code)).handling_unit.code
    head_id, _ = make_user("unit_head", unit_code=unit)
    with app.app_context(), unit_of_work():
        case = db.session.scalar(select(Case).where(Case.code == code))
        head = db.session.get(User, head_id)
        now = datetime.now(UTC)
        actions.acknowledge(case, head, now)
        actions.approve_answer(case, head, now, text)


def named(text: str, *names: str) -> list[str]:
    """The names found in ``text`` in any spelling (capitals, diacritics or none)."""
    folded = f" {fold(html.unescape(text))} "
    return [n for n in names if f" {fold(n)} " in folded]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_publishes_the_category_until_the_answer_is_approved(
    app: Flask,
    client: FlaskClient,
    make_case: Callable[..., str],
    make_user: Callable[..., Any],
    fmt: str,
) -> None:
    code = make_case(
        subject="Cán bộ HOANG VAN KIEN thu tiền vệ sinh sai quy định",
        category_code="6.3c",
        area_code="00697",
    )
    with app.app_context():
        label = db.session.scalar(select(Category.citizen_label).where(Category.code == "6.3c"))
    for path in (f"requests/{code}.{fmt}", f"requests.{fmt}"):
        response = client.get(f"/open311/v2/{path}")
        assert response.status_code == 200
        assert named(response.text, "Hoàng Văn Kiên", "Kiên") == []
        assert "thu tiền" not in response.text  # not one word of the citizen's yet
        if fmt == "json":
            (row,) = response.json
            assert row["description"] == label
            assert row["address"] == "Phường Minh Khai" and row["service_code"] == "6.3c"

    approve(app, make_user, code, "Đơn vị đã kiểm tra và chấn chỉnh việc thu tiền vệ sinh.")
    response = client.get(f"/open311/v2/requests/{code}.{fmt}")
    assert response.status_code == 200
    assert named(response.text, "Hoàng Văn Kiên", "Kiên") == []
    assert f"Cán bộ {H} thu tiền vệ sinh sai quy định" in html.unescape(response.text)


def test_the_transparency_page_hides_names_written_in_capitals(
    app: Flask, client: FlaskClient, make_case: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    code = make_case(
        subject="HOÀNG VĂN KIÊN và NGUYEN THI LAN thu tiền sai quy định",
        category_code="6.3c",
        area_code="00697",
    )
    approve(app, make_user, code, "Đã làm việc với HOANG VAN KIEN; ông KIÊN đã trả lại tiền.")
    page = client.get("/cong-khai/")
    assert page.status_code == 200 and code in page.text
    assert named(page.text, "Hoàng Văn Kiên", "Nguyễn Thị Lan") == []
    assert "KIÊN" not in page.text and "KIEN" not in page.text  # "ý kiến" may stay
    assert "thu tiền sai quy định" in page.text and "đã trả lại tiền" in page.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cán bộ HOANG VAN KIEN nhận tiền", f"Cán bộ {H} nhận tiền"),
        ("HOÀNG VĂN KIÊN nhận tiền của dân", f"{H} nhận tiền của dân"),
        ("Ông HOÀNG VĂN KIÊN, bà NGUYỄN THỊ LAN", f"Ông {H}, bà {H}"),
        ("Tôi là TRAN THI MAI, trú tại đây", f"Tôi là {H}, trú tại đây"),
        ("Phản ánh: SÙNG MÍ PÁO lấn chiếm đất", f"Phản ánh: {H} lấn chiếm đất"),
        ("Hoàng Văn Kiên đòi tiền", f"{H} đòi tiền"),
        ("Gửi LÒ VĂN PHỬ", f"Gửi {H}"),
        # Capitals that are no person stay.
        ("ĐƯỜNG NGUYỄN TRÃI BỊ NGẬP", "ĐƯỜNG NGUYỄN TRÃI BỊ NGẬP"),
        ("UBND TP HÀ GIANG trả lời chậm", "UBND TP HÀ GIANG trả lời chậm"),
        ("Văn phòng HĐND-UBND đã nhận", "Văn phòng HĐND-UBND đã nhận"),
        ("Phòng Văn hóa – Thông tin kiểm tra", "Phòng Văn hóa – Thông tin kiểm tra"),
        ("CẦN THI CÔNG GẤP", "CẦN THI CÔNG GẤP"),
        ("Đèn đường hỏng ở phường Nguyễn Trãi", "Đèn đường hỏng ở phường Nguyễn Trãi"),
    ],
)
def test_redact_catches_names_in_capitals(text: str, expected: str) -> None:
    assert redact(text) == expected
