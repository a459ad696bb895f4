"""A shard function with a timeout of a few seconds still enrolls every request of a 20-request shard: each
invocation stops before its time runs out and the state machine continues the shard where it stopped."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoJobStore

pytestmark = pytest.mark.slow
# Short enough that 20 requests of 60 s of speech (about 0.5 s of compute each on an idle core) never fit one
# invocation, long enough that one request still fits when the machine is loaded (4 s failed under load).
TIMEOUT_SECONDS = 8
REQUESTS = 20
VOICES = ["allison-en", "carlo-it", "june-fr", "menardi-it", "armelle-fr"]


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    environment = {"LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_DISABLED": "true", "SHARD_SIZE": str(REQUESTS)}
    with LocalRuntime.start(port=0, environment=environment,
                            function_timeouts={"EnrollShardFunction": TIMEOUT_SECONDS}) as rt:
        for voice in VOICES:
            rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=f"short-timeout/{voice}.wav",
                                       Body=pcm16_wav(recording(voice, 60, 1)))
        yield rt


def test_a_shard_longer_than_its_function_timeout_enrolls_every_request(runtime: LocalRuntime,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    entries = [{"RequestId": f"r{i:02d}", "SpeakerId": f"timeout-{i:02d}", "AudioSpecifications": [
        {"S3Uri": f"s3://{runtime.inbox_bucket}/short-timeout/{VOICES[i % len(VOICES)]}.wav", "ChannelId": 0}]}
        for i in range(REQUESTS)]
    key = f"manifests/{runtime.domain_id}/short-timeout.json"
    runtime.client("s3").put_object(Bucket=runtime.inbox_bucket, Key=key, Body=json.dumps(
        {"Version": "1.0", "SpeakerEnrollmentRequests": entries}).encode())
    jobs = DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table)
    with caplog.at_level(logging.INFO):
        job = wait_for_job(jobs, runtime.domain_id, f"s3://{runtime.inbox_bucket}/{key}", timeout=600)
    bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
    output = json.loads(runtime.client("s3").get_object(
        Bucket=bucket, Key=f"{folder.rstrip('/')}/{job.job_id}/short-timeout.json.out")["Body"].read())
    assert (job.status.value, output["Errors"]) == ("COMPLETED", [])
    assert sorted(s["RequestId"] for s in output["SuccessfulEnrollments"]) == [e["RequestId"] for e in entries]
    markers = runtime.client("dynamodb").query(
        TableName=runtime.jobs_table, KeyConditionExpression="DomainId = :p",
        ExpressionAttributeValues={":p": {"S": f"progress#{job.job_id}"}})["Items"]
    assert [(m["JobId"]["S"], m["Requests"]["N"]) for m in markers] == [("00000", str(REQUESTS))]  # counted once
    continued = [r for r in caplog.records if r.getMessage() == "shard continues in another invocation"]
    assert continued  # the shard did not fit one invocation
