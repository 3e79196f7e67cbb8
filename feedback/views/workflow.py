"""Working a case from the desk: the coordinator's triage queue and the case page actions.

Each action is one POST route (``/can-bo/ho-so/<code>/<slug>``) built from the table
``STEPS``: load the case (404 when the user may not see it), check the permission (403),
call one service in a unit of work, flash the outcome, 303 back. The services decide
what is legal; this module only shows the forms they would accept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..database import unit_of_work
from ..domain.marks import N_
from ..domain.permissions import STAFF_ROLES, STATUTORY_KINDS, UNIT_ROLES, Op, roles_holding
from ..domain.states import OPEN_STATUSES, Action, allowed_actions
from ..domain.text import fold
from ..extensions import db
from ..i18n import translated, translated_fields
from ..models import Case, CaseEvent, Unit, User
from ..security.access import roles
from ..services.errors import Forbidden, ServiceError
from ..services.handling import actions as handling
from ..services.handling import followup
from ..services.handling.approvers import Approval, approval_for
from ..services.handling.moves import NO_RIGHT
from ..services.handling.queues import draft_pending, triage_waiting
from ..services.handling.visibility import ops_for, visible_condition
from ..services.params import MAX_PAGE, int_param, page_of
from ..services.reference.areas import units_in_force
from ..services.reference.settings import get_setting

bp = Blueprint("workflow", __name__, url_prefix="/can-bo")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Step:
    slug: str  # the URL's last segment
    op: Op  # the permission it needs
    state: Action | None  # the state machine's move, when it changes the status
    run: Callable[..., CaseEvent]  # run(case, user, now, *form values)
    fields: str = ""  # the form fields passed to ``run``, in order


def _reopen(case: Case, user: User, now: datetime, reason: str) -> CaseEvent:
    return followup.reopen(case, now, reason, user=user)


def _classify(
    case: Case, user: User, now: datetime, complexity: str, remote: str, round_: str, reason: str
) -> CaseEvent:
    """The form's strings to the service's values (the service checks them)."""
    return handling.classify(
        case,
        user,
        now,
        complexity=complexity or "normal",
        remote=remote == "1",
        round_=int(round_) if round_ in ("1", "2") else None,
        reason=reason,
    )


A = Action
STEPS: dict[str, Step] = {
    "acknowledge": Step("xac-nhan-tiep-nhan", Op.ACKNOWLEDGE, A.ACKNOWLEDGE, handling.acknowledge),
    "confirm_routing": Step("dung-don-vi", Op.ROUTE, None, handling.confirm_routing),
    "transfer": Step("chuyen", Op.TRANSFER, A.TRANSFER, handling.transfer, "unit_code reason"),
    "reject": Step("khong-tiep-nhan", Op.REJECT, A.REJECT, handling.reject, "reason"),
    "merge": Step("gop", Op.MERGE, A.MERGE, handling.merge, "into"),
    "assign": Step("giao", Op.ASSIGN, None, handling.assign, "officer"),
    "start": Step("nhan-xu-ly", Op.START, A.START, handling.start),
    "note": Step("ghi-chu", Op.NOTE, None, handling.add_note, "note"),
    "ask_citizen": Step(
        "de-nghi-bo-sung", Op.ASK_CITIZEN, A.ASK_CITIZEN, handling.ask_citizen, "question"
    ),
    "draft_answer": Step("du-thao", Op.DRAFT_ANSWER, A.ANSWER, handling.draft_answer, "body"),
    "approve_answer": Step(
        "duyet-tra-loi", Op.APPROVE_ANSWER, A.ANSWER, handling.approve_answer, "body"
    ),
    "return_draft": Step(
        "tra-lai-du-thao", Op.APPROVE_ANSWER, None, handling.return_draft, "reason"
    ),
    "close": Step("dong", Op.CLOSE, A.CLOSE, handling.close),
    "reopen": Step("mo-lai", Op.REOPEN, A.REOPEN, _reopen, "reason"),
    "classify": Step(
        "phan-loai-ho-so", Op.CLASSIFY, None, _classify, "complexity remote round reason"
    ),
    "extend": Step("gia-han", Op.EXTEND, None, handling.extend, "reason decision"),
    "suspend": Step("tam-dinh-chi", Op.SUSPEND, None, handling.suspend, "reason"),
    "resume": Step("tiep-tuc-giai-quyet", Op.SUSPEND, None, handling.resume, "reason"),
    "withdraw_part": Step("rut-mot-phan", Op.WITHDRAW, None, handling.withdraw_part, "withdrawn"),
}
"""Every workflow action of the desk: {name: step}; the name is also the endpoint."""

DONE = {  # flashed on success; {code} and {note} (the event's note) are filled in
    "acknowledge": N_("Đã xác nhận tiếp nhận hồ sơ {code}; người gửi được thông báo."),
    "confirm_routing": N_("Hồ sơ {code}: {note}"),
    "transfer": N_("Hồ sơ {code}: {note}"),
    "reject": N_("Đã ghi nhận không tiếp nhận hồ sơ {code}; người gửi được thông báo lý do."),
    "merge": N_("Đã gộp hồ sơ {code}: {note}"),
    "assign": N_("Hồ sơ {code}: {note}"),
    "start": N_("Đã nhận xử lý hồ sơ {code}."),
    "note": N_("Đã thêm ghi chú nội bộ."),
    "ask_citizen": N_("Đã gửi đề nghị bổ sung thông tin cho người dân."),
    "draft_answer": N_("Đã lưu dự thảo trả lời, chờ {approver} duyệt."),
    "approve_answer": N_("Đã duyệt và gửi trả lời hồ sơ {code}; câu trả lời được công khai."),
    "return_draft": N_("Đã trả lại dự thảo hồ sơ {code} cho cán bộ soạn để sửa."),
    "close": N_("Đã kết thúc hồ sơ {code}."),
    "reopen": N_("Đã mở lại hồ sơ {code} theo đề nghị của người dân."),
    "classify": N_("Hồ sơ {code}: {note}"),
    "extend": N_("Hồ sơ {code}: {note}"),
    "suspend": N_("Hồ sơ {code}: {note}"),
    "resume": N_("Hồ sơ {code}: {note}"),
    "withdraw_part": N_("Hồ sơ {code}: {note}"),
}


def holders(op: Op) -> tuple[str, ...]:
    """The roles that can hold ``op`` on some case (for @roles), from the permission table."""
    return roles_holding(op, roles=STAFF_ROLES)


def triage_code() -> str:
    return get_setting("triage_unit", "VP")


def available(case: Case, ops: frozenset[Op]) -> frozenset[str]:
    """The actions to offer: permitted to the user and allowed from the case's status."""
    moves = allowed_actions(case.status)
    names = {n for n, s in STEPS.items() if s.op in ops and (s.state is None or s.state in moves)}
    if not (case.needs_triage and case.handling_unit.code != triage_code()):
        names.discard("confirm_routing")
    if case.status not in OPEN_STATUSES:
        names.discard("assign")  # only offered while the case is open (the service refuses too)
    # Statutory actions: offered only where the services would accept them.
    open_case = case.status in OPEN_STATUSES and case.answered_at is None
    if not (open_case and case.kind in STATUTORY_KINDS):
        names -= {"classify", "extend"}
    if case.kind != "denunciation":
        names.discard("extend")
    if not (open_case and case.kind == "complaint"):
        names -= {"suspend", "resume", "withdraw_part"}
    if case.suspended_since is not None or case.acknowledged_at is None:
        names.discard("suspend")
    if case.suspended_since is None:
        names.discard("resume")
    return frozenset(names)


