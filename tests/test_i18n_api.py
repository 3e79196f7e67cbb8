"""English for programs and for the intake's refusals (issue 15): the JSON API and Open311
answer in English when asked (``Accept-Language: en`` or ``?lang=en``), messages with
values included; a rate-limited request and the box register's refusal too; the OpenAPI
document and its page. Without a language asked for, everything stays in Vietnamese, word
for word.

The English expected is read from the catalogue (``english``), so the tests pin where each
text goes and fail while an entry is missing, whoever words it."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient
from helpers import csrf_from
from openapi_spec_validator import validate as validate_openapi
from test_i18n_pages import visible_vietnamese

from feedback.api.docs import OPENAPI_PATH, TRANSLATED_KEYS, english_texts
from feedback.domain.marks import translate
from feedback.i18n import HTTP_MESSAGES
from feedback.services.params import int_param, invalid, sentence

CATALOGUE = Translations.load(
    str(Path(__file__).resolve().parent.parent / "feedback" / "translations"), ["en"]
)
EN = {"Accept-Language": "en"}
SUBMISSIONS_REFUSED = (
    "Từ địa chỉ mạng này đã có nhiều phản ánh được gửi trong thời gian ngắn, nên hệ thống "
    "tạm chưa nhận thêm. Nội dung ông/bà nhập vẫn được giữ nguyên dưới đây: vui lòng bấm "
    "«Gửi» lại %(when)s, hoặc gọi Tổng đài 1022."
)
VIETNAMESE = re.compile("[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]")
CASE = {
    "kind": "feedback",
    "subject": "Ống nước vỡ trên đường Minh Khai",
    "body": "Ống nước vỡ, nước chảy tràn mặt đường từ sáng.",
    "category_code": "6.3d",
    "area_code": "00697",
    "reporter": {"anonymous": True},
}


def english(msgid: str, **values: Any) -> str:
    """The catalogue's English for ``msgid``, filled in; fails when there is none."""
    text = CATALOGUE.gettext(msgid)
    assert text != msgid and not VIETNAMESE.search(text), f"no English for {msgid!r}"
    return text % values if values else text


def test_a_json_refusal_with_values_in_english_and_vietnamese(client: FlaskClient) -> None:
    bad = {**CASE, "subject": "Ống", "lat": 91, "reporter": {"email": "x" * 201}}
    vietnamese = client.post("/api/v1/cases", json=bad)
    assert vietnamese.status_code == 422
    assert vietnamese.json["message"] == "Dữ liệu có trường sai kiểu hoặc không được hỗ trợ."
    assert vietnamese.json["fields"] == {"reporter.email": "Địa chỉ thư điện tử dài quá 200 ký tự."}

    answer = client.post("/api/v1/cases", json=bad, headers=EN)
    assert answer.status_code == 422
    assert answer.json["message"] == english("Dữ liệu có trường sai kiểu hoặc không được hỗ trợ.")
    assert answer.json["fields"] == {
        "reporter.email": english("Địa chỉ thư điện tử dài quá 200 ký tự.")
    }
    # The intake's own checks, after the shape is right; ?lang=en works as well.
    shaped = {**bad, "reporter": {"anonymous": True}}
    answer = client.post("/api/v1/cases?lang=en", json=shaped)
    assert answer.status_code == 422
    assert answer.json["message"] == english("Thông tin chưa hợp lệ, vui lòng kiểm tra lại.")
    assert answer.json["fields"] == {
        "subject": english("Tiêu đề cần ít nhất 5 ký tự."),
        "lat": english("Vĩ độ phải nằm trong khoảng -90 đến 90."),
    }
    # A message filled in with a value: the body's size limit.
    too_big = client.post(
        "/api/v1/cases",
        data=b"{" + b" " * 70_000 + b"}",
        headers=EN,
        content_type="application/json",
    )
    assert too_big.status_code == 413
    assert too_big.json["message"] == english("Dữ liệu gửi lên vượt quá %(kib)s KiB.", kib=64)
    vietnamese = client.post(
        "/api/v1/cases", data=b"{" + b" " * 70_000 + b"}", content_type="application/json"
    )
    assert vietnamese.json["message"] == "Dữ liệu gửi lên vượt quá 64 KiB."


