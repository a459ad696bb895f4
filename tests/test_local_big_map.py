"""The local runtime's fixes of moto's Map state (``enrollctl.local.map_runner``): Distributed Maps of any
size run to the end, each item once, and whatever fails in a Map's workers fails the execution.

moto 5.2.5 takes a worker's next item by recursion: without the fixes a worker stops after ~985 items and
the execution stays RUNNING forever. The small state machines here run on moto alone (``mock_aws``); the
last test runs a 10,000-request job of the synthesized workflow on the local runtime.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto
import pytest
from enrollctl.local import stack
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.lambda_runner import InProcessLambda
from enrollctl.local.map_runner import PINNED_MOTO_VERSION, MapRunner, MotoVersionError, check_moto_version
from enrollctl.local.resources import _placeholder_zip
from enrollctl.local.runtime import LocalRuntime
from helpers import execution_ended
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from speaker_enrollment.adapters.dynamodb import DynamoJobStore

REGION = "us-east-1"
BUCKET = "big-map-items"
ITEMS_KEY = "items.json"
ROLE_ARN = "arn:aws:iam::123456789012:role/big-map"
FUNCTION = "count-item"
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@pytest.fixture
def map_runner() -> Iterator[None]:
    MapRunner.install()
    try:
        yield
    finally:
        MapRunner.uninstall()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config=MOTO_CONFIG):
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield


def distributed_map(processor: dict[str, Any], concurrency: int = 1, **fields: Any) -> dict[str, Any]:
    """A state machine of one Distributed Map over the JSON list at s3://BUCKET/ITEMS_KEY."""
    return {"StartAt": "Items", "States": {"Items": {
        "Type": "Map", "MaxConcurrency": concurrency, "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket": BUCKET, "Key": ITEMS_KEY}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **processor},
        **fields}}}


PASS = {"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}}
# Items with "Fail": true end in a Fail state, uncaught: the item fails.
FAIL_SOME = {"StartAt": "Check", "States": {
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.Fail", "BooleanEquals": True, "Next": "Broken"}],
              "Default": "Fine"},
    "Broken": {"Type": "Fail", "Error": "Item.Broken", "Cause": "this item is broken"},
    "Fine": {"Type": "Pass", "End": True}}}
INVOKE = {"StartAt": "Invoke", "States": {"Invoke": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload", "End": True,
    "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"}}}}


def run(definition: dict[str, Any], items: list[Any], timeout: float = 120.0) -> dict[str, Any]:
    """Upload ``items``, run ``definition`` once and wait for it to end (a RUNNING execution fails the test)."""
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=ITEMS_KEY, Body=json.dumps(items))
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name=f"big-map-{time.monotonic_ns()}", definition=json.dumps(definition),
                                       roleArn=ROLE_ARN)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if execution_ended(described):
            return described
        time.sleep(0.2)
    raise AssertionError(f"the execution is still RUNNING after {timeout:.0f} s")


def register_function(handler: Callable[[Any, Any], Any]) -> None:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    boto3.client("iam", region_name=REGION).create_role(RoleName="big-map", AssumeRolePolicyDocument=json.dumps(trust))
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Role=ROLE_ARN, Handler="unused.handler",
        Code={"ZipFile": _placeholder_zip()})
    InProcessLambda.register(FUNCTION, handler)


@pytest.fixture
def in_process_lambda() -> Iterator[None]:
    InProcessLambda.install()
    try:
        yield
    finally:
        InProcessLambda.uninstall()


# ------------------------------------------------------------------------------------------ versions


def test_refuses_a_moto_other_than_the_pinned_one(monkeypatch: pytest.MonkeyPatch) -> None:
    check_moto_version(PINNED_MOTO_VERSION)
    with pytest.raises(MotoVersionError, match=r"moto 5\.2\.5 .* moto 5\.3\.0 is installed"):
        check_moto_version("5.3.0")
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    original = DistributedItemProcessorWorker.__dict__["_eval_pool"]
    with pytest.raises(MotoVersionError):
        MapRunner.install()
    assert not MapRunner.installed()
    assert DistributedItemProcessorWorker.__dict__["_eval_pool"] is original


def test_uninstall_restores_moto() -> None:
    originals = {name: DistributedItemProcessorWorker.__dict__[name] for name in ("_eval_pool", "eval", "_eval_job")}
    MapRunner.install()
    MapRunner.install()
    MapRunner.uninstall()
    assert MapRunner.installed()
    assert all(DistributedItemProcessorWorker.__dict__[name] is not f for name, f in originals.items())
    MapRunner.uninstall()
    assert not MapRunner.installed()
    assert all(DistributedItemProcessorWorker.__dict__[name] is f for name, f in originals.items())


# ---------------------------------------------------------------------------------------- big maps


@pytest.mark.usefixtures("aws", "map_runner")
def test_a_distributed_map_of_10000_items_on_one_worker_runs_each_item_once() -> None:
    items = [{"Index": index} for index in range(10_000)]
    execution = run(distributed_map(PASS, concurrency=1), items)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == items  # one output per item, in order: each item ran once


