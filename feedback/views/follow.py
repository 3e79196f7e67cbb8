"""The citizen follow-up: status, answer, reply, rating, reopening (code + access key).

A look-up with the right code and access key (public.lookup) remembers the code in the
session (``session["follow"]``, at most ``MAX_REMEMBERED`` codes; the key itself is never
stored) and redirects here. Every page and action below is for that session only: anyone
else is sent back to the look-up form. The forms carry their own CSRF token, so the views
are exempt from CSRFProtect and an expired token shows beside the text the citizen keeps.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..database import unit_of_work
from ..domain.marks import N_
from ..domain.states import OPEN_STATUSES, Status
from ..extensions import csrf, db
from ..i18n import format_local, translated
from ..models import Case, CaseEvent
from ..security.access import public
from ..security.limits import charge_upload_quota, check_upload_quota
from ..services.errors import NotFound, ServiceError, ValidationError
from ..services.handling import followup, progress
from ..services.handling.citizen_view import citizen_files, citizen_timeline
from ..services.intake.attachments import (
    ACCEPT,
    Upload,
    download_name,
    human_size,
    limits,
    open_attachment,
    read_uploads,
    stored_bytes,
)
from .files import FILE_POLICY
from .forms.common import Form
from .forms.errors import attach_errors
from .forms.follow import RATING_LABELS, ForgetForm, RateForm, ReopenForm, ReplyForm

bp = Blueprint("follow", __name__, url_prefix="/tra-cuu")

SESSION_KEY = "follow"
MAX_REMEMBERED = 10
ANSWERED = frozenset({Status.ANSWERED.value, Status.CLOSED.value})
PUBLISHED = ANSWERED | {Status.REJECTED.value}
NOT_PROVEN = N_("Vui lòng nhập mã hồ sơ và mã tra cứu để xem và thao tác với hồ sơ.")
# A date format with words in it ("ngày"): shown through the catalogue like any text.
DEADLINE_FORMAT = N_("%H:%M ngày %d/%m/%Y")


@bp.after_request
def private(response: Any) -> Any:
    """A case page on a shared phone must not come back from the cache or the back button."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the session's proof -------------------------------------------------------------------


def _normal(code: str) -> str:
    return (code or "").strip().upper()


def remember(code: str) -> None:
    """This session proved the access key of ``code``: keep the code (never the key), the
    most recent last, at most MAX_REMEMBERED of them."""
    code = _normal(code)
    held = [c for c in session.get(SESSION_KEY) or [] if isinstance(c, str) and c != code]
    session[SESSION_KEY] = [*held, code][-MAX_REMEMBERED:]


def remembered() -> list[str]:
    held = session.get(SESSION_KEY) or []
    return [c for c in held if isinstance(c, str)]


def _proven_case(code: str) -> Case | None:
    """The case, if this session proved its key; None otherwise."""
    code = _normal(code)
    if code not in remembered():
        return None
    case = db.session.scalar(select(Case).where(Case.code == code))
    if case is None:
        abort(404)
    return case


def _to_lookup() -> Any:
    flash(_(NOT_PROVEN), "error")
    return redirect(url_for("public.lookup"), 303)


# --- what the page shows -------------------------------------------------------------------


@dataclass
class Problem:
    """A refusal to show on the page: which form it belongs to, its message, and the text
    the citizen typed (kept when that form is no longer offered)."""

    form: str
    message: str
    kept: str = ""


@dataclass
class Forms:
    reply: ReplyForm | None = None
    rate: RateForm | None = None
    reopen: ReopenForm | None = None


def _joined(case: Case) -> Case | None:
    """The case a merged duplicate is followed in (through a chain of merges)."""
    seen = {case.id}
    target = case
    while target.merged_into_id is not None and target.merged_into_id not in seen:
        nxt = db.session.get(Case, target.merged_into_id)
        if nxt is None:
            break
        seen.add(nxt.id)
        target = nxt
    return target if target is not case else None


