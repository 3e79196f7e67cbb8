"""What the service promises a citizen before they send, in plain words, per case kind.

The time limits are never written here: they are read from the SLA policy in force (the
same data the due times are computed from), so the form, the success page, the home page
and the footer say what the case will really get, and change when the policy changes.
What is written here is what does not change with a policy: what each kind is for, and
what the law does with a complaint or a denunciation sent without a name (Law on
Complaints 2011, art. 8; Law on Denunciations 2018, art. 22 and 25).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .deadlines import CountFrom, DayType, SlaPolicy
from .marks import N_

Translate = Callable[[str], str]
"""A catalogue look-up (``flask_babel.gettext`` in a request); the identity keeps the
Vietnamese the texts are written in. Passed in, so the domain stays free of Flask."""


def _as_written(text: str) -> str:
    return text


KIND_DESCRIPTIONS: dict[str, str] = {
    "feedback": N_(
        "Báo cho chính quyền biết một việc đang xảy ra cần được xử lý, ví dụ đường hỏng, "
        "rác thải, mất điện, mất nước."
    ),
    "petition": N_(
        "Đề nghị chính quyền xem xét, thay đổi hoặc bổ sung một chủ trương, chính sách, cách làm."
    ),
    "suggestion": N_("Ý kiến đóng góp để cơ quan nhà nước phục vụ người dân tốt hơn."),
    "complaint": N_(
        "Đề nghị xem xét lại một quyết định hoặc việc làm của cơ quan, cán bộ mà ông/bà cho "
        "là trái pháp luật và xâm phạm quyền, lợi ích của chính mình."
    ),
    "denunciation": N_(
        "Báo cho cơ quan có thẩm quyền biết hành vi vi phạm pháp luật của cán bộ, cơ quan, "
        "tổ chức hoặc cá nhân. Họ tên và thông tin của người tố cáo được giữ bí mật."
    ),
}

ANONYMOUS_CONSEQUENCES: dict[str, str] = {
    "complaint": N_(
        "Khiếu nại phải ghi rõ họ tên và địa chỉ của người khiếu nại (Luật Khiếu nại năm "
        "2011, Điều 8). Khiếu nại gửi ẩn danh sẽ không được thụ lý giải quyết: cơ quan sẽ "
        "trả lời là không tiếp nhận. Xin ghi họ tên, số điện thoại và ghi địa chỉ của "
        "ông/bà trong phần nội dung."
    ),
    "denunciation": N_(
        "Tố cáo phải ghi rõ họ tên và địa chỉ của người tố cáo (Luật Tố cáo năm 2018, Điều "
        "22); họ tên và thông tin của người tố cáo được giữ bí mật. Tố cáo gửi ẩn danh không "
        "được giải quyết theo thủ tục tố cáo và ông/bà sẽ không nhận được kết luận; nếu nội "
        "dung rõ ràng, có tài liệu, chứng cứ cụ thể, cơ quan vẫn dùng thông tin để thanh "
        "tra, kiểm tra (Điều 25)."
    ),
}


@dataclass(frozen=True)
class Promise:
    """One kind's limits in plain words: ``ack`` and ``response`` are phrases that finish
    "Cơ quan sẽ ...", ``short`` fits a footer."""

    kind: str
    label: str
    description: str
    ack: str
    response: str
    short: str
    anonymous_warning: str | None


class _Sayer:
    """Phrases in the reader's language: each template is looked up in the catalogue, then
    filled. A count of one has its own template ("1 ngày" reads "1 day", not "1 days")."""

    def __init__(self, translate: Translate) -> None:
        self.translate = translate

    def __call__(self, template: str, **values: object) -> str:
        text = self.translate(template)
        return text % values if values else text

    def days(self, n: int, day_type: DayType) -> str:
        if day_type is DayType.WORKING:
            return self(N_("1 ngày làm việc")) if n == 1 else self(N_("%(n)s ngày làm việc"), n=n)
        return self.calendar_days(n)

    def calendar_days(self, n: int) -> str:
        return self(N_("1 ngày")) if n == 1 else self(N_("%(n)s ngày"), n=n)

    def hours(self, n: int) -> str:
        return self(N_("1 giờ")) if n == 1 else self(N_("%(n)s giờ"), n=n)

    def times(self, n: int) -> str:
        return self(N_("1 lần")) if n == 1 else self(N_("%(n)s lần"), n=n)


def ack_limit_text(policy: SlaPolicy, translate: Translate = _as_written) -> str:
    """The acknowledgement limit alone, "24 giờ" or "10 ngày làm việc": the inbox's column
    names each kind's own (a complaint's is not 24 hours)."""
    say = _Sayer(translate)
    if policy.ack_hours is not None:
        return say.hours(policy.ack_hours)
    assert policy.ack_days is not None
    return say.days(policy.ack_days, policy.ack_day_type)


def _extra_int(extra: Mapping[str, Any], key: str) -> int | None:
    value = extra.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _longer(say: _Sayer, extra: Mapping[str, Any]) -> list[str]:
    """The longer limits the law allows: complex cases, remote areas, extensions."""
    longer = []
    complex_days = _extra_int(extra, "response_days_complex")
    if complex_days:
        longer.append(
            say(N_("vụ việc phức tạp không quá %(days)s"), days=say.calendar_days(complex_days))
        )
    remote = _extra_int(extra, "response_days_remote")
    if remote:
        remote_text = say(
            N_("ở vùng sâu, vùng xa đi lại khó khăn không quá %(days)s"),
            days=say.calendar_days(remote),
        )
        remote_complex = _extra_int(extra, "response_days_remote_complex")
        if remote_complex:
            remote_text += say(
                N_(" (%(days)s nếu phức tạp)"), days=say.calendar_days(remote_complex)
            )
        longer.append(remote_text)
    extension = _extra_int(extra, "extension_days")
    once = _extra_int(extra, "max_extensions_complex")
    twice = _extra_int(extra, "max_extensions_especially_complex")
    if extension and (once or twice):
        parts = []
        if once:
            parts.append(say(N_("vụ việc phức tạp được gia hạn %(times)s"), times=say.times(once)))
        if twice:
            parts.append(say(N_("vụ việc đặc biệt phức tạp %(times)s"), times=say.times(twice)))
        longer.append(
            say(
                N_("%(extensions)s, mỗi lần không quá %(days)s"),
                extensions=", ".join(parts),
                days=say.calendar_days(extension),
            )
        )
    return longer


def describe(
    policy: SlaPolicy,
    label: str,
    extra: Mapping[str, Any] | None = None,
    translate: Translate = _as_written,
) -> Promise:
    """``policy`` (the one in force for a new case of its kind) in plain words, in the
    language of ``translate`` (Vietnamese, as written, by default).

    When the answer is counted from the acceptance (thụ lý), the first limit is the
    decision to accept the case, and is called so; otherwise it is the confirmation that
    the case was received."""
    extra = extra or {}
    say = _Sayer(translate)
    accepts = policy.response_from is CountFrom.ACK
    counted = ack_limit_text(policy, translate)
    if accepts:
        ack = say(
            N_("xem xét và thông báo việc thụ lý (nhận giải quyết) trong %(limit)s"), limit=counted
        )
        ack_short = say(N_("thụ lý trong %(limit)s"), limit=counted)
    else:
        ack = say(N_("xác nhận đã tiếp nhận trong %(limit)s"), limit=counted)
        ack_short = say(N_("tiếp nhận trong %(limit)s"), limit=counted)
    complex_ack = _extra_int(extra, "ack_days_complex")
    if complex_ack and policy.ack_days is not None:
        ack += say(
            N_(" (trường hợp cần xác minh thêm: không quá %(limit)s)"),
            limit=say.days(complex_ack, policy.ack_day_type),
        )

    limit = say.days(policy.response_days, policy.response_day_type)
    if accepts:
        response = say(N_("giải quyết trong %(limit)s kể từ ngày thụ lý"), limit=limit)
        response_short = say(N_("giải quyết trong %(limit)s"), limit=limit)
    else:
        response = say(N_("trả lời trong %(limit)s kể từ ngày tiếp nhận"), limit=limit)
        response_short = say(N_("trả lời trong %(limit)s"), limit=limit)
    if policy.response_day_type is DayType.WORKING:
        response += say(N_(" (không tính thứ Bảy, Chủ nhật và ngày nghỉ lễ)"))
    else:
        response += say(N_(" (tính cả ngày nghỉ)"))
    longer = _longer(say, extra)
    if longer:
        response += "; " + "; ".join(longer)
    warning = ANONYMOUS_CONSEQUENCES.get(policy.kind)
    description = KIND_DESCRIPTIONS.get(policy.kind)
    return Promise(
        kind=policy.kind,
        label=translate(label),
        description=translate(description) if description else "",
        ack=ack,
        response=response,
        short=say(N_("%(ack)s, %(response)s"), ack=ack_short, response=response_short),
        anonymous_warning=translate(warning) if warning else None,
    )


def grouped(promises: list[Promise]) -> list[tuple[list[str], str]]:
    """Kinds with the same short promise together, in the order given: ([labels], short),
    so a footer says "Phản ánh, kiến nghị, góp ý: ..." once, not three times."""
    groups: dict[str, list[str]] = {}
    for p in promises:
        groups.setdefault(p.short, []).append(p.label)
    return [(labels, short) for short, labels in groups.items()]
