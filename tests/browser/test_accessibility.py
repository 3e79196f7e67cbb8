"""axe-core on every page of every role, in a real Chromium, on a phone and on a desktop,
in Vietnamese and in English (issue 15, WCAG 2.2 AA): zero violations.

The pages come from the application itself, not from a list kept by hand: every GET route
of ``app.url_map`` that serves HTML (not the API, Open311, static files or the exports),
its variables filled from the demo data (``load_demo``: a case, a box and its opening, a
letter, an attachment...) or, where the demo made none, with a number that names nothing
(the 404 page is a page too). Each role signs in through the login page in a browser
context of its own, as the other browser tests do; the citizen follows a demo case with
its code and key. A page the role may not open (403) or that redirects is checked where it
lands, once per kind of answer.

One server and one database per engine, one browser: each page is loaded once per
language, and axe runs on it at the phone's width and then at the desktop's (the layout
changes with the width, not the content). axe-core is bundled by axe-playwright-python;
nothing is downloaded at run time.

In English every page of every role also shows no Vietnamese but its data: what the
templates mark ``lang="vi"`` (names of units, areas, categories and people, subjects,
notes typed by people, stored timeline notes, holidays), the site's and the authority's
names and a form's lists. The scan is one ``page.evaluate`` on the page already loaded;
what it finds is reported per page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from helpers import on_engine
from playwright.sync_api import Browser, Page

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.services.demo import load_demo
from feedback.services.intake.submission import CaseInput, Reporter, submit_case

# One engine (helpers.on_engine): the walk proves the pages; every route is fuzzed on both.
pytestmark = [pytest.mark.browser, on_engine("sqlite")]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "demo-matkhau-axe"
ROLES: tuple[tuple[str, str | None], ...] = (
    ("citizen", None),
    ("operator", "tongdai"),
    ("clerk", "homthu"),
    ("coordinator", "vanphong"),
    ("officer", "canbo.quangtrung"),
    ("unit_head", "lanhdao.quangtrung"),
    ("inspector", "thanhtra"),
    ("admin", "quantri"),
)
"""Every role, signed in as its demo account (the citizen follows a demo case)."""

SKIPPED_PREFIXES = ("/api/", "/open311", "/static")
EXTRA_PAGES = ("/api/docs", "/khong-co-trang-nay")
"""HTML pages outside the routes walked: the API's documentation page and a 404."""

PUBLIC_PREFIXES = ("/gui", "/tra-cuu", "/tiep-can", "/cong-khai", "/api/docs", "/khong-co")
"""Pages a signed-in role gets as the citizen does (checked once, in the citizen's run)."""

KEPT_AS_DATA = ".brand, .authority, .site-name, [lang=vi], select"
"""What an English page may show in Vietnamese: the site's and the authority's names from
the reference data, what the templates mark as Vietnamese data (``lang="vi"``, and the
switch's "Tiếng Việt"), and the lists of a form (categories, areas: the reference data's
names)."""
VIETNAMESE = re.compile(
    "[đĐàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ]"
)
LEFT_IN_VIETNAMESE = r"""([kept, letters]) => {
    const vietnamese = new RegExp(letters);
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll(`${kept}, script, style`).forEach(e => e.remove());
    const left = new Set();
    const walker = document.createTreeWalker(copy, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode())
        if (vietnamese.test(text.data))  // the sentence it is in: its element's text
            left.add(text.parentNode.textContent.replace(/\s+/g, ' ').trim().slice(0, 200));
    const named = ['aria-label', 'title', 'placeholder', 'alt', 'data-label'];
    copy.querySelectorAll(named.map(name => `[${name}]`).join(', ')).forEach(e => {
        for (const name of named) {
            const value = e.getAttribute(name);
            if (value && vietnamese.test(value)) left.add(`${name}="${value}"`);
        }
    });
    return [...left];
}"""
"""The texts of the page, less what is kept as data, that hold Vietnamese letters: each
text's element's text (the sentence, not only its Vietnamese words), and the attributes a
screen reader reads or the phone layout shows (a table cell's ``data-label``)."""

RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
"""WCAG 2.x A and AA and axe's best practices (landmarks, one h1, heading order...)."""


def _models_first_id(name: str) -> str | None:
    """The id of the first row of model ``name`` if the demo made one (None otherwise)."""
    import feedback.models as models

    model = getattr(models, name, None)
    if model is None:
        return None
    found = db.session.scalar(db.select(model.id).order_by(model.id).limit(1))
    return None if found is None else str(found)


def _world(app: Flask) -> tuple[dict[str, str], str, str]:
    """Loads the demo; returns the path variables, a citizen's case code and key."""
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():
        load_demo(password=PASSWORD, now=now)
    with app.app_context(), unit_of_work():
        # The citizen's own case, with its key (the demo does not keep keys).
        done = submit_case(
            CaseInput(
                "feedback",
                "Đèn đường hỏng trên đường Nguyễn Trãi",
                "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
                "6.3b",
                "00688",
                reporter=Reporter(name="Trần Thị Bình", phone="0912000111"),
            ),
            actor=None,
            now=now,
        )
        code, key = done.case.code, done.access_key or ""
    with app.app_context():
        values = {"code": code, "period": f"{now:%Y}-Q1"}
        for variable, model in (
            ("box_id", "SuggestionBox"),
            ("opening_id", "BoxOpening"),
            ("batch_id", "ImportBatch"),
            ("letter_id", "ApologyLetter"),
            ("attachment_id", "Attachment"),
        ):
            found = _models_first_id(model)
            if found is not None:
                values[variable] = found
    return values, code, key


def _paths(app: Flask, values: dict[str, str]) -> list[str]:
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith(SKIPPED_PREFIXES) or "GET" not in (rule.methods or set()):
            continue
        if rule.rule.endswith((".pdf", ".xlsx", ".csv")) or rule.endpoint == "files.download":
            continue  # not HTML
        path = rule.rule
        for name in rule.arguments:
            start = path.index("<")
            end = path.index(">", start)
            path = path[:start] + values.get(name, "999999") + path[end + 1 :]
        paths.append(path)
    return [*paths, *EXTRA_PAGES]


def _sign_in(page: Page, base: str, username: str | None, code: str, key: str) -> None:
    if username is None:
        page.goto(f"{base}/tra-cuu")
        page.locator("input[name=code]").fill(code)
        page.locator("input[name=access_key]").fill(key)
        with page.expect_navigation():
            page.locator("form button[type=submit]").first.click()
        assert f"/tra-cuu/{code}" in page.url, (page.url, page.locator("main").inner_text())
        return
    page.goto(f"{base}/can-bo/dang-nhap")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/dang-nhap" not in page.url, f"{username} could not sign in"


def _left_in_vietnamese(page: Page) -> list[str]:
    """What the loaded page (and its title, less the site's name) shows in Vietnamese but
    does not keep as data; one evaluate, no new load."""
    left: list[str] = page.evaluate(LEFT_IN_VIETNAMESE, [KEPT_AS_DATA, VIETNAMESE.pattern])
    title = page.title().rsplit(" – ", 1)[0]
    if VIETNAMESE.search(title):
        left.insert(0, f"<title> {title}")
    return left


