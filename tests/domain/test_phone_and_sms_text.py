"""The domain rules the SMS channel relies on: E.164 numbers and unaccented text."""

from __future__ import annotations

import pytest

from feedback.config import template_ids
from feedback.domain.contact import same_phone, to_e164
from feedback.domain.text import unaccent


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("+84 912-345-678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("912345678", "+84912345678"),
        ("0219 3866 123", "+842193866123"),  # a Hà Giang landline
        ("+33 6 12 34 56 78", "+33612345678"),
        ("không có", None),
        ("12", None),
        ("", None),
        (None, None),
    ],
)
def test_numbers_are_normalised_to_e164(typed: str | None, e164: str | None) -> None:
    assert to_e164(typed) == e164


def test_same_phone_in_any_spelling() -> None:
    assert same_phone("0912 345 678", "+84912345678")
    assert not same_phone("0912345678", "0912345679")
    assert not same_phone(None, None)


def test_unaccent_keeps_case_digits_and_punctuation() -> None:
    assert unaccent("Hồ sơ HG-2026-000123 đã được trả lời.") == (
        "Ho so HG-2026-000123 da duoc tra loi."
    )
    assert unaccent("ĐƯỜNG Nguyễn Trãi, «tổ 5» – số 12…") == (
        'DUONG Nguyen Trai, "to 5" - so 12...'
    )
    assert unaccent("Mã tra cứu: ABCD-EFGH").isascii()


def test_zalo_template_ids_setting() -> None:
    assert template_ids("receipt=240901, answered = 240904,") == {
        "receipt": "240901",
        "answered": "240904",
    }
    with pytest.raises(RuntimeError, match="ZALO_TEMPLATE_IDS"):
        template_ids("receipt:240901")
