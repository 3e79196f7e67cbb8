"""Suggestion boxes (hòm thư góp ý): the register, the record of each opening, the
transcription of every letter into a case, and closing an opening once the letters and
the cases agree.

A letter's receipt time is the opening of the box (DESIGN.md), so a transcribed case gets
``received_at = opening.opened_at`` and its deadlines from that moment, however late the
clerk types it in. The minutes (biên bản) name the number of letters and at least two
witnesses besides the opener; an opening closes only when every letter is a case, checked
by one conditional UPDATE so two clerks working at once cannot break it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Select, false, func, select, true, update
from sqlalchemy.exc import IntegrityError

from ...domain.marks import N_
from ...domain.permissions import (
    BOX_CITYWIDE_ROLES,
    BOX_REGISTER_ROLES,
    BOX_UNIT_REGISTER_ROLES,
)
from ...domain.text import fold
from ...extensions import db
from ...i18n import format_local
from ...models import Area, Attachment, BoxOpening, Case, SuggestionBox, Unit, User
from ..errors import Conflict, Forbidden, ValidationError
from ..reference.areas import area_in_force, unit_in_force
from . import attachments
from .submission import CaseInput, Submitted, submit_case

BOX_CODE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)+$")
MAX_OPENING_AGE = timedelta(days=30)
MIN_WITNESSES = 2
MAX_WITNESSES = 20
MAX_LETTERS = 1000
# A photo from a phone or a page from the office scanner.
SCAN_TYPES_LABEL = N_("ảnh (JPEG, PNG, …) hoặc PDF")


# --- the register -----------------------------------------------------------------------


@dataclass
class BoxInput:
    code: str
    location: str
    area_code: str
    opener_unit_code: str | None = None  # None: the area's People's Committee


def default_opener(area: Area) -> Unit | None:
    """The People's Committee (UBND) of the box's ward or commune."""
    return db.session.scalar(
        select(Unit).where(Unit.area_id == area.id, Unit.function == "people_committee")
    )


def may_register(user: User) -> bool:
    """The city registers any box; a clerk registers the boxes his own unit opens."""
    return user.role in BOX_REGISTER_ROLES or (
        user.role in BOX_UNIT_REGISTER_ROLES and user.unit_id is not None
    )


def create_box(data: BoxInput, *, actor: User, now: datetime) -> SuggestionBox:
    if not may_register(actor):
        raise Forbidden(
            N_(
                "Chỉ quản trị, Văn phòng HĐND-UBND và cán bộ mở hòm thư (cho đơn vị mình) "
                "được thêm hòm thư."
            )
        )
    errors: dict[str, str] = {}
    own_unit = actor.unit if actor.role in BOX_UNIT_REGISTER_ROLES else None
    if own_unit is not None:
        # A clerk's box is opened by his unit, and placed in its ward or commune.
        data.opener_unit_code = own_unit.code
        if own_unit.area is not None and data.area_code != own_unit.area.code:
            errors["area_code"] = N_(
                "Hòm thư của đơn vị phải đặt tại %(area)s.", area=own_unit.area.name
            )
    code = (data.code or "").strip().upper()
    if not code:
        errors["code"] = N_("Vui lòng nhập mã hòm thư.")
    elif len(code) > 32 or not BOX_CODE.match(code):
        errors["code"] = N_(
            "Mã hòm thư gồm chữ in hoa và số, nối bằng dấu gạch ngang, tối đa 32 ký tự "
            "(ví dụ HT-00688-01)."
        )
    elif db.session.scalar(select(SuggestionBox.id).where(SuggestionBox.code == code)):
        errors["code"] = N_("Mã hòm thư %(code)s đã có trong sổ.", code=code)
    location = " ".join((data.location or "").split())
    if len(location) < 3:
        errors["location"] = N_("Vui lòng ghi nơi đặt hòm thư (ví dụ: Nhà văn hóa tổ 5).")
    elif len(location) > 300:
        errors["location"] = N_("Nơi đặt dài quá 300 ký tự.")
    area = None
    if data.area_code:
        area = area_in_force(data.area_code, now)
    if area is None:
        errors["area_code"] = N_("Vui lòng chọn xã, phường nơi đặt hòm thư.")
    opener = None
    if data.opener_unit_code:
        opener = unit_in_force(data.opener_unit_code, now)
        if opener is None:
            errors["opener_unit_code"] = N_("Đơn vị mở hòm thư không tồn tại.")
    elif area is not None:
        opener = default_opener(area)
        if opener is None:
            errors["opener_unit_code"] = N_(
                "%(area)s chưa có UBND trong danh mục đơn vị; hãy chọn đơn vị mở hòm thư.",
                area=area.name,
            )
    if errors:
        raise ValidationError(N_("Chưa thêm được hòm thư, vui lòng kiểm tra lại."), errors)
    assert area is not None and opener is not None
    box = SuggestionBox(
        code=code, location=location, area=area, opener_unit=opener, active=True, created_at=now
    )
    try:
        with db.session.begin_nested():
            db.session.add(box)
    except IntegrityError:  # the same code added by someone else a moment ago
        raise ValidationError(
            N_("Chưa thêm được hòm thư, vui lòng kiểm tra lại."),
            {"code": N_("Mã hòm thư %(code)s đã có trong sổ.", code=code)},
        ) from None
    return box


def deactivate_box(box: SuggestionBox, *, actor: User, now: datetime) -> bool:
    """Stop using a box: no new openings. Openings already recorded carry on. Returns
    False when the box was already out of use."""
    if actor.role not in BOX_REGISTER_ROLES:
        raise Forbidden(N_("Chỉ quản trị và Văn phòng HĐND-UBND được ngừng sử dụng hòm thư."))
    result = db.session.execute(
        update(SuggestionBox)
        .where(SuggestionBox.id == box.id, SuggestionBox.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(box)
    return result.rowcount == 1  # type: ignore[attr-defined]


def visible_boxes(user: User) -> Select[tuple[SuggestionBox]]:
    """Clerks see the boxes their own unit opens; the city's offices see every box."""
    if user.role in BOX_CITYWIDE_ROLES:
        condition = true()
    elif user.role == "clerk" and user.unit_id is not None:
        condition = SuggestionBox.opener_unit_id == user.unit_id
    else:
        condition = false()
    return select(SuggestionBox).where(condition).order_by(SuggestionBox.code)


