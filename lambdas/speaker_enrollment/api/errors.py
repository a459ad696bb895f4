"""Voice ID's wire exceptions: ``{"__type": <name>, "message": ...}`` with the model's HTTP status codes.

The botocore model carries no status codes; they are the Smithy model's ``@httpError`` values.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..domain.admin.errors import (
    AccessDeniedError,
    ConcurrentChangeError,
    DomainNotActiveError,
    EncryptionUpdateLockedError,
    InvalidRequestError,
    LastWatchlistError,
    ResourceNotFoundError,
)
from ..domain.shared.errors import (
    ClientTokenReusedError,
    KeyUnusableError,
    QuotaExceededError,
    SpeakerQuotaExceededError,
    WatchlistNotEmptyError,
)


class ApiError(Exception):
    """Each subclass is named exactly as its wire ``__type``; the base is the 500 fallback."""

    status: ClassVar[int] = 500

    def __init__(self, message: str, **fields: str) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @classmethod
    def code(cls) -> str:
        return "InternalServerException" if cls is ApiError else cls.__name__

    def body(self) -> dict[str, Any]:
        # "message" is what botocore reads into Error.Message; "Message" is the modeled member.
        return {"__type": self.code(), "message": self.message, "Message": self.message, **self.fields}


class ValidationException(ApiError):
    status = 400


class SerializationException(ApiError):
    """The body is not a JSON object."""

    status = 400


class UnknownOperationException(ApiError):
    """The X-Amz-Target names no Voice ID operation."""

    status = 400


class ServiceQuotaExceededException(ApiError):
    status = 402


class AccessDeniedException(ApiError):
    status = 403


class ResourceNotFoundException(ApiError):
    status = 404

    def __init__(self, message: str, resource_type: str) -> None:
        super().__init__(message, ResourceType=resource_type)


class ConflictException(ApiError):
    status = 409

    def __init__(self, message: str, conflict_type: str) -> None:
        super().__init__(message, ConflictType=conflict_type)


class ThrottlingException(ApiError):
    status = 429


class InternalServerException(ApiError):
    status = 500


def from_domain(error: Exception) -> ApiError | None:
    """The wire exception for a refusal of the domain layer (None: not a refusal, a fault)."""
    message = str(error)
    if isinstance(error, ResourceNotFoundError):
        return ResourceNotFoundException(error.message, error.kind.value)
    if isinstance(error, DomainNotActiveError):
        return ConflictException(message, "DOMAIN_NOT_ACTIVE")
    if isinstance(error, ConcurrentChangeError):
        return ConflictException(message, "CONCURRENT_CHANGES")
    if isinstance(error, InvalidRequestError | ClientTokenReusedError):
        return ValidationException(message)
    if isinstance(error, AccessDeniedError):
        return AccessDeniedException(message)
    if isinstance(error, WatchlistNotEmptyError):
        return ConflictException(message, "CANNOT_DELETE_NON_EMPTY_WATCHLIST")
    if isinstance(error, LastWatchlistError):
        return ConflictException(message, "FRAUDSTER_MUST_BELONG_TO_AT_LEAST_ONE_WATCHLIST")
    if isinstance(error, SpeakerQuotaExceededError | QuotaExceededError):
        return ServiceQuotaExceededException(message)
    if isinstance(error, EncryptionUpdateLockedError):
        return ConflictException(message, "DOMAIN_LOCKED_FROM_ENCRYPTION_UPDATES")
    if isinstance(error, KeyUnusableError):  # the domain's key, as KMS answered: not allowed, or unusable
        return AccessDeniedException(message) if error.reason == "AccessDeniedException" else ValidationException(
            message)
    return None
