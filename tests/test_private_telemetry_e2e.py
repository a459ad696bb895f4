"""Nothing personal leaves a job through telemetry: a whole job on the local runtime (successes, refusals, a
missing file, unreadable audio, a failed job; an evaluation job of the enrolled speakers' calls) with every log
line at DEBUG, every trace annotation and metadata, and every state input and output Step Functions keeps in its
execution history scanned for the job's CustomerSpeakerIds, S3 URIs, bucket names, role ARNs and voiceprints.

The output file and the job record hold those on purpose (they are the customer's results); telemetry must not.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Tracer
from enrollctl.local import lambda_runner
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from speaker_enrollment.handlers import runtime

pytestmark = pytest.mark.slow
ENVIRONMENT = {"LOG_LEVEL": "DEBUG", "POWERTOOLS_METRICS_DISABLED": "true", "SHARD_SIZE": "2",
               "VOICEPRINT_THREADS": "1"}
SPEAKERS = ("caller-secret-4711", "caller-secret-0815", "caller-secret-short", "caller-secret-lost",
            "caller-secret-noise")
# A voiceprint in any text form: a run of many decimal fractions.
VOICEPRINT_TEXT = re.compile(r"(-?0?\.\d{4,}[,\s\]]+){16,}")


class Telemetry:
    """What the functions emit besides their results: state inputs/outputs, trace annotations and metadata."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self.traces: list[str] = []
        self.logs = LogCapture()

    def record_state(self, event: Any, result: Any) -> None:
        if isinstance(event, dict) and event.get("source") == "aws.s3":
            return  # S3's notification of an upload (it names the object) starts a job; it is not execution history
        self.states.append(json.dumps([event, result], default=str))


class LogCapture(logging.Handler):
    """Every record of the package's loggers and of the handlers' Powertools logger, formatted as the JSON log line
    (with the keys the handlers append) plus every attribute of the record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(runtime.logger.registered_formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + json.dumps(record.__dict__, default=str))

    def attach(self, patch: pytest.MonkeyPatch) -> None:
        for log in (logging.getLogger("speaker_enrollment"), runtime.logger._logger):
            patch.setattr(log, "level", logging.DEBUG)
            patch.setattr(log, "handlers", [*log.handlers, self])


@pytest.fixture(scope="module")
def telemetry() -> Iterator[Telemetry]:
    seen = Telemetry()
    patch = pytest.MonkeyPatch()
    calling = lambda_runner.call_function

    def recorded_call(fn: Any, event: Any) -> Any:
        result = calling(fn, event)
        seen.record_state(event, result)
        return result

    patch.setattr(lambda_runner, "call_function", recorded_call)
    seen.logs.attach(patch)
    patch.setattr(Tracer, "put_annotation", lambda self, key, value: seen.traces.append(f"{key}={value}"))
    patch.setattr(Tracer, "put_metadata",
                  lambda self, key, value, namespace=None: seen.traces.append(f"{key}={value!r}"))
    yield seen
    patch.undo()


@pytest.fixture(scope="module")
def finished(telemetry: Telemetry) -> Iterator[tuple[LocalRuntime, list[str]]]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        s3 = rt.client("s3")
        for name, recipe in {"a.wav": ("allison-en", 40, 0), "b.wav": ("carlo-it", 40, 0),
                             "short.wav": ("ivr-ru", 10, 0)}.items():
            s3.put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}", Body=pcm16_wav(recording(*recipe)))
        s3.put_object(Bucket=rt.inbox_bucket, Key="audio/noise.wav", Body=b"RIFF not really audio")
        files = ("a.wav", "b.wav", "short.wav", "lost.wav", "noise.wav")
        requests = [{"RequestId": f"r{i}", "SpeakerId": speaker,
                     "AudioSpecifications": [{"S3Uri": f"s3://{rt.inbox_bucket}/audio/{file}", "ChannelId": 0}]}
                    for i, (speaker, file) in enumerate(zip(SPEAKERS, files, strict=True))]
        # Then the enrolled speakers' calls evaluated (an ACCEPT moves LastAccessedAt), a short call, unreadable
        # audio, a speaker not enrolled and a speaker id of neither format.
        evaluations = [{**request, "SpeakerId": speaker} for request, speaker in zip(
            requests, (SPEAKERS[0], SPEAKERS[0], SPEAKERS[1], SPEAKERS[2], "id#" + SPEAKERS[4]), strict=True)]
        jobs = DynamoJobStore(rt.client("dynamodb"), rt.jobs_table)
        statuses = []
        for prefix, name, body in (
                ("manifests", "calls.json", {"Version": "1.0", "SpeakerEnrollmentRequests": requests}),
                ("evaluations", "checks.json", {"Version": "1.0", "SpeakerEvaluationRequests": evaluations}),
                ("manifests", "broken.json", {"Version": "9.9"})):
            key = f"{prefix}/{rt.domain_id}/{name}"
            s3.put_object(Bucket=rt.inbox_bucket, Key=key, Body=json.dumps(body).encode())
            job = wait_for_job(jobs, rt.domain_id, f"s3://{rt.inbox_bucket}/{key}", timeout=300)
            statuses.append(job.status.value)
        yield rt, statuses


@pytest.fixture(scope="module")
def secrets(finished: tuple[LocalRuntime, list[str]]) -> list[str]:
    rt, _ = finished
    return [*SPEAKERS, "s3://", rt.inbox_bucket, rt.output_bucket, rt.data_access_role_arn, "audio/"]


def test_the_jobs_ran_to_their_ends(finished: tuple[LocalRuntime, list[str]], telemetry: Telemetry) -> None:
    assert finished[1] == ["COMPLETED_WITH_ERRORS", "COMPLETED_WITH_ERRORS", "FAILED"]
    assert telemetry.states and telemetry.traces and telemetry.logs.lines  # the scans below scan something


def test_logs_hold_no_personal_data(finished: tuple[LocalRuntime, list[str]], telemetry: Telemetry,
                                    secrets: list[str]) -> None:
    leaks = [(secret, line[:300]) for line in telemetry.logs.lines for secret in secrets if secret in line]
    assert leaks == []
    assert not any(VOICEPRINT_TEXT.search(line) for line in telemetry.logs.lines)


def test_execution_history_holds_no_personal_data(finished: tuple[LocalRuntime, list[str]], telemetry: Telemetry,
                                                  secrets: list[str]) -> None:
    leaks = [(secret, state[:300]) for state in telemetry.states for secret in secrets if secret in state]
    assert leaks == []
    assert not any(VOICEPRINT_TEXT.search(state) for state in telemetry.states)


def test_traces_hold_no_personal_data(finished: tuple[LocalRuntime, list[str]], telemetry: Telemetry,
                                      secrets: list[str]) -> None:
    assert [t for t in telemetry.traces if any(secret in t for secret in secrets)] == []