def published_answer(case: Case) -> str | None:
    return case.answer_body if case.status in PUBLISHED else None


def _public_events(case: Case) -> list[CaseEvent]:
    return [e for e in case.events if e.public]


def _question(case: Case) -> str | None:
    """What the unit asked for, while the case waits for the citizen."""
    if case.status != Status.WAITING_CITIZEN.value:
        return None
    asked = [e for e in case.events if e.public and e.action == "ask_citizen"]
    return asked[-1].note if asked else None


def _render(
    case: Case, now: datetime, forms: Forms | None = None, problem: Problem | None = None
) -> str:
    forms = forms or Forms()
    answered = case.status in ANSWERED and case.answer_body is not None
    can_reply = case.status == Status.WAITING_CITIZEN.value
    can_rate = answered and case.rated_at is None
    reopen_until = followup.reopen_deadline(case) if answered else None
    can_reopen = reopen_until is not None and now <= reopen_until
    max_count, max_bytes = limits()
    joined = _joined(case) if case.status == Status.MERGED.value else None
    shown = {"reply": can_reply, "rate": can_rate, "reopen": can_reopen}
    return render_template(
        "public/status.html",
        case=case,
        now=now,
        events=citizen_timeline(case),
        files=citizen_files(case),
        answer=published_answer(case),
        joined=joined,
        joined_answer=published_answer(joined) if joined is not None else None,
        question=_question(case),
        open_case=Status(case.status) in OPEN_STATUSES,
        overdue=Status(case.status) in OPEN_STATUSES and case.response_due_at < now,
        rating_label=_(RATING_LABELS[case.rating]) if case.rating in RATING_LABELS else None,
        reply_form=(forms.reply or ReplyForm(formdata=None)) if can_reply else None,
        rate_form=(forms.rate or RateForm(formdata=None)) if can_rate else None,
        reopen_form=(forms.reopen or ReopenForm(formdata=None)) if can_reopen else None,
        reopen_until=format_local(reopen_until, _(DEADLINE_FORMAT)) if reopen_until else None,
        problem=problem,
        problem_elsewhere=problem is not None and not shown.get(problem.form, False),
        forget_form=ForgetForm(formdata=None),
        attachments_accept=ACCEPT,
        attachments_hint=_(
            "Ảnh hoặc PDF, tối đa %(count)s tệp, mỗi tệp không quá %(size)s.",
            count=max_count,
            size=human_size(max_bytes),
        ),
    )


@bp.get("/<code>")
@public
def status(code: str) -> Any:
    case = _proven_case(code)
    if case is None:
        return _to_lookup()
    return _render(case, datetime.now(UTC))


