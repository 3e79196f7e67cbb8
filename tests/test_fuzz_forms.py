"""The HTML side under fuzzing, as tests/test_fuzz_api.py does for the JSON API (issue 13,
finding 7): hostile values in every field of every form and every query parameter of every
page, as every role and anonymously, on each engine (the ``app`` fixture): never a 5xx.

What is sent comes from the application itself, not from a list kept by hand:

- the routes are ``app.url_map``'s (everything but the API, Open311 and static files), their
  variables filled with real objects (a case, a box, the accounts) or, where none exists,
  a number;
- each role's client opens every GET route and reads the forms on the pages it gets
  (action, method, fields and their shown values) and the query parameters of the links;
- every field of every POST form is then sent hostile, one at a time, the others kept as
  the page filled them, with the page's real CSRF token (CSRF stays on); then the field
  left out, then sent twice. Every GET form field and every link or paging parameter is
  sent the same way in the query string of its page; each route's path variables too;
- POST routes no page showed (an action the role may not take) get a hostile body anyway.

Derandomised and bounded: each field gets a NUL byte and a few of the other hostile
values, chosen by rotating through the list so that every value reaches many fields; the
whole run is about 3,000 requests per engine. Logout is left alone (it takes no input but
the token, and would end the session the rest of the run needs).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from helpers import staff_client
from werkzeug.datastructures import MultiDict

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import SuggestionBox, User
from feedback.services.intake.boxes import BoxInput, create_box
from feedback.services.intake.submission import CaseInput, Reporter, submit_case

HOSTILE = (
    "\x00",
    "a\x00b",
    "\x1b[31m\x7f\x85",
    "\u202egpj.exe",
    "Trần\u200b Thị\u2067 Bình",
    "x" * 10_000,
    "9" * 30,
    "-1",
    "-99999999999999999999",
    "1e400",
    "0",
    "Ｈà Giang 🙂 \U0010ffff",
    "' OR '1'='1' --",
    "<script>alert(1)</script>\"'>",
    "%_\\",
    "../../etc/passwd",
    "",
    " ",
    "\r\n\t",
)
PATH_HOSTILE = ("\x00", "9" * 30, "\u202e'")
PER_FIELD = 2  # hostile values per form field (rotating through HOSTILE), then left out, twice
PER_PARAMETER = 2  # per query parameter a page's forms and links show; 1 for QUERY_NAMES
ROLES: tuple[tuple[str | None, str | None], ...] = (
    (None, None),  # anonymous
    ("operator", None),
    ("clerk", "UBND-00688"),
    ("coordinator", None),
    ("officer", "UBND-00688"),
    ("unit_head", "UBND-00688"),
    ("inspector", None),
    ("admin", None),
)
QUERY_NAMES = ("page", "per_page", "trang", "q", "lang", "next", "year")
"""Parameters tried on every page besides those its forms and links show."""
SKIPPED = {"auth.logout", "static"}
CASE = {
    "kind": "feedback",
    "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
    "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
    "category_code": "6.3b",
    "area_code": "00688",
}


# --- reading the pages -------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)


class _Forms(HTMLParser):
    """The forms of a page (with each field's shown value) and the links' query names."""

    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[Form] = []
        self.links: set[tuple[str, str]] = set()
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action") or self.page_path, (a.get("method") or "get").lower())
            self.forms.append(self._form)
        elif tag == "a" and "?" in a.get("href", ""):
            split = urlsplit(a["href"])
            for name, _ in parse_qsl(split.query, keep_blank_values=True):
                self.links.add((split.path, name))
        elif self._form is None or (not a.get("name") and tag != "option"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                if a.get("name"):
                    self._form.fields.append((a["name"], a.get("value", "")))
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                if kind == "radio" and not any(n == a["name"] for n, _ in self._form.fields):
                    self._form.fields.append((a["name"], a.get("value", "")))
                return
            if kind == "file":
                return
            self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""
        elif tag == "select":
            self._select, self._select_value = a["name"], None
        elif (
            tag == "option"
            and self._select is not None
            and (self._select_value is None or "selected" in a)
        ):
            self._select_value = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea, self._text))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            self._form.fields.append((self._select, self._select_value or ""))
            self._select = None


# --- the world ---------------------------------------------------------------------------


@dataclass
class World:
    code: str
    key: str
    values: dict[str, str]
    clients: list[tuple[str, FlaskClient]]


def _world(app: Flask, make_user: Callable[..., Any]) -> World:
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():
        submitted = submit_case(
            CaseInput(**CASE, reporter=Reporter(name="Trần Thị Bình", phone="0912000111")),
            actor=None,
            now=now,
        )
        code, key = submitted.case.code, submitted.access_key or ""
    clients: list[tuple[str, FlaskClient]] = []
    for role, unit in ROLES:
        if role is None:
            citizen = app.test_client()
            page = citizen.get("/tra-cuu")
            token = _token(page.text)
            answer = citizen.post("/tra-cuu", data={"code": code, "access_key": key, **token})
            assert answer.status_code == 303, answer.text
            clients.append(("anonymous", citizen))
        else:
            clients.append((role, staff_client(app, make_user, role, unit)))
    with app.app_context(), unit_of_work():
        coordinator = db.session.scalar(db.select(User).where(User.role == "coordinator"))
        box = BoxInput("HT-FUZZ", "Trước cổng UBND phường", "00688")
        create_box(box, actor=coordinator, now=now)
        box_id = db.session.scalar(db.select(SuggestionBox.id))
        user_id = db.session.scalar(db.select(User.id).order_by(User.id))
    values = {
        "code": code,
        "box_id": str(box_id),
        "user_id": str(user_id),
        "period": "2024-Q1",
    }
    return World(code, key, values, clients)


def _token(html: str) -> dict[str, str]:
    parser = _Forms("/")
    parser.feed(html)
    for form in parser.forms:
        for name, value in form.fields:
            if name == "csrf_token":
                return {"csrf_token": value}
    return {}


def _routes(app: Flask) -> Iterator[tuple[str, str, set[str], list[str]]]:
    """(endpoint, rule, methods, variable names) of every HTML route."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith(("/api/", "/open311/", "/static")) or rule.endpoint in SKIPPED:
            continue
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        yield rule.endpoint, rule.rule, methods, sorted(rule.arguments)


def _fill(rule: str, values: dict[str, str], override: dict[str, str] | None = None) -> str:
    path = rule
    for name, value in {**values, **(override or {})}.items():
        for pattern in (f"<{name}>", f"<int:{name}>", f"<int(max=2147483647):{name}>"):
            path = path.replace(pattern, quote(value, safe=""))
    while "<" in path:  # a variable nothing was made for: a number that names nothing
        start, end = path.index("<"), path.index(">")
        path = path[:start] + "1" + path[end + 1 :]
    return path


# --- sending -----------------------------------------------------------------------------


class Sender:
    def __init__(self) -> None:
        self.sent = 0
        self.failures: list[str] = []
        self._rotation = itertools.cycle(range(len(HOSTILE)))

    def picks(self, count: int = PER_FIELD) -> list[str]:
        """A NUL byte (PostgreSQL's 500 before the input gate) and ``count`` others."""
        start = next(self._rotation)
        return ["a\x00b", *(HOSTILE[(start + i * 5) % len(HOSTILE)] for i in range(count))]

    def send(self, who: str, client: FlaskClient, method: str, path: str, **kw: Any) -> None:
        self.sent += 1
        try:
            # Closed at once: a streamed export keeps its request context open until then.
            with client.open(path, method=method, **kw) as response:
                status = response.status_code
        except Exception as exc:  # TESTING propagates what would have been a 500
            status = f"500 ({type(exc).__name__}: {str(exc)[:80]})"
        if not isinstance(status, int) or status >= 500:
            shown = {k: str(v)[:120] for k, v in kw.items()}
            self.failures.append(f"{who} {method} {path[:80]!r} {shown}: {status}")


def _variants(fields: list[tuple[str, str]], name: str, hostile: list[str]) -> Iterator[Any]:
    kept = [(n, v) for n, v in fields if n != name]
    for value in hostile:
        yield [*kept, (name, value)]
    yield kept  # left out
    yield [*kept, (name, hostile[0]), (name, "1")]  # twice, the hostile value first


def _fuzz_role(
    app: Flask, world: World, who: str, client: FlaskClient, sender: Sender, seen_posts: set[str]
) -> None:
    gets: list[tuple[str, list[str]]] = []
    forms: list[Form] = []
    links: set[tuple[str, str]] = set()
    for _endpoint, rule, methods, variables in _routes(app):
        if "GET" not in methods:
            continue
        path = _fill(rule, world.values)
        try:
            with client.get(path) as response:
                status, mimetype = response.status_code, response.mimetype
                html = response.text if mimetype == "text/html" else ""
        except Exception as exc:  # TESTING propagates what would have been a 500
            sender.failures.append(f"{who} GET {path}: 500 ({type(exc).__name__}: {exc})"[:300])
            continue
        if status >= 500:
            sender.failures.append(f"{who} GET {path}: {status}")
        if status != 200:
            continue  # refused before the view reads anything (login, 403, 404)
        if mimetype != "text/html":
            gets.append((path, []))
            continue
        parser = _Forms(path)
        parser.feed(html)
        forms += parser.forms
        links |= parser.links
        gets.append((path, variables))
        for variable in variables:  # hostile path segments, once per role and route
            for value in PATH_HOSTILE:
                sender.send(who, client, "GET", _fill(rule, world.values, {variable: value}))
    token = next((v for f in forms for n, v in f.fields if n == "csrf_token"), "")
    # Query parameters: every page's paging and link parameters, and every GET form's fields.
    for path, _ in gets:
        names = {n for p, n in links if p == path}
        names |= {n for f in forms if f.method == "get" and f.action == path for n, _ in f.fields}
        for name in sorted(names | set(QUERY_NAMES)):
            for value in sender.picks(PER_PARAMETER if name in names else 1):
                sender.send(who, client, "GET", path, query_string={name: value})
    # Every field of every POST form, one at a time.
    done: set[tuple[str, tuple[str, ...]]] = set()
    for form in forms:
        if form.method != "post" or form.action.startswith(("/api/", "/can-bo/dang-xuat")):
            continue
        key = (form.action, tuple(n for n, _ in form.fields))
        if key in done:
            continue
        done.add(key)
        seen_posts.add(urlsplit(form.action).path)
        for name, _ in form.fields:
            for data in _variants(form.fields, name, sender.picks()):
                sender.send(who, client, "POST", form.action, data=MultiDict(data))
    # POST routes this role was shown no form for: a hostile body with a valid token.
    for _endpoint, rule, methods, _ in _routes(app):
        path = _fill(rule, world.values)
        if "POST" in methods and path not in seen_posts:
            for value in sender.picks(0):
                body = {"csrf_token": token, "note": value, "reason": value, "x\x00": value}
                sender.send(who, client, "POST", path, data=body)


def test_hostile_input_in_every_form_and_parameter_is_never_a_5xx(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    world = _world(app, make_user)
    sender = Sender()
    seen_posts: set[str] = set()
    for who, client in world.clients:
        _fuzz_role(app, world, who, client, sender, seen_posts)
    assert sender.sent > 1500, sender.sent
    # The forms that matter were reached: the citizen's, the desk's, the case's actions.
    for path in ("/gui", "/tra-cuu", "/can-bo/1022/", f"/can-bo/ho-so/{world.code}/ghi-chu"):
        assert path in seen_posts, sorted(seen_posts)
    assert not sender.failures, "\n".join(sender.failures[:50])
