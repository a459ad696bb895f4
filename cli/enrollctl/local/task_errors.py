"""Lambda service errors as Step Functions names them. A Task whose Resource is a function ARN (what CDK's
``LambdaInvoke`` renders with ``payload_response_only``) fails with ``Lambda.<error code>`` when the Invoke call
itself fails (``Lambda.TooManyRequestsException`` for a throttle), as with ``arn:aws:states:::lambda:invoke``;
moto names every such failure ``Exception``, which no Retry of the Lambda service errors would match. While
installed, moto's ``StateTaskLambda`` names them as the service integration does (moto 5.2.5)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

_ORIGINAL_FROM_ERROR = StateTaskLambda._from_error


def _from_error(self: StateTaskLambda, env: Any, ex: Exception) -> FailureEvent:
    if not isinstance(ex, ClientError):
        return _ORIGINAL_FROM_ERROR(self, env, ex)
    error, cause = StateTaskServiceLambda._error_cause_from_client_error(ex)
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.LambdaFunctionFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item] # a total TypedDict, used partially as moto does
            lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)),
    )


def install() -> None:
    StateTaskLambda._from_error = _from_error  # type: ignore[method-assign]


def uninstall() -> None:
    StateTaskLambda._from_error = _ORIGINAL_FROM_ERROR  # type: ignore[method-assign]
