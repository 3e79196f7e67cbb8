"""Web forms (Flask-WTF, CSRF on). Messages are written in Vietnamese and shown in the
reader's language (lazy_gettext, issue 15); the service re-validates."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.validators import ValidationError as FieldError

from ...domain.contact import PHONE_MESSAGE, is_phone
from ...domain.marks import N_
from ...domain.permissions import STATUTORY_KINDS
from ...domain.promises import ANONYMOUS_CONSEQUENCES
from ...domain.text import (
    CONTROL_MESSAGE,
    DISGUISE_MESSAGE,
    control_characters,
    disguising_characters,
)
from ...services.intake.submission import KIND_LABELS

REQUIRED = N_("Vui lòng điền mục này.")
REQUIRED_L = _l("Vui lòng điền mục này.")
"""REQUIRED in the reader's language, for the forms whose pages are translated (issue 15)."""

# WTForms ships no Vietnamese catalogue; these are the built-in messages our forms can show,
# written in Vietnamese and shown in the reader's language through our own catalogue.
EXPIRED = N_("Biểu mẫu đã hết hạn; vui lòng gửi lại.")
_VI = {
    "Not a valid choice.": N_("Lựa chọn không hợp lệ."),
    "This field is required.": REQUIRED,
    "Invalid input.": N_("Giá trị không hợp lệ."),
    "Invalid email address.": N_("Địa chỉ thư điện tử không hợp lệ."),
    "The CSRF token is missing.": N_("Thiếu mã bảo vệ biểu mẫu; vui lòng gửi lại."),
    "The CSRF token has expired.": EXPIRED,
    "The CSRF token is invalid.": N_("Mã bảo vệ biểu mẫu không hợp lệ; vui lòng gửi lại."),
    "The CSRF tokens do not match.": N_("Mã bảo vệ biểu mẫu không khớp; vui lòng gửi lại."),
    "CSRF token missing.": N_("Thiếu mã bảo vệ biểu mẫu; vui lòng gửi lại."),
    "CSRF token expired.": EXPIRED,
    "The CSRF session token is missing.": EXPIRED,
    "Not a valid integer value.": N_("Phải là một số nguyên."),
    "Not a valid float value.": N_("Phải là một số."),
    "Not a valid datetime value.": N_("Thời gian không hợp lệ."),
}


DISGUISE_FIELDS = frozenset({"subject", "reporter_name", "caller_name"})
"""Names and subjects: shown to staff and in lists, where an invisible or a
direction-changing character could make one text pass for another."""


def check_characters(form: Any) -> bool:
    """Every form's character rule (the domain's, which the services apply too): no
    control character in a one-line field (tab and line breaks only in a text area), no
    invisible or direction-changing character in a name or a subject."""
    ok = True
    for field in form:
        if not isinstance(field, StringField) or not isinstance(field.data, str):
            continue
        one_line = not isinstance(field, TextAreaField)
        message = None
        if control_characters(field.data, multiline=not one_line):
            message = gettext(CONTROL_MESSAGE)
        elif field.name in DISGUISE_FIELDS and disguising_characters(field.data):
            message = gettext(DISGUISE_MESSAGE)
        if message is not None:
            field.errors = [*field.errors, message]
            ok = False
    return ok


def phone_number(message: str = PHONE_MESSAGE) -> Callable[[Any, Any], None]:
    """A WTForms validator: the domain's phone rule (feedback.domain.contact); ``message``
    is shown in the reader's language."""

    def check(form: Any, field: Any) -> None:
        if (field.data or "").strip() and not is_phone(field.data):
            raise FieldError(gettext(message))

    return check


class _VietnameseMessages:
    def gettext(self, string: str) -> str:
        return gettext(_VI[string]) if string in _VI else string

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form: object) -> _VietnameseMessages:
            return _VietnameseMessages()

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        # Flask-WTF raises its CSRF messages in English without the form's translations.
        token = getattr(self, "csrf_token", None)
        if token is not None and token.errors:
            token.errors = [gettext(_VI.get(e, EXPIRED)) for e in token.errors]
        return check_characters(self) and ok


