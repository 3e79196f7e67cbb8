"""The permission matrix (issue 4): every staff route and every API action, for every role.

The routes come from the application itself (``app.url_map``), so a route nobody thought
about fails here, by name:

1. every route is static, public (``@public``) or names its roles (``@roles``: default
   deny), and the roles each staff route admits equal the table ``EXPECTED`` below, written
   by hand from DESIGN.md ("Who uses it", the JSON API contract), issues 3, 4 and 6 and the
   permission table of feedback.domain.permissions;
2. each staff route, each of its methods, is requested for real by each of the seven roles
   and by an anonymous visitor: pages in a logged-in session with a valid CSRF token, the
   JSON API with a bearer token. A role outside the table gets 403 (anonymous: the login
   page, or 401 from the API), a role inside it is never refused, and nobody gets a 5xx;
3. the case actions (every staff POST route with a ``<code>``: the desk's workflow and link,
   the API's acknowledge, transfer, answer, close and reopen) are checked against
   ``granted`` for a case of UBND-00688: an actor lacking the action's operation gets 403
   (or 404 when it may not even see the case), one holding it is never refused.

URL parameters are real objects made in the test (a case of UBND-00688 with an attachment, a
suggestion box of Phường Quang Trung and one of its openings, a 1022 batch, apology letters,
a calendar override), so each handler reaches its own checks; every POST gets fresh ones,
so one request's effect never decides the next one's answer. A "role inside the table" may
get 200, a redirect, 404 (the object is out of its reach), 409 or 422 (an invalid move or an
empty form): anything but 401, 403, a redirect to the login page or a 5xx.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from helpers import csrf_from, log_in
from sqlalchemy import select
from werkzeug.routing import Rule

from feedback.database import unit_of_work
from feedback.domain.deadlines import local_date
from feedback.domain.permissions import CaseFacts, Op, Subject, granted
from feedback.extensions import db
from feedback.models import (
    ApologyLetter,
    Attachment,
    CalendarOverride,
    Case,
    SuggestionBox,
    User,
)
from feedback.security.access import API_PREFIXES
from feedback.services.accounts.users import issue_token
from feedback.services.handling import actions as handling
from feedback.services.handling import letters
from feedback.services.intake.attachments import make_upload
from feedback.services.intake.boxes import BoxInput, OpeningInput, create_box, record_opening
from feedback.services.intake.import1022 import import_1022
from feedback.services.intake.submission import CaseInput, Reporter, submit_case
from feedback.services.reference.calendar import add_override

ROLES = ("operator", "clerk", "coordinator", "officer", "unit_head", "inspector", "admin")
UNIT = "UBND-00688"  # handles 6.3b (roads, street lights) in Phường Quang Trung
OTHER_UNIT = "UBND-00691"  # Phường Trần Phú's committee: never handles the test's cases
HOME_UNIT = {  # as the demo staff: the intake desk and the coordinator sit in VP
    "operator": "VP",
    "clerk": UNIT,
    "coordinator": "VP",
    "officer": UNIT,
    "unit_head": UNIT,
    "inspector": "TTR",
    "admin": None,
}
LOGIN = "/can-bo/dang-nhap"


def fs(*roles: str) -> frozenset[str]:
    return frozenset(roles)


# --- the expected table, by hand -----------------------------------------------------------

EVERYONE = fs(*ROLES)
CASE_ROLES = EVERYONE - {"admin"}  # hold Op.VIEW on some case; admins manage reference data
CITY = fs("coordinator", "inspector")  # see every case of the city
UNIT_STAFF = fs("officer", "unit_head")
DESK_1022 = fs("operator", "coordinator")  # the hotline and its city desk
BOX_READERS = fs("clerk", "coordinator", "inspector", "admin")
BOX_REGISTER = fs("coordinator", "admin")
BOX_OPENERS = fs("clerk", "coordinator")
LETTER_ROLES = CITY | UNIT_STAFF
REPORT_ROLES = CITY | UNIT_STAFF  # officers and heads only of VP and NV: UNIT_LIMITED

EXPECTED: dict[str, frozenset[str]] = {
    # admin: the working calendar (DESIGN.md: units, areas, categories, rules, calendar, users)
    "admin.calendar": fs("admin"),
    "admin.calendar_add": fs("admin"),
    "admin.calendar_remove": fs("admin"),
    "admin.calendar_year": fs("admin"),
    "reference.index": fs("admin"),
    # admin: staff accounts (lock, unlock, revoke tokens, end sessions; issue 13)
    "admin.accounts_page": fs("admin"),
    "admin.account_deactivate": fs("admin"),
    "admin.account_activate": fs("admin"),
    "admin.account_revoke_tokens": fs("admin"),
    "admin.account_end_sessions": fs("admin"),
    # the JSON API: search for whoever sees cases; each action for the holders of its
    # operation, "with the same permissions as the pages" (issue 4)
    "api.list_cases": CASE_ROLES,
    "api.oversight_breaches": CITY,
    "api.acknowledge": fs("coordinator", "officer", "unit_head"),  # Op.ACKNOWLEDGE
    "api.transfer": fs("coordinator", "officer", "unit_head"),  # Op.TRANSFER
    "api.answer": UNIT_STAFF,  # Op.DRAFT_ANSWER (officer) or Op.APPROVE_ANSWER (head)
    "api.close": fs("coordinator", "unit_head"),  # Op.CLOSE
    "api.reopen": fs("coordinator"),  # Op.REOPEN
    "api.progress": UNIT_STAFF,  # Op.PROGRESS
    "auth.logout": EVERYONE,
    # suggestion boxes (issue 3): the register is reference data (admin) and the city
    # desk's; the opener unit's clerks and the coordinator open, transcribe and close
    "boxes.index": BOX_READERS,
    "boxes.box": BOX_READERS,
    "boxes.new_box": BOX_REGISTER | {"clerk"},  # a clerk: his own unit's boxes (issue 16)
    "boxes.deactivate": BOX_REGISTER,
    "boxes.record": BOX_OPENERS,
    "boxes.opening": BOX_OPENERS | {"inspector"},  # an opening lists cases: not admins
    "boxes.transcribe": BOX_OPENERS,
    "boxes.close": BOX_OPENERS,
    "boxes.correct_count": fs("coordinator"),  # the minutes' count: Văn phòng only
    # the desk: everyone lands on the inbox after login (an admin's is empty)
    "desk.inbox": EVERYONE,
    "desk.case": CASE_ROLES,
    "desk.link": fs("coordinator", "inspector", "officer", "unit_head"),  # Op.LINK
    # units without a head and who approves for them (issue 16)
    "desk.headless_units": fs("coordinator", "admin"),
    "desk.name_approver": fs("coordinator", "admin"),
    "exports.cases_csv": CASE_ROLES,
    "exports.cases_xlsx": CASE_ROLES,
    "files.download": CASE_ROLES,
    "hotline.desk": DESK_1022,
    "imports.upload": DESK_1022,
    "imports.batch": DESK_1022,
    # apology letters (issue 6): the late unit and the city offices; only the coordinator
    # and the unit's head issue one
    "letters.index": LETTER_ROLES,
    "letters.pdf": LETTER_ROLES,
    "letters.deliver": LETTER_ROLES,
    "letters.issue": fs("coordinator", "unit_head"),
    # oversight: DESIGN.md names the inspectors; the coordinator sees every case of the city
    # anyway and is VP, the lead unit that is told of breaches
    "oversight.monitor": CITY,
    "oversight.dashboard": CITY,
    "reports.index": REPORT_ROLES,
    "reports.xlsx": REPORT_ROLES,
    "reports.pdf": REPORT_ROLES,
    "search.index": CASE_ROLES,
    # working a case: the holders of each step's operation in the permission table
    "workflow.triage": fs("coordinator"),
    "workflow.acknowledge": fs("coordinator", "officer", "unit_head"),
    "workflow.confirm_routing": fs("coordinator"),
    "workflow.transfer": fs("coordinator", "officer", "unit_head"),
    "workflow.reject": fs("coordinator", "unit_head"),
    "workflow.merge": fs("coordinator"),
    "workflow.assign": fs("unit_head"),
    "workflow.start": UNIT_STAFF,
    "workflow.note": fs("coordinator", "inspector", "officer", "unit_head"),
    "workflow.ask_citizen": UNIT_STAFF,
    "workflow.draft_answer": UNIT_STAFF,
    "workflow.approve_answer": fs("unit_head"),
    "workflow.return_draft": fs("unit_head"),
    "workflow.close": fs("coordinator", "unit_head"),
    "workflow.reopen": fs("coordinator"),
    "workflow.classify": fs("coordinator", "unit_head"),
    "workflow.extend": fs("unit_head"),
    "workflow.suspend": fs("coordinator", "unit_head"),
    "workflow.resume": fs("coordinator", "unit_head"),
    "workflow.withdraw_part": fs("coordinator", "unit_head"),
    # a progress update with a committed day (issue 16): whoever drafts the answer
    "progress.post": UNIT_STAFF,  # Op.PROGRESS
    # admin: SLA policies from a future day (issue 14)
    "policies.index": fs("admin"),
    "policies.change": fs("admin"),
    "ladder.index": fs("admin"),
    "ladder.add": fs("admin"),
    "ladder.delete": fs("admin"),
    "ladder.chairman": fs("admin"),
}
"""{endpoint: the roles that may use it}. A new staff route fails until it is added here."""

STAND_IN: dict[str, frozenset[str]] = {
    "workflow.approve_answer": fs("coordinator", "officer"),
    "workflow.return_draft": fs("coordinator", "officer"),
    "api.answer": fs("coordinator"),
}
"""Roles a route's gate also admits because they may stand in for the head of a unit
without one (its named approver, or the coordinator; issue 16). The case decides: on the
test's unit, which has a head, they get the 403 of any role outside the table."""