@bp.get("/<code>/anh/<int:attachment_id>")
@public
def photo(code: str, attachment_id: int) -> Any:
    """A photo the unit published with a progress update (issue 16), for the session that
    proved the case's key; any other file of the case is not found here."""
    case = _proven_case(code)
    if case is None:
        return _to_lookup()
    found = progress.published_photo(case, attachment_id)
    if found is None:
        abort(404)
    data = stored_bytes(found)
    try:
        source: Any = io.BytesIO(data) if data is not None else open_attachment(found)
    except NotFound:
        abort(404)
    response = send_file(
        source,
        mimetype=found.content_type,
        download_name=download_name(found),
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    return response


# --- the citizen's actions -----------------------------------------------------------------


def _typed(form: Form) -> str:
    for name in ("reply", "reason", "comment"):
        value = getattr(getattr(form, name, None), "data", None)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _act(
    code: str,
    which: str,
    form_class: type[Form],
    perform: Callable[[Case, datetime, Any, list[Upload]], str],
) -> Any:
    """Load, check the session's proof and the form, run one unit of work, answer."""
    case = _proven_case(code)
    if case is None:
        return _to_lookup()
    now = datetime.now(UTC)
    form: Any
    try:
        form = form_class()
    except RequestEntityTooLarge:
        form = form_class(formdata=None)
        message = _(
            "Dữ liệu gửi lên quá lớn; nội dung chưa được gửi. Vui lòng nhập lại và chọn ít "
            "tệp hơn hoặc tệp nhỏ hơn."
        )
        return _render(case, now, Forms(**{which: form}), Problem(which, message)), 413
    valid = form.validate()
    uploads: list[Upload] = []
    if which == "reply":
        try:
            # Read and checked before anything is written: a refused file writes nothing.
            uploads = read_uploads(request.files.getlist("attachments"))
        except ValidationError as exc:
            # After validate(), which resets every field's errors.
            form.attachments.errors = [translated(exc.fields.get("attachments", exc.message))]
            valid = False
    if not valid:
        token = getattr(form, "csrf_token", None)
        if token is not None and token.errors:
            message = f"{token.errors[0]} " + _("Nội dung ông/bà đã nhập vẫn được giữ.")
        else:
            message = _("Thông tin chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu.")
        problem = Problem(which, message, _typed(form))
        return _render(case, now, Forms(**{which: form}), problem), 422
    try:
        check_upload_quota(uploads)  # the address's daily quota, shared with the API
        with unit_of_work():
            done = perform(case, now, form, uploads)
    except ServiceError as exc:
        # The service's names are the form's; the refusal's message shows above the form.
        # In the reader's language where the catalogue has the service's words.
        attach_errors(form, {name: translated(text) for name, text in exc.fields.items()})
        problem = Problem(which, translated(exc.message), _typed(form))
        return _render(case, now, Forms(**{which: form}), problem), exc.status
    charge_upload_quota(uploads)
    flash(done, "ok")
    return redirect(url_for("follow.status", code=case.code), 303)


def _reply(case: Case, now: datetime, form: ReplyForm, uploads: list[Upload]) -> str:
    followup.citizen_reply(case, now, form.reply.data or "", uploads)
    if uploads:
        return _(
            "Đã gửi thông tin bổ sung và %(n)s tệp đính kèm. Hồ sơ tiếp tục được xử lý.",
            n=len(uploads),
        )
    return _("Đã gửi thông tin bổ sung. Hồ sơ tiếp tục được xử lý.")


def _rate(case: Case, now: datetime, form: RateForm, uploads: list[Upload]) -> str:
    followup.rate(case, now, int(form.rating.data), form.comment.data or "")
    return _("Cảm ơn ông/bà đã đánh giá kết quả giải quyết.")


def _reopen(case: Case, now: datetime, form: ReopenForm, uploads: list[Upload]) -> str:
    followup.reopen(case, now, form.reason.data or "")
    due = format_local(case.response_due_at, _(DEADLINE_FORMAT))
    return _(
        "Đã ghi nhận đề nghị xem xét lại. Hồ sơ được mở lại và sẽ được trả lời chậm nhất %(due)s.",
        due=due,
    )


@bp.post("/<code>/bo-sung")
@public
@csrf.exempt  # the form validates its own token
def reply(code: str) -> Any:
    return _act(code, "reply", ReplyForm, _reply)


@bp.post("/<code>/danh-gia")
@public
@csrf.exempt  # the form validates its own token
def rate(code: str) -> Any:
    return _act(code, "rate", RateForm, _rate)


@bp.post("/<code>/xem-xet-lai")
@public
@csrf.exempt  # the form validates its own token
def reopen(code: str) -> Any:
    return _act(code, "reopen", ReopenForm, _reopen)


@bp.post("/ket-thuc")
@public
@csrf.exempt  # the form validates its own token
def forget() -> Any:
    """On a shared phone or computer: this session forgets every code it proved."""
    form = ForgetForm()
    if not form.validate():
        flash(_("Phiên làm việc đã hết hạn; vui lòng bấm «Kết thúc tra cứu» lại."), "error")
        return redirect(url_for("public.lookup"), 303)
    session.pop(SESSION_KEY, None)
    flash(_("Đã kết thúc tra cứu trên thiết bị này."), "ok")
    return redirect(url_for("public.lookup"), 303)