def can_see_box(user: User, box: SuggestionBox) -> bool:
    if user.role in BOX_CITYWIDE_ROLES:
        return True
    return user.role == "clerk" and user.unit_id is not None and user.unit_id == box.opener_unit_id


def can_open(user: User, box: SuggestionBox) -> bool:
    """May ``user`` record openings of ``box``, transcribe their letters and close them?"""
    if user.role == "coordinator":
        return True
    return user.role == "clerk" and user.unit_id is not None and user.unit_id == box.opener_unit_id


def _require_opener(user: User, box: SuggestionBox) -> None:
    if not can_open(user, box):
        raise Forbidden(
            N_("Chỉ cán bộ của đơn vị mở hòm thư này (hoặc Văn phòng HĐND-UBND) được thực hiện.")
        )


# --- recording an opening ---------------------------------------------------------------


def parse_witnesses(text: str | None) -> list[str]:
    """The distinct names, one per line, in the order written. A name repeated with or
    without diacritics ("Nguyễn Văn An" / "Nguyen Van An") counts once."""
    names: list[str] = []
    seen: set[str] = set()
    for line in (text or "").splitlines():
        name = " ".join(line.split())
        key = fold(name)
        if name and key not in seen:
            seen.add(key)
            names.append(name)
    return names


def _opener_keys(actor: User) -> set[str]:
    return {fold(n) for n in (actor.full_name, actor.display_name, actor.username) if n}


def counted_witnesses(text: str | None, actor: User) -> list[str]:
    """The witnesses who count towards the minimum: the opener himself does not."""
    own = _opener_keys(actor)
    return [n for n in parse_witnesses(text) if fold(n) not in own]


@dataclass
class OpeningInput:
    opened_at: datetime | None
    witnesses: str
    letter_count: int | None
    minutes: attachments.Upload | None
    note: str = ""


def is_scan(upload: attachments.Upload) -> bool:
    """A photo or a scanned page: any image type, or PDF (as told by the content)."""
    return upload.content_type.startswith("image/") or upload.content_type == "application/pdf"


