"""The synthesized state machine, end to end on the embedded local runtime, with real speech.

One runtime for the module (moto's state is process-wide). Jobs start exactly as in AWS: by
uploading a manifest under manifests/<DomainId>/ in the inbox bucket.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from enrollctl.local.jobs import job_for_manifest, wait_for_job
from enrollctl.local.runtime import LocalRuntime
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoDomainStore, DynamoJobStore
from speaker_enrollment.domain.shared.domain import Domain
from speaker_enrollment.domain.shared.ids import ID_PATTERN, new_id
from speaker_enrollment.domain.shared.job import BatchJob
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus
from speaker_enrollment.domain.workflow.shards import ShardProcessor

pytestmark = pytest.mark.slow
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "SHARD_SIZE": "3",
               "VOICEPRINT_THREADS": "1"}
AUDIO = {
    "allison.wav": ("allison-en", 40, 0),
    "carlo.wav": ("carlo-it", 40, 0),
    "june-a.wav": ("june-fr", 20, 0),
    "june-b.wav": ("june-fr", 20, 1),
    "short.wav": ("ivr-ru", 10, 0),
    "menardi.wav": ("menardi-it", 40, 0),
    "armelle.wav": ("armelle-fr", 40, 0),
}


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        s3 = rt.client("s3")
        for name, recipe in AUDIO.items():
            s3.put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}", Body=pcm16_wav(recording(*recipe)))
        s3.put_object(Bucket=rt.inbox_bucket, Key="audio/garbage.wav", Body=b"RIFF but not really audio")
        yield rt


def audio(rt: LocalRuntime, *names: str, channel: int = 0) -> list[dict[str, Any]]:
    return [{"S3Uri": f"s3://{rt.inbox_bucket}/audio/{n}", "ChannelId": channel} for n in names]


def entry(request_id: str, speaker: str, specs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"RequestId": request_id, "SpeakerId": speaker, "AudioSpecifications": specs}


def upload(rt: LocalRuntime, name: str, body: bytes, domain: str | None = None,
           metadata: dict[str, str] | None = None) -> str:
    key = f"manifests/{domain or rt.domain_id}/{name}"
    rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=key, Body=body, Metadata=metadata or {})
    return f"s3://{rt.inbox_bucket}/{key}"


def manifest(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"Version": "1.0", "SpeakerEnrollmentRequests": list(entries)}).encode()


def run(rt: LocalRuntime, name: str, body: bytes, *, domain: str | None = None,
        metadata: dict[str, str] | None = None, seen: list[int] | None = None) -> BatchJob:
    uri = upload(rt, name, body, domain, metadata)
    jobs = DynamoJobStore(rt.client("dynamodb"), rt.jobs_table)
    record = (lambda job: seen.append(job.percent_complete)) if seen is not None else None
    return wait_for_job(jobs, domain or rt.domain_id, uri, timeout=300, on_progress=record)


def output_of(rt: LocalRuntime, job: BatchJob) -> tuple[dict[str, Any], dict[str, Any]]:
    bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job.job_id}/{job.input_s3_uri.rsplit('/', 1)[-1]}.out"
    response = rt.client("s3").get_object(Bucket=bucket, Key=key)
    return json.loads(response["Body"].read()), response


def outcomes(document: dict[str, Any]) -> dict[str, Any]:
    """RequestId → ErrorCode or EnrollmentStatus; fails if any RequestId appears twice."""
    pairs = [(e["RequestId"], e["ErrorCode"]) for e in document["Errors"]]
    pairs += [(s["RequestId"], s["EnrollmentStatus"]) for s in document["SuccessfulEnrollments"]]
    assert len({p[0] for p in pairs}) == len(pairs), pairs
    return dict(pairs)


def main_manifest(rt: LocalRuntime) -> bytes:
    return manifest(
        entry("new-1", "allison", audio(rt, "allison.wav")),
        entry("new-2", "carlo", audio(rt, "carlo.wav")),
        entry("pooled", "june", audio(rt, "june-a.wav", "june-b.wav")),
        entry("short", "ivr", audio(rt, "short.wav")),
        entry("missing", "nobody", audio(rt, "nowhere.wav")),
        entry("garbage", "garbage", audio(rt, "garbage.wav")),
        entry("opted-out", "refuser", audio(rt, "menardi.wav")),
        entry("bad-channel", "carlo2", audio(rt, "carlo.wav", channel=5)),
    )


@pytest.fixture(scope="module")
def first_job(runtime: LocalRuntime) -> tuple[BatchJob, list[int]]:
    speakers = runtime.composition().speakers
    speakers.put(Speaker(runtime.domain_id, "refuser", "id#" + new_id(), SpeakerStatus.OPTED_OUT, 1.0, 1.0))
    seen: list[int] = []
    return run(runtime, "first.json", main_manifest(runtime), seen=seen), seen


def test_first_job_enrolls_and_reports_every_request_once(
    runtime: LocalRuntime, first_job: tuple[BatchJob, list[int]]
) -> None:
    job, seen = first_job
    document, response = output_of(runtime, job)
    assert outcomes(document) == {
        "new-1": "NEW_ENROLLMENT", "new-2": "NEW_ENROLLMENT", "pooled": "NEW_ENROLLMENT", "short": 400,
        "missing": 400, "garbage": 400, "opted-out": 409, "bad-channel": 400,
    }
    messages = {e["RequestId"]: e["ErrorMessage"] for e in document["Errors"]}
    assert "Not enough speech" in messages["short"] and "at least 30 s" in messages["short"]
    assert "audio/nowhere.wav does not exist" in messages["missing"]
    assert "audio/garbage.wav" in messages["garbage"]
    assert "opted out" in messages["opted-out"]
    assert "ChannelId must be 0 or 1, got 5" in messages["bad-channel"]
    assert response["ServerSideEncryption"] == "aws:kms" and runtime.key.key_id in response["SSEKMSKeyId"]
    assert seen == sorted(seen) and seen[-1] == 100


def test_job_record_has_every_field_of_speaker_enrollment_job(
    runtime: LocalRuntime, first_job: tuple[BatchJob, list[int]]
) -> None:
    record = first_job[0].to_api()
    assert set(record) == {"CreatedAt", "DataAccessRoleArn", "DomainId", "EndedAt", "EnrollmentConfig",
                           "InputDataConfig", "JobId", "JobName", "JobProgress", "JobStatus", "OutputDataConfig"}
    assert ID_PATTERN.match(record["JobId"]) and record["DomainId"] == runtime.domain_id
    assert record["JobStatus"] == "COMPLETED_WITH_ERRORS" and record["JobProgress"] == {"PercentComplete": 100}
    assert record["EndedAt"] >= record["CreatedAt"] and record["JobName"] == "first"
    assert record["EnrollmentConfig"] == {"ExistingEnrollmentAction": "SKIP"}
    assert record["DataAccessRoleArn"] == runtime.data_access_role_arn
    assert record["OutputDataConfig"]["S3Uri"] == f"s3://{runtime.output_bucket}/{runtime.domain_id}/"


def test_second_job_skips_enrolled_speakers(
    runtime: LocalRuntime, first_job: tuple[BatchJob, list[int]]
) -> None:
    job = run(runtime, "second.json", main_manifest(runtime))
    results = outcomes(output_of(runtime, job)[0])
    assert [results[r] for r in ("new-1", "new-2", "pooled")] == ["DUPLICATE_SKIPPED"] * 3
    assert results["opted-out"] == 409 and results["short"] == 400


def test_overwrite_from_object_metadata_re_enrolls_with_the_same_generated_ids(
    runtime: LocalRuntime, first_job: tuple[BatchJob, list[int]]
) -> None:
    enrolled = output_of(runtime, first_job[0])[0]["SuccessfulEnrollments"]
    first = {s["RequestId"]: s["GeneratedSpeakerId"] for s in enrolled}
    job = run(runtime, "third.json", main_manifest(runtime),
              metadata={"existing-enrollment-action": "OVERWRITE", "job-name": "re-enroll"})
    document = output_of(runtime, job)[0]
    assert job.job_name == "re-enroll" and job.config.to_api() == {"ExistingEnrollmentAction": "OVERWRITE"}
    overwritten = {s["RequestId"]: s for s in document["SuccessfulEnrollments"]}
    assert {r: s["EnrollmentStatus"] for r, s in overwritten.items()} == dict.fromkeys(first, "ENROLLMENT_OVERWRITE")
    assert {r: s["GeneratedSpeakerId"] for r, s in overwritten.items()} == first


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [("not-json.json", b"{this is not json", "not valid JSON"),
     ("version.json", json.dumps({"Version": "2.0", "SpeakerEnrollmentRequests": []}).encode(), "Version must be")],
)
def test_malformed_manifest_fails_the_job_with_failure_details(
    runtime: LocalRuntime, name: str, body: bytes, message: str
) -> None:
    job = run(runtime, name, body)
    assert job.status.value == "FAILED" and job.ended_at is not None
    assert job.failure_details is not None and job.failure_details.status_code == 400
    assert message in job.failure_details.message


def test_unknown_domain_gives_a_failed_job_with_the_reason(runtime: LocalRuntime) -> None:
    stranger = new_id()
    job = run(runtime, "lost.json", manifest(entry("a", "b", audio(runtime, "allison.wav"))), domain=stranger)
    assert job.status.value == "FAILED" and job.failure_details is not None
    assert job.failure_details.status_code == 404 and stranger in job.failure_details.message


def test_speaker_quota_gives_402(runtime: LocalRuntime) -> None:
    """A domain the first release filled to one below the quota (it counted speakers on the domain item)."""
    crowded = new_id()
    DynamoDomainStore(runtime.client("dynamodb"), runtime.domains_table, runtime.watchlists_table).put(
        Domain(crowded, "crowded"))
    runtime.client("dynamodb").update_item(
        TableName=runtime.domains_table, Key={"DomainId": {"S": crowded}}, UpdateExpression="SET SpeakerCount = :n",
        ExpressionAttributeValues={":n": {"N": str(100_000 - 1)}})
    job = run(runtime, "quota.json", manifest(entry("fits", "s1", audio(runtime, "menardi.wav")),
                                              entry("over", "s2", audio(runtime, "armelle.wav"))), domain=crowded)
    document = output_of(runtime, job)[0]
    assert outcomes(document) == {"fits": "NEW_ENROLLMENT", "over": 402}
    assert "quota of 100,000 speakers" in document["Errors"][0]["ErrorMessage"]


def test_a_crashing_shard_gives_500_for_exactly_its_requests(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = ShardProcessor.run

    def crash_on_marker(self: ShardProcessor, rules: Any, requests: Any, *args: Any) -> Any:
        if any(r.speaker_id == "crash-me" for r in requests):
            raise RuntimeError("simulated worker crash")
        return real_run(self, rules, requests, *args)

    monkeypatch.setattr(ShardProcessor, "run", crash_on_marker)
    body = manifest(  # SHARD_SIZE 3: shard 0 = first three requests, shard 1 = the other two
        entry("c1", "crash-me", audio(runtime, "allison.wav")),
        entry("c2", "crash-2", audio(runtime, "carlo.wav")),
        entry("c3", "crash-3", audio(runtime, "menardi.wav")),
        entry("ok1", "fine-1", audio(runtime, "armelle.wav")),
        entry("ok2", "fine-2", audio(runtime, "short.wav")),
    )
    job = run(runtime, "crash.json", body)
    assert job.status.value == "COMPLETED_WITH_ERRORS"
    expected = {"c1": 500, "c2": 500, "c3": 500, "ok1": "NEW_ENROLLMENT", "ok2": 400}
    assert outcomes(output_of(runtime, job)[0]) == expected


def test_a_duplicated_upload_event_starts_one_job(runtime: LocalRuntime) -> None:
    uri = upload(runtime, "twice.json", manifest(entry("a", "twice", audio(runtime, "allison.wav"))))
    jobs = DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table)
    job = wait_for_job(jobs, runtime.domain_id, uri, timeout=300)
    assert runtime.trigger is not None
    # EventBridge delivers at least once: replay the very event the upload produced.
    sent = next(e for e in runtime.trigger.delivered if e["detail"]["object"]["key"] in uri)
    response = runtime.client("lambda").invoke(FunctionName="speaker-enrollment-submit-job", Payload=json.dumps(sent))
    assert json.loads(response["Payload"].read())["JobId"] == job.job_id
    assert [j.job_id for j in jobs.list(runtime.domain_id) if j.input_s3_uri == uri] == [job.job_id]
    executions = runtime.client("stepfunctions").list_executions(stateMachineArn=runtime.state_machine_arn)
    assert [e["name"] for e in executions["executions"]].count(job.job_id) == 1
    assert job_for_manifest(jobs, runtime.domain_id, uri) == jobs.get(runtime.domain_id, job.job_id)


def started_through_the_api(rt: LocalRuntime, body: bytes) -> BatchJob:
    """A job whose output cannot be written (a bucket that does not exist): it fails in FinalizeJob with a message
    naming the output URI."""
    rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key="api/privacy.json", Body=body)
    uri = f"s3://{rt.inbox_bucket}/api/privacy.json"
    client = boto3.client("voice-id", endpoint_url=rt.endpoint, region_name=rt.region, aws_access_key_id="local",
                          aws_secret_access_key="local")
    client.start_speaker_enrollment_job(
        DomainId=rt.domain_id, DataAccessRoleArn=rt.data_access_role_arn, InputDataConfig={"S3Uri": uri},
        OutputDataConfig={"S3Uri": "s3://no-such-bucket-for-privacy/out/"}, ClientToken="privacy-unwritable")
    return wait_for_job(DynamoJobStore(rt.client("dynamodb"), rt.jobs_table), rt.domain_id, uri, timeout=300)


def test_what_jobs_log_and_leave_in_the_execution_history_holds_nothing_personal(
    runtime: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """One job enrolls (with a refused and an unreadable request), another fails on its manifest: neither the log
    records (all levels, extra fields included) nor any state of the executions' histories hold a
    CustomerSpeakerId, an S3 URI, a role ARN or a voiceprint."""
    speaker_ids = ("privacy-caller-1", "privacy-caller-2", "privacy-caller-3")
    with caplog.at_level(logging.DEBUG):
        enrolled = run(runtime, "privacy.json", manifest(entry("p1", speaker_ids[0], audio(runtime, "allison.wav")),
                                                         entry("p2", speaker_ids[1], audio(runtime, "nowhere.wav"))))
        failed = run(runtime, "privacy-broken.json", b"{not json")
        unwritable = started_through_the_api(runtime, manifest(entry("p3", speaker_ids[2],
                                                                     audio(runtime, "carlo.wav"))))
    assert [job.status.value for job in (enrolled, failed, unwritable)] == [
        "COMPLETED_WITH_ERRORS", "FAILED", "FAILED"]
    assert unwritable.failure_details is not None and "s3://" in unwritable.failure_details.message  # its owner's
    sfn = runtime.client("stepfunctions")
    histories = [sfn.get_execution_history(executionArn=e["executionArn"], maxResults=1000)["events"]
                 for e in sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]
                 if e["name"] in (enrolled.job_id, failed.job_id, unwritable.job_id)]
    assert len(histories) == 3
    ours = [r.__dict__ for r in caplog.records if "/speaker_enrollment/" in r.pathname]  # logged by our code
    assert any(record["msg"] == "job failed" for record in ours)  # the functions' logs are captured (WARNING+ here)
    telemetry = json.dumps(ours, default=str) + json.dumps(histories, default=str)
    personal = [*speaker_ids, "s3://", runtime.inbox_bucket, runtime.data_access_role_arn, "Voiceprint"]
    assert [value for value in personal if value in telemetry] == []
