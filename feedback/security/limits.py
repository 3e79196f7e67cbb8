"""Rate limits (Flask-Limiter): decorators the views and the API blueprints apply
themselves, with limits read from the configuration at request time."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user

from ..extensions import limiter


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
    try:
        current = limiter.current_limit
    except Exception:
        current = None
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()) + 1)


submit_limit = limiter.limit(_limit("RATELIMIT_SUBMIT"), methods=["POST"])
lookup_limit = limiter.limit(_limit("RATELIMIT_LOOKUP"), methods=["POST"])
login_limit = limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
api_limit = limiter.limit(_limit("RATELIMIT_API"), key_func=token_or_address)
"""For a whole API blueprint, so every route is covered, added or not."""
