"""The escalation ladder per kind, as the admin configures it (issue 16), and its default
from the reference data file.

A change is checked as a whole: the kind's ladder after the change must still be a ladder
(``feedback.domain.escalation.ladder_problems``: levels 1..n, each later step strictly
after the one before), and each step tells someone. Nothing is written when a check
fails. Each change writes its audit record in the same transaction; the caller commits.
Steps are added and deleted, never edited: a case keeps the label and delay of the step
it reached (``case_escalations`` copies them).

The reference file's steps are loaded once per kind (``seed_ladders``): afterwards the
kind's ladder belongs to this page, and a second seed neither re-adds a deleted step nor
undoes a change. The kinds already loaded are kept in the setting ``LOADED_KEY``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ...domain.escalation import Step, ladder_problems
from ...domain.marks import N_
from ...domain.permissions import CASE_KINDS
from ...extensions import db
from ...models import EscalationStep, Setting, User
from ..accounts.audit import record as audit
from ..errors import NotFound, ValidationError
from ..sla.ladder import AUDIENCE_LABELS, CHAIRMAN_KEY, as_steps, audience_of, chairman_address

LOADED_KEY = "escalation_ladder_loaded"
MAX_DAYS = 60
MAX_LEVEL = 20
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class KindLadder:
    """One kind's steps, in level order, as the admin page lists them."""

    kind: str
    steps: list[EscalationStep]


def ladders() -> list[KindLadder]:
    rows = db.session.scalars(
        select(EscalationStep).order_by(EscalationStep.kind, EscalationStep.level)
    ).all()
    return [KindLadder(kind, [r for r in rows if r.kind == kind]) for kind in CASE_KINDS]


def chairman() -> str:
    return chairman_address()


def highest_level() -> int:
    """The highest level of any kind's ladder (0 without one): the monitor's choices."""
    return db.session.scalar(select(func.max(EscalationStep.level))) or 0


def _number(text: str, label: str, low: int, high: int, errors: dict[str, str], key: str) -> int:
    text = (text or "").strip()
    if not text:
        errors[key] = N_("Nhập %(what)s.", what=label)
        return 0
    try:
        value = int(text)
    except ValueError:
        errors[key] = N_("Nhập một số nguyên.")
        return 0
    if not low <= value <= high:
        errors[key] = N_("Giá trị phải từ %(low)s đến %(high)s.", low=low, high=high)
    return value