class SubmitCaseForm(Form):
    # A one-time token per form shown (services.intake.resubmit): the same form sent twice
    # files one case. Rendered by hidden_tag(); checked by the view, never shown as an error.
    submission_token = HiddenField()
    kind = SelectField(
        _l("Loại"),
        choices=[(k, _l(v)) for k, v in KIND_LABELS.items()],
        default="feedback",
        validators=[DataRequired(REQUIRED_L)],
    )
    category_code = SelectField(_l("Lĩnh vực"), validate_choice=True)
    area_code = SelectField(_l("Xã, phường nơi xảy ra sự việc"), validate_choice=True)
    address = StringField(
        _l("Địa chỉ cụ thể (thôn, tổ dân phố, số nhà, đường)"),
        validators=[Optional(), Length(max=300, message=_l("Địa chỉ dài quá 300 ký tự."))],
    )
    subject = StringField(
        _l("Tiêu đề"),
        validators=[
            DataRequired(REQUIRED_L),
            Length(min=5, max=200, message=_l("Tiêu đề cần từ 5 đến 200 ký tự.")),
        ],
    )
    body = TextAreaField(
        _l("Nội dung"),
        validators=[
            DataRequired(REQUIRED_L),
            Length(min=10, max=10000, message=_l("Nội dung cần từ 10 đến 10.000 ký tự.")),
        ],
    )
    anonymous = BooleanField(_l("Gửi ẩn danh (không để lại thông tin cá nhân)"))
    # A complaint or denunciation sent anonymously is not handled as one (the law wants a
    # name and an address): sending one takes this box, ticked after reading why.
    anonymous_understood = BooleanField(_l("Tôi đã đọc lưu ý trên và vẫn muốn gửi ẩn danh"))
    # Files kept from an earlier post of this form (services.intake.pending).
    upload_token = HiddenField()
    reporter_name = StringField(
        _l("Họ và tên"),
        validators=[Optional(), Length(max=120, message=_l("Họ tên dài quá 120 ký tự."))],
    )
    reporter_phone = StringField(
        _l("Số điện thoại"),
        validators=[
            Optional(),
            phone_number(),
        ],
    )
    reporter_email = StringField(
        _l("Thư điện tử"),
        validators=[
            Optional(),
            Email(message=_l("Địa chỉ thư điện tử không hợp lệ."), check_deliverability=False),
        ],
    )

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if not self.anonymous.data:
            if not (self.reporter_name.data or "").strip():
                self.reporter_name.errors = [
                    *self.reporter_name.errors,
                    gettext("Vui lòng cho biết họ tên, hoặc chọn gửi ẩn danh."),
                ]
                ok = False
            if (
                not (self.reporter_phone.data or "").strip()
                and not (self.reporter_email.data or "").strip()
            ):
                self.reporter_phone.errors = [
                    *self.reporter_phone.errors,
                    gettext(
                        "Vui lòng để lại số điện thoại hoặc thư điện tử để cơ quan trả lời, "
                        "hoặc chọn gửi ẩn danh."
                    ),
                ]
                ok = False
        elif self.kind.data in STATUTORY_KINDS and not self.anonymous_understood.data:
            self.anonymous.errors = [
                *self.anonymous.errors,
                gettext(ANONYMOUS_CONSEQUENCES[self.kind.data])
                + " "
                + gettext("Nếu vẫn muốn gửi ẩn danh, xin đánh dấu ô xác nhận bên dưới."),
            ]
            ok = False
        return ok

    CHECK_FIELDS = frozenset({"csrf_token", "kind", "category_code", "area_code"})
    """What "Xem phản ánh tương tự" needs: no name, no phone, nothing personal."""

    def validate_for_check(self) -> bool:
        """The similar-case check: only the choices it searches by (and the character rule
        on the text it searches for) must be right; the rest waits for "Gửi", and its
        errors are not shown yet."""
        self.validate()
        ok = True
        for field in self:
            if field.name in self.CHECK_FIELDS:
                ok = ok and not field.errors
                continue
            character_rule = (gettext(CONTROL_MESSAGE), gettext(DISGUISE_MESSAGE))
            kept = [e for e in field.errors if e in character_rule]
            field.errors = kept if field.name in ("subject", "body") else []
            ok = ok and not field.errors
        return ok