def active_units() -> list[Unit]:
    """Units in force today (a unit a reference pack retired takes no transfer): bodies
    without an area first, then the wards' and communes' units, by name (Đ with D)."""
    units = units_in_force(datetime.now(UTC))
    return sorted(units, key=lambda u: (u.area_id is not None, fold(u.name), u.code))


def _count(n: int, one: str, many: str) -> str:
    """ "1 day" has its own message (the catalogue test reads no plural forms)."""
    return gettext(one) if n == 1 else gettext(many, n=n)


def time_left(due: datetime, now: datetime) -> tuple[str, bool]:
    """("còn 5 giờ 20 phút", False) or ("quá hạn 2 giờ", True), in the reader's language."""
    late = due < now
    minutes = int(abs(due - now).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [_count(days, N_("1 ngày"), N_("%(n)s ngày"))] if days else []
    parts += [_count(hours, N_("1 giờ"), N_("%(n)s giờ"))] if hours else []
    parts += [_count(mins, N_("1 phút"), N_("%(n)s phút"))] if mins and not days else []
    span = " ".join(parts) or gettext("dưới 1 phút")
    return (
        gettext("quá hạn %(span)s", span=span) if late else gettext("còn %(span)s", span=span)
    ), late


@dataclass
class Panel:
    """What the case page's action forms and workflow facts need."""

    case: Case
    names: frozenset[str]
    triage_code: str
    units: list[Unit] = field(default_factory=list)
    officers: list[User] = field(default_factory=list)
    drafted_by: User | None = None
    approved_by: User | None = None
    replies: list[CaseEvent] = field(default_factory=list)
    approval: Approval | None = None  # who approves the unit's answers (the draft form)

    def any(self, *names: str) -> bool:
        return not self.names.isdisjoint(names)

    def url(self, name: str) -> str:
        return url_for(f"workflow.{name}", code=self.case.code)


def panel(case: Case, ops: frozenset[Op]) -> Panel:
    names = available(case, ops)
    found = Panel(case, names, triage_code())
    if "transfer" in names:
        found.units = [u for u in active_units() if u.id != case.handling_unit_id]
    if "assign" in names:
        found.officers = list(
            db.session.scalars(
                select(User)
                .where(
                    User.unit_id == case.handling_unit_id,
                    User.active,
                    User.role.in_(UNIT_ROLES),
                )
                .order_by(User.role.desc(), User.full_name, User.username)
            )
        )
    if case.answer_drafted_by_id:
        found.drafted_by = db.session.get(User, case.answer_drafted_by_id)
    if case.answer_approved_by_id:
        found.approved_by = db.session.get(User, case.answer_approved_by_id)
    found.replies = [e for e in case.events if e.action == "citizen_reply"]
    if "draft_answer" in names or "approve_answer" in names:
        found.approval = approval_for(case.handling_unit)
    if not ("approve_answer" in names and _has_pending_draft(case)):
        found.names = names - {"return_draft"}
    return found


def _has_pending_draft(case: Case) -> bool:
    """A draft awaits approval (the same condition as the approval queue)."""
    pending = select(Case.id).where(Case.id == case.id, draft_pending())
    return db.session.scalar(pending) is not None


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {"workflow_panel": panel, "time_left": time_left}


@bp.get("/phan-loai")
@roles("coordinator")
def triage() -> Any:
    now = datetime.now(UTC)
    page = page_of(request.args, page_name="trang", per_page_default=PAGE_SIZE)
    # Open cases only: a closed case has nothing left to triage (issue 16).
    where = (triage_waiting(), visible_condition(current_user))
    total = db.session.scalar(select(func.count(Case.id)).where(*where))
    cases = db.session.scalars(
        select(Case)
        .where(*where)
        .options(
            selectinload(Case.category), selectinload(Case.area), selectinload(Case.handling_unit)
        )
        .order_by(Case.received_at, Case.id)
        .limit(page.size + 1)
        .offset(page.offset)
    ).all()
    triage_unit = triage_code()
    return render_template(
        "desk/triage.html",
        rows=[(c, available(c, ops_for(current_user, c))) for c in cases[:PAGE_SIZE]],
        units=[u for u in active_units() if u.code != triage_unit],
        total=total,
        has_more=len(cases) > PAGE_SIZE,
        page=page.number,
        now=now,
    )


def refusal(exc: ServiceError) -> str:
    """A refusal and its field messages as one flash, in the page's language: translated
    here, as the session keeps only the text (Markup, so the lang="vi" marks survive)."""
    return Markup(" ").join([translated(exc.message), *translated_fields(exc.fields).values()])


def _refuse(message: str) -> Any:
    return render_template("errors/error.html", status=403, message=message), 403


def _back(code: str, still_visible: bool) -> Any:
    if request.form.get("back") == "triage":
        # Back to the page of the queue the action came from (a bad number: the first).
        page = int_param(request.form, "trang", default=1, low=1, high=MAX_PAGE, errors={})
        return redirect(url_for("workflow.triage", trang=page if page > 1 else None), 303)
    if not still_visible:  # transferred out of the user's unit
        return redirect(url_for("desk.inbox"), 303)
    return redirect(url_for("desk.case", code=code), 303)


def act(name: str, code: str) -> Any:
    step = STEPS[name]
    user = current_user._get_current_object()
    found = db.session.scalar(select(Case).where(Case.code == code))
    ops = ops_for(user, found) if found is not None else frozenset()
    if found is None or Op.VIEW not in ops:
        abort(404)  # a case outside the user's reach is not found: its existence does not leak
    if step.op not in ops:
        return _refuse(NO_RIGHT)
    try:
        with unit_of_work():
            values = [request.form.get(f, "") for f in step.fields.split()]
            event = step.run(found, user, datetime.now(UTC), *values)
            # The note and the draft's approver (a unit without a head has someone else)
            # were marked by the service: they read in the page's language.
            facts = {**event.data, "code": code, "note": translated(event.note)}
            if "approver" in facts:
                facts["approver"] = translated(facts["approver"])
            message = Markup(escape(gettext(DONE[name]))).format(**facts)  # escapes the rest
    except Forbidden as exc:
        return _refuse(exc.message)
    except ServiceError as exc:
        flash(refusal(exc), "error")
        return _back(code, True)
    flash(message, "ok")
    return _back(code, Op.VIEW in ops_for(user, found))


def _register() -> None:
    for name, step in STEPS.items():

        def view(code: str, _name: str = name) -> Any:
            return act(_name, code)

        view.__name__ = name
        bp.add_url_rule(
            f"/ho-so/<code>/{step.slug}",
            endpoint=name,
            view_func=roles(*holders(step.op))(view),
            methods=["POST"],
        )


_register()
