"""The phone channels of the outbox: SMS through an HTTP gateway, and Zalo ZNS.

Both follow the e-mail contract (services.sla.delivery): a row is sent by its lease
holder, a temporary failure is retried with back-off, a permanent one marks the row failed
for good. Each adapter says which is which by raising :class:`TryLater` or :class:`Refused`.

Like SMTP, HTTP cannot be exactly-once: a crash between the gateway's 2xx and our UPDATE
sends the row again after its lease. Both requests carry the row's dedupe key ("id" for
the SMS gateway, "tracking_id" for Zalo), so the far side can recognise the copy.

Unconfigured (no SMS_GATEWAY_URL, no ZALO_ACCESS_TOKEN), messages are written to
instance/sms.log and instance/zalo.log, as mail is to mail.log: development and tests
need no gateway. A log is not a phone: the access key is masked there, and a
denouncer's number too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app

from .notify import KEY_MASK, KEY_SLOT


class TryLater(Exception):
    """Temporary: the gateway is down, slow, or asks us to slow down."""


class Refused(Exception):
    """Permanent: this message will never be accepted as it is (bad number, bad request)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A gateway that redirects a POST is misconfigured; following it would re-send the
    message (key included) to wherever the redirect points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
    """POST JSON; the status and the first 64 KiB of the answer. Connection errors and
    timeouts are TryLater."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", **headers},
        method="POST",
    )
    timeout = float(current_app.config.get("NOTIFY_HTTP_TIMEOUT") or 10)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536) if exc.fp else b""
    except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
        reason = getattr(exc, "reason", exc)
        raise TryLater(f"không kết nối được: {reason}") from None


def _masked(text: str, key: str | None) -> str:
    """An error text as it may be stored: the gateway may echo our request, key included."""
    text = text.replace(KEY_SLOT, KEY_MASK)
    if key:
        text = text.replace(key, KEY_MASK).replace(key.replace("-", ""), KEY_MASK)
    return text


def _log(name: str, line: str) -> None:
    path = Path(current_app.instance_path) / name
    with path.open("a", encoding="utf-8") as log:
        log.write(line + "\n")


class Sms:
    """POST {"to": "+84…", "text": "…", "id": dedupe key} with Authorization: Bearer TOKEN.
    2xx sent; 4xx refused for good, except 408 and 429 (the gateway's own "later");
    5xx, timeouts and refused connections are tried again."""

    def __init__(self) -> None:
        cfg = current_app.config
        self.url = cfg.get("SMS_GATEWAY_URL")
        self.token = cfg.get("SMS_GATEWAY_TOKEN") or ""

    def send(
        self,
        *,
        to: str,
        body: str,
        dedupe_id: str,
        key: str | None,
        confidential: bool,
        at: datetime,
    ) -> None:
        if not self.url:
            shown_to = "[số được bảo mật]" if confidential else to
            text = body.replace(KEY_SLOT, KEY_MASK)
            _log("sms.log", f"{at.isoformat()}\t{shown_to}\t{dedupe_id}\t{text}")
            return
        text = body.replace(KEY_SLOT, key or KEY_MASK)
        status, answer = _post(
            self.url,
            {"to": to, "text": text, "id": dedupe_id},
            {"Authorization": f"Bearer {self.token}"},
        )
        if 200 <= status < 300:
            return
        detail = _masked(
            f"cổng SMS trả lời HTTP {status}: {answer[:200].decode(errors='replace')}", key
        )
        if status in (408, 429) or status >= 500:
            raise TryLater(detail)
        raise Refused(detail)


# Zalo answers HTTP 200 with {"error": <code>, "message": …}; 0 is success. The request
# shape (POST JSON {phone "84…", template_id, template_data, tracking_id} with the header
# access_token) is the one of Zalo's "Gửi ZNS" page as quoted by integrators' docs the
# search tool found (docs.etelecom.vn, docs.infinix.vn: phone in 84… form, template_data
# per template, tracking_id for reconciliation). Zalo's own table of ZNS error codes
# (zalo.cloud/zns/guidelines/handle-error-code, "Cách xử lý mã lỗi") gives -100 "Unknown
# error" with the advice to try again later, and -101 to -112 as faults of the sender's
# set-up or data (application, secret key, phone number, template id or data), which a
# retry cannot mend. Retried as well: -124 an invalid or expired access token (tokens
# expire within a day and are renewed by the operator; a message must wait for the new
# token, not be lost), and -1, -32, -500, the generic, rate-limit and internal errors of
# Zalo's Open API. Every other error is refused for good, and the SMS copy still goes.
ZNS_RETRY = frozenset({-1, -32, -100, -124, -500})


class Zalo:
    """A ZNS template message to a phone; same contract as :class:`Sms`."""

    def __init__(self) -> None:
        cfg = current_app.config
        self.url = cfg.get("ZALO_ZNS_URL")
        self.token = cfg.get("ZALO_ACCESS_TOKEN")

    def send(
        self,
        *,
        to: str,
        template_id: str,
        data_json: str,
        dedupe_id: str,
        key: str | None,
        confidential: bool,
        at: datetime,
    ) -> None:
        phone = to.removeprefix("+")  # ZNS wants 84912000111, no plus sign
        if not self.token or not self.url:
            shown = {
                "phone": "[số được bảo mật]" if confidential else phone,
                "template_id": template_id,
                "template_data": json.loads(data_json.replace(KEY_SLOT, KEY_MASK)),
                "tracking_id": dedupe_id,
            }
            _log("zalo.log", f"{at.isoformat()}\t{json.dumps(shown, ensure_ascii=False)}")
            return
        data = json.loads(data_json.replace(KEY_SLOT, key or KEY_MASK))
        status, answer = _post(
            self.url,
            {
                "phone": phone,
                "template_id": template_id,
                "template_data": data,
                "tracking_id": dedupe_id,
            },
            {"access_token": self.token},
        )
        text = answer[:300].decode(errors="replace")
        if status >= 500 or status in (408, 429):
            raise TryLater(_masked(f"Zalo trả lời HTTP {status}: {text}", key))
        if not 200 <= status < 300:
            raise Refused(_masked(f"Zalo trả lời HTTP {status}: {text}", key))
        try:
            error = int(json.loads(answer).get("error"))
        except (ValueError, TypeError, AttributeError):
            # A 2xx we cannot read: we do not know whether it was sent. Trying again may
            # send a copy (tracking_id names it); giving up may lose it. We try again.
            raise TryLater(_masked(f"Zalo trả lời không đọc được: {text}", key)) from None
        if error == 0:
            return
        detail = _masked(f"Zalo từ chối (error {error}): {text}", key)
        if error in ZNS_RETRY:
            raise TryLater(detail)
        raise Refused(detail)
