"""Job-level failures: each kind carries the FailureDetails.StatusCode it ends the job with.

Raised inside the workflow's functions, they reach the catch-all as ``errorType`` (the class name)
and ``errorMessage``; ``failure_details`` turns that pair back into the job's FailureDetails. Every subclass
registers itself by its class name, so a new failure needs no list kept in step.
"""

from __future__ import annotations

from typing import ClassVar

from ..shared.job import FailureDetails

MAX_MESSAGE = 1024


class JobFailure(Exception):
    status_code = 500
    known: ClassVar[dict[str, type[JobFailure]]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        JobFailure.known[cls.__name__] = cls

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


JobFailure.known[JobFailure.__name__] = JobFailure


class ManifestError(JobFailure):
    """The manifest as a whole cannot be used (not JSON, wrong Version, no request list)."""

    status_code = 400


class RequestLimitExceededError(ManifestError):
    status_code = 402


class InputNotReadableError(JobFailure):
    """The manifest cannot be read with the job's data access role."""

    status_code = 403


class OutputNotWritableError(JobFailure):
    status_code = 403


class DomainNotFoundError(JobFailure):
    status_code = 404


class JobNotFoundError(JobFailure):
    status_code = 404


class WatchlistNotFoundError(JobFailure):
    status_code = 404


class InvalidJobRequestError(JobFailure):
    status_code = 400


def failure_details(error_type: str, message: str) -> FailureDetails:
    """FailureDetails for an error that ended the workflow; unknown errors are internal (500)."""
    known = JobFailure.known.get(error_type)
    if known is not None:
        return FailureDetails(known.status_code, message[:MAX_MESSAGE] or error_type)
    detail = f"{error_type}: {message}" if message else error_type
    return FailureDetails(500, f"Internal error while running the job ({detail})"[:MAX_MESSAGE])