UNIT_LIMITED: dict[str, frozenset[str]] = {
    # the period reports are compiled by VP and NV (issue 6: "reminds VP and NV")
    "reports.index": fs("VP", "NV"),
    "reports.xlsx": fs("VP", "NV"),
    "reports.pdf": fs("VP", "NV"),
}
"""{endpoint: the units whose officers and unit heads may use it}; other units get 403."""

EXPECTED_PUBLIC = fs(
    "public.index",
    "public.accessibility",
    "public.submit",
    "public.submitted",
    "public.lookup",
    "public.lost_key",  # "lost my key": a new key sent to the contact on record, not shown
    "public.lost_key_sent",
    "follow.status",
    "follow.reply",
    "follow.rate",
    "follow.reopen",
    "follow.photo",  # a progress update's photo, for the session that proved the key
    "follow.forget",
    "transparency.index",
    "auth.login",
    "api.create_case",
    "api.get_case",
    "api.add_attachments",
    "api.deadlines",
    "api.openapi_json",
    "api.docs",
    # Open311 GeoReport v2: reads are public by the standard; POST requests checks its
    # api_key (a staff token) itself.
    "open311.discovery",
    "open311.services",
    "open311.service_definition",
    "open311.create_request",
    "open311.requests",
    "open311.one_request",
    "open311.token",
    "open311.not_found",
)
"""Reachable without login: the citizen's pages, the login form, the citizen's API."""

