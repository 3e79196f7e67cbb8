"""The persistent model. Import from here so every table is registered with the metadata."""

from .case import CHANNELS, STATUSES, Attachment, Case, CaseCounter, CaseEvent, CaseLink
from .ops import BoxOpening, IdempotencyKey, ImportBatch, Notification, SuggestionBox
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
    "IdempotencyKey",
    "ImportBatch",
    "Notification",
    "RoutingRule",
    "Setting",
    "SlaPolicy",
    "SuggestionBox",
    "UTCDateTime",
    "Unit",
    "User",
    "utcnow",
]
