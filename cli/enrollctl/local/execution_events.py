"""Step Functions' ``Execution Status Change`` events, locally. In AWS every status change of a Standard execution
is published to the default event bus; moto publishes nothing. While installed, the runtime publishes, on the
local bus (``events``), the events of executions that end FAILED, TIMED_OUT or ABORTED (the statuses a rule of the
stack may watch; the others have no local consumer): an ABORTED one when ``StopExecution`` is called, as AWS does
(moto's engine only notices a stop once the running state returns), the others when moto's engine ends.

Patches (moto 5.2.5): ``BaseExecutionWorkerCommunication.terminated`` and ``Execution.stop``.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

LOG = logging.getLogger(__name__)
SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
PUBLISHED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
Publish = Callable[[dict[str, Any]], Any]
_ORIGINAL_TERMINATED = BaseExecutionWorkerCommunication.terminated
_ORIGINAL_STOP = Execution.stop


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)  # moto's utcnow() is naive


def _epoch_millis(moment: datetime.datetime | None) -> int | None:
    return None if moment is None else int(_utc(moment).timestamp() * 1000)


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


def status_change_event(execution: Execution, status: str, stop_date: datetime.datetime,
                        error: str | None, cause: str | None) -> dict[str, Any]:
    """The event as Step Functions publishes it (docs: 'Step Functions events in EventBridge')."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": execution.account_id,
        "time": _utc(stop_date).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": _epoch_millis(execution.start_date),
            "stopDate": _epoch_millis(stop_date),
            "input": json.dumps(execution.input_data, separators=(",", ":")),
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
            "error": error or None,
            "cause": cause or None,
        },
    }


class ExecutionStatusEvents:
    """While installed, ending executions publish their status change with ``publish`` (once per execution)."""

    _active: ClassVar[ExecutionStatusEvents | None] = None

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._published: set[str] = set()
        self._lock = threading.Lock()

    def install(self) -> None:
        if ExecutionStatusEvents._active is not None:
            raise RuntimeError("execution status events are already published in this process")
        ExecutionStatusEvents._active = self
        BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
        Execution.stop = _stop  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if ExecutionStatusEvents._active is self:
            ExecutionStatusEvents._active = None
            BaseExecutionWorkerCommunication.terminated = _ORIGINAL_TERMINATED  # type: ignore[method-assign]
            Execution.stop = _ORIGINAL_STOP  # type: ignore[method-assign]

    def ended(self, execution: Execution, status: str, stop_date: datetime.datetime | None,
              error: str | None = None, cause: str | None = None) -> None:
        if status not in PUBLISHED_STATUSES or not self._first_end(execution.exec_arn):
            return
        moment = stop_date or datetime.datetime.now(tz=datetime.UTC)
        try:
            self._publish(status_change_event(execution, status, moment, error, cause))
        except Exception:
            LOG.exception("publishing an execution status change failed")

    def _first_end(self, execution_arn: str) -> bool:
        with self._lock:
            first = execution_arn not in self._published
            self._published.add(execution_arn)
            return first


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    _ORIGINAL_TERMINATED(self)
    events, execution = ExecutionStatusEvents._active, self.execution
    if events is not None:
        events.ended(execution, _status(execution.exec_status), execution.stop_date, execution.error,
                     execution.cause)


def _stop(self: Execution, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
    running = self.exec_status == ExecutionStatus.RUNNING
    _ORIGINAL_STOP(self, stop_date, error, cause)
    events = ExecutionStatusEvents._active
    if events is not None and running:
        events.ended(self, "ABORTED", stop_date, error, cause)
