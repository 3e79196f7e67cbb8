"""Forms for the suggestion-box pages. The services re-validate everything."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from ...i18n import parse_local_datetime
from ...services.intake.boxes import MAX_LETTERS
from .common import REQUIRED, Form, SubmitCaseForm


def _upper(value: str | None) -> str | None:
    return value.strip().upper() if isinstance(value, str) else value


class BoxForm(Form):
    code = StringField(
        "Mã hòm thư",
        filters=[_upper],
        validators=[DataRequired(REQUIRED), Length(max=32, message="Mã tối đa 32 ký tự.")],
    )
    location = StringField(
        "Nơi đặt hòm thư",
        validators=[
            DataRequired(REQUIRED),
            Length(min=3, max=300, message="Nơi đặt cần từ 3 đến 300 ký tự."),
        ],
    )
    area_code = SelectField("Xã, phường", validators=[DataRequired(REQUIRED)])
    opener_unit_code = SelectField("Đơn vị mở hòm thư", validate_choice=True)


class OpeningForm(Form):
    opened_at = StringField("Thời điểm mở hòm thư", validators=[DataRequired(REQUIRED)])
    witnesses = TextAreaField("Người chứng kiến (mỗi dòng một người)")
    letter_count = IntegerField(
        "Số thư trong hòm",
        validators=[
            InputRequired(REQUIRED),
            NumberRange(min=0, max=MAX_LETTERS, message=f"Số thư phải từ 0 đến {MAX_LETTERS}."),
        ],
    )
    note = TextAreaField(
        "Ghi chú", validators=[Optional(), Length(max=2000, message="Ghi chú dài quá 2.000 ký tự.")]
    )
    minutes = FileField("Ảnh chụp hoặc bản quét biên bản mở hòm thư")

    def validate_opened_at(self, field: StringField) -> None:
        if parse_local_datetime(field.data) is None:
            raise FieldError("Ngày giờ không đúng dạng; ví dụ 15/03/2024 08:30.")


class LetterForm(SubmitCaseForm):
    """A letter from the box, typed in by the clerk: the citizen's form, worded for staff,
    with the letter's scan and the choice of a case it repeats."""

    submission_token = None  # a letter is transcribed once, by staff: no one-time token
    area_code = SelectField("Xã, phường nơi xảy ra sự việc", validate_choice=True)
    anonymous = BooleanField("Thư không ghi tên người viết (ẩn danh)")
    reporter_name = StringField(
        "Họ tên người viết thư",
        validators=[Optional(), Length(max=120, message="Họ tên dài quá 120 ký tự.")],
    )
    scan = FileField("Bản quét hoặc ảnh chụp lá thư")
    link_to = StringField(
        "Liên kết với hồ sơ", validators=[Optional(), Length(max=24, message="Mã hồ sơ quá dài.")]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.subject.label.text = "Tiêu đề (tóm tắt nội dung thư)"
        self.body.label.text = "Nội dung thư (chép đầy đủ)"