ACTION_OPS: dict[str, frozenset[Op]] = {
    "workflow.acknowledge": frozenset({Op.ACKNOWLEDGE}),
    "workflow.confirm_routing": frozenset({Op.ROUTE}),
    "workflow.transfer": frozenset({Op.TRANSFER}),
    "workflow.reject": frozenset({Op.REJECT}),
    "workflow.merge": frozenset({Op.MERGE}),
    "workflow.assign": frozenset({Op.ASSIGN}),
    "workflow.start": frozenset({Op.START}),
    "workflow.note": frozenset({Op.NOTE}),
    "workflow.ask_citizen": frozenset({Op.ASK_CITIZEN}),
    "workflow.draft_answer": frozenset({Op.DRAFT_ANSWER}),
    "workflow.approve_answer": frozenset({Op.APPROVE_ANSWER}),
    "workflow.return_draft": frozenset({Op.APPROVE_ANSWER}),
    "workflow.close": frozenset({Op.CLOSE}),
    "workflow.reopen": frozenset({Op.REOPEN}),
    "workflow.classify": frozenset({Op.CLASSIFY}),
    "workflow.extend": frozenset({Op.EXTEND}),
    "workflow.suspend": frozenset({Op.SUSPEND}),
    "workflow.resume": frozenset({Op.SUSPEND}),
    "workflow.withdraw_part": frozenset({Op.WITHDRAW}),
    "progress.post": frozenset({Op.PROGRESS}),
    "desk.link": frozenset({Op.LINK}),
    "api.acknowledge": frozenset({Op.ACKNOWLEDGE}),
    "api.transfer": frozenset({Op.TRANSFER}),
    "api.answer": frozenset({Op.DRAFT_ANSWER, Op.APPROVE_ANSWER}),
    "api.close": frozenset({Op.CLOSE}),
    "api.reopen": frozenset({Op.REOPEN}),
    "api.progress": frozenset({Op.PROGRESS}),
}
"""{case action endpoint: the operations any one of which lets an actor take it}."""

