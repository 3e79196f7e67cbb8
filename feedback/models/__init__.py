"""The persistent model. Import from here: every table is registered with the metadata
when this package is imported, and every model is exported."""

from __future__ import annotations

from .audit import (
    AuditLog,
    LoginThrottle,
)
from .boxes import (
    BoxOpening,
    SuggestionBox,
)
from .case import (
    CHANNELS,
    STATUSES,
    ApologyLetter,
    Attachment,
    Case,
    CaseCounter,
    CaseEvent,
    CaseLink,
    CaseRating,
    SlaEvent,
)
from .intake import (
    AttachmentBlob,
    IdempotencyKey,
    ImportBatch,
)
from .late import (
    CaseEscalation,
    EscalationStep,
    ProgressUpdate,
)
from .outbox import (
    OUTBOX_STATUSES,
    FailedAddress,
    Notification,
)
from .reference import (
    CASE_KINDS,
    Area,
    CalendarOverride,
    CalendarYear,
    Category,
    Dimension,
    ReferencePack,
    RoutingRule,
    Setting,
    SlaPolicy,
    Succession,
    Unit,
)
from .rollups import (
    FigureMonth,
)
from .types import (
    UTCDateTime,
    utcnow,
)
from .user import (
    ROLE_LABELS,
    ROLES,
    ApiToken,
    User,
)

__all__ = [
    "CASE_KINDS",
    "CHANNELS",
    "OUTBOX_STATUSES",
    "ROLES",
    "ROLE_LABELS",
    "STATUSES",
    "ApiToken",
    "ApologyLetter",
    "Area",
    "Attachment",
    "AttachmentBlob",
    "AuditLog",
    "BoxOpening",
    "CalendarOverride",
    "CalendarYear",
    "Case",
    "CaseCounter",
    "CaseEscalation",
    "CaseEvent",
    "CaseLink",
    "CaseRating",
    "Category",
    "Dimension",
    "EscalationStep",
    "FailedAddress",
    "FigureMonth",
    "IdempotencyKey",
    "ImportBatch",
    "LoginThrottle",
    "Notification",
    "ProgressUpdate",
    "ReferencePack",
    "RoutingRule",
    "Setting",
    "SlaEvent",
    "SlaPolicy",
    "Succession",
    "SuggestionBox",
    "UTCDateTime",
    "Unit",
    "User",
    "utcnow",
]
