"""Correcting the letter count of a box opening.

The minutes of an opening state how many letters the box held, and an opening closes only
when that many cases were transcribed. A miscounted minute would otherwise keep the
opening open for ever; Văn phòng (the coordinator) may correct the count, with a reason.
The count is changed by a conditional UPDATE (the opening still open, the count still the
one the coordinator saw), the reason and the old and new counts are kept in the opening's
note, and the audit log records the change with its actor in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from ...domain.permissions import BOX_CORRECTOR_ROLES
from ...extensions import db
from ...i18n import format_local
from ...models import BoxOpening, User
from ..errors import Conflict, Forbidden, ValidationError
from .boxes import MAX_LETTERS, transcribed_count

MIN_REASON = 10


def correct_letter_count(
    opening: BoxOpening,
    *,
    letter_count: int | None,
    reason: str | None,
    actor: User,
    now: datetime,
) -> BoxOpening:
    if actor.role not in BOX_CORRECTOR_ROLES:
        raise Forbidden("Chỉ Văn phòng HĐND-UBND được sửa số thư ghi trong biên bản.")
    if opening.status != "open":
        raise Conflict("Lần mở hòm thư này đã đóng; không sửa được số thư nữa.")
    old = opening.letter_count
    transcribed = transcribed_count(opening.id)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if letter_count is None or not 0 <= letter_count <= MAX_LETTERS:
        errors["letter_count"] = f"Số thư phải từ 0 đến {MAX_LETTERS}."
    elif letter_count == old:
        errors["letter_count"] = f"Biên bản đang ghi đúng {old} thư; không có gì để sửa."
    elif letter_count < transcribed:
        errors["letter_count"] = (
            f"Đã nhập {transcribed} hồ sơ từ lần mở này; số thư không thể ít hơn."
        )
    if len(reason) < MIN_REASON:
        errors["reason"] = (
            f"Ghi rõ lý do sửa (ít nhất {MIN_REASON} ký tự), ví dụ: đếm lại cùng người chứng kiến."
        )
    elif len(reason) > 1000:
        errors["reason"] = "Lý do tối đa 1.000 ký tự."
    if errors:
        raise ValidationError("Chưa sửa được số thư, vui lòng kiểm tra lại.", errors)
    line = (
        f"{format_local(now)}: {actor.display_name} sửa số thư trong biên bản từ {old} "
        f"thành {letter_count}. Lý do: {reason}"
    )
    note = f"{opening.note}\n{line}" if opening.note else line
    result = db.session.execute(
        update(BoxOpening)
        .where(
            BoxOpening.id == opening.id,
            BoxOpening.status == "open",
            BoxOpening.letter_count == old,
        )
        .values(letter_count=letter_count, note=note)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(opening)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "Lần mở hòm thư vừa được người khác cập nhật; vui lòng tải lại trang rồi thử lại."
        )
    return opening
