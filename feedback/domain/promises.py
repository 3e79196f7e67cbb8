"""What the service promises a citizen before they send, in plain words, per case kind.

The time limits are never written here: they are read from the SLA policy in force (the
same data the due times are computed from), so the form, the success page, the home page
and the footer say what the case will really get, and change when the policy changes.
What is written here is what does not change with a policy: what each kind is for, and
what the law does with a complaint or a denunciation sent without a name (Law on
Complaints 2011, art. 8; Law on Denunciations 2018, art. 22 and 25).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .deadlines import CountFrom, DayType, SlaPolicy

KIND_DESCRIPTIONS: dict[str, str] = {
    "feedback": (
        "Báo cho chính quyền biết một việc đang xảy ra cần được xử lý, ví dụ đường hỏng, "
        "rác thải, mất điện, mất nước."
    ),
    "petition": (
        "Đề nghị chính quyền xem xét, thay đổi hoặc bổ sung một chủ trương, chính sách, cách làm."
    ),
    "suggestion": "Ý kiến đóng góp để cơ quan nhà nước phục vụ người dân tốt hơn.",
    "complaint": (
        "Đề nghị xem xét lại một quyết định hoặc việc làm của cơ quan, cán bộ mà ông/bà cho "
        "là trái pháp luật và xâm phạm quyền, lợi ích của chính mình."
    ),
    "denunciation": (
        "Báo cho cơ quan có thẩm quyền biết hành vi vi phạm pháp luật của cán bộ, cơ quan, "
        "tổ chức hoặc cá nhân. Họ tên và thông tin của người tố cáo được giữ bí mật."
    ),
}

ANONYMOUS_CONSEQUENCES: dict[str, str] = {
    "complaint": (
        "Khiếu nại phải ghi rõ họ tên và địa chỉ của người khiếu nại (Luật Khiếu nại năm "
        "2011, Điều 8). Khiếu nại gửi ẩn danh sẽ không được thụ lý giải quyết: cơ quan sẽ "
        "trả lời là không tiếp nhận. Xin ghi họ tên, số điện thoại và ghi địa chỉ của "
        "ông/bà trong phần nội dung."
    ),
    "denunciation": (
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


def _days(n: int, day_type: DayType) -> str:
    return f"{n} ngày làm việc" if day_type is DayType.WORKING else f"{n} ngày"


def ack_limit_text(policy: SlaPolicy) -> str:
    """The acknowledgement limit alone, "24 giờ" or "10 ngày làm việc": the inbox's column
    names each kind's own (a complaint's is not 24 hours)."""
    if policy.ack_hours is not None:
        return f"{policy.ack_hours} giờ"
    assert policy.ack_days is not None
    return _days(policy.ack_days, policy.ack_day_type)


def _extra_int(extra: Mapping[str, Any], key: str) -> int | None:
    value = extra.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def describe(policy: SlaPolicy, label: str, extra: Mapping[str, Any] | None = None) -> Promise:
    """``policy`` (the one in force for a new case of its kind) in plain words.

    When the answer is counted from the acceptance (thụ lý), the first limit is the
    decision to accept the case, and is called so; otherwise it is the confirmation that
    the case was received."""
    extra = extra or {}
    accepts = policy.response_from is CountFrom.ACK
    if policy.ack_hours is not None:
        ack_limit = f"{policy.ack_hours} giờ"
        counted = ack_limit
    else:
        assert policy.ack_days is not None
        ack_limit = _days(policy.ack_days, policy.ack_day_type)
        counted = ack_limit
    if accepts:
        ack = f"xem xét và thông báo việc thụ lý (nhận giải quyết) trong {counted}"
        ack_short = f"thụ lý trong {counted}"
    else:
        ack = f"xác nhận đã tiếp nhận trong {counted}"
        ack_short = f"tiếp nhận trong {counted}"
    complex_ack = _extra_int(extra, "ack_days_complex")
    if complex_ack and policy.ack_days is not None:
        ack += (
            f" (trường hợp cần xác minh thêm: không quá {_days(complex_ack, policy.ack_day_type)})"
        )

    limit = _days(policy.response_days, policy.response_day_type)
    if accepts:
        response = f"giải quyết trong {limit} kể từ ngày thụ lý"
        response_short = f"giải quyết trong {limit}"
    else:
        response = f"trả lời trong {limit} kể từ ngày tiếp nhận"
        response_short = f"trả lời trong {limit}"
    if policy.response_day_type is DayType.WORKING:
        response += " (không tính thứ Bảy, Chủ nhật và ngày nghỉ lễ)"
    else:
        response += " (tính cả ngày nghỉ)"
    longer = []
    complex_days = _extra_int(extra, "response_days_complex")
    if complex_days:
        longer.append(f"vụ việc phức tạp không quá {complex_days} ngày")
    remote = _extra_int(extra, "response_days_remote")
    if remote:
        remote_text = f"ở vùng sâu, vùng xa đi lại khó khăn không quá {remote} ngày"
        remote_complex = _extra_int(extra, "response_days_remote_complex")
        if remote_complex:
            remote_text += f" ({remote_complex} ngày nếu phức tạp)"
        longer.append(remote_text)
    extension = _extra_int(extra, "extension_days")
    once = _extra_int(extra, "max_extensions_complex")
    twice = _extra_int(extra, "max_extensions_especially_complex")
    if extension and (once or twice):
        parts = []
        if once:
            parts.append(f"vụ việc phức tạp được gia hạn {once} lần")
        if twice:
            parts.append(f"vụ việc đặc biệt phức tạp {twice} lần")
        longer.append(", ".join(parts) + f", mỗi lần không quá {extension} ngày")
    if longer:
        response += "; " + "; ".join(longer)
    return Promise(
        kind=policy.kind,
        label=label,
        description=KIND_DESCRIPTIONS.get(policy.kind, ""),
        ack=ack,
        response=response,
        short=f"{ack_short}, {response_short}",
        anonymous_warning=ANONYMOUS_CONSEQUENCES.get(policy.kind),
    )


def grouped(promises: list[Promise]) -> list[tuple[list[str], str]]:
    """Kinds with the same short promise together, in the order given: ([labels], short),
    so a footer says "Phản ánh, kiến nghị, góp ý: ..." once, not three times."""
    groups: dict[str, list[str]] = {}
    for p in promises:
        groups.setdefault(p.short, []).append(p.label)
    return [(labels, short) for short, labels in groups.items()]
