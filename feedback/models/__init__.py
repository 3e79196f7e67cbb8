"""The persistent model. Import from here so every table is registered with the metadata."""

from .case import (
    CHANNELS,
    STATUSES,
    ApologyLetter,
    Attachment,
    Case,
    CaseCounter,
    CaseEvent,
    CaseLink,
    SlaEvent,
)
from .ops import (
    BoxOpening,
    FailedAddress,
    FigureMonth,
    IdempotencyKey,
    ImportBatch,
    Notification,
    SuggestionBox,
)
from .reference import (
    CASE_KINDS,
    Area,
    CalendarOverride,
    Category,
    Dimension,
    RoutingRule,
    Setting,
    SlaPolicy,
    Unit,
)
from .types import UTCDateTime, utcnow
from .user import ROLE_LABELS, ROLES, ApiToken, User

__all__ = [
    "CASE_KINDS",
    "CHANNELS",
    "ROLES",
    "ROLE_LABELS",
    "STATUSES",
    "ApiToken",
    "ApologyLetter",
    "Area",
    "Attachment",
    "BoxOpening",
    "CalendarOverride",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "CaseLink",
    "Category",
    "Dimension",
    "FailedAddress",
    "FigureMonth",
    "IdempotencyKey",
    "ImportBatch",
    "Notification",
    "RoutingRule",
    "Setting",
    "SlaEvent",
    "SlaPolicy",
    "SuggestionBox",
    "UTCDateTime",
    "Unit",
    "User",
    "utcnow",
]
