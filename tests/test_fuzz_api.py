"""The JSON API under fuzzing (issue 7): schemathesis, driven from pytest with its Python
API (schemathesis 4 has no ``--app`` flag), loads the app's own OpenAPI document
(``GET /api/v1/openapi.json``, ``schemathesis.openapi.from_wsgi``) and sends the requests
it generates to the Flask app in process.

Every answer must be: no 5xx (``not_a_server_error``), a status the document lists for the
operation (``status_code_conformance``), and a body that fits the documented schema of that
status (``response_schema_conformance``).

Two searches per engine:

- random: for each operation, ``MAX_EXAMPLES`` valid requests then ``MAX_EXAMPLES`` invalid
  ones (Hypothesis ``@given`` over ``operation.as_strategy(mode)``), derandomised (the same
  requests on every run, so CI is reproducible and a failure can be replayed), no example
  database written, a deadline per example; every failing operation is reported at once;
- a sweep: each of the NASTY values (NUL, quotes, LIKE wildcards, very long, ...) in each
  query parameter and path segment, one at a time.

The ``app`` fixture is function-scoped and parametrised over the engines (SQLite, and
PostgreSQL when ``TEST_DATABASE_URL`` is set), so the schema is loaded inside each test from
that app. (``schemathesis.pytest.from_fixture`` is not used: schemathesis 4.32 sets
``request.node._nodeid``, which pytest 9.2 no longer has.)

So that the fuzzer gets past the first refusal, the database holds a few real cases, and
generated case codes (and, for the citizen, access keys), reference codes, reporters and
files are mixed with real ones (hooks on the loaded schema). Staff operations run with a
coordinator's bearer token (the widest role for the actions), ``answer`` with the token of
the handling unit's head; the public operations run a second time without any token, as a
citizen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.extensions import db
from feedback.models import Area, Category, Unit, User
from feedback.services.accounts.users import issue_token

MAX_EXAMPLES = 100
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
PUBLIC_OPERATIONS = ("createCase", "getCase", "addAttachments", "previewDeadlines")

CONFIG = {
    "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
}
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=timedelta(seconds=10),
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)

NASTY = (
    "\x00",
    "a\x00b",
    "%",
    "_",
    "'",
    "\\",
    "' OR '1'='1",
    "Ｈ",
    "x" * 300,
    "9" * 40,
    " ",
    "\u202e",
    "🙂",
    "-1",
    "1e400",
    "0x10",
    "null",
    "[]",
)
"""Values sent, one at a time, in every query parameter and path segment (the sweep)."""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
CITIZEN_CASE = {
    "kind": "feedback",
    "subject": "Đèn đường hỏng trên đường Nguyễn Trãi",
    "body": "Ba cột đèn trước số nhà 120 không sáng từ tuần trước.",
    "category_code": "6.3b",
    "area_code": "00688",
    "reporter": {"name": "Trần Thị Bình", "phone": "0912000111"},
}


@dataclass
class World:
    """What the fuzzer may aim at: real case codes, their access keys, staff tokens."""

    codes: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture
def world(app: Flask, make_user: Callable[..., Any], make_case: Callable[..., str]) -> World:
    found = World()
    with app.app_context():
        for name, model in (("category", Category), ("area", Area), ("unit", Unit)):
            found.references[name] = list(db.session.scalars(select(model.code)))
    client = app.test_client()
    for changes in (
        {},  # UBND-00688 (street lights, Phường Quang Trung)
        {"category_code": None, "area_code": None},  # triage: VP
        {"kind": "denunciation", "category_code": "4.1", "area_code": None},
    ):
        response = client.post("/api/v1/cases", json={**CITIZEN_CASE, **changes})
        assert response.status_code == 201, response.text
        found.codes.append(response.json["code"])
        found.keys.append(response.json["access_key"])
    for name, role, unit in (
        ("coordinator", "coordinator", None),
        ("head", "unit_head", "UBND-00688"),
        ("head_vp", "unit_head", "VP"),
    ):
        user_id, _ = make_user(role, unit_code=unit)
        with app.app_context(), unit_of_work():
            found.tokens[name] = issue_token(db.session.get(User, user_id), datetime.now(UTC))
    # One case answered (so close and reopen can succeed), one late (for the breach list).
    bearer = {"Authorization": f"Bearer {found.tokens['head']}"}
    acknowledged = client.post(f"/api/v1/cases/{found.codes[0]}/acknowledge", headers=bearer)
    assert acknowledged.status_code == 200, acknowledged.text
    answered = client.post(
        f"/api/v1/cases/{found.codes[0]}/answer",
        json={"body": "Đã thay bóng đèn hỏng trước số nhà 120."},
        headers=bearer,
    )
    assert answered.status_code == 200, answered.text
    found.codes.append(make_case(now=datetime.now(UTC) - timedelta(days=20)))
    return found


def _load(app: Flask, world: World, *, citizen: bool) -> Any:
    loaded = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG)
    )

    @loaded.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        if not path_parameters or "code" not in path_parameters:
            return st.just(path_parameters)
        return st.one_of(
            st.just(path_parameters),
            st.sampled_from(world.codes).map(lambda code: {**path_parameters, "code": code}),
        )

    # Requests that get past the first refusal: real reference codes, a reporter who can be
    # answered, a file that is an image. Mixed in with what the fuzzer writes, never instead.
    def steer(operation: str) -> Any:
        refs = world.references
        if operation == "POST /cases":
            return st.fixed_dictionaries(
                {
                    "category_code": st.sampled_from([None, *refs["category"]]),
                    "area_code": st.sampled_from([None, *refs["area"]]),
                    "reporter": st.sampled_from(
                        [{"name": "Trần Thị Bình", "phone": "0912000111"}, {"anonymous": True}]
                    ),
                    "received_at": st.none(),
                }
            )
        if operation == "POST /cases/{code}/transfer":
            return st.fixed_dictionaries({"unit_code": st.sampled_from([None, *refs["unit"]])})
        if operation == "POST /cases/{code}/attachments":
            return st.just({"file": [PNG]})
        return None

    @loaded.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        operation = context.operation.label if context.operation is not None else ""
        changes = steer(operation)
        if changes is None or not isinstance(body, dict):
            return st.just(body)
        return st.one_of(st.just(body), changes.map(lambda fix: {**body, **fix}))

    if citizen:

        @loaded.hook
        def flatmap_headers(context: Any, headers: dict[str, Any] | None) -> Any:
            if context.operation is None or "{code}" not in context.operation.path:
                return st.just(headers)
            return st.one_of(
                st.just(headers),
                st.sampled_from(world.keys).map(
                    lambda key: {**(headers or {}), "X-Access-Key": key}
                ),
            )

    return loaded


def _fuzz(schema: Any, call: Callable[[Any], None]) -> None:
    """Every operation of ``schema``, valid then invalid requests, MAX_EXAMPLES of each;
    every failing operation is reported (with its smallest failing request), not only the
    first."""
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ_SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                call(case)

            try:
                run()
            except Unsatisfiable:
                # No invalid request can be written for this operation (GET /cases/{code}:
                # a path segment and a header are strings whatever they hold).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # collected, then reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations, "no operation was fuzzed"
    assert not failures, "\n\n".join(failures)


def _token(world: World, case: Any) -> str:
    if case.operation.path.endswith("/answer"):
        code = case.path_parameters.get("code")
        return world.tokens["head_vp" if code == world.codes[1] else "head"]
    return world.tokens["coordinator"]


def test_staff_requests_never_break_the_api(app: Flask, world: World) -> None:
    schema = _load(app, world, citizen=False)

    def call(case: Any) -> None:
        headers = {"Authorization": f"Bearer {_token(world, case)}"}
        case.call_and_validate(headers=headers, checks=CHECKS)

    _fuzz(schema, call)


def test_citizen_requests_never_break_the_api(app: Flask, world: World) -> None:
    schema = _load(app, world, citizen=True).include(operation_id=list(PUBLIC_OPERATIONS))
    _fuzz(schema, lambda case: case.call_and_validate(checks=CHECKS))


def test_odd_values_in_every_parameter_never_break_the_api(app: Flask, world: World) -> None:
    """Deterministic, beside the random search: each NASTY value in each query parameter
    and path segment of each operation, the other parameters left out, with a staff token."""
    schema = _load(app, world, citizen=False)
    failures, sent = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = [("query", p.name) for p in operation.query] + [
            ("path", p.name) for p in operation.path_parameters
        ]
        for location, name in names:
            for value in NASTY:
                path = {"code": world.codes[0]} if operation.path_parameters else {}
                query = {}
                if location == "path":
                    path[name] = value
                else:
                    query[name] = value
                case = operation.Case(path_parameters=path, query=query)
                headers = {"Authorization": f"Bearer {_token(world, case)}"}
                sent += 1
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS)
                except Exception as exc:  # collected, then reported together
                    failures.append(f"{operation.label} {location} {name}={value!r}: {exc}")
    assert sent > 300
    assert not failures, "\n\n".join(failures)
