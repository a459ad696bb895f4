"""The scheduled maintenance run (an EventBridge schedule): every domain's speakers are checked for expiry and
deleted domains are purged, each as an execution of the DomainMaintenance workflow."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .runtime import composition, logger, metrics, private_errors, traced


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = composition().sweep.run()
    metrics.add_metric(name="ExpiryRunsStarted", unit=MetricUnit.Count, value=started.expiries)
    metrics.add_metric(name="PurgeRunsStarted", unit=MetricUnit.Count, value=started.purges)
    logger.info("maintenance scheduled", extra={"expiries": started.expiries, "purges": started.purges})
    return {"ExpiryRuns": started.expiries, "PurgeRuns": started.purges}
