"""Pages for citizens: no account, no login."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from ..database import unit_of_work
from ..domain.permissions import STATUTORY_KINDS
from ..domain.promises import ANONYMOUS_CONSEQUENCES, grouped
from ..domain.states import STATUS_LABELS
from ..extensions import csrf, db
from ..i18n import current_language, translated
from ..models import Case
from ..security.access import public
from ..security.limits import (
    Refusal,
    UploadQuotaExceeded,
    attempt_refused,
    charge_upload_quota,
    check_upload_quota,
    count_submission,
    lookup_limit,
    reissue_limit,
    submission_refused,
)
from ..services.errors import ValidationError
from ..services.handling.citizen_view import citizen_files
from ..services.intake import pending
from ..services.intake.attachments import ACCEPT, human_size, limits, read_uploads
from ..services.intake.duplicates import PublicHint, find_similar_public
from ..services.intake.lost_key import reissue_access_key
from ..services.intake.promises import case_promise, kind_promises
from ..services.intake.resubmit import (
    WebReceipt,
    earlier_answer,
    form_token,
    submit_web_once,
    usable_token,
)
from ..services.intake.submission import (
    CHANNEL_LABELS,
    KIND_LABELS,
    access_key_matches,
)
from .follow import remember
from .forms.choices import area_choices, category_choices
from .forms.common import LookupForm, LostKeyForm, SubmitCaseForm
from .forms.errors import attach_errors
from .forms.formdata import case_input

bp = Blueprint("public", __name__)

# Service field names → form field names, so a service refusal lands beside its input.
FIELD_MAP = {
    "reporter.name": "reporter_name",
    "reporter.phone": "reporter_phone",
    "reporter.email": "reporter_email",
}


@bp.app_context_processor
def labels() -> dict[str, Any]:
    return {
        "KIND_LABELS": KIND_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
        "STATUS_LABELS": {s.value: label for s, label in STATUS_LABELS.items()},
        "promised_limits": promised_limits,
    }


def promised_limits() -> list[tuple[list[str], str]]:
    """The footer's promise, per group of kinds with the same limits, from the policies
    in force (computed when a page's footer asks, once per request). An error page must
    still render when the database cannot answer: it then makes no promise at all."""
    if "promised_limits" not in g:
        try:
            g.promised_limits = grouped(kind_promises(datetime.now(UTC), _))
        except SQLAlchemyError:
            db.session.rollback()
            g.promised_limits = []
    return g.promised_limits  # type: ignore[no-any-return]


def _fill_choices(form: SubmitCaseForm) -> None:
    form.category_code.choices = category_choices()
    form.area_code.choices = area_choices()


def _public_hints(form: SubmitCaseForm) -> list[PublicHint]:
    """Similar open cases, as anyone may see them: whether and since when cases of a public
    kind are being handled here, never a code or a subject (the service decides)."""
    return find_similar_public(
        form.category_code.data or None,
        form.area_code.data or None,
        f"{form.subject.data} {form.body.data}",
        now=datetime.now(UTC),
    )


@bp.get("/")
@public
def index() -> str:
    return render_template("public/index.html", promises=kind_promises(datetime.now(UTC), _))


@bp.get("/tiep-can")
@public
def accessibility() -> str:
    """The accessibility statement public bodies publish: what the service meets, what it
    does not yet, and whom to tell when a page stands in someone's way."""
    return render_template("public/accessibility.html")


def _render_submit(
    form: SubmitCaseForm,
    error: str | None,
    *,
    attachments_error: str | None = None,
    files_chosen: bool = False,
    hints: list[PublicHint] | None = None,
    checked: bool = False,
    kept: list[pending.PendingFile] | None = None,
) -> str:
    max_count, max_bytes = limits()
    if not usable_token(form.submission_token.data):
        form.submission_token.data = form_token()
    return render_template(
        "public/submit.html",
        form=form,
        error=error,
        hints=hints or [],
        checked=checked,
        attachments_error=attachments_error,
        # A browser never refills a file input: files that could not be kept must be
        # chosen again, and the page says so.
        files_chosen=files_chosen,
        kept_files=kept or [],
        promises=kind_promises(datetime.now(UTC), _),
        named_kinds=STATUTORY_KINDS,
        anonymous_consequences=ANONYMOUS_CONSEQUENCES,
        attachments_accept=ACCEPT,
        attachments_hint=_(
            "Ảnh hoặc PDF, tối đa %(count)s tệp, mỗi tệp không quá %(size)s.",
            count=max_count,
            size=human_size(max_bytes),
        ),
    )


@bp.route("/gui", methods=["GET", "POST"])
@public
@csrf.exempt  # the form checks its own token, so an expired one shows beside the data kept
def submit() -> Any:
    """The citizen's form. Only a filed case counts against RATELIMIT_SUBMIT (counted
    here, not by a decorator, so that a refusal re-renders the form with everything
    typed); checks and refused forms cost no submission, only an attempt."""
    try:
        form = SubmitCaseForm()
    except RequestEntityTooLarge:
        # The body was refused before it was read, so there is nothing to keep.
        form = SubmitCaseForm(formdata=None)
        _fill_choices(form)
        limit = human_size(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
        message = _(
            "Dữ liệu gửi lên quá lớn. Tổng dung lượng không được vượt quá %(limit)s; nội dung "
            "chưa được gửi, vui lòng nhập lại và chọn ít tệp hơn hoặc tệp nhỏ hơn.",
            limit=limit,
        )
        return _render_submit(form, message, attachments_error=message), 413
    _fill_choices(form)
    if not form.is_submitted():
        form.upload_token.data = pending.new_token()
        return _render_submit(form, None)
    return _posted(form, datetime.now(UTC))


def _too_many(body: str, refusal: Refusal) -> Any:
    return body, 429, {"Retry-After": str(refusal.retry_after)}


def _posted(form: SubmitCaseForm, now: datetime) -> Any:
    """A POST of the form: "Xem phản ánh tương tự" (action=check) or "Gửi"."""
    checking = request.form.get("action") == "check"
    valid = form.validate_for_check() if checking else form.validate()
    files = request.files.getlist("attachments")
    files_chosen = any(f.filename for f in files)
    token = pending.usable_token(form.upload_token.data) or pending.new_token()
    form.upload_token.data = token
    wanted = pending.file_ids(request.form.getlist("kept_upload"))
    trusted = not form.csrf_token.errors if hasattr(form, "csrf_token") else True
    if trusted:
        removed = pending.file_ids(request.form.getlist("remove_upload"))
        pending.drop(token, removed)
        wanted = [i for i in wanted if i not in removed]
    present = {f.id: f for f in pending.held(token, now)}
    attachments_error = None
    if any(i not in present for i in wanted):
        if not checking and valid and pending.was_sent(token):
            # The same form again after its case was filed (the answer was lost): the
            # kept files went with that case, which is the answer again.
            data = case_input(form, channel="web", uploads=[])
            earlier = earlier_answer(usable_token(form.submission_token.data), data)
            if earlier is not None:
                return _to_receipt(earlier)
        attachments_error = _(
            "Một số tệp đã chọn trước đó không còn được lưu tạm (quá thời hạn); vui lòng "
            "chọn lại các tệp còn thiếu."
        )
    kept = [present[i] for i in wanted if i in present]

    refusal = attempt_refused()
    if refusal is not None:
        body = _render_submit(
            form, translated(refusal.message), files_chosen=files_chosen, kept=kept, checked=False
        )
        return _too_many(body, refusal)

    status = 200 if checking else 422
    if trusted and files_chosen:
        # Checked before anything is written, then kept on disk until "Gửi" (or expiry):
        # the re-rendered form lists them instead of an empty file field.
        try:
            uploads = read_uploads(files)
            pending.check_room(len(kept), uploads)
            check_upload_quota(uploads)  # the address's daily quota, shared with the API
            kept += pending.keep(token, uploads, now)
            charge_upload_quota(uploads)
            files_chosen = False
        except UploadQuotaExceeded as exc:
            attachments_error, status = translated(exc.message), exc.status
        except ValidationError as exc:
            attachments_error = translated(exc.fields.get("attachments", exc.message))
    state = {"attachments_error": attachments_error, "files_chosen": files_chosen, "kept": kept}

    if checking:
        if not valid:
            return _render_submit(form, None, **state), 422
        hints = _public_hints(form)
        code = status if attachments_error else 200
        return _render_submit(form, None, hints=hints, checked=True, **state), code
    if not valid or attachments_error is not None:
        return _render_submit(form, None, **state), max(status, 422)

    refusal = submission_refused()
    if refusal is not None:
        return _too_many(_render_submit(form, translated(refusal.message), **state), refusal)
    return _send(form, token, kept, state, now)


def _send(
    form: SubmitCaseForm,
    token: str,
    kept: list[pending.PendingFile],
    state: dict[str, Any],
    now: datetime,
) -> Any:
    """File the case with the kept files; count it; forget the kept copies."""
    try:
        uploads = pending.load(token, [f.id for f in kept], now)
        data = case_input(form, channel="web", uploads=uploads, language=current_language())
        # A second POST of the same form (the first's answer was lost) gets the first's
        # case back instead of filing it again.
        receipt = submit_web_once(usable_token(form.submission_token.data), data, now)
    except ValidationError as exc:
        # The service's words, in the reader's language where the catalogue has them.
        fields = {name: translated(message) for name, message in exc.fields.items()}
        left = attach_errors(form, fields, FIELD_MAP)
        state["attachments_error"] = left.get("attachments", state["attachments_error"])
        return _render_submit(form, translated(exc.message), **state), 422
    if not receipt.repeated:
        count_submission()
    pending.discard(token)
    return _to_receipt(receipt)


def _to_receipt(receipt: WebReceipt) -> Any:
    session["submitted"] = {
        "code": receipt.code,
        "key": receipt.access_key,
        "repeated": receipt.repeated,
    }
    return redirect(url_for("public.submitted", code=receipt.code))


@bp.get("/gui/da-nhan/<code>")
@public
def submitted(code: str) -> Any:
    """The access key is shown on this page once: it lives in the session only until then."""
    held = session.get("submitted")
    if not held or held.get("code") != code:
        return redirect(url_for("public.lookup"))
    case = db.session.scalar(select(Case).where(Case.code == code))
    if case is None:
        abort(404)
    key = held.get("key")
    held["key"] = None  # shown once; a reload shows the code but no longer the key
    session["submitted"] = held
    return render_template(
        "public/submitted.html",
        case=case,
        access_key=key,
        repeated=held.get("repeated"),
        promise=case_promise(case, _),
        files=citizen_files(case),
    )


@bp.route("/tra-cuu", methods=["GET", "POST"])
@lookup_limit
@public
@csrf.exempt  # as above: the form validates its own CSRF token
def lookup() -> Any:
    form = LookupForm()
    if form.is_submitted():
        if form.validate():
            code = form.code.data.strip().upper()
            case = db.session.scalar(select(Case).where(Case.code == code))
            if case is not None and access_key_matches(case, form.access_key.data):
                # The session remembers the code (never the key) and follows it there.
                remember(case.code)
                return redirect(url_for("follow.status", code=case.code), 303)
            form.access_key.errors = [_("Mã hồ sơ hoặc mã tra cứu không đúng.")]
        return render_template("public/lookup.html", form=form), 422
    form.code.data = _code_from_link()
    return render_template("public/lookup.html", form=form)


def _code_from_link() -> str | None:
    """The case code of a message's link (/tra-cuu?ma=HG-2026-000123), to fill in."""
    code = (request.args.get("ma") or "").strip().upper()
    return code[:24] or None


@bp.route("/tra-cuu/quen-ma", methods=["GET", "POST"])
@reissue_limit
@public
@csrf.exempt  # as above: the form validates its own CSRF token
def lost_key() -> Any:
    """ "Lost my key": code + the phone or e-mail on record → a new key sent there. The
    answer is the same page whether or not they matched (services.intake.lost_key)."""
    form = LostKeyForm()
    if form.is_submitted():
        if form.validate():
            with unit_of_work():
                reissue_access_key(
                    form.code.data,
                    form.contact.data,
                    now=datetime.now(UTC),
                    per_case_day=int(current_app.config["KEY_REISSUE_PER_CASE_DAY"]),
                )
            return redirect(url_for("public.lost_key_sent"), 303)
        return render_template("public/lost_key.html", form=form), 422
    form.code.data = _code_from_link()
    return render_template("public/lost_key.html", form=form)


@bp.get("/tra-cuu/quen-ma/da-gui")
@public
def lost_key_sent() -> Any:
    return render_template("public/lost_key_sent.html")
