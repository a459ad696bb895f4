"""Nothing personal in telemetry: errors leave handlers by type alone (a job's own failure recorded first in its
FailureDetails), logs say where without the message, traces record no responses or error messages."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from speaker_enrollment.domain.workflow.errors import InputNotReadableError
from speaker_enrollment.handlers import runtime
from speaker_enrollment.handlers.runtime import RECORDED, UnexpectedError, private_errors

HANDLERS = Path(__file__).resolve().parents[1] / "lambdas" / "speaker_enrollment" / "handlers"
SECRET = "s3://inbox/audio/caller-4711.wav"


class Context:
    aws_request_id = "request-1"


class RecordingSteps:
    def __init__(self) -> None:
        self.failed: list[tuple[str, str, str, str]] = []

    def fail(self, domain_id: str, job_id: str, error_type: str, message: str) -> None:
        self.failed.append((domain_id, job_id, error_type, message))


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> RecordingSteps:
    recording = RecordingSteps()
    monkeypatch.setattr(runtime, "composition", type("Root", (), {"steps": recording}))  # composition().steps
    return recording


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record with its extra fields, as the JSON log line would carry them."""
    return json.dumps([record.__dict__ for record in caplog.records], default=str)


def test_a_job_failure_is_recorded_then_leaves_without_its_message(steps: RecordingSteps,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    @private_errors
    def handler(event: dict[str, Any], context: Any) -> None:
        raise InputNotReadableError(f"The input manifest {SECRET} does not exist")

    with pytest.raises(InputNotReadableError) as raised:
        handler({"DomainId": "D", "JobId": "J"}, Context())
    assert str(raised.value) == RECORDED  # what Step Functions' history and the Lambda log will hold
    assert steps.failed == [("D", "J", "InputNotReadableError", f"The input manifest {SECRET} does not exist")]
    assert "InputNotReadableError" in logged(caplog) and "test_telemetry.py" in logged(caplog)
    assert SECRET not in logged(caplog)


def test_an_unexpected_error_leaves_by_its_type_name_only(steps: RecordingSteps,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    @private_errors
    def handler(event: dict[str, Any], context: Any) -> None:
        raise KeyError(SECRET)

    with pytest.raises(UnexpectedError) as raised:
        handler({"DomainId": "D", "JobId": "J"}, Context())
    assert str(raised.value) == "KeyError" and raised.value.__cause__ is None and raised.value.__suppress_context__
    assert steps.failed == []  # an unexpected error is retried by the state machine, not recorded
    assert "KeyError" in logged(caplog) and SECRET not in logged(caplog)


def _decorators(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [ast.unparse(d) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "handler"
            for d in node.decorator_list]


@pytest.mark.parametrize("path", sorted(p for p in HANDLERS.glob("*.py") if p.stem not in ("__init__", "runtime")),
                         ids=lambda p: p.stem)
def test_every_handler_is_traced_without_responses_or_error_messages_and_logs_no_event(path: Path) -> None:
    decorators = _decorators(path)
    assert "traced" in decorators, "trace through runtime.traced (no responses, no error messages)"
    assert not any(d.startswith("tracer.capture_lambda_handler") for d in decorators)
    assert not any("log_event" in d for d in decorators), "events carry S3 keys and ids: never log them whole"


@pytest.mark.parametrize("stem", ["prepare_job", "enroll_shard", "finalize_job", "submit_job", "fail_job"])
def test_workflow_handlers_let_errors_out_privately(stem: str) -> None:
    assert "private_errors" in _decorators(HANDLERS / f"{stem}.py")


def test_fail_job_reads_the_recorded_reason_not_the_message(steps: RecordingSteps) -> None:
    """What the catch-all gets from a failure that was recorded: its type and the placeholder."""
    cause = json.dumps({"errorType": "InputNotReadableError", "errorMessage": RECORDED})
    from speaker_enrollment.handlers.fail_job import JobFailed  # noqa: PLC0415

    failed = JobFailed.from_event({"DomainId": "D", "JobId": "J", "Error": {"Error": "InputNotReadableError",
                                                                             "Cause": cause}})
    assert failed.error.message == RECORDED and SECRET not in json.dumps(failed.error.__dict__)
