"""Forms for the suggestion-box pages. The services re-validate everything."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from ...i18n import parse_local_datetime
from ...services.intake.boxes import MAX_LETTERS
from .common import REQUIRED_L, Form, SubmitCaseForm


def _upper(value: str | None) -> str | None:
    return value.strip().upper() if isinstance(value, str) else value


class BoxForm(Form):
    code = StringField(
        _l("Mã hòm thư"),
        filters=[_upper],
        validators=[DataRequired(REQUIRED_L), Length(max=32, message=_l("Mã tối đa 32 ký tự."))],
    )
    location = StringField(
        _l("Nơi đặt hòm thư"),
        validators=[
            DataRequired(REQUIRED_L),
            Length(min=3, max=300, message=_l("Nơi đặt cần từ 3 đến 300 ký tự.")),
        ],
    )
    area_code = SelectField(_l("Xã, phường"), validators=[DataRequired(REQUIRED_L)])
    opener_unit_code = SelectField(_l("Đơn vị mở hòm thư"), validate_choice=True)


class OpeningForm(Form):
    opened_at = StringField(_l("Thời điểm mở hòm thư"), validators=[DataRequired(REQUIRED_L)])
    witnesses = TextAreaField(_l("Người chứng kiến (mỗi dòng một người)"))
    letter_count = IntegerField(
        _l("Số thư trong hòm"),
        validators=[
            InputRequired(REQUIRED_L),
            NumberRange(
                min=0, max=MAX_LETTERS, message=_l("Số thư phải từ 0 đến %(max)s.", max=MAX_LETTERS)
            ),
        ],
    )
    note = TextAreaField(
        _l("Ghi chú"),
        validators=[Optional(), Length(max=2000, message=_l("Ghi chú dài quá 2.000 ký tự."))],
    )
    minutes = FileField(_l("Ảnh chụp hoặc bản quét biên bản mở hòm thư"))

    def validate_opened_at(self, field: StringField) -> None:
        if parse_local_datetime(field.data) is None:
            raise FieldError(gettext("Ngày giờ không đúng dạng; ví dụ 15/03/2024 08:30."))


class LetterForm(SubmitCaseForm):
    """A letter from the box, typed in by the clerk: the citizen's form, worded for staff,
    with the letter's scan and the choice of a case it repeats."""

    submission_token = None  # a letter is transcribed once, by staff: no one-time token
    area_code = SelectField(_l("Xã, phường nơi xảy ra sự việc"), validate_choice=True)
    anonymous = BooleanField(_l("Thư không ghi tên người viết (ẩn danh)"))
    reporter_name = StringField(
        _l("Họ tên người viết thư"),
        validators=[Optional(), Length(max=120, message=_l("Họ tên dài quá 120 ký tự."))],
    )
    scan = FileField(_l("Bản quét hoặc ảnh chụp lá thư"))
    link_to = StringField(
        _l("Liên kết với hồ sơ"),
        validators=[Optional(), Length(max=24, message=_l("Mã hồ sơ quá dài."))],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.subject.label.text = _l("Tiêu đề (tóm tắt nội dung thư)")
        self.body.label.text = _l("Nội dung thư (chép đầy đủ)")
