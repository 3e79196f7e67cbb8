"""Rate limits (Flask-Limiter): decorators the views and the API blueprints apply
themselves, with limits read from the configuration at request time.

A citizen is one budget whichever door they use: the web form and anonymous
``POST /api/v1/cases`` count against the same ``submit`` counters (RATELIMIT_SUBMIT, per
address, 10 a minute and 100 a day by default), and the web look-up and every anonymous
use of an access key through the API (reading a case, adding files) against the same
``lookup`` counter (RATELIMIT_LOOKUP). Staff tokens are exempt from those two and keep the
API's own per-token limit. Files sent by citizens also count against a daily quota per
address (ATTACHMENT_DAILY_MAX_COUNT files and ATTACHMENT_DAILY_MAX_BYTES bytes), charged
only for files that were stored."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, g, request
from flask_login import current_user
from limits import RateLimitItem, RateLimitItemPerDay, parse_many

from ..domain.marks import N_
from ..extensions import limiter
from ..i18n import format_local
from ..services.errors import ServiceError
from ..services.intake.attachments import Upload, human_size


def _limit(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def token_or_address() -> str:
    """API clients are counted per bearer token when it is a valid one, else per address
    (so random tokens cannot dodge the per-address count). Loading the user here is the
    same lookup access control does next; Flask-Login caches it for the request."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and current_user.is_authenticated:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "unknown")


def retry_after() -> int:
    """Seconds until the rate-limit window that refused this request resets."""
    held = g.get("quota_retry_after")
    if held:
        return int(held)
    try:
        current = limiter.current_limit
    except Exception:
        current = None
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()) + 1)


def _with_token() -> bool:
    """A request that presents a token is staff's (or refused with 401 before anything is
    read or written): the citizen's budgets do not apply to it."""
    return "Authorization" in request.headers


lookup_limit = limiter.shared_limit(_limit("RATELIMIT_LOOKUP"), scope="lookup", methods=["POST"])
login_limit = limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
api_limit = limiter.limit(_limit("RATELIMIT_API"), key_func=token_or_address)
"""For a whole API blueprint, so every route is covered, added or not."""
api_submit_limit = limiter.shared_limit(
    _limit("RATELIMIT_SUBMIT"), scope="submit", exempt_when=_with_token, override_defaults=False
)
"""An anonymous API submission: the web form's counters, on top of the API's own limit.
The web form counts only its filed cases on them (submission_refused, count_submission)."""
api_lookup_limit = limiter.shared_limit(
    _limit("RATELIMIT_LOOKUP"), scope="lookup", exempt_when=_with_token, override_defaults=False
)
"""An anonymous use of an access key through the API: the web look-up's counter."""


reissue_limit = limiter.shared_limit(
    _limit("RATELIMIT_KEY_REISSUE"), scope="reissue", methods=["POST"]
)
""""Lost my key", per address: each request may send a message, so fewer than look-ups."""


# --- the daily upload quota per address ----------------------------------------------------


class UploadQuotaExceeded(ServiceError):
    status = 429
    code = "upload_quota_exceeded"


def _quotas() -> list[tuple[RateLimitItem, str, Callable[[Sequence[Upload]], int]]]:
    config = current_app.config
    return [
        (
            RateLimitItemPerDay(int(config["ATTACHMENT_DAILY_MAX_COUNT"])),
            "upload-files",
            len,
        ),
        (
            RateLimitItemPerDay(int(config["ATTACHMENT_DAILY_MAX_BYTES"])),
            "upload-bytes",
            lambda uploads: sum(len(u.data) for u in uploads),
        ),
    ]


def _quota_on(uploads: Sequence[Upload]) -> bool:
    return bool(uploads) and bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _identifiers(scope: str) -> tuple[str, str, str]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "feedback"
    return prefix, request.remote_addr or "unknown", scope


def check_upload_quota(uploads: Sequence[Upload], *, field: str = "attachments") -> None:
    """Refuse (429, with Retry-After) a citizen's files that would take this address past
    its daily quota. Nothing is counted here: charge_upload_quota counts them once they
    are stored, so a refused or failed request costs nothing. Two requests checked at the
    same moment may both pass: the quota can be overshot by one request's files, never
    more than that per request in flight."""
    if not _quota_on(uploads):
        return
    config = current_app.config
    for item, scope, cost in _quotas():
        ids = _identifiers(scope)
        if not limiter.limiter.test(item, *ids, cost=cost(uploads)):
            reset = limiter.limiter.get_window_stats(item, *ids).reset_time
            g.quota_retry_after = max(1, int(reset - time.time()) + 1)
            message = N_(
                "Ông/bà đã gửi quá số tệp đính kèm cho phép trong một ngày (tối đa "
                "%(count)s tệp, tổng %(size)s mỗi ngày). "
                "Vui lòng gửi tiếp vào ngày mai, hoặc mang tài liệu đến bộ phận tiếp dân.",
                count=config["ATTACHMENT_DAILY_MAX_COUNT"],
                size=human_size(int(config["ATTACHMENT_DAILY_MAX_BYTES"])),
            )
            raise UploadQuotaExceeded(message, {field: message})


