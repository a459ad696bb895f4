"""A request's result in a shard's result file, whichever kind of job produced it."""

from __future__ import annotations

from typing import Any

from .enrollment import SuccessfulEnrollment
from .manifest import RequestError
from .registration import SuccessfulRegistration

JobResult = SuccessfulEnrollment | SuccessfulRegistration | RequestError


def result_from_json(document: dict[str, Any]) -> JobResult:
    if "ErrorCode" in document:
        return RequestError.from_json(document)
    if "GeneratedFraudsterId" in document:
        return SuccessfulRegistration.from_json(document)
    return SuccessfulEnrollment.from_json(document)
