"""From a case-entry form (citizen form, box letter) to the intake service's input."""

from __future__ import annotations

from typing import Any

from ...services.intake.submission import CaseInput, Reporter


def case_input(form: Any, **extra: Any) -> CaseInput:
    """The fields every case-entry form shares, plus channel-specific ``extra``."""
    return CaseInput(
        kind=form.kind.data,
        subject=form.subject.data,
        body=form.body.data,
        category_code=form.category_code.data or None,
        area_code=form.area_code.data or None,
        address=form.address.data,
        reporter=Reporter(
            name=form.reporter_name.data,
            phone=form.reporter_phone.data,
            email=form.reporter_email.data,
            anonymous=bool(form.anonymous.data),
        ),
        **extra,
    )
