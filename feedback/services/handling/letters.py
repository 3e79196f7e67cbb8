"""Apology letters for late answers: the obligation (``apology``), the letter issued
with its number, the PDF in the administrative style, and its delivery to the citizen.

Who may do what:
- see the obligations: the coordinator, inspectors, the handling unit's officers and head;
- issue (number) a letter: the handling unit's head or the coordinator;
- produce the PDF: whoever may see the reporter's identity (the letter is addressed to
  them), so a denunciation's letter only by an inspector (Law on Denunciations, art. 47);
- record the delivery: the issuers, the unit's officers, and inspectors for denunciations.
Every change is a conditional UPDATE (two clicks cannot both win) and one CaseEvent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import Select, false, select, tuple_, update
from sqlalchemy.orm import joinedload

from ...domain.calendar import LOCAL_TZ
from ...domain.marks import N_
from ...domain.permissions import LETTER_ROLES, Op
from ...extensions import db
from ...models import ApologyLetter, Case, Unit, User
from .. import params
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..intake.identity import identity_of
from ..intake.submission import KIND_LABELS
from ..params import invalid
from ..reports.pdf import Document, place_date
from ..reports.period import city_place
from ..sla.notify import joined, tell_citizen
from .events import record
from .visibility import ops_for, visible_condition

STATUS_LABELS = {
    "owed": N_("Chưa ban hành"),
    "issued": N_("Đã ban hành, chưa gửi"),
    "delivered": N_("Đã gửi"),
}
DELIVERY = {
    "post": N_("Đã gửi qua bưu điện"),
    "email": N_("Đã gửi qua thư điện tử"),
    "in_person": N_("Đã trao tận tay"),
}
SIGNERS = {  # unit kind → the head's title in the signature block
    "people_committee": ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"),
    "inspectorate": ("CHÁNH THANH TRA",),
    "police": ("TRƯỞNG CÔNG AN",),
    "court": ("CHÁNH ÁN",),
    "public_service": ("GIÁM ĐỐC",),
    "company": ("GIÁM ĐỐC",),
    "front": ("TM. BAN THƯỜNG TRỰC", "CHỦ TỊCH"),
    "council": ("CHỦ TỊCH HỘI ĐỒNG",),
}
UNDER_CITY = ("department", "inspectorate", "public_service", "council")
NO_RIGHT = N_("Ông/bà không có quyền thực hiện thao tác này với thư xin lỗi.")


def letters_for(
    user: User, status: str | None = None, after: tuple[datetime, int] | None = None
) -> Select[tuple[ApologyLetter]]:
    """The obligations ``user`` may see, oldest first; ``after``: those after that
    (owed_since, id), the cursor of the list's pages."""
    stmt = (
        select(ApologyLetter)
        .join(Case, Case.id == ApologyLetter.case_id)
        .options(joinedload(ApologyLetter.case).joinedload(Case.handling_unit))
        .where(visible_condition(user) if user.role in LETTER_ROLES else false())
        .order_by(ApologyLetter.owed_since, ApologyLetter.id)
    )
    if after is not None:
        stmt = stmt.where(tuple_(ApologyLetter.owed_since, ApologyLetter.id) > tuple_(*after))
    return stmt.where(ApologyLetter.status == status) if status in STATUS_LABELS else stmt


def cursor_of(letter: ApologyLetter) -> str:
    """The ``sau`` value of the page that continues after ``letter``."""
    return params.cursor_of(letter.owed_since, letter.id)


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """``sau`` read back; anything else than what cursor_of writes is refused by name."""
    errors: dict[str, str] = {}
    after = params.cursor_param(value, errors)
    if errors:
        raise invalid(errors)
    return after


@dataclass(frozen=True)
class LettersPage:
    letters: list[ApologyLetter]
    next_cursor: str | None  # None: the last page


def letters_page(
    user: User, status: str | None, after: tuple[datetime, int] | None, size: int
) -> LettersPage:
    """One page of ``size`` obligations (one more is read to know whether a page follows):
    a unit years late on its letters must not make the page list them all."""
    found = list(db.session.scalars(letters_for(user, status, after).limit(size + 1)).all())
    shown = found[:size]
    return LettersPage(shown, cursor_of(shown[-1]) if len(found) > size else None)


def get_letter(user: User, letter_id: int) -> ApologyLetter:
    """The letter, or NotFound when it does not exist or its case is out of reach."""
    letter = db.session.get(ApologyLetter, letter_id)
    if letter is None or user.role not in LETTER_ROLES or Op.VIEW not in ops_for(user, letter.case):
        raise NotFound(N_("Không tìm thấy thư xin lỗi."))
    return letter


def _of_unit(user: User, letter: ApologyLetter, roles: tuple[str, ...]) -> bool:
    return user.role in roles and user.unit_id == letter.case.handling_unit_id


def may_issue(user: User, letter: ApologyLetter) -> bool:
    return user.role == "coordinator" or _of_unit(user, letter, ("unit_head",))


def may_generate(user: User, letter: ApologyLetter) -> bool:
    return user.role in LETTER_ROLES and Op.VIEW_IDENTITY in ops_for(user, letter.case)