# What a POST sends: valid enough that an allowed actor's request reaches the services.
# "{code}" is another case of the unit, "{assignee}" an officer of the unit.
ANSWER = "Đã thay bóng đèn hỏng trước số nhà 120 vào sáng nay."
REASON = "Người dân chưa đồng ý với kết quả giải quyết."
FORMS: dict[str, dict[str, str]] = {
    "workflow.transfer": {"unit_code": "QLDT", "reason": "Nội dung thuộc Phòng Quản lý đô thị."},
    "workflow.reject": {"reason": "Nội dung không thuộc thẩm quyền của thành phố."},
    "workflow.merge": {"into": "{code}"},
    "workflow.assign": {"officer": "{assignee}"},
    "workflow.note": {"note": "Đã gọi điện hẹn kiểm tra hiện trường."},
    "workflow.ask_citizen": {"question": "Đề nghị cho biết số nhà gần nhất."},
    "workflow.draft_answer": {"body": ANSWER},
    "workflow.approve_answer": {"body": ANSWER},
    "workflow.return_draft": {"reason": "Ghi rõ ngày thay bóng đèn."},
    "workflow.reopen": {"reason": REASON},
    "workflow.classify": {"complexity": "complex", "reason": "Nhiều hộ dân liên quan."},
    "workflow.extend": {"reason": "Cần xác minh thêm.", "decision": "QĐ 1/QĐ-UBND"},
    "workflow.suspend": {"reason": "Chờ kết quả vụ việc liên quan."},
    "workflow.resume": {"reason": "Đã có kết quả vụ việc liên quan."},
    "workflow.withdraw_part": {"withdrawn": "Yêu cầu bồi thường."},
    "progress.post": {"body": "Đã khảo sát, chờ vật tư thay bóng đèn.", "committed_on": "{day}"},
    "desk.link": {"link_to": "{code}"},
    "letters.deliver": {"via": "post"},
}
API_BODIES: dict[str, dict[str, Any]] = {
    "api.transfer": {"unit_code": "QLDT", "reason": "Nội dung thuộc Phòng Quản lý đô thị."},
    "api.answer": {"body": ANSWER},
    "api.reopen": {"reason": REASON},
    "api.progress": {"body": "Đã khảo sát, chờ vật tư thay bóng đèn.", "committed_on": "{day}"},
}


# --- the routes, from the app --------------------------------------------------------------


def is_public(app: Flask, rule: Rule) -> bool:
    return bool(getattr(app.view_functions[rule.endpoint], "is_public", False))


def is_api(rule: Rule) -> bool:
    return rule.rule.startswith(API_PREFIXES)