def test_open311_errors_in_english(app: Flask, client: FlaskClient, make_user: Any) -> None:
    from datetime import UTC, datetime

    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import User
    from feedback.services.accounts.users import issue_token

    user_id, _ = make_user("operator", unit_code="VP")
    with app.app_context(), unit_of_work():
        key = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    post = {
        "api_key": key,
        "service_code": "6.3b",
        "lat": "91",
        "long": "104.98",
        "description": "ngắn",
    }
    answer = client.post("/open311/v2/requests.json", data=post, headers=EN)
    assert answer.status_code == 400
    assert [e["description"] for e in answer.json] == [
        english("%(name)s phải là số thập phân từ -%(limit)s đến %(limit)s.", name="lat", limit=90),
        english("description cần ít nhất 10 ký tự để cơ quan hiểu và xử lý được."),
    ]
    # The intake's refusal, named by the Open311 field, in XML asked for with ?lang=en.
    good = post | {"lat": "22.82", "description": "Ổ gà lớn giữa đường Nguyễn Trãi.", "phone": "12"}
    answer = client.post("/open311/v2/requests.xml?lang=en", data=good)
    assert answer.status_code == 400
    phone = english("Số điện thoại không hợp lệ (8–15 chữ số).")
    assert f"<description>phone: {html.escape(phone, quote=False)}</description>" in answer.text
    unknown = client.get("/open311/v2/services/0.0.json", headers=EN)
    assert unknown.status_code == 404
    assert unknown.json[0]["description"] == english(
        "Không có dịch vụ (service_code) «%(code)s».", code="0.0"
    )
    vietnamese = client.get("/open311/v2/services/0.0.json")
    assert vietnamese.json[0]["description"] == "Không có dịch vụ (service_code) «0.0»."


class TestRateLimited:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_SUBMIT": "1/minute"}

    def test_a_429_and_the_forms_refusal_in_english(self, client: FlaskClient) -> None:
        assert client.post("/api/v1/cases", json=CASE).status_code == 201
        refused = client.post("/api/v1/cases", json=CASE, headers=EN)
        assert refused.status_code == 429
        assert refused.json["message"] == english(HTTP_MESSAGES[429])
        assert client.post("/api/v1/cases", json=CASE).json["message"] == HTTP_MESSAGES[429]
        # The web form shares the budget: its refusal says when to try again, in English.
        page = client.get("/gui?lang=en").text
        form = {
            "csrf_token": csrf_from(page),
            "kind": "feedback",
            "category_code": "6.3b",
            "area_code": "00688",
            "subject": "Nắp cống vỡ trước nhà văn hoá",
            "body": "Nắp cống trước nhà văn hoá tổ 3 bị vỡ, rất nguy hiểm khi trời tối.",
            "anonymous": "y",
        }
        response = client.post("/gui", data=form)
        assert response.status_code == 429
        when = re.escape(english("sau khoảng %(n)s giây", n=999)).replace("999", r"\d{1,2}")
        refusal = english(SUBMISSIONS_REFUSED, when="\x00").split("\x00")
        expected = re.escape(refusal[0]) + when + re.escape(refusal[1])
        assert re.search(expected, html.unescape(response.text)), response.text


def test_the_box_registers_refusal_in_english(client: FlaskClient, login_as: Any) -> None:
    login_as("coordinator")
    page = client.get("/can-bo/hom-thu/them?lang=en")
    form = {
        "csrf_token": csrf_from(page.text),
        "code": "HT-00688-01",
        "location": "Trụ sở UBND phường Quang Trung",
        "area_code": "00688",
        "opener_unit_code": "",
    }
    assert client.post("/can-bo/hom-thu/them", data=form).status_code == 303
    again = client.post("/can-bo/hom-thu/them", data=form)
    assert again.status_code == 422
    text = html.unescape(again.text)
    assert english("Chưa thêm được hòm thư, vui lòng kiểm tra lại.") in text
    assert english("Mã hòm thư %(code)s đã có trong sổ.", code="HT-00688-01") in text
    client.get("/can-bo/hom-thu/them?lang=vi")
    vietnamese = html.unescape(client.post("/can-bo/hom-thu/them", data=form).text)
    assert "Mã hòm thư HT-00688-01 đã có trong sổ." in vietnamese


def test_a_parameter_summary_is_translated_whole() -> None:
    """``params.invalid`` names every bad parameter in its message: in Vietnamese exactly as
    before, and in English through and through (no database needed)."""
    errors: dict[str, str] = {}
    int_param({"trang": "0"}, "trang", default=1, low=1, high=50, errors=errors)
    errors["sau"] = sentence("Vị trí trang không hợp lệ")
    refusal = invalid(errors)
    assert refusal.message == (
        "Tham số không hợp lệ (trang: Phải là số nguyên từ 1 đến 50; "
        "sau: Vị trí trang không hợp lệ)."
    )
    assert errors["trang"] == "Phải là số nguyên từ 1 đến 50."
    shown = translate(refusal.message, CATALOGUE.gettext)
    assert not VIETNAMESE.search(shown), shown
    assert shown == english(
        "Tham số không hợp lệ (%(named)s).",
        named=f"trang: {english('Phải là số nguyên từ %(low)s đến %(high)s', low=1, high=50)}; "
        f"sau: {english('Vị trí trang không hợp lệ')}",
    )
    assert (
        translate(errors["trang"], CATALOGUE.gettext)
        == english("Phải là số nguyên từ %(low)s đến %(high)s", low=1, high=50) + "."
    )