def charge_upload_quota(uploads: Sequence[Upload]) -> None:
    """Count stored files against this address's daily quota (after the commit)."""
    if not _quota_on(uploads):
        return
    for item, scope, cost in _quotas():
        limiter.limiter.hit(item, *_identifiers(scope), cost=cost(uploads))


# --- the web form's submissions, counted only when a case is filed ------------------------


SUBMIT_SCOPE = "submit"
ATTEMPTS_SCOPE = "submit-attempts"


@dataclass(frozen=True)
class Refusal:
    """A budget is used up: the message to show beside the kept form, and when to retry."""

    message: str
    retry_after: int


def _budget_args(scope: str) -> tuple[str, str, str]:
    """The storage key parts Flask-Limiter uses for a shared limit of ``scope``, so the
    web form's manual count and the API's decorator (api_submit_limit) meet one counter."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return prefix, request.remote_addr or "unknown", scope


def _exhausted(config_name: str, scope: str, *, count: bool) -> int | None:
    """Seconds until the first of the configured limits that is used up resets (None when
    none is), counting this request first when ``count``."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    args = _budget_args(scope)
    waits = []
    for item in parse_many(current_app.config[config_name]):
        allowed = limiter.limiter.hit(item, *args) if count else limiter.limiter.test(item, *args)
        if not allowed:
            reset = limiter.limiter.get_window_stats(item, *args).reset_time
            waits.append(max(1, int(reset - time.time()) + 1))
    return max(waits) if waits else None


def _when(seconds: int) -> str:
    """ "sau khoảng 45 giây", "sau khoảng 12 phút", "sau 07:00 ngày 06/12/2026": marked, so
    the refusal that holds it is translated with it."""
    if seconds < 90:
        return N_("sau khoảng %(n)s giây", n=seconds)
    if seconds < 3600:
        return N_("sau khoảng %(n)s phút", n=(seconds + 59) // 60)
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return N_(
        "sau %(time)s ngày %(day)s",
        time=format_local(at, "%H:%M"),
        day=format_local(at, "%d/%m/%Y"),
    )


def submission_refused() -> Refusal | None:
    """Whether this address has used up RATELIMIT_SUBMIT (the web form and anonymous API
    submissions together). Nothing is counted here: a refused, invalid or checked form
    costs nothing; count_submission counts a case once it is filed."""
    wait = _exhausted("RATELIMIT_SUBMIT", SUBMIT_SCOPE, count=False)
    if wait is None:
        return None
    g.quota_retry_after = wait
    message = N_(
        "Từ địa chỉ mạng này đã có nhiều phản ánh được gửi trong thời gian ngắn, nên hệ thống "
        "tạm chưa nhận thêm. Nội dung ông/bà nhập vẫn được giữ nguyên dưới đây: vui lòng bấm "
        "«Gửi» lại %(when)s, hoặc gọi Tổng đài 1022.",
        when=_when(wait),
    )
    return Refusal(message, wait)


def count_submission() -> None:
    """A case was filed from the web form: count it against RATELIMIT_SUBMIT."""
    _exhausted("RATELIMIT_SUBMIT", SUBMIT_SCOPE, count=True)


def attempt_refused() -> Refusal | None:
    """Every POST of the web form counts against RATELIMIT_SUBMIT_ATTEMPTS, a looser
    bound than submissions: checks and refused forms cost no submission, but each one
    still reads files and searches, so their number per address is bounded too."""
    wait = _exhausted("RATELIMIT_SUBMIT_ATTEMPTS", ATTEMPTS_SCOPE, count=True)
    if wait is None:
        return None
    g.quota_retry_after = wait
    message = N_(
        "Biểu mẫu đã được gửi lên quá nhiều lần trong thời gian ngắn. Nội dung ông/bà nhập "
        "vẫn được giữ nguyên dưới đây: vui lòng thử lại %(when)s.",
        when=_when(wait),
    )
    return Refusal(message, wait)
