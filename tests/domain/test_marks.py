"""Messages with values keep their template, so a page can fill it in again in English."""

from __future__ import annotations

import copy
import pickle

from feedback.domain.marks import N_, Said, translate

ENGLISH = {
    "Hồ sơ %(code)s đã %(status)s.": "Case %(code)s is %(status)s.",
    "đóng": "closed",
    "Đã lưu.": "Saved.",
    "Hỏng %(code)s": "Broken %(nothing)s",
}


def lookup(text: str) -> str:
    return ENGLISH.get(text, text)


def test_a_message_with_values_is_the_vietnamese_text_and_translates() -> None:
    said = N_("Hồ sơ %(code)s đã %(status)s.", code="HG-1", status="đóng")
    assert isinstance(said, Said) and said == "Hồ sơ HG-1 đã đóng."
    assert translate(said, lookup) == "Case HG-1 is closed."  # the label value too
    assert translate(said, lambda t: t) == "Hồ sơ HG-1 đã đóng."


def test_a_plain_mark_stays_a_plain_str() -> None:
    assert type(N_("Đã lưu.")) is str
    assert translate("Đã lưu.", lookup) == "Saved."
    assert translate("Ghi chú gõ tay", lookup) == "Ghi chú gõ tay"
    assert translate("", lookup) == ""


def test_copies_keep_the_template_and_a_broken_translation_falls_back() -> None:
    said = N_("Hồ sơ %(code)s đã %(status)s.", code="HG-2", status="đóng")
    for again in (pickle.loads(pickle.dumps(said)), copy.deepcopy(said)):
        assert isinstance(again, Said) and translate(again, lookup) == "Case HG-2 is closed."
    assert translate(N_("Hỏng %(code)s", code="X"), lookup) == "Hỏng X"


def test_a_label_in_context_is_looked_up_with_its_context() -> None:
    from feedback.domain.marks import C_

    catalogue = {"action\x04mở lại": "reopen", "mở lại": "reopened"}
    label = C_("action", "mở lại")
    assert label == "mở lại"  # stored and compared as the word itself
    assert translate(label, lambda t: catalogue.get(t, t)) == "reopen"
    assert translate("mở lại", lambda t: catalogue.get(t, t)) == "reopened"
    assert translate(label, lambda t: t) == "mở lại"  # no entry: the word as written
    assert translate(pickle.loads(pickle.dumps(label)), lambda t: catalogue.get(t, t)) == "reopen"