def methods_of(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def staff_requests(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) that is neither static nor public; logging out comes last."""
    found = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not is_public(app, rule)
        for method in methods_of(rule)
    ]
    return sorted(found, key=lambda rm: (rm[0].endpoint == "auth.logout", rm[0].endpoint, rm[1]))


def action_rules(app: Flask) -> dict[str, Rule]:
    """The case actions: every staff POST route with a ``<code>`` parameter."""
    return {
        rule.endpoint: rule
        for rule, method in staff_requests(app)
        if method == "POST" and "code" in rule.arguments
    }


def png_bytes() -> bytes:
    """A 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


# --- the objects and the callers -----------------------------------------------------------


@dataclass
class Caller:
    label: str
    role: str | None  # None: an anonymous visitor
    unit: str | None
    user_id: int | None
    client: FlaskClient
    token: str | None
    csrf: str


@dataclass
class Answer:
    status: int
    location: str = ""
    is_json: bool = False
    raised: str | None = None

    def __str__(self) -> str:
        if self.raised:
            return f"an exception ({self.raised})"
        return f"{self.status} → {self.location}" if self.location else str(self.status)


class World:
    """The objects every request needs, made through the services in this test's database,
    and the callers: one account (created once) per role asked about."""

    def __init__(self, app: Flask, make_user: Any) -> None:
        self.app, self.make_user = app, make_user
        self.seq = itertools.count(1)
        self.now = datetime.now(UTC)
        self.coordinator_id, _ = make_user("coordinator", unit_code="VP")
        self.head_id, _ = make_user("unit_head", unit_code=UNIT)
        _, self.assignee = make_user("officer", unit_code=UNIT)
        self.code = self.new_case()
        with app.app_context():
            case = db.session.scalar(select(Case).where(Case.code == self.code))
            assert case is not None and case.handling_unit.code == UNIT, "routing changed"
        self.args: dict[str, Any] = {
            "code": self.code,
            "attachment_id": self.new_attachment(),
            "box_id": self.new_box(),
            "batch_id": self.new_batch(),
            "letter_id": self.new_letter(kind="feedback", issued=True),
            "override_id": self.new_override(),
            "policy_id": 1,
            "period": "2024-Q1",
            "user_id": self.new_account(),
        }
        self.args["opening_id"] = self.new_opening(self.args["box_id"], letter_count=1)
        day = local_date(self.now) + timedelta(days=2)  # a progress update's committed day
        self.fill = {"code": self.code, "assignee": self.assignee, "day": day.isoformat()}

    # objects

    def new_case(
        self,
        *,
        kind: str = "feedback",
        actor_id: int | None = None,
        received: datetime | None = None,
        uploads: tuple[Any, ...] = (),
    ) -> str:
        data = CaseInput(
            kind=kind,
            subject="Đèn đường hỏng ở tổ 5",
            body="Ba cột đèn trước nhà văn hóa tổ 5 không sáng từ tuần trước.",
            category_code="6.3b",
            area_code="00688",
            address="Tổ 5, phường Quang Trung",
            reporter=Reporter(name="Trần Thị Bình", phone="0912000111", email="binh@example.vn"),
            uploads=uploads,
        )
        with self.app.app_context(), unit_of_work():
            actor = db.session.get(User, actor_id) if actor_id else None
            return submit_case(data, actor=actor, now=received or self.now).case.code

    def new_attachment(self) -> int:
        with self.app.app_context():
            code = self.new_case(uploads=(make_upload("den-hong.png", png_bytes()),))
            return db.session.scalar(
                select(Attachment.id)
                .join(Case, Case.id == Attachment.case_id)
                .where(Case.code == code)
            )

    def new_box(self) -> int:
        with self.app.app_context(), unit_of_work():
            actor = db.session.get(User, self.coordinator_id)
            data = BoxInput(f"HT-MATRIX-{next(self.seq)}", "Nhà văn hóa tổ 5", "00688", None)
            return create_box(data, actor=actor, now=self.now).id

    def new_opening(self, box_id: int | None = None, letter_count: int = 0) -> int:
        with self.app.app_context(), unit_of_work():
            box = db.session.get(SuggestionBox, box_id or self.args["box_id"])
            data = OpeningInput(
                opened_at=self.now - timedelta(minutes=next(self.seq)),
                witnesses="Nguyễn Văn An\nHoàng Thị Hoa",
                letter_count=letter_count,
                minutes=make_upload("bien-ban.png", png_bytes(), field="minutes"),
            )
            actor = db.session.get(User, self.coordinator_id)
            return record_opening(box, data, actor=actor, now=self.now).id

    def new_batch(self) -> int:
        received = (self.now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        text = (
            "ticket,received_at,kind,subject,body,category_code,area_code\n"
            f"1022-M{next(self.seq)},{received},feedback,Đèn đường hỏng,"
            "Ba cột đèn ở tổ 5 không sáng.,6.3b,00688\n"
        )
        with self.app.app_context(), unit_of_work():
            return import_1022(text.encode(), "lo-1022.csv", actor=None, now=self.now).id

    def new_letter(self, *, kind: str, issued: bool) -> int:
        """The apology owed for a case of UNIT answered late by its head; issued by the
        coordinator when ``issued``."""
        received = self.now - timedelta(days=150 if kind == "denunciation" else 30)
        code = self.new_case(kind=kind, received=received)
        with self.app.app_context(), unit_of_work():
            case = db.session.scalar(select(Case).where(Case.code == code))
            head = db.session.get(User, self.head_id)
            handling.acknowledge(case, head, received + timedelta(hours=1))
            handling.approve_answer(case, head, self.now, ANSWER)
        with self.app.app_context(), unit_of_work():
            letter = db.session.scalar(
                select(ApologyLetter)
                .join(Case, Case.id == ApologyLetter.case_id)
                .where(Case.code == code)
            )
            assert letter is not None, "a late answer owes an apology: check the test's dates"
            if issued:
                letters.issue(letter, db.session.get(User, self.coordinator_id), self.now)
            return letter.id

    def new_override(self) -> int:
        day = date(2099, 1, 1) + timedelta(days=next(self.seq))
        with self.app.app_context(), unit_of_work():
            add_override(day, "off", "Thông báo số 1/TB-UBND (thử)", "", now=self.now)
            return db.session.scalar(select(CalendarOverride.id).where(CalendarOverride.day == day))

    def new_account(self) -> int:
        """An account no caller uses, for the admin's account buttons to act on."""
        user_id, _ = self.make_user("operator")
        return int(user_id)

    def fresh_args(self, endpoint: str, rule: Rule) -> dict[str, Any]:
        """New objects for a POST, so that no earlier request has moved them."""
        args = dict(self.args)
        if "code" in rule.arguments:
            args["code"] = self.new_case()
        if endpoint == "letters.issue":
            args["letter_id"] = self.new_letter(kind="feedback", issued=False)
        if endpoint == "letters.deliver":
            # an inspector may record the delivery of a denunciation's letter only (he alone
            # may see the denouncer's address); the others may deliver any of their unit's
            args["letter_id"] = self.new_letter(kind="denunciation", issued=True)
        if endpoint == "boxes.deactivate":
            args["box_id"] = self.new_box()
        if endpoint in ("boxes.close", "boxes.correct_count"):
            args["opening_id"] = self.new_opening()
        if endpoint == "admin.calendar_remove":
            args["override_id"] = self.new_override()
        if "user_id" in rule.arguments:
            args["user_id"] = self.new_account()
        return args

    # callers

    def caller(self, role: str | None, unit: str | None) -> Caller:
        client = self.app.test_client()
        if role is None:
            return Caller(
                "anonymous", None, None, None, client, None, csrf_from(client.get(LOGIN).text)
            )
        user_id, username = self.make_user(role, unit_code=unit)
        log_in(client, username)
        with self.app.app_context(), unit_of_work():
            token = issue_token(db.session.get(User, user_id), self.now)
        # The public home page carries the logged-in menu's logout form and its token.
        csrf = csrf_from(client.get("/").text)
        return Caller(f"{role}@{unit or '-'}", role, unit, user_id, client, token, csrf)

    # requests

    def url(self, rule: Rule, args: dict[str, Any]) -> str:
        missing = set(rule.arguments) - set(args)
        assert not missing, (
            f"{rule.endpoint} ({rule.rule}) has URL parameters {sorted(missing)} this test "
            "cannot fill: teach World to make one"
        )
        with self.app.test_request_context():
            return url_for(rule.endpoint, **{k: args[k] for k in rule.arguments})

    def call(self, who: Caller, rule: Rule, method: str, args: dict[str, Any]) -> Answer:
        url = self.url(rule, args)
        options: dict[str, Any] = {"method": method}
        if is_api(rule):
            options["headers"] = {"Authorization": f"Bearer {who.token}"} if who.token else {}
            if method == "POST" and rule.endpoint in API_BODIES:
                body = API_BODIES[rule.endpoint]
                options["json"] = {
                    k: v.format(**self.fill) if isinstance(v, str) else v for k, v in body.items()
                }
        elif method == "POST":
            form = {k: v.format(**self.fill) for k, v in FORMS.get(rule.endpoint, {}).items()}
            options["data"] = {"csrf_token": who.csrf, **form}
        try:
            response = who.client.open(url, **options)
        except Exception as exc:  # TESTING propagates what would be a 500
            return Answer(500, raised=f"{type(exc).__name__}: {exc}")
        try:
            return Answer(
                response.status_code, response.headers.get("Location", ""), response.is_json
            )
        finally:
            response.close()


def to_login(answer: Answer) -> bool:
    """A redirect to the login form that asks to come back (feedback.security's refusal of
    an anonymous page request; logging out goes to the bare form)."""
    if answer.status not in (301, 302, 303):
        return False
    target = urlsplit(answer.location)
    return target.path == LOGIN and "next=" in target.query


def route_problem(who: Caller, rule: Rule, answer: Answer) -> str | None:
    """What is wrong with ``answer`` to ``who`` by the expected table; None if nothing."""
    if answer.status >= 500:
        return f"got {answer}"
    api = is_api(rule)
    if who.role is None:
        if api:
            ok, wanted = answer.status == 401 and answer.is_json, "401 (JSON)"
        else:
            ok, wanted = answer.status == 403 or to_login(answer), "the login page or 403"
        return None if ok else f"expected {wanted}, got {answer}"
    allowed = who.role in EXPECTED[rule.endpoint]
    units = UNIT_LIMITED.get(rule.endpoint)
    if allowed and units is not None and who.role in UNIT_STAFF:
        allowed = who.unit in units
    if not allowed:
        ok = answer.status == 403 and (answer.is_json or not api)
        return None if ok else f"not in the table: expected 403, got {answer}"
    if answer.status in (401, 403) or to_login(answer):
        return f"in the table: expected no refusal, got {answer}"
    return None


def report(problems: list[str], what: str) -> str:
    return f"{len(problems)} {what}:\n  " + "\n  ".join(problems)


# --- 1. every route is classified, and the staff routes admit the table's roles -------------


def test_every_route_is_static_public_or_names_its_roles(app: Flask) -> None:
    problems = []
    public = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "allowed_roles", None)
        where = f"{rule.endpoint} ({', '.join(methods_of(rule))} {rule.rule})"
        if is_public(app, rule):
            public.add(rule.endpoint)
            if roles is not None:
                problems.append(f"{where} is both @public and @roles")
        elif not roles:
            problems.append(f"{where} names no roles: nobody may use it (default deny)")
        elif not set(roles) <= set(ROLES):
            problems.append(f"{where} names unknown roles {sorted(set(roles) - set(ROLES))}")
    for endpoint in sorted(public - EXPECTED_PUBLIC):
        problems.append(f"{endpoint} is public but not in EXPECTED_PUBLIC: should it be?")
    for endpoint in sorted(EXPECTED_PUBLIC - public):
        problems.append(f"{endpoint} is in EXPECTED_PUBLIC but is not a public route")
    assert not problems, report(problems, "routes out of place")


def test_each_staff_route_admits_exactly_the_roles_of_the_table(app: Flask) -> None:
    actual: dict[str, tuple[Rule, frozenset[str]]] = {}
    for rule, _ in staff_requests(app):
        view = app.view_functions[rule.endpoint]
        actual[rule.endpoint] = (rule, frozenset(getattr(view, "allowed_roles", ())))
    problems = []
    for endpoint, (rule, roles) in sorted(actual.items()):
        if endpoint not in EXPECTED:
            problems.append(
                f"{endpoint} ({', '.join(methods_of(rule))} {rule.rule}) is a new staff route, "
                f"admitting {sorted(roles)}: decide its roles and add it to EXPECTED"
            )
        elif roles != EXPECTED[endpoint] | STAND_IN.get(endpoint, frozenset()):
            gate = EXPECTED[endpoint] | STAND_IN.get(endpoint, frozenset())
            extra, missing = sorted(roles - gate), sorted(gate - roles)
            problems.append(
                f"{endpoint} ({rule.rule}) admits {sorted(roles)}; the table says "
                f"{sorted(EXPECTED[endpoint])} (admitted but not expected: {extra}; "
                f"expected but refused: {missing})"
            )
    for endpoint in sorted(set(EXPECTED) - set(actual)):
        problems.append(f"{endpoint} is in EXPECTED but the app has no such staff route")
    assert not problems, report(problems, "staff routes disagree with the table")


def test_the_table_gives_each_case_action_to_the_holders_of_its_operations() -> None:
    """The hand-written table agrees with feedback.domain.permissions: a case action is for
    exactly the roles that hold one of its operations on some case (their unit's, or one
    they entered)."""
    facts = CaseFacts(handling_unit_code=UNIT, kind="feedback", created_by_id=1)
    for endpoint, ops in ACTION_OPS.items():
        holders = {r for r in ROLES if ops & granted(Subject(r, UNIT, 1), facts)}
        assert EXPECTED[endpoint] == holders, (endpoint, sorted(holders))


# --- 2. each staff route × each role, for real ---------------------------------------------


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "anonymous"])
def test_every_staff_route_answers_every_role_as_the_table_says(
    app: Flask, make_user: Any, role: str | None
) -> None:
    world = World(app, make_user)
    callers = [world.caller(role, HOME_UNIT.get(role or ""))]
    if role in UNIT_STAFF:  # for the routes only some units' staff may use
        callers.append(world.caller(role, "NV" if role == "officer" else "VP"))
    problems, asked = [], 0
    for rule, method in staff_requests(app):
        for who in callers:
            if who is not callers[0] and rule.endpoint not in UNIT_LIMITED:
                continue
            if rule.endpoint not in EXPECTED:
                problems.append(f"{rule.endpoint} is not in EXPECTED (see the table test)")
                continue
            args = world.fresh_args(rule.endpoint, rule) if method == "POST" else world.args
            answer = world.call(who, rule, method, args)
            asked += 1
            problem = route_problem(who, rule, answer)
            if problem:
                url = world.url(rule, args)
                problems.append(f"{who.label}: {method} {url} ({rule.endpoint}): {problem}")
    assert asked >= len(EXPECTED)
    assert not problems, report(problems, "answers disagree with the table")


