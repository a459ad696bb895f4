"""Watchlists, fraudsters and the enrollment's fraud check on the local runtime, through the unmodified boto3
``voice-id`` client and S3 uploads, with real speech.

Carlo is registered as a fraudster (through the fraudster store, as a registration job would) from one
recording of his voice (part 0); jobs then try to enroll him from another recording (part 1) next to Allison.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from helpers import VoiceprintOf, pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoFraudsterStore, DynamoJobStore
from speaker_enrollment.domain.shared.errors import QuotaExceededError
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.ids import new_generated_fraudster_id, new_id
from speaker_enrollment.domain.shared.job import BatchJob, JobStatus
from speaker_enrollment.domain.shared.watchlist import default_watchlist_id
from speaker_enrollment.domain.workflow.kinds.enrollment import EnrollmentConfig
from speaker_enrollment.voiceprint.scoring import DEFAULT_FRAUD_RISK_THRESHOLD
from test_api import error_of, start_request, voice_id, wait_until_final

pytestmark = pytest.mark.slow
FRAUDSTER_QUOTA = 2
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1",
               "FRAUDSTER_QUOTA": str(FRAUDSTER_QUOTA)}
VoiceId = Any


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        s3 = rt.client("s3")
        s3.put_object(Bucket=rt.inbox_bucket, Key="audio/carlo.wav", Body=pcm16_wav(recording("carlo-it", 40, 1)))
        s3.put_object(Bucket=rt.inbox_bucket, Key="audio/allison.wav", Body=pcm16_wav(recording("allison-en", 40)))
        yield rt


@pytest.fixture(scope="module")
def client(runtime: LocalRuntime) -> VoiceId:
    return voice_id(runtime)


def fraudster_store(rt: LocalRuntime) -> DynamoFraudsterStore:
    return rt.composition().fraudsters


def register(rt: LocalRuntime, voiceprint_of: VoiceprintOf, domain_id: str, *watchlist_ids: str,
             voice: str = "carlo-it") -> Fraudster:
    """A fraudster from part 0 of `voice`, written as a fraudster registration job would."""
    voiceprint = voiceprint_of(voice, 40, 0)
    fraudster = Fraudster(domain_id, new_generated_fraudster_id(), frozenset(watchlist_ids), 1_700_000_000.0,
                          tuple(voiceprint.as_list()), voiceprint.model_id)
    fraudster_store(rt).create(fraudster, FRAUDSTER_QUOTA)
    return fraudster


def new_domain(client: VoiceId, rt: LocalRuntime) -> tuple[str, str]:
    """A new domain's id and its default watchlist's id."""
    domain = client.create_domain(Name=f"d-{uuid.uuid4().hex[:8]}",
                                  ServerSideEncryptionConfiguration={"KmsKeyId": rt.key.key_id})["Domain"]
    return domain["DomainId"], domain["WatchlistDetails"]["DefaultWatchlistId"]


def manifest(rt: LocalRuntime, key: str, metadata: dict[str, str] | None = None) -> str:
    body = {"Version": "1.0", "SpeakerEnrollmentRequests": [
        {"RequestId": name, "SpeakerId": name,
         "AudioSpecifications": [{"S3Uri": f"s3://{rt.inbox_bucket}/audio/{name}.wav", "ChannelId": 0}]}
        for name in ("carlo", "allison")]}
    rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=key, Body=json.dumps(body).encode(),
                               Metadata=metadata or {})
    return f"s3://{rt.inbox_bucket}/{key}"


def output(rt: LocalRuntime, job: dict[str, Any] | BatchJob) -> dict[str, str | int]:
    """RequestId → EnrollmentStatus or the error (code and message) of a finished job's output file."""
    output_uri = job["OutputDataConfig"]["S3Uri"] if isinstance(job, dict) else job.output_s3_uri
    input_uri = job["InputDataConfig"]["S3Uri"] if isinstance(job, dict) else job.input_s3_uri
    job_id = job["JobId"] if isinstance(job, dict) else job.job_id
    bucket, _, folder = output_uri.removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job_id}/{input_uri.rsplit('/', 1)[-1]}.out"
    document = json.loads(rt.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return {**{e["RequestId"]: e["EnrollmentStatus"] for e in document["SuccessfulEnrollments"]},
            **{e["RequestId"]: f"{e['ErrorCode']}: {e['ErrorMessage']}" for e in document["Errors"]}}


def upload_job(rt: LocalRuntime, name: str, metadata: dict[str, str] | None = None) -> BatchJob:
    uri = manifest(rt, f"manifests/{rt.domain_id}/{name}", metadata)
    return wait_for_job(DynamoJobStore(rt.client("dynamodb"), rt.jobs_table), rt.domain_id, uri, timeout=300)


# ------------------------------------------------------------------------------------------ watchlists


def test_watchlist_life_cycle_quota_and_the_default_watchlist(runtime: LocalRuntime, client: VoiceId) -> None:
    domain_id, default_id = new_domain(client, runtime)
    created = client.create_watchlist(DomainId=domain_id, Name="known-fraud", Description="From chargebacks",
                                      ClientToken="w-1")["Watchlist"]
    assert created["DefaultWatchlist"] is False and created["Description"] == "From chargebacks"
    again = client.create_watchlist(DomainId=domain_id, Name="known-fraud", Description="From chargebacks",
                                    ClientToken="w-1")["Watchlist"]
    assert again == created  # the same token and request: the same watchlist
    watchlist_id = created["WatchlistId"]
    renamed = client.update_watchlist(DomainId=domain_id, WatchlistId=watchlist_id, Name="renamed")["Watchlist"]
    assert (renamed["Name"], renamed["Description"]) == ("renamed", "From chargebacks")
    assert client.describe_watchlist(DomainId=domain_id, WatchlistId=watchlist_id)["Watchlist"] == renamed
    client.create_watchlist(DomainId=domain_id, Name="third")
    listed = client.list_watchlists(DomainId=domain_id)["WatchlistSummaries"]
    assert sorted(w["Name"] for w in listed) == ["Default", "renamed", "third"]
    assert [w["WatchlistId"] for w in listed if w["DefaultWatchlist"]] == [default_id]

    quota = error_of(client.create_watchlist, DomainId=domain_id, Name="fourth")
    assert (quota["Code"], quota["Status"]) == ("ServiceQuotaExceededException", 402)
    for call, extra in ((client.update_watchlist, {"Name": "x"}), (client.delete_watchlist, {})):
        refused = error_of(call, DomainId=domain_id, WatchlistId=default_id, **extra)
        assert refused["Code"] == "ValidationException" and "default watchlist" in refused["Message"]
    client.delete_watchlist(DomainId=domain_id, WatchlistId=watchlist_id)
    gone = error_of(client.describe_watchlist, DomainId=domain_id, WatchlistId=watchlist_id)
    assert (gone["Code"], gone["ResourceType"]) == ("ResourceNotFoundException", "WATCHLIST")
    assert client.create_watchlist(DomainId=domain_id, Name="fourth")["Watchlist"]["Name"] == "fourth"


def test_fraudsters_move_between_watchlists_within_the_rules(
    runtime: LocalRuntime, client: VoiceId, voiceprint_of: VoiceprintOf
) -> None:
    domain_id, default_id = new_domain(client, runtime)
    other_id = client.create_watchlist(DomainId=domain_id, Name="other")["Watchlist"]["WatchlistId"]
    carlo = register(runtime, voiceprint_of, domain_id, default_id)
    described = client.describe_fraudster(DomainId=domain_id, FraudsterId=carlo.generated_fraudster_id)["Fraudster"]
    assert described["WatchlistIds"] == [default_id] and described["DomainId"] == domain_id

    moved = client.associate_fraudster(DomainId=domain_id, FraudsterId=carlo.generated_fraudster_id,
                                       WatchlistId=other_id)["Fraudster"]
    assert sorted(moved["WatchlistIds"]) == sorted([default_id, other_id])
    busy = error_of(client.delete_watchlist, DomainId=domain_id, WatchlistId=other_id)
    assert (busy["Code"], busy["Status"], busy["ConflictType"]) == (
        "ConflictException", 409, "CANNOT_DELETE_NON_EMPTY_WATCHLIST")
    client.disassociate_fraudster(DomainId=domain_id, FraudsterId=carlo.generated_fraudster_id,
                                  WatchlistId=default_id)
    last = error_of(client.disassociate_fraudster, DomainId=domain_id, FraudsterId=carlo.generated_fraudster_id,
                    WatchlistId=other_id)
    assert (last["Code"], last["ConflictType"]) == ("ConflictException",
                                                    "FRAUDSTER_MUST_BELONG_TO_AT_LEAST_ONE_WATCHLIST")
    listed = client.list_fraudsters(DomainId=domain_id, WatchlistId=other_id)["FraudsterSummaries"]
    assert [f["GeneratedFraudsterId"] for f in listed] == [carlo.generated_fraudster_id]
    assert client.list_fraudsters(DomainId=domain_id, WatchlistId=default_id)["FraudsterSummaries"] == []

    june = register(runtime, voiceprint_of, domain_id, default_id, voice="june-fr")
    register(runtime, voiceprint_of, domain_id, other_id, voice="allison-en")  # other is full (quota 2)
    full = error_of(client.associate_fraudster, DomainId=domain_id, FraudsterId=june.generated_fraudster_id,
                    WatchlistId=other_id)
    assert (full["Code"], full["Status"]) == ("ServiceQuotaExceededException", 402)
    with pytest.raises(QuotaExceededError):
        register(runtime, voiceprint_of, domain_id, other_id, voice="menardi-it")
    assert len(client.list_fraudsters(DomainId=domain_id, MaxResults=2)["FraudsterSummaries"]) == 2

    client.delete_fraudster(DomainId=domain_id, FraudsterId=carlo.generated_fraudster_id)
    gone = error_of(client.describe_fraudster, DomainId=domain_id, FraudsterId=carlo.generated_fraudster_id)
    assert (gone["Code"], gone["ResourceType"]) == ("ResourceNotFoundException", "FRAUDSTER")
    unknown = error_of(client.associate_fraudster, DomainId=domain_id, FraudsterId=june.generated_fraudster_id,
                       WatchlistId=new_id())
    assert unknown["ResourceType"] == "WATCHLIST"


# ------------------------------------------------------------------------------------ the fraud check


def test_a_job_started_by_the_api_refuses_the_fraudster_of_the_named_watchlist(
    runtime: LocalRuntime, client: VoiceId, voiceprint_of: VoiceprintOf
) -> None:
    domain_id, _ = new_domain(client, runtime)
    watchlist_id = client.create_watchlist(DomainId=domain_id, Name="fraud")["Watchlist"]["WatchlistId"]
    carlo = register(runtime, voiceprint_of, domain_id, watchlist_id)
    manifest(runtime, "api/fraud.json")
    started = client.start_speaker_enrollment_job(**start_request(runtime, domain_id, "api/fraud.json",
        EnrollmentConfig={"FraudDetectionConfig": {"WatchlistIds": [watchlist_id]}}))["Job"]
    job = wait_until_final(client, domain_id, started["JobId"])
    results = output(runtime, job)
    assert job["JobStatus"] == "COMPLETED_WITH_ERRORS" and results["allison"] == "NEW_ENROLLMENT"
    refusal = str(results["carlo"])
    assert refusal.startswith("400: Fraud risk ") and f"(threshold {DEFAULT_FRAUD_RISK_THRESHOLD})" in refusal
    assert carlo.generated_fraudster_id in refusal and watchlist_id in refusal


def test_an_upload_checks_the_default_watchlist_and_metadata_overrides_it(
    runtime: LocalRuntime, voiceprint_of: VoiceprintOf
) -> None:
    carlo = register(runtime, voiceprint_of, runtime.domain_id, default_watchlist_id(runtime.domain_id))
    caught = upload_job(runtime, "default.json")
    assert caught.status is JobStatus.COMPLETED_WITH_ERRORS
    results = output(runtime, caught)
    assert results["allison"] == "NEW_ENROLLMENT" and carlo.generated_fraudster_id in str(results["carlo"])
    let_through = upload_job(runtime, "lenient.json", {"risk-threshold": "100", "fraud-detection-action": "fail"})
    assert let_through.status is JobStatus.COMPLETED
    config = let_through.config
    assert isinstance(config, EnrollmentConfig) and config.fraud_detection is not None
    assert config.fraud_detection.risk_threshold == 100


@pytest.mark.parametrize(("metadata", "status", "reason"), [
    ({"risk-threshold": "high"}, 400, "risk-threshold must be a whole number from 0 to 100, got 'high'"),
    ({"fraud-detection-action": "WARN"}, 400, "fraud-detection-action must be FAIL or IGNORE, got 'WARN'"),
    ({"watchlist-id": "nope"}, 400, "watchlist-id 'nope' must be 22 characters"),
    ({"watchlist-id": "W" * 22}, 404, f"Watchlist '{'W' * 22}' of FraudDetectionConfig does not exist"),
])
def test_invalid_fraud_metadata_fails_the_job_with_the_reason(
    runtime: LocalRuntime, metadata: dict[str, str], status: int, reason: str
) -> None:
    job = upload_job(runtime, f"bad-{uuid.uuid4().hex[:6]}.json", metadata)
    assert job.status is JobStatus.FAILED and job.failure_details is not None
    assert job.failure_details.status_code == status and reason in job.failure_details.message
