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

from ...domain.marks import N_
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
        raise Forbidden(N_("Chỉ Văn phòng HĐND-UBND được sửa số thư ghi trong biên bản."))
    if opening.status != "open":
        raise Conflict(N_("Lần mở hòm thư này đã đóng; không sửa được số thư nữa."))
    old = opening.letter_count
    transcribed = transcribed_count(opening.id)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if letter_count is None or not 0 <= letter_count <= MAX_LETTERS:
        errors["letter_count"] = N_("Số thư phải từ 0 đến %(most)s.", most=MAX_LETTERS)
    elif letter_count == old:
        errors["letter_count"] = N_(
            "Biên bản đang ghi đúng %(count)s thư; không có gì để sửa.", count=old
        )
    elif letter_count < transcribed:
        errors["letter_count"] = N_(
            "Đã nhập %(count)s hồ sơ từ lần mở này; số thư không thể ít hơn.", count=transcribed
        )
    if len(reason) < MIN_REASON:
        errors["reason"] = N_(
            "Ghi rõ lý do sửa (ít nhất %(least)s ký tự), ví dụ: đếm lại cùng người chứng kiến.",
            least=MIN_REASON,
        )
    elif len(reason) > 1000:
        errors["reason"] = N_("Lý do tối đa 1.000 ký tự.")
    if errors:
        raise ValidationError(N_("Chưa sửa được số thư, vui lòng kiểm tra lại."), errors)
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
            N_("Lần mở hòm thư vừa được người khác cập nhật; vui lòng tải lại trang rồi thử lại.")
        )
    return opening