def _the_checks_can_fail(browser: Browser, axe: Axe) -> None:
    """axe and the Vietnamese scan, on a page made to fail both: a picture without a text
    alternative, a table with an empty header, a meta refresh, text left in Vietnamese."""
    page = browser.new_page(bypass_csp=True)
    page.set_content(
        '<html lang="en"><head><title>x</title><meta http-equiv="refresh" content="60"></head>'
        '<body><main><h1>x</h1><img src="x.png"><p>Tra cứu</p>'
        "<table><tr><th>a</th><th></th></tr><tr><td>1</td><td>2</td></tr></table></main></body></html>"
    )
    page.evaluate(axe.axe_script)
    found = page.evaluate("options => axe.run(document, options)", RULES)
    ids = {v["id"] for v in found["violations"]}
    assert {"image-alt", "empty-table-header", "meta-refresh"} <= ids, ids
    assert _left_in_vietnamese(page) == ["Tra cứu"]
    page.set_content(
        '<html lang="en"><head><title>Unit – Cổng</title></head><body><p>Unit: '
        '<span lang="vi">Phường Đông Hải</span></p><select><option>Quận 1</option></select>'
        '<p>Sent on <b>3/5</b> by Phạm</p><input placeholder="Họ tên"></body></html>'
    )
    assert _left_in_vietnamese(page) == ["Sent on 3/5 by Phạm", 'placeholder="Họ tên"']
    page.set_content('<html lang="en"><head><title>Hồ sơ – x</title></head><body></body></html>')
    assert _left_in_vietnamese(page) == ["<title> Hồ sơ"]
    page.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for context in opened:
        context.close()


def test_axe_finds_no_violation_on_any_page_of_any_role(
    app: Flask, live_server: str, browser: Browser, contexts: list[Any]
) -> None:
    values, code, key = _world(app)
    paths = _paths(app, values)
    axe = Axe()
    failures: list[str] = []
    left_in_vietnamese: dict[str, list[str]] = {}
    checked = english = 0
    _the_checks_can_fail(browser, axe)
    for role, username in ROLES:
        # bypass_csp: axe is injected as a script, which the app's CSP would refuse.
        context = browser.new_context(viewport=DESKTOP, locale="vi-VN", bypass_csp=True)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        _sign_in(page, live_server, username, code, key)
        scanned: set[tuple[int, str]] = set()
        for lang in ("vi", "en"):
            answers_seen: set[tuple[int, str]] = set()
            for path in paths:
                if username is not None and path.startswith(PUBLIC_PREFIXES):
                    continue  # the same page the citizen's run checked, but for the header
                separator = "&" if "?" in path else "?"
                response = page.goto(f"{live_server}{path}{separator}lang={lang}")
                assert response is not None
                if "text/html" not in response.headers.get("content-type", ""):
                    continue
                landed = page.url.split("?")[0].removeprefix(live_server)
                seen_as = (response.status, landed if response.status == 200 else "")
                if lang == "en" and seen_as not in scanned:
                    scanned.add(seen_as)  # an error page or a redirect's target: once
                    english += 1
                    left = _left_in_vietnamese(page)
                    if left:
                        left_in_vietnamese[f"{role} {path} -> {landed}"] = left
                if path == "/" and username is not None:
                    continue
                if response.status != 200 or landed != path:
                    answer = (response.status, landed if response.status == 200 else "")
                    if answer in answers_seen:
                        continue
                    answers_seen.add(answer)
                assert page.locator("html").get_attribute("lang") == lang, (role, path)
                page.evaluate(axe.axe_script)  # once per load, run at both widths
                for viewport in (PHONE, DESKTOP):
                    page.set_viewport_size(viewport)
                    checked += 1
                    found = page.evaluate("options => axe.run(document, options)", RULES)
                    for violation in found["violations"]:
                        targets = [n["target"] for n in violation["nodes"]][:3]
                        failures.append(
                            f"{role} {lang} {viewport['width']}px {path} "
                            f"{violation['id']} ({violation['impact']}): {targets}"
                        )
    assert checked > 60, checked
    assert english > 60, english
    english_left = [
        f"{where}\n" + "\n".join(f"    {text}" for text in left)
        for where, left in sorted(left_in_vietnamese.items())
    ]
    assert not failures and not english_left, "\n".join(
        [
            f"{len(failures)} violations:",
            *sorted(set(failures)),
            f"{len(english_left)} English pages show Vietnamese not marked as data (lang=vi):",
            *english_left,
        ]
    )
