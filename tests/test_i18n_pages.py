"""English as a second language (issue 15), seen by the citizen: the text built in Python
(the limits promised per kind, form labels and errors, messages) follows the page's language,
and Vietnamese stays the default, word for word.

The templates are checked by tests/test_i18n_catalogue.py; these tests read the pages."""

from __future__ import annotations

import html
import re

from flask.testing import FlaskClient
from helpers import csrf_from

VIETNAMESE = re.compile(
    "[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ]"
)
DATA = re.compile(
    # What may stay Vietnamese on an English page: the data's names (site and authority,
    # categories, areas: options of the form's lists) and the language switch's own name.
    r'<select[^>]*>.*?</select>|<span class="authority">.*?</span>|<a class="brand".*?</a>'
    r'|<a [^>]*lang="vi"[^>]*>.*?</a>|<title>.*?</title>',
    re.S,
)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", page))


def visible_vietnamese(page: str) -> list[str]:
    """The Vietnamese words an English page still shows outside the data's names."""
    body = page[page.index("<body") :]
    body = re.sub(r"<script.*?</script>", "", DATA.sub("", body), flags=re.S)
    words = re.sub(r"<[^>]+>", " ", body).split()
    return [w for w in words if VIETNAMESE.search(w)]


def test_the_form_promises_the_limits_in_english(client: FlaskClient) -> None:
    page = client.get("/gui?lang=en").text
    shown = text_of(page)
    assert '<html lang="en">' in page
    kinds = shown[shown.index('data-testid="kinds"') :]
    assert "The authorities will acknowledge receipt within 24 hours, and answer within" in kinds
    assert "6 working days of receipt (not counting Saturdays, Sundays and public holidays)" in (
        kinds
    )
    complaint = re.search(r'data-testid="kind-complaint">(.*?)</dd>', kinds, re.S)
    assert complaint and "resolve it within 30 days of acceptance" in complaint.group(1)
    assert "An anonymous complaint will not be accepted for resolution" in complaint.group(1)
    footer = shown[shown.index("<footer>") :]
    assert "Feedback, petition, suggestion: acknowledgement within 24 hours, answer within" in (
        footer
    )
    assert "Photos or PDF; up to" in shown
    assert visible_vietnamese(page) == []


def test_the_form_s_errors_are_english(client: FlaskClient) -> None:
    page = client.get("/gui?lang=en").text
    sent = client.post(
        "/gui",
        data={
            "csrf_token": csrf_from(page),
            "kind": "feedback",
            "category_code": "6.3b",
            "area_code": "00688",
            "subject": "Đèn",
            "body": "Ba cột đèn trước số nhà 120 không sáng.",
            "reporter_phone": "12",
        },
    )
    assert sent.status_code == 422
    shown = text_of(sent.text)
    assert "The subject needs 5 to 200 characters." in shown
    assert "Please give your name, or choose to send anonymously." in shown
    assert "The phone number is not valid (8–15 digits)." in shown
    assert "Some information is not valid. Please check the marked fields." in shown


def test_a_wrong_key_is_refused_in_english(client: FlaskClient) -> None:
    page = client.get("/tra-cuu?lang=en").text
    refused = client.post(
        "/tra-cuu",
        data={"csrf_token": csrf_from(page), "code": "HG-2026-000001", "access_key": "X"},
    )
    assert refused.status_code == 422
    assert "The case code or the access key is not correct." in text_of(refused.text)


def test_vietnamese_stays_the_default_word_for_word(client: FlaskClient) -> None:
    shown = text_of(client.get("/gui").text)
    assert "Cơ quan sẽ xác nhận đã tiếp nhận trong 24 giờ, và trả lời trong 6 ngày làm việc" in (
        shown
    )
    assert "Ảnh hoặc PDF, tối đa" in shown
    assert "Phản ánh, kiến nghị, góp ý: tiếp nhận trong 24 giờ, trả lời trong 6 ngày làm việc" in (
        shown
    )
