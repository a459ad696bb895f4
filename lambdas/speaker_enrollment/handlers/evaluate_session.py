"""EventBridge ``Object Created`` in the inbox under ``sessions/<DomainId>/`` → one session evaluated
(``domain/workflow/sessions.py``). A duplicate event of an evaluated upload is skipped; one arriving while another
invocation evaluates the same upload fails (SessionBusyError) so that Lambda retries it later."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..domain.workflow.sessions import SessionUpload
from .runtime import composition, logger, metrics, private_errors, traced, uploaded_object


def session_upload(event: S3EventBridgeNotificationEvent) -> SessionUpload:
    uploaded = uploaded_object(event)
    return SessionUpload(uploaded.bucket, uploaded.key, uploaded.sequencer or "", uploaded.version_id)


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
@event_source(data_class=S3EventBridgeNotificationEvent)
def handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict[str, Any]:
    evaluation = composition().session_evaluator.evaluate(session_upload(event))
    session = evaluation.session
    # Session ids and decisions only: no session names (ContactIds), speaker ids or keys.
    logger.info("session upload handled", extra={
        "outcome": evaluation.outcome.value, "session_id": session.session_id if session else None,
        "authentication": session.authentication.decision.value if session and session.authentication else None,
        "fraud_detection": session.fraud_detection.decision.value if session and session.fraud_detection else None,
    })
    metrics.add_metric(name=f"Sessions{evaluation.outcome.value.title()}", unit=MetricUnit.Count, value=1)
    return {"Outcome": evaluation.outcome.value, "SessionId": session.session_id if session else None,
            "StreamingStatus": session.status.value if session else None}