# --- 3. the case actions × the permission table ---------------------------------------------

ACTORS = [
    # (id, role, unit, entered the case himself)
    ("operator-who-entered-it", "operator", "VP", True),
    ("operator", "operator", "VP", False),
    ("clerk-who-entered-it", "clerk", UNIT, True),
    ("clerk", "clerk", UNIT, False),
    ("coordinator", "coordinator", "VP", False),
    ("officer", "officer", UNIT, False),
    ("officer-of-another-unit", "officer", OTHER_UNIT, False),
    ("unit_head", "unit_head", UNIT, False),
    ("unit_head-of-another-unit", "unit_head", OTHER_UNIT, False),
    ("inspector", "inspector", "TTR", False),
    ("admin", "admin", None, False),
]


def action_problem(ops: frozenset[Op], needed: frozenset[Op], answer: Answer) -> str | None:
    if answer.status >= 500:
        return f"got {answer}"
    if ops & needed:
        if answer.status in (401, 403, 404) or to_login(answer):
            return f"holds {sorted(ops & needed)}: expected no refusal, got {answer}"
        return None
    if Op.VIEW in ops:
        return (
            None if answer.status == 403 else f"lacks {sorted(needed)}: expected 403, got {answer}"
        )
    if answer.status in (403, 404):
        return None
    return f"may not even see the case: expected 403 or 404, got {answer}"


