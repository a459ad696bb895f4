"""API Gateway (REST, proxy integration, IAM auth) ``POST /`` → the Voice ID API (AWS JSON 1.0).

Thin: the ``X-Amz-Target`` header, the body and the caller (``requestContext.identity.userArn``, the IAM principal
API Gateway authenticated) go to ``VoiceIdApi.handle``, which authorizes the caller; its status and body come
back as the proxy response. Everything Voice ID-specific (validation, authorization, errors, pagination) lives in
``speaker_enrollment.api``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..api import CONTENT_TYPE, TARGET_PREFIX, ApiResponse, VoiceIdApi
from ..api.errors import InternalServerException
from ..api.model import operation_model
from ..composition import api_from_env
from ..telemetry import error_location
from .runtime import logger, metrics, traced, tracer

TARGET_HEADER = "x-amz-target"
UNKNOWN_OPERATION = "Unknown"  # metric dimension of a target that names no Voice ID operation


@cache
def voice_id_api() -> VoiceIdApi:
    """One API (stores, clients, token signer) per container."""
    return api_from_env()


@dataclass(frozen=True)
class ProxyRequest:
    request_id: str
    target: str
    body: bytes
    caller: str | None  # the signer's ARN (an assumed role's as arn:aws:sts::<acct>:assumed-role/<name>/<session>)

    @classmethod
    def from_event(cls, event: APIGatewayProxyEvent, context: LambdaContext) -> ProxyRequest:
        request_context = event.get("requestContext") or {}
        request_id = request_context.get("requestId") or context.aws_request_id
        target = event.headers.get(TARGET_HEADER) or ""  # a case-insensitive mapping
        caller = (request_context.get("identity") or {}).get("userArn")
        return cls(str(request_id), target, _body(event), str(caller) if caller else None)

    @property
    def operation(self) -> str:
        """The operation for metrics: a model's name, so dimension values stay a bounded set."""
        name = self.target.removeprefix(TARGET_PREFIX)
        known = self.target.startswith(TARGET_PREFIX) and operation_model(name) is not None
        return name if known else UNKNOWN_OPERATION


def _body(event: APIGatewayProxyEvent) -> bytes:
    """The raw body: bytes, so a body that is not UTF-8 is the API's SerializationException, not a crash here."""
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


def proxy_response(response: ApiResponse, request_id: str) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id},
        "body": response.json(),
    }


def _answer(request: ProxyRequest) -> ApiResponse:
    """VoiceIdApi.handle answers its own errors; this catches what it cannot: building it (wiring, STS)."""
    try:
        return voice_id_api().handle(request.target, request.body, request.caller)
    except Exception as exc:  # the client gets Voice ID's error shape, never API Gateway's bare 502
        logger.error("the Voice ID API failed", extra={"operation": request.operation,
                                                        "error_type": type(exc).__name__, "where": error_location(exc)})
        error = InternalServerException("An internal error occurred.")
        return ApiResponse(error.status, error.body())


def _count(operation: str, status: int) -> None:
    metrics.add_dimension(name="Operation", value=operation)
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=int(400 <= status < 500))
    metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=int(status >= 500))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@traced
@metrics.log_metrics
@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    request = ProxyRequest.from_event(event, context)
    tracer.put_annotation("Operation", request.operation)
    response = _answer(request)
    _count(request.operation, response.status)
    logger.info("request answered", extra={"operation": request.operation, "status": response.status})
    return proxy_response(response, request.request_id)
