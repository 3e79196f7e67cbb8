"""The time limits a new case of each kind gets, in plain words, from the policies in force.

Read by the public form (before sending), the success page, the home page and the footer,
so none of them promises "24 giờ / 6 ngày làm việc" to a complaint that gets 10 working
days to acceptance and 30 days to resolution. The wording is the domain's
(feedback.domain.promises); the limits are the first-round SLA policies in force on
``now``'s local day, the ones a case sent now would get.
"""

from __future__ import annotations

from datetime import datetime

from ...domain.promises import Promise, Translate, describe
from ...models import Case
from ..reference.policies import case_policy, current_by_kind, to_domain_policy
from .submission import KIND_LABELS


def kind_promises(now: datetime, translate: Translate = str) -> list[Promise]:
    """One promise per kind that has a policy in force, in the form's order of kinds, in
    the language of ``translate`` (the page's gettext; Vietnamese as written by default)."""
    rows = current_by_kind(now)
    return [
        describe(to_domain_policy(rows[kind]), label, rows[kind].extra or {}, translate)
        for kind, label in KIND_LABELS.items()
        if kind in rows
    ]


def case_promise(case: Case, translate: Translate = str) -> Promise:
    """The limits of ``case`` in plain words: the policy it was received under (its kind
    and round), which a later change of policy never touches."""
    row = case_policy(case)
    label = KIND_LABELS.get(case.kind, row.label)
    return describe(to_domain_policy(row), label, row.extra or {}, translate)
