"""Forms of the citizen's follow-up page. Each carries its own CSRF token (the views are
exempt from CSRFProtect so that an expired token shows beside the text kept); the
services re-validate everything."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import MultipleFileField, RadioField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from ...domain.marks import N_
from .common import REQUIRED_L, Form

RATING_LABELS = {
    1: N_("Rất không hài lòng"),
    2: N_("Không hài lòng"),
    3: N_("Bình thường"),
    4: N_("Hài lòng"),
    5: N_("Rất hài lòng"),
}
RATING_REQUIRED = _l("Vui lòng chọn một mức đánh giá.")


class ReplyForm(Form):
    """Information the unit asked for (state waiting_citizen)."""

    reply = TextAreaField(
        _l("Nội dung bổ sung"),
        validators=[
            DataRequired(REQUIRED_L),
            Length(min=5, max=10000, message=_l("Nội dung bổ sung cần từ 5 đến 10.000 ký tự.")),
        ],
    )
    # Read and checked by feedback.services.intake.attachments.read_uploads in the view.
    attachments = MultipleFileField(_l("Ảnh, tài liệu kèm theo (không bắt buộc)"))


class RateForm(Form):
    rating = RadioField(
        _l("Mức độ hài lòng với kết quả giải quyết"),
        choices=[(str(value), _l(label)) for value, label in RATING_LABELS.items()],
        # The choice is checked by the validators below, with our own message.
        validate_choice=False,
        validators=[
            InputRequired(RATING_REQUIRED),
            AnyOf([str(value) for value in RATING_LABELS], message=RATING_REQUIRED),
        ],
    )
    comment = TextAreaField(
        _l("Nhận xét (không bắt buộc)"),
        validators=[Optional(), Length(max=2000, message=_l("Nhận xét tối đa 2.000 ký tự."))],
    )


class ReopenForm(Form):
    reason = TextAreaField(
        _l("Lý do ông/bà chưa đồng ý với kết quả"),
        validators=[
            DataRequired(_l("Vui lòng nêu lý do chưa đồng ý với kết quả.")),
            Length(min=5, max=10000, message=_l("Lý do cần từ 5 đến 10.000 ký tự.")),
        ],
    )


class ForgetForm(Form):
    """The "Kết thúc tra cứu" button (a shared phone or computer): forget every code."""
