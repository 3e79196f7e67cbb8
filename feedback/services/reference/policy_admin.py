"""Admins change SLA policy values and warning thresholds from a chosen day.

A change never edits a row: the row in force on the chosen day is closed there
(``valid_to``) and a new row with the new values starts (``valid_from``), carrying the
old row's end, so every case keeps the policy in force when its clock started and the
past is never rewritten. The chosen day must be after today (local): a change today would
alter cases already received today. Each change writes its audit record in the same
transaction; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from ...domain.deadlines import local_date
from ...domain.marks import N_
from ...extensions import db
from ...models import SlaPolicy, User
from ..accounts.audit import record as audit
from ..errors import Conflict, NotFound, ValidationError


@dataclass(frozen=True)
class Field:
    """One editable value. ``label`` is marked (the page shows it with ``_()``);
    ``missing`` is what a required field says when left empty (its own marked sentence,
    since a label cut into a sentence would not translate)."""

    name: str
    label: str
    low: int
    optional: bool = False  # empty = none (no warning; or the other acknowledgement rule)
    missing: str = ""


FIELDS = (
    Field("ack_hours", N_("Hạn xác nhận tiếp nhận (giờ)"), 1, optional=True),
    Field("ack_days", N_("Hạn thụ lý (ngày)"), 1, optional=True),
    Field(
        "response_days",
        N_("Hạn trả lời / giải quyết (ngày)"),
        1,
        missing=N_("Nhập hạn trả lời / giải quyết (ngày)."),
    ),
    Field("warn_before_ack_hours", N_("Cảnh báo trước hạn xác nhận (giờ)"), 0, optional=True),
    Field(
        "warn_before_response_working_days",
        N_("Cảnh báo trước hạn trả lời (ngày làm việc)"),
        0,
        optional=True,
    ),
    Field(
        "reopen_window_days",
        N_("Thời gian người dân được đề nghị mở lại (ngày)"),
        1,
        missing=N_("Nhập thời gian người dân được đề nghị mở lại (ngày)."),
    ),
)
EDITABLE = tuple(f.name for f in FIELDS)


def policies() -> list[SlaPolicy]:
    """Every row, by kind, round and period: what the admin page lists."""
    return list(
        db.session.scalars(
            select(SlaPolicy).order_by(SlaPolicy.kind, SlaPolicy.round, SlaPolicy.valid_from)
        )
    )


def _parse(form: dict[str, str], row: SlaPolicy) -> tuple[dict[str, int | None], dict[str, str]]:
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for f in FIELDS:
        text = (form.get(f.name) or "").strip()
        if not text:
            if f.optional:
                values[f.name] = None
            else:
                errors[f.name] = f.missing
            continue
        try:
            number = int(text)
        except ValueError:
            errors[f.name] = N_("Nhập một số nguyên.")
            continue
        if not f.low <= number <= 1000:
            errors[f.name] = N_("Giá trị phải từ %(low)s đến %(high)s.", low=f.low, high=1000)
            continue
        values[f.name] = number
    if not errors and (values.get("ack_hours") is None) == (values.get("ack_days") is None):
        errors["ack_hours"] = N_("Đặt đúng một trong hai: hạn xác nhận theo giờ hoặc theo ngày.")
    return values, errors


def change_policy(
    policy_id: int,
    form: dict[str, str],
    valid_from: date | None,
    reason: str,
    *,
    user: User,
    now: datetime,
) -> SlaPolicy:
    """A new row for the policy of ``policy_id``'s kind and round from ``valid_from``; the
    row in force that day ends there. Refused when nothing changes, when the day is not in
    the future, or when a row already starts that day."""
    base = db.session.get(SlaPolicy, policy_id)
    if base is None:
        raise NotFound(N_("Không có chính sách thời hạn này."))
    values, errors = _parse(form, base)
    today = local_date(now)
    if valid_from is None:
        errors["valid_from"] = N_("Chọn ngày bắt đầu áp dụng.")
    elif valid_from <= today:
        errors["valid_from"] = N_(
            "Ngày áp dụng phải sau hôm nay (%(today)s): "
            "thay đổi không được áp dụng ngược cho hồ sơ đã tiếp nhận.",
            today=f"{today:%d/%m/%Y}",
        )
    reason = (reason or "").strip()
    if len(reason) < 5:
        errors["reason"] = N_("Ghi lý do hoặc văn bản làm căn cứ thay đổi (ít nhất 5 ký tự).")
    if errors:
        raise ValidationError(N_("Chưa lưu được thay đổi chính sách thời hạn."), errors)
    assert valid_from is not None
    current = db.session.scalar(
        select(SlaPolicy)
        .where(
            SlaPolicy.kind == base.kind,
            SlaPolicy.round == base.round,
            SlaPolicy.valid_from <= valid_from,
            (SlaPolicy.valid_to.is_(None)) | (SlaPolicy.valid_to > valid_from),
        )
        .with_for_update()
    )
    if current is None:
        raise Conflict(N_("Không có chính sách nào có hiệu lực vào ngày đã chọn để thay đổi."))
    if current.valid_from == valid_from:
        raise Conflict(
            N_(
                "Đã có chính sách bắt đầu ngày %(day)s; chọn một ngày khác.",
                day=f"{valid_from:%d/%m/%Y}",
            ),
            {"valid_from": N_("Chọn một ngày khác.")},
        )
    before = {name: getattr(current, name) for name in EDITABLE}
    if before == values:
        raise ValidationError(
            N_("Không có giá trị nào thay đổi."),
            {"response_days": N_("Sửa ít nhất một giá trị.")},
        )
    copied: dict[str, Any] = {
        c.name: getattr(current, c.name)
        for c in SlaPolicy.__table__.columns
        if c.name not in ("id", "valid_from", "valid_to")
    }
    copied.update(values)
    copied["legal_basis"] = f"{current.legal_basis} — Điều chỉnh từ {valid_from:%d/%m/%Y}: {reason}"
    new = SlaPolicy(**copied, valid_from=valid_from, valid_to=current.valid_to)
    current.valid_to = valid_from
    db.session.add(new)
    db.session.flush()
    audit(
        "sla_policy.change",
        actor=(user.id, user.display_name),
        target=f"{current.kind}/{current.round}",
        details={
            "valid_from": valid_from,
            "previous_id": current.id,
            "new_id": new.id,
            "reason": reason,
            **{f"{k}_before": v for k, v in before.items() if v != values[k]},
            **{f"{k}_after": values[k] for k, v in before.items() if v != values[k]},
        },
    )
    return new