@pytest.mark.usefixtures("aws", "map_runner", "in_process_lambda")
def test_a_lambda_task_runs_once_for_each_of_2500_items_on_two_workers() -> None:
    calls: Counter[int] = Counter()

    def count(event: Any, _context: Any) -> Any:
        calls[event["Index"]] += 1
        return {"Seen": event["Index"]}

    register_function(count)
    execution = run(distributed_map(INVOKE, concurrency=2), [{"Index": index} for index in range(2_500)])
    assert execution["status"] == "SUCCEEDED"
    assert calls == Counter(range(2_500))
    assert json.loads(execution["output"]) == [{"Seen": index} for index in range(2_500)]


# ------------------------------------------------------------------------------------------ failures


@pytest.mark.usefixtures("aws", "map_runner")
def test_a_failed_item_fails_the_execution() -> None:
    items = [{"Index": index, "Fail": index == 1_500} for index in range(2_000)]
    execution = run(distributed_map(FAIL_SOME), items)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.ExceedToleratedFailureThreshold"
    assert "item 1500 of Map state 'Items' failed: Item.Broken: this item is broken" in execution["cause"]


@pytest.mark.usefixtures("aws", "map_runner")
def test_a_failed_item_is_caught_by_the_map_states_catch() -> None:
    definition = distributed_map(FAIL_SOME, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])
    definition["States"]["Items"].pop("End")
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    execution = run(definition, [{"Fail": True}])
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["Error"] == "States.ExceedToleratedFailureThreshold"


@pytest.mark.parametrize(("failing", "status"), [(2, "SUCCEEDED"), (3, "FAILED")])
@pytest.mark.usefixtures("aws", "map_runner")
def test_failed_items_within_the_tolerated_count_are_tolerated(failing: int, status: str) -> None:
    items = [{"Fail": index < failing} for index in range(10)]
    assert run(distributed_map(FAIL_SOME, ToleratedFailureCount=2), items)["status"] == status


@pytest.mark.usefixtures("aws", "map_runner")
def test_an_error_of_a_worker_outside_any_item_fails_the_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    handed_out = Counter[str]()
    next_job = JobPool.next_job

    def next_job_breaking_at_the_100th(pool: JobPool) -> Any:
        handed_out["jobs"] += 1
        if handed_out["jobs"] == 100:
            raise RuntimeError("the engine broke")
        return next_job(pool)

    monkeypatch.setattr(JobPool, "next_job", next_job_breaking_at_the_100th)
    execution = run(distributed_map(PASS), [{"Index": index} for index in range(1_000)], timeout=60)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.Runtime"
    assert "A worker of Map state 'Items' failed: RuntimeError: the engine broke" in execution["cause"]


# ---------------------------------------------------------------------------------- the real workflow

# 10,000 requests in 1,250 shards of 8, all run by one worker (MaxConcurrency 1): more items than moto's
# recursion let a worker run (~985; with the default 20 requests a shard, 500 shards on 2 workers stay under
# it). Every request's audio is missing: each becomes a quick 400 entry.
BIG_JOB_REQUESTS = 10_000
BIG_JOB_ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "SHARD_SIZE": "8"}


@pytest.mark.slow
def test_a_10000_request_job_runs_to_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "LOCAL_MAX_CONCURRENCY", 1)
    with LocalRuntime.start(port=0, environment=BIG_JOB_ENVIRONMENT) as rt:
        assert [s["MaxConcurrency"] for s in rt.definition["States"].values() if s["Type"] == "Map"] == [1]
        requests = [{"RequestId": f"request-{index}", "SpeakerId": f"speaker-{index}",
                     "AudioSpecifications": [{"S3Uri": f"s3://{rt.inbox_bucket}/audio/none-{index}.wav",
                                              "ChannelId": 0}]} for index in range(BIG_JOB_REQUESTS)]
        key = f"manifests/{rt.domain_id}/big.json"
        body = json.dumps({"Version": "1.0", "SpeakerEnrollmentRequests": requests}).encode()
        rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=key, Body=body)
        jobs = DynamoJobStore(rt.client("dynamodb"), rt.jobs_table)
        job = wait_for_job(jobs, rt.domain_id, f"s3://{rt.inbox_bucket}/{key}", timeout=900)
        assert job.status.value == "COMPLETED_WITH_ERRORS"
        assert len(read_json(rt, rt.work_bucket, f"jobs/{job.job_id}/shards.json")) == 1_250  # one worker's items
        bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
        document = read_json(rt, bucket, f"{folder.rstrip('/')}/{job.job_id}/big.json.out")
    assert document["SuccessfulEnrollments"] == []
    assert Counter(entry["RequestId"] for entry in document["Errors"]) == Counter(
        request["RequestId"] for request in requests)
    assert {(entry["ErrorCode"], "does not exist" in entry["ErrorMessage"]) for entry in document["Errors"]} == {
        (400, True)}


def read_json(rt: LocalRuntime, bucket: str, key: str) -> Any:
    return json.loads(rt.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