def opening_problems(
    box: SuggestionBox, data: OpeningInput, *, actor: User, now: datetime
) -> dict[str, str]:
    """Everything wrong with an opening record, by field; empty when it may be written."""
    errors: dict[str, str] = {}
    if data.opened_at is None:
        errors["opened_at"] = N_("Vui lòng nhập ngày giờ mở hòm thư (ví dụ 15/03/2024 08:30).")
    elif data.opened_at.tzinfo is None:
        errors["opened_at"] = N_("Thời điểm mở hòm thư phải có múi giờ.")
    elif data.opened_at > now:
        errors["opened_at"] = N_("Thời điểm mở hòm thư không được ở tương lai.")
    elif data.opened_at < now - MAX_OPENING_AGE:
        errors["opened_at"] = N_(
            "Chỉ ghi nhận lần mở trong vòng %(days)s ngày trở lại (từ %(since)s).",
            days=MAX_OPENING_AGE.days,
            since=format_local(now - MAX_OPENING_AGE),
        )
    elif db.session.scalar(
        select(BoxOpening.id).where(
            BoxOpening.box_id == box.id, BoxOpening.opened_at == data.opened_at
        )
    ):
        errors["opened_at"] = N_(
            "Lần mở hòm thư %(box)s lúc %(at)s đã được ghi nhận.",
            box=box.code,
            at=format_local(data.opened_at),
        )
    names = parse_witnesses(data.witnesses)
    counted = counted_witnesses(data.witnesses, actor)
    if any(len(n) > 120 for n in names):
        errors["witnesses"] = N_("Mỗi tên người chứng kiến tối đa 120 ký tự.")
    elif len(names) > MAX_WITNESSES:
        errors["witnesses"] = N_("Tối đa %(most)s người chứng kiến.", most=MAX_WITNESSES)
    elif len(counted) < MIN_WITNESSES:
        errors["witnesses"] = N_(
            "Cần ít nhất %(least)s người chứng kiến khác nhau, mỗi dòng một người, "
            "không kể người mở hòm thư (mới có %(count)s).",
            least=MIN_WITNESSES,
            count=len(counted),
        )
    if data.letter_count is None:
        errors["letter_count"] = N_("Vui lòng nhập số thư trong hòm (0 nếu không có thư).")
    elif not 0 <= data.letter_count <= MAX_LETTERS:
        errors["letter_count"] = N_("Số thư phải từ 0 đến %(most)s.", most=MAX_LETTERS)
    if data.minutes is None:
        errors["minutes"] = N_("Vui lòng đính kèm ảnh chụp hoặc bản quét biên bản mở hòm thư.")
    elif not is_scan(data.minutes):
        errors["minutes"] = N_("Biên bản phải là %(types)s.", types=SCAN_TYPES_LABEL)
    if len(data.note or "") > 2000:
        errors["note"] = N_("Ghi chú dài quá 2.000 ký tự.")
    return errors


def record_opening(
    box: SuggestionBox, data: OpeningInput, *, actor: User, now: datetime
) -> BoxOpening:
    """Write the opening and its minutes, or nothing at all."""
    _require_opener(actor, box)
    if not box.active:
        raise Conflict(
            N_("Hòm thư %(box)s đã ngừng sử dụng; không ghi nhận lần mở mới.", box=box.code)
        )
    errors = opening_problems(box, data, actor=actor, now=now)
    if errors:
        raise ValidationError(
            N_("Chưa ghi nhận được lần mở hòm thư, vui lòng kiểm tra lại."), errors
        )
    assert data.opened_at is not None and data.letter_count is not None
    assert data.minutes is not None
    opening = BoxOpening(
        box=box,
        opened_at=data.opened_at,
        opened_by_id=actor.id,
        witnesses="\n".join(counted_witnesses(data.witnesses, actor)),
        letter_count=data.letter_count,
        note=(data.note or "").strip(),
        status="open",
        created_at=now,
    )
    db.session.add(opening)
    db.session.flush()
    attachments.store_upload(
        data.minutes, box_opening=opening, purpose="minutes", actor=actor, now=now
    )
    return opening


def visible_openings(user: User, box: SuggestionBox) -> list[BoxOpening]:
    if not can_see_box(user, box):
        return []
    return list(
        db.session.scalars(
            select(BoxOpening)
            .where(BoxOpening.box_id == box.id)
            .order_by(BoxOpening.opened_at.desc(), BoxOpening.id.desc())
        )
    )


def minutes_of(opening: BoxOpening) -> list[Attachment]:
    return list(
        db.session.scalars(
            select(Attachment)
            .where(Attachment.box_opening_id == opening.id, Attachment.purpose == "minutes")
            .order_by(Attachment.id)
        )
    )


# --- transcription ----------------------------------------------------------------------


def transcribed_count(opening_id: int) -> int:
    return (
        db.session.scalar(select(func.count(Case.id)).where(Case.box_opening_id == opening_id)) or 0
    )


