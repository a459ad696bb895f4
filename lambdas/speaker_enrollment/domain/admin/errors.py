"""What the administrative operations refuse, in the domain's own words.

The API layer turns each into Voice ID's wire exception (api/errors.py); nothing here knows about HTTP.
"""

from __future__ import annotations

from enum import StrEnum


class ResourceKind(StrEnum):
    """Voice ID's ResourceNotFoundException.ResourceType values."""

    BATCH_JOB = "BATCH_JOB"
    COMPLIANCE_CONSENT = "COMPLIANCE_CONSENT"
    DOMAIN = "DOMAIN"
    FRAUDSTER = "FRAUDSTER"
    SESSION = "SESSION"
    SPEAKER = "SPEAKER"
    WATCHLIST = "WATCHLIST"


class ResourceNotFoundError(Exception):
    def __init__(self, kind: ResourceKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class DomainNotActiveError(Exception):
    """The domain exists but is PENDING or SUSPENDED."""


class ConcurrentChangeError(Exception):
    """A record kept changing under a read-modify-write; the caller may retry."""


class InvalidRequestError(Exception):
    """Well-formed input that breaks a rule the model cannot express (tag rules, a reused ClientToken...)."""


class AccessDeniedError(Exception):
    """The request asks for something this deployment may not do on the caller's behalf."""


class LastWatchlistError(Exception):
    """A fraudster must stay in at least one watchlist."""


class EncryptionUpdateLockedError(Exception):
    """The domain's key is being changed (re-encryption IN_PROGRESS): another change of key waits for its end."""