def _prose(node: Any, key: str | None = None) -> set[str]:
    """The document's Vietnamese prose: titles, summaries, descriptions, tag names."""
    if isinstance(node, dict):
        found: set[str] = set()
        for k, v in node.items():
            if k not in ("example", "examples"):
                found |= _prose(v, k)
        return found
    if isinstance(node, list):
        return set().union(*(_prose(item, key) for item in node)) if node else set()
    if isinstance(node, str) and key in TRANSLATED_KEYS and VIETNAMESE.search(node):
        return {node}
    return set()


def test_the_openapi_documents_english_is_complete() -> None:
    """Every text of the document has its English, none is left over from an older text,
    and the English holds no Vietnamese (the city is written Ha Giang)."""
    texts = english_texts()
    vietnamese = _prose(json.loads(OPENAPI_PATH.read_text(encoding="utf-8")))
    assert sorted(vietnamese - set(texts)) == [], "texts without English"
    assert sorted(set(texts) - vietnamese) == [], "English for texts no longer in the document"
    assert [e for e in texts.values() if VIETNAMESE.search(e) or not e.strip()] == []


def test_the_openapi_document_and_its_page_in_english(client: FlaskClient) -> None:
    vietnamese = client.get("/api/v1/openapi.json")
    assert vietnamese.text == OPENAPI_PATH.read_text(encoding="utf-8")
    answer = client.get("/api/v1/openapi.json", headers=EN)
    assert answer.status_code == 200 and "Accept-Language" in answer.headers["Vary"]
    doc, original = answer.json, vietnamese.json
    validate_openapi(doc)
    assert doc["paths"].keys() == original["paths"].keys()
    assert doc["components"]["schemas"].keys() == original["components"]["schemas"].keys()
    assert _prose(doc) == set()
    summary = doc["paths"]["/cases"]["post"]["summary"]
    assert summary == english_texts()[original["paths"]["/cases"]["post"]["summary"]]
    # The page for people, made from the English document; only examples stay Vietnamese.
    page = client.get("/api/v1/docs?lang=en")
    assert page.status_code == 200 and summary in page.text
    shown = re.sub(r"<pre>.*?</pre>", "", page.text, flags=re.S)
    assert visible_vietnamese(shown) == []


def test_the_intakes_timeline_notes_in_english(
    app: Flask, client: FlaskClient, login_as: Any, make_case: Any
) -> None:
    """The first event's note and a link's note are stored in Vietnamese as before and
    shown in English on an English page."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import Case, CaseEvent, User
    from feedback.services.intake.duplicates import link_cases

    first, second = make_case(), make_case()
    username = login_as("coordinator")
    with app.app_context(), unit_of_work():
        user = db.session.scalars(select(User).where(User.username == username)).one()
        case = db.session.scalars(select(Case).where(Case.code == second)).one()
        link_cases(case, first, actor=user, now=datetime.now(UTC))
    with app.app_context():
        notes = db.session.scalars(
            select(CaseEvent.note).join(Case).where(Case.code == second).order_by(CaseEvent.id)
        ).all()
    assert notes == [
        "Tiếp nhận qua cổng trực tuyến.",
        f"Liên kết với hồ sơ {first} (có thể cùng nội dung).",
    ]
    page = html.unescape(client.get(f"/can-bo/ho-so/{second}?lang=en").text)
    assert english("Tiếp nhận qua cổng trực tuyến.") in page
    assert english("Liên kết với hồ sơ %(code)s (có thể cùng nội dung).", code=first) in page
    assert "Tiếp nhận qua" not in page and "Liên kết với hồ sơ" not in page


def test_the_apis_timeline_routing_and_deadlines_follow_accept_language(
    app: Flask, client: FlaskClient, make_user: Any, make_case: Any
) -> None:
    """A program asking in English reads the timeline's notes, the routing reason and the
    deadline explanation in English; without asking, the Vietnamese as stored."""
    from datetime import UTC, datetime

    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.models import User
    from feedback.services.accounts.users import issue_token

    code = make_case()
    user_id, _ = make_user("inspector")
    with app.app_context(), unit_of_work():
        token = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    auth = {"Authorization": f"Bearer {token}"}
    vietnamese = client.get(f"/api/v1/cases/{code}", headers=auth).get_json()
    english_case = client.get(
        f"/api/v1/cases/{code}", headers={**auth, "Accept-Language": "en"}
    ).get_json()
    assert vietnamese["timeline"][0]["note"] == "Tiếp nhận qua cổng trực tuyến."
    assert english_case["timeline"][0]["note"] == english("Tiếp nhận qua cổng trực tuyến.")
    assert not VIETNAMESE.search(english_case["timeline"][0]["note"])
    assert english_case["routing_reason"] != vietnamese["routing_reason"]
    asked = "/api/v1/deadlines?kind=feedback&received_at=2024-02-08T10:00:00%2B07:00"
    lines_vi = client.get(asked).get_json()["explanation"]
    lines_en = client.get(asked, headers={"Accept-Language": "en"}).get_json()["explanation"]
    assert len(lines_vi) == len(lines_en) and lines_vi != lines_en
    assert any("Tết" in line or "Tet" in line for line in lines_en + lines_vi)