class LookupForm(Form):
    code = StringField(_l("Mã hồ sơ"), validators=[DataRequired(REQUIRED_L), Length(max=24)])
    access_key = StringField(
        _l("Mã tra cứu"), validators=[DataRequired(REQUIRED_L), Length(max=40)]
    )


class LostKeyForm(Form):
    """ "Lost my key": the case code and the phone number or e-mail address given with it."""

    code = StringField(_l("Mã hồ sơ"), validators=[DataRequired(REQUIRED_L), Length(max=24)])
    contact = StringField(
        _l("Số điện thoại hoặc thư điện tử đã để lại khi gửi"),
        validators=[DataRequired(REQUIRED_L), Length(max=200, message=_l("Quá dài."))],
    )

    def validate_contact(self, field: Any) -> None:
        value = (field.data or "").strip()
        if "@" in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
                raise FieldError(_l("Địa chỉ thư điện tử không hợp lệ."))
        elif not is_phone(value):
            raise FieldError(_l("Vui lòng nhập số điện thoại hoặc địa chỉ thư điện tử đã để lại."))


class LoginForm(Form):
    username = StringField(
        _l("Tên đăng nhập"), validators=[DataRequired(REQUIRED_L), Length(max=64)]
    )
    password = PasswordField(_l("Mật khẩu"), validators=[DataRequired(REQUIRED_L), Length(max=200)])


class HotlineForm(Form):
    """Built for speed while the caller is on the line: few required fields, sensible
    defaults, one screen."""

    caller_phone = StringField(
        _l("Số điện thoại người gọi"),
        validators=[
            Optional(),
            phone_number(),
        ],
    )
    caller_name = StringField(
        _l("Họ tên người gọi"),
        validators=[Optional(), Length(max=120, message=_l("Họ tên quá dài."))],
    )
    anonymous = BooleanField(_l("Người gọi không muốn để lại thông tin"))
    call_started_at = StringField(
        _l("Bắt đầu cuộc gọi"),
        validators=[DataRequired(REQUIRED_L)],
        render_kw={"type": "datetime-local"},
    )
    kind = SelectField(
        _l("Loại"),
        choices=[(k, _l(v)) for k, v in KIND_LABELS.items()],
        default="feedback",
        validators=[DataRequired()],
    )
    # A text input with a datalist: the operator types "rác" or "6.3" and the browser
    # narrows the 32 categories; the code before " – " is what counts.
    category = StringField(
        _l("Lĩnh vực (gõ để tìm)"),
        validators=[Optional(), Length(max=200)],
        render_kw={"list": "category-list", "autocomplete": "off"},
    )
    area_code = SelectField(_l("Xã, phường"), validate_choice=True)
    address = StringField(_l("Địa chỉ"), validators=[Optional(), Length(max=300)])
    subject = StringField(
        _l("Tóm tắt (tiêu đề)"),
        validators=[
            DataRequired(REQUIRED_L),
            Length(min=5, max=200, message=_l("Từ 5 đến 200 ký tự.")),
        ],
    )
    body = TextAreaField(
        _l("Nội dung cuộc gọi"),
        validators=[
            DataRequired(REQUIRED_L),
            Length(min=10, max=10000, message=_l("Từ 10 đến 10.000 ký tự.")),
        ],
    )
    link_to = StringField(_l("Liên kết với hồ sơ"), validators=[Optional(), Length(max=24)])