def transcribed_counts(opening_ids: list[int]) -> dict[int, int]:
    if not opening_ids:
        return {}
    rows = db.session.execute(
        select(Case.box_opening_id, func.count(Case.id))
        .where(Case.box_opening_id.in_(opening_ids))
        .group_by(Case.box_opening_id)
    ).all()
    return {opening_id: count for opening_id, count in rows if opening_id is not None}


def transcribed_cases(opening: BoxOpening) -> list[Case]:
    return list(
        db.session.scalars(select(Case).where(Case.box_opening_id == opening.id).order_by(Case.id))
    )


def _claim_open(opening: BoxOpening) -> None:
    """Lock the opening row while it is still open, or refuse.

    A no-op conditional UPDATE: it takes the row lock that ``close_opening``'s UPDATE
    needs, so a close and a transcription running at once are serialised on PostgreSQL
    (on SQLite, BEGIN IMMEDIATE already serialises writers). Whichever comes second sees
    the first one's result."""
    result = db.session.execute(
        update(BoxOpening)
        .where(BoxOpening.id == opening.id, BoxOpening.status == "open")
        .values(status="open")
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(opening)
        raise Conflict(
            N_(
                "Lần mở hòm thư này đã đóng lúc %(at)s; không nhập thêm thư được.",
                at=format_local(opening.closed_at),
            )
        )


def transcribe_letter(
    opening: BoxOpening, data: CaseInput, *, actor: User, now: datetime
) -> Submitted:
    """One letter becomes one case: channel box, received when the box was opened, its
    scan attached (purpose letter_scan), optionally linked to a case it repeats."""
    _require_opener(actor, opening.box)
    _claim_open(opening)
    if not data.uploads:
        raise ValidationError(
            N_("Vui lòng đính kèm bản quét hoặc ảnh chụp lá thư."),
            {"uploads": N_("Vui lòng đính kèm bản quét hoặc ảnh chụp lá thư.")},
        )
    if not all(is_scan(u) for u in data.uploads):
        raise ValidationError(
            N_("Bản quét thư phải là %(types)s.", types=SCAN_TYPES_LABEL),
            {"uploads": N_("Bản quét thư phải là %(types)s.", types=SCAN_TYPES_LABEL)},
        )
    letter = replace(
        data,
        channel="box",
        received_at=opening.opened_at,
        box_opening_id=opening.id,
        external_ref=None,
    )
    return submit_case(letter, actor=actor, now=now)


# --- closing ----------------------------------------------------------------------------


def _count_problem(letter_count: int, count: int) -> str:
    if count < letter_count:
        return N_(
            "Chưa đóng được: biên bản ghi %(letters)s thư nhưng mới nhập %(count)s hồ sơ, "
            "còn thiếu %(missing)s thư.",
            letters=letter_count,
            count=count,
            missing=letter_count - count,
        )
    return N_(
        "Chưa đóng được: biên bản ghi %(letters)s thư nhưng đã nhập %(count)s hồ sơ, "
        "thừa %(extra)s hồ sơ so với biên bản.",
        letters=letter_count,
        count=count,
        extra=count - letter_count,
    )


def close_opening(opening: BoxOpening, *, actor: User, now: datetime) -> BoxOpening:
    """Close when, and only when, every letter of the minutes is a case.

    The rule lives in one conditional UPDATE (status still open, letter count equal to the
    cases counted in the same statement) and its rowcount. On PostgreSQL the count in the
    statement is taken at its start: a transcription holding the row lock (see
    ``_claim_open``) commits before this UPDATE proceeds, so the count is taken again
    afterwards, under the lock this UPDATE now holds, and a difference undoes the close."""
    _require_opener(actor, opening.box)
    counted = select(func.count(Case.id)).where(Case.box_opening_id == opening.id).scalar_subquery()
    result = db.session.execute(
        update(BoxOpening)
        .where(
            BoxOpening.id == opening.id,
            BoxOpening.status == "open",
            BoxOpening.letter_count == counted,
        )
        .values(status="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    count = transcribed_count(opening.id)
    db.session.refresh(opening)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if opening.status == "closed":
            raise Conflict(
                N_("Lần mở hòm thư này đã đóng lúc %(at)s.", at=format_local(opening.closed_at))
            )
        raise Conflict(_count_problem(opening.letter_count, count))
    if count != opening.letter_count:
        raise Conflict(_count_problem(opening.letter_count, count))
    return opening