@pytest.mark.parametrize(
    ("role", "unit", "entered"), [a[1:] for a in ACTORS], ids=[a[0] for a in ACTORS]
)
def test_case_actions_follow_the_permission_table(
    app: Flask, make_user: Any, role: str, unit: str | None, entered: bool
) -> None:
    rules = action_rules(app)
    assert set(rules) == set(ACTION_OPS), (
        "case actions changed: new "
        f"{sorted(set(rules) - set(ACTION_OPS))}, gone {sorted(set(ACTION_OPS) - set(rules))}; "
        "name the operations each needs in ACTION_OPS"
    )
    world = World(app, make_user)
    who = world.caller(role, unit)
    problems = []
    for endpoint, rule in sorted(rules.items()):
        code = world.new_case(actor_id=who.user_id if entered else None)
        with app.app_context():
            case = db.session.scalar(select(Case).where(Case.code == code))
            assert case is not None and case.handling_unit.code == UNIT
            facts = CaseFacts(UNIT, case.kind, case.created_by_id)
        ops = granted(Subject(role, unit, who.user_id or 0), facts)
        answer = world.call(who, rule, "POST", {**world.args, "code": code})
        problem = action_problem(ops, ACTION_OPS[endpoint], answer)
        if problem:
            problems.append(f"{who.label}: POST {world.url(rule, {'code': code})}: {problem}")
    assert not problems, report(problems, "case actions disagree with the permission table")
