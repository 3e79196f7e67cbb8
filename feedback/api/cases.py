"""The JSON API's cases: idempotent creation, finding a case for staff or for the citizen,
and the staff list (DESIGN.md, "Public contract of the JSON API (v1)").

The rest lives beside it: reading requests in feedback.api.inputs (its docstring
states the body rules and the error shape), writing cases in feedback.api.outputs
(times in ISO 8601 with +07:00), the query behind the list in feedback.services.oversight.search,
the staff actions in feedback.api.actions.

Idempotency: a ``POST /cases`` carrying ``Idempotency-Key`` stores its answer (status and
exact body) in ``idempotency_keys`` in the same transaction as the case; the unique
(scope, key) constraint makes two concurrent first requests create one case, the loser
replaying the winner's answer. Only answers that wrote a case are stored: a refused request
writes nothing, so it may be retried with the same key once corrected. A key reused for
another body is a 422 ``idempotency_key_reused``.

The stored answer holds the case's access key, which ``cases`` keeps only as a hash: it is
sealed with the identity key (``seal_text``) before it is written and opened for a replay,
so the database, its WAL and its backups never hold a key in clear text while the replay
still returns the first body byte for byte. A CHECK constraint refuses an unsealed body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..database import unit_of_work
from ..domain.codes import CODE
from ..domain.marks import N_
from ..domain.permissions import Op
from ..extensions import db
from ..models import Case, IdempotencyKey, User
from ..services.errors import Conflict, NotFound, ServiceError
from ..services.handling.visibility import ops_for
from ..services.intake.identity import open_text, seal_text
from ..services.intake.submission import Submitted, access_key_matches, hash_access_key, submit_case
from ..services.oversight import search as case_search
from .inputs import case_input, check_idempotency_key
from .outputs import created_view, dumps, list_view, public_view, staff_view


class IdempotencyKeyReused(ServiceError):
    status = 422
    code = "idempotency_key_reused"


# --- creating -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    code: str


def _request_hash(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _answer_for(result: Submitted) -> Answer:
    status = 201 if result.created else 200
    return Answer(status, dumps(created_view(result.case, result.access_key)), result.case.code)


def _stored(scope: str, key: str) -> IdempotencyKey | None:
    return db.session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )


def _replay(stored: IdempotencyKey, request_hash: str) -> Answer:
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReused(
            N_("Idempotency-Key này đã được dùng cho một yêu cầu có nội dung khác."),
            {"Idempotency-Key": N_("Đã dùng cho nội dung khác; hãy tạo khóa mới.")},
        )
    code = db.session.scalar(select(Case.code).where(Case.id == stored.case_id)) or ""
    return Answer(stored.status_code, open_text(stored.response_body), code)


def create(
    data: Mapping[str, Any], *, user: User | None, idempotency_key: str | None, now: datetime
) -> Answer:
    """Submit the case in one transaction; with a key, store or replay the answer."""
    key = check_idempotency_key(idempotency_key)
    payload = case_input(data, user)
    if key is None:
        with unit_of_work():
            return _answer_for(submit_case(payload, actor=user, now=now))
    scope = f"user:{user.id}" if user is not None else "public"
    request_hash = _request_hash(data)
    stored = _stored(scope, key)
    if stored is not None:
        answer = _replay(stored, request_hash)
        db.session.rollback()  # end the read transaction (SQLite holds its write lock)
        return answer
    try:
        with unit_of_work():
            # Claim the key first: a concurrent twin blocks here on the unique index (on
            # PostgreSQL) or never starts (SQLite's BEGIN IMMEDIATE), and loses below.
            record = IdempotencyKey(
                scope=scope,
                key=key,
                request_hash=request_hash,
                status_code=0,
                response_body="",
                created_at=now,
            )
            db.session.add(record)
            db.session.flush()
            result = submit_case(payload, actor=user, now=now)
            answer = _answer_for(result)
            record.status_code = answer.status
            record.response_body = seal_text(answer.body)  # it holds the access key
            record.case_id = result.case.id
            return answer
    except IntegrityError:
        stored = _stored(scope, key)
        if stored is None:
            raise Conflict(
                N_("Yêu cầu trùng với một yêu cầu khác đang xử lý; vui lòng gửi lại.")
            ) from None
        answer = _replay(stored, request_hash)
        db.session.rollback()
        return answer


# --- reading ------------------------------------------------------------------------------


def _case_by_code(code: str) -> Case | None:
    code = (code or "").strip().upper()
    if not CODE.fullmatch(code):  # also keeps NUL and the like away from PostgreSQL
        return None
    return db.session.scalar(select(Case).where(Case.code == code))


def staff_case(code: str, user: User, now: datetime) -> dict[str, Any]:
    return staff_view(case_for_staff(code, user), user, now)


def case_for_staff(code: str, user: User) -> Case:
    """The case if ``user`` may see it; otherwise the same 404 as for an unknown code."""
    case = _case_by_code(code)
    if case is None or Op.VIEW not in ops_for(user, case):
        raise NotFound(N_("Không tìm thấy hồ sơ."))
    return case


def case_for_citizen(code: str, access_key: str | None) -> Case:
    """The same 404 for an unknown code, a missing key and a wrong key."""
    case = _case_by_code(code)
    key = (access_key or "")[:64]
    if case is None:
        hash_access_key(key)  # the same work either way
        raise NotFound(N_("Không tìm thấy hồ sơ, hoặc mã tra cứu không đúng."))
    if not key or not access_key_matches(case, key):
        raise NotFound(N_("Không tìm thấy hồ sơ, hoặc mã tra cứu không đúng."))
    return case


def public_case(code: str, access_key: str | None) -> dict[str, Any]:
    return public_view(case_for_citizen(code, access_key))


def search(user: User, args: Mapping[str, list[str]], now: datetime) -> dict[str, Any]:
    """Staff search over the cases the user may see; every bad parameter is named."""
    return list_view(case_search.search(user, args, now), now)
