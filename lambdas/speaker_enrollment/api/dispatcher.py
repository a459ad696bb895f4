"""``VoiceIdApi(services, authorizer=...).handle(target, body, caller) -> ApiResponse(status, body)``: Voice ID's
JSON 1.0 protocol, free of any transport (API Gateway, the local emulator's WSGI router).

Order of a request: operation (UnknownOperationException), JSON body, validation against the model, then
authorization of the caller (``authorization``: AccessDeniedException), and only then the operation reads or writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel

from ..telemetry import error_location
from .authorization import Authorizer
from .errors import (
    ApiError,
    InternalServerException,
    SerializationException,
    UnknownOperationException,
    ValidationException,
    from_domain,
)
from .model import operation_model, project
from .operations import OPERATIONS
from .services import ApiServices, Operation
from .validation import check_request

LOG = logging.getLogger(__name__)
TARGET_PREFIX = "VoiceID."
CONTENT_TYPE = "application/x-amz-json-1.0"


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


class VoiceIdApi:
    def __init__(self, services: ApiServices, operations: Mapping[str, Operation] = OPERATIONS, *,
                 authorizer: Authorizer) -> None:
        self.services = services
        self._operations = operations
        self._authorizer = authorizer

    def handle(self, target: str, body: bytes | str | None, caller: str | None = None) -> ApiResponse:
        """Answer one request: `target` is its X-Amz-Target header, `body` its JSON body, `caller` the IAM
        principal ARN that signed it (API Gateway's ``requestContext.identity.userArn``)."""
        try:
            return ApiResponse(200, self._answer(target, body, caller))
        except ApiError as error:
            return ApiResponse(error.status, error.body())
        except Exception as error:
            refusal = from_domain(error)
            if refusal is not None:
                return ApiResponse(refusal.status, refusal.body())
            LOG.error("%s failed: %s at %s", target, type(error).__name__, " < ".join(reversed(error_location(error))))
            internal = InternalServerException(f"Internal error while handling {target}")
            return ApiResponse(internal.status, internal.body())

    def _answer(self, target: str, body: bytes | str | None, caller: str | None) -> dict[str, Any]:
        model = self._operation_model(target)
        implementation = self._operations.get(model.name)
        if implementation is None:
            raise ValidationException(f"{model.name} is not supported yet by this service (supported: "
                                      f"{', '.join(sorted(self._operations))})")
        params = _params(body)
        check_request(model.input_shape, params)
        self._authorizer.authorize(caller, model, params)
        result = implementation(self.services, params)
        return project(model.output_shape, result) if model.output_shape is not None else {}

    @staticmethod
    def _operation_model(target: str) -> OperationModel:
        name = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        model = operation_model(name) if name else None
        if model is None:
            raise UnknownOperationException(f"Unknown operation '{target}' (expected X-Amz-Target "
                                            f"{TARGET_PREFIX}<Operation>)")
        return model


def _params(body: bytes | str | None) -> dict[str, Any]:
    if not body or not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SerializationException("The request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object")
    return params