def _step_values(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    kind = (form.get("kind") or "").strip()
    if kind not in CASE_KINDS:
        errors["kind"] = N_("Chọn loại hồ sơ.")
    level = _number(form.get("level", ""), N_("bậc"), 1, MAX_LEVEL, errors, "level")
    days = _number(
        form.get("after_working_days", ""),
        N_("số ngày làm việc sau khi quá hạn"),
        0,
        MAX_DAYS,
        errors,
        "after_working_days",
    )
    label = (form.get("label") or "").strip()
    if not label:
        errors["label"] = N_("Ghi tên bậc, ví dụ «Báo Chủ tịch UBND thành phố».")
    elif len(label) > 120:
        errors["label"] = N_("Tên bậc tối đa 120 ký tự.")
    told = {key: form.get(f"notify_{key}") in ("1", "on", "true") for key in AUDIENCE_LABELS}
    if not any(told.values()):
        errors["audience"] = N_("Chọn ít nhất một nơi nhận thông báo.")
    values = {
        "kind": kind,
        "level": level,
        "after_working_days": days,
        "label": label,
        **{f"notify_{key}": on for key, on in told.items()},
    }
    return values, errors


def _kind_steps(kind: str) -> list[EscalationStep]:
    return list(
        db.session.scalars(
            select(EscalationStep)
            .where(EscalationStep.kind == kind)
            .order_by(EscalationStep.level)
            .with_for_update()
        )
    )


def _joined(problems: list[str]) -> str:
    """The ladder's problems as one message that still translates sentence by sentence
    (each problem is a marked text, see ``domain.escalation.ladder_problems``)."""
    if len(problems) == 1:
        return problems[0]
    return N_("%(first)s %(rest)s", first=problems[0], rest=_joined(problems[1:]))


def _check(kind: str, steps: Iterable[Step]) -> None:
    problems = ladder_problems(list(steps))
    if problems:
        raise ValidationError(
            N_(
                "Thang chuyển cấp của loại «%(kind)s» sẽ không hợp lệ: %(problems)s",
                kind=kind,
                problems=_joined(problems),
            ),
            {"ladder": _joined(problems)},
        )


def add_step(form: Mapping[str, str], *, user: User, now: datetime) -> EscalationStep:
    """A new step for a kind; refused (nothing written) when a field is wrong, when the
    level or the delay is taken, or when the kind's ladder would not be a ladder."""
    values, errors = _step_values(form)
    if errors:
        raise ValidationError(N_("Chưa thêm được bậc chuyển cấp."), errors)
    existing = _kind_steps(values["kind"])
    if any(s.level == values["level"] for s in existing):
        errors["level"] = N_(
            "Đã có bậc %(level)s; xóa bậc đó trước hoặc chọn bậc khác.", level=values["level"]
        )
    if any(s.after_working_days == values["after_working_days"] for s in existing):
        errors["after_working_days"] = N_(
            "Đã có bậc sau %(days)s ngày làm việc; chọn số ngày khác.",
            days=values["after_working_days"],
        )
    if errors:
        raise ValidationError(N_("Chưa thêm được bậc chuyển cấp."), errors)
    steps = as_steps(existing)
    _check(values["kind"], [*steps, Step(values["level"], values["after_working_days"])])
    row = EscalationStep(**values)
    db.session.add(row)
    db.session.flush()
    _audit_step("escalation_step.add", row, user, now)
    return row


def _audit_step(action: str, row: EscalationStep, user: User, now: datetime) -> None:
    audit(
        action,
        actor=(user.id, user.display_name),
        target=f"{row.kind}/{row.level}",
        details={
            "after_working_days": row.after_working_days,
            "label": row.label,
            "audience": audience_of(row),
            "at": now,
        },
    )


def delete_step(step_id: int | None, *, user: User, now: datetime) -> EscalationStep:
    """Delete one step; refused when the rest would not be a ladder (a gap in the
    levels: delete the highest first). Cases keep the steps they reached."""
    row = db.session.get(EscalationStep, step_id) if step_id is not None else None
    if row is None:
        raise NotFound(N_("Không có bậc chuyển cấp này (có thể đã bị xóa)."))
    rest = as_steps([s for s in _kind_steps(row.kind) if s.id != row.id])
    _check(row.kind, rest)
    _audit_step("escalation_step.delete", row, user, now)
    db.session.delete(row)
    db.session.flush()
    return row


def set_chairman(address: str, *, user: User, now: datetime) -> str:
    """The chairman's e-mail address (empty: none, the inspectorate is told instead).
    The settings table is audited by its own hook (``accounts.audit``)."""
    address = (address or "").strip()
    if address and (len(address) > 200 or not _EMAIL.match(address)):
        raise ValidationError(
            N_("Chưa lưu được địa chỉ thư."),
            {"chairman": N_("Địa chỉ thư không hợp lệ, ví dụ chutich@hagiang.gov.vn.")},
        )
    row = db.session.get(Setting, CHAIRMAN_KEY)
    if row is None:
        db.session.add(Setting(key=CHAIRMAN_KEY, value=address))
    elif row.value != address:
        row.value = address
    db.session.flush()
    return address


# --- the reference file's default ----------------------------------------------------------


def seed_ladders(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Load the file's ``[[escalation_steps]]`` (each with ``kinds``, ``level``,
    ``after_working_days``, ``label`` and ``notify``: a list of ``AUDIENCE_LABELS`` keys)
    for the kinds never loaded before; returns counts for the seed's report."""
    counts = {"escalation_steps.created": 0, "escalation_steps.unchanged": 0}
    marker = db.session.get(Setting, LOADED_KEY)
    loaded = set(filter(None, (marker.value if marker else "").split(",")))
    wanted: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        notify = set(entry.get("notify", []))
        unknown = notify - set(AUDIENCE_LABELS)
        if unknown or not notify:
            raise ValidationError(
                N_(
                    "escalation_steps: «notify» phải gồm một hoặc nhiều trong %(allowed)s "
                    "(nhận được %(got)s).",
                    allowed=", ".join(AUDIENCE_LABELS),
                    got=sorted(notify),
                )
            )
        for kind in entry.get("kinds", [entry.get("kind")]):
            if kind not in CASE_KINDS:
                raise ValidationError(
                    N_("escalation_steps: loại hồ sơ «%(kind)s» không có.", kind=kind)
                )
            wanted.setdefault(kind, []).append(
                {
                    "kind": kind,
                    "level": int(entry["level"]),
                    "after_working_days": int(entry["after_working_days"]),
                    "label": str(entry.get("label", "")),
                    **{f"notify_{k}": k in notify for k in AUDIENCE_LABELS},
                }
            )
    for kind, rows in sorted(wanted.items()):
        problems = ladder_problems([Step(r["level"], r["after_working_days"]) for r in rows])
        if problems:
            raise ValidationError(f"escalation_steps ({kind}): " + " ".join(problems))
        if kind in loaded:
            counts["escalation_steps.unchanged"] += len(rows)
            continue
        if not db.session.scalar(select(EscalationStep.id).where(EscalationStep.kind == kind)):
            db.session.add_all(EscalationStep(**r) for r in rows)
            counts["escalation_steps.created"] += len(rows)
        loaded.add(kind)
    if wanted:
        value = ",".join(sorted(loaded))
        if marker is None:
            db.session.add(Setting(key=LOADED_KEY, value=value))
        elif marker.value != value:
            marker.value = value
    return {k: v for k, v in counts.items() if v}