def may_deliver(user: User, letter: ApologyLetter) -> bool:
    if letter.case.kind == "denunciation" and user.role == "inspector":
        return True
    return may_issue(user, letter) or _of_unit(user, letter, ("officer",))


def _as_written(text: str) -> str:
    return text


def late_text(seconds: int, translate: Callable[[str], str] = _as_written) -> str:
    """How late an answer was, in words: Vietnamese as the letter and the timeline say it,
    or through ``translate`` (gettext) where the letters page shows it."""
    days, rest = divmod(max(seconds, 0), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    # One of each is its own message: English says "1 day", not "1 days".
    units = (
        (days, N_("1 ngày"), N_("%(n)s ngày")),
        (hours, N_("1 giờ"), N_("%(n)s giờ")),
        (0 if days else minutes, N_("1 phút"), N_("%(n)s phút")),
    )
    parts = [
        translate(one) if n == 1 else translate(many) % {"n": n} for n, one, many in units if n
    ]
    return " ".join(parts) or translate(N_("dưới 1 phút"))


def _when(value: datetime) -> str:
    t = value.astimezone(LOCAL_TZ)
    return f"{t:%H} giờ {t:%M} phút ngày {t:%d/%m/%Y}"


def issue(letter: ApologyLetter, user: User, now: datetime) -> ApologyLetter:
    """Number the letter «seq/year/TXL-UNIT» (seq per unit and year) and record it issued."""
    if not may_issue(user, letter):
        raise Forbidden(NO_RIGHT)
    case = letter.case
    if letter.status != "owed":
        raise Conflict(
            N_(
                "Thư xin lỗi cho hồ sơ %(code)s đã được ban hành (số %(number)s).",
                code=case.code,
                number=letter.number,
            )
        )
    unit = case.handling_unit
    # One numbering per unit: lock its row on PostgreSQL (SQLite writers are serialised by
    # BEGIN IMMEDIATE); the unique number is the last guard.
    db.session.execute(select(Unit.id).where(Unit.id == unit.id).with_for_update())
    suffix = f"/{now.astimezone(LOCAL_TZ).year}/TXL-{unit.code}"
    taken = db.session.scalars(
        select(ApologyLetter.number).where(ApologyLetter.number.like(f"%{suffix}"))
    )
    seq = 1 + max(
        (int(n.split("/")[0]) for n in taken if n.endswith(suffix) and n.split("/")[0].isdigit()),
        default=0,
    )
    number = f"{seq}{suffix}"
    done = db.session.execute(
        update(ApologyLetter)
        .where(ApologyLetter.id == letter.id, ApologyLetter.status == "owed")
        .values(status="issued", number=number, issued_at=now, issued_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(N_("Thư xin lỗi vừa được người khác ban hành; vui lòng tải lại trang."))
    db.session.refresh(letter)
    record(
        case,
        "apology_issued",
        user=user,
        now=now,
        public=True,
        note=f"Ban hành thư xin lỗi số {number} vì trả lời chậm "
        f"{late_text(letter.late_by_seconds)} so với thời hạn.",
        data={"letter_id": letter.id, "number": number},
    )
    return letter


def deliver(letter: ApologyLetter, user: User, now: datetime, via: str) -> ApologyLetter:
    """Record the letter sent by post, by e-mail (its text goes to the reporter through the
    outbox) or handed over."""
    if via not in DELIVERY:
        raise ValidationError(
            N_("Chọn cách gửi thư."), {"via": N_("Bưu điện, thư điện tử hoặc trao tay.")}
        )
    if not may_deliver(user, letter):
        raise Forbidden(NO_RIGHT)
    case = letter.case
    if letter.status != "issued":
        raise Conflict(
            N_("Thư xin lỗi chưa được ban hành.")
            if letter.status == "owed"
            else N_("Đã ghi nhận việc gửi thư xin lỗi số %(number)s.", number=letter.number)
        )
    if via == "email" and not identity_of(case).email:
        raise ValidationError(
            N_(
                "Người gửi không để lại địa chỉ thư điện tử; hãy gửi qua bưu điện hoặc trao "
                "tận tay."
            ),
            {"via": N_("Không có địa chỉ thư điện tử.")},
        )
    done = db.session.execute(
        update(ApologyLetter)
        .where(ApologyLetter.id == letter.id, ApologyLetter.status == "issued")
        .values(status="delivered", delivered_via=via, delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(N_("Thư xin lỗi vừa được người khác cập nhật; vui lòng tải lại trang."))
    db.session.refresh(letter)
    if via == "email":
        text = "\n\n".join(letter_paragraphs(letter))
        tell_citizen(
            case,
            kind="apology",
            reason=str(letter.id),
            now=now,
            # The letter itself is an official document, in Vietnamese whatever the
            # citizen's language; the line introducing it follows their language.
            text=joined(
                lazy_gettext(
                    "Thư xin lỗi số %(number)s của %(unit)s:",
                    number=letter.number,
                    unit=case.handling_unit.name,
                ),
                text,
            ),
            with_due=False,
        )
    record(
        case,
        "apology_delivered",
        user=user,
        now=now,
        public=True,
        note=N_("%(done)s thư xin lỗi số %(number)s.", done=DELIVERY[via], number=letter.number),
        data={"letter_id": letter.id, "via": via},
    )
    return letter


# --- the letter ----------------------------------------------------------------------------


def letter_paragraphs(letter: ApologyLetter) -> list[str]:
    case, unit = letter.case, letter.case.handling_unit.name
    return [
        f"{unit} đã tiếp nhận {KIND_LABELS[case.kind].lower()} của ông/bà (mã hồ sơ "
        f"{case.code}) về việc «{case.subject}» vào lúc {_when(case.received_at)}.",
        f"Theo quy định, hồ sơ phải được trả lời chậm nhất vào {_when(case.response_due_at)}. "
        f"Tuy nhiên, đến {_when(letter.owed_since)} {unit} mới trả lời ông/bà, chậm "
        f"{late_text(letter.late_by_seconds)} so với thời hạn.",
        f"{unit} chân thành xin lỗi ông/bà vì đã trả lời chậm so với thời hạn đã hẹn, gây "
        "phiền hà và ảnh hưởng đến thời gian, công việc của ông/bà.",
        "Đơn vị đã kiểm điểm, làm rõ nguyên nhân, chấn chỉnh việc tiếp nhận, giải quyết và cam "
        "kết nâng cao trách nhiệm, bảo đảm trả lời người dân đúng thời hạn theo quy định.",
        "Rất mong ông/bà thông cảm và tiếp tục quan tâm phản ánh, kiến nghị để chính quyền "
        "phục vụ Nhân dân ngày càng tốt hơn.",
        "Trân trọng./.",
    ]


def _issuer(unit: Unit, city: str) -> tuple[list[str], int]:
    """The heading's issuing body and how many of its lines are not bold."""
    if unit.kind == "people_committee" and unit.name.startswith("UBND "):
        return ["ỦY BAN NHÂN DÂN", unit.name.removeprefix("UBND ").upper()], 0
    if unit.kind in UNDER_CITY:
        # An office of a ward or commune (from 1 July 2025) answers to that ward's UBND.
        above = unit.area.name if unit.area is not None else city
        return [f"UBND {above.upper()}", unit.name.upper()], 1
    return [unit.name.upper()], 0


def _signer(unit: Unit, issuer: User | None) -> tuple[tuple[str, ...], str]:
    if unit.kind == "department":
        title: tuple[str, ...] = (
            ("CHÁNH VĂN PHÒNG",) if unit.name.startswith("Văn phòng") else ("TRƯỞNG PHÒNG",)
        )
    else:
        title = SIGNERS.get(unit.kind, ("THỦ TRƯỞNG ĐƠN VỊ",))
    if issuer is None or issuer.role != "unit_head" or issuer.unit_id != unit.id:
        issuer = db.session.scalar(
            select(User)
            .where(User.unit_id == unit.id, User.role == "unit_head", User.active)
            .order_by(User.id)
        )
    return title, issuer.full_name if issuer is not None else ""


def letter_pdf_bytes(letter: ApologyLetter) -> bytes:
    if letter.status == "owed" or letter.number is None or letter.issued_at is None:
        raise Conflict(N_("Thư xin lỗi chưa được ban hành."))
    case, unit = letter.case, letter.case.handling_unit
    city, place = city_place(letter.issued_at)
    if unit.area is not None and unit.kind in ("people_committee", "police"):
        place = unit.area.name.removeprefix("Phường ").removeprefix("Xã ")
    doc = Document(f"Thư xin lỗi số {letter.number}")
    lines, plain = _issuer(unit, city)
    doc.heading(
        lines,
        f"Số: {letter.number}",
        place_date(place, letter.issued_at.astimezone(LOCAL_TZ).date()),
        bold_from=plain,
    )
    doc.doc_title("THƯ XIN LỖI", "Về việc trả lời chậm phản ánh, kiến nghị của người dân")
    name = None if case.anonymous else identity_of(case).name
    doc.para(f"Kính gửi: Ông/Bà {name}" if name else "Kính gửi: Người gửi phản ánh", indent=False)
    doc.para(f"Mã hồ sơ: {case.code}", indent=False)
    doc.ln(2)
    for text in letter_paragraphs(letter):
        doc.para(text)
    title, signer = _signer(unit, db.session.get(User, letter.issued_by_id or 0))
    recipients = [
        "- Như trên;",
        "- Thanh tra thành phố;",
        "- Văn phòng HĐND-UBND TP;",
        "- Lưu: VT.",
    ]
    doc.sign_block(recipients, title, signer)
    return bytes(doc.output())


def letter_pdf_for(user: User, letter: ApologyLetter) -> bytes:
    """The PDF for ``user``: only of an issued letter, only for who may see the addressee."""
    if letter.status == "owed":
        raise NotFound(N_("Thư xin lỗi chưa được ban hành."))
    if not may_generate(user, letter):
        raise Forbidden(N_("Chỉ Thanh tra thành phố được lập thư xin lỗi cho hồ sơ tố cáo."))
    return letter_pdf_bytes(letter)
