"""Fraudster registration jobs on the local runtime, through the unmodified boto3 ``voice-id`` client and S3
uploads under fraudsters/<DomainId>/, with real speech; then an enrollment job that catches a registered fraudster.

Carlo is registered from one recording (part 0); other recordings of him (part 1) are duplicates. One domain
for the module, its jobs run in order: the API job (Carlo, June, Carlo again, too little speech), an upload job
(Carlo again: DUPLICATE_SKIPPED), an API job with REGISTER_AS_NEW (Carlo: NEW; June: 402, the watchlist is full).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from speaker_enrollment.domain.shared.job import JobStatus
from speaker_enrollment.voiceprint.scoring import DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
from test_api import error_of, start_request, voice_id

pytestmark = pytest.mark.slow
FRAUDSTER_QUOTA = 3
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1",
               "FRAUDSTER_QUOTA": str(FRAUDSTER_QUOTA)}
AUDIO = {"carlo-0": ("carlo-it", 40, 0), "carlo-1": ("carlo-it", 40, 1), "june": ("june-fr", 40, 0),
         "allison": ("allison-en", 40, 0), "short": ("ivr-ru", 10, 0)}
FINAL = {s.value for s in JobStatus if s.is_final}
VoiceId = Any


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        for name, recipe in AUDIO.items():
            rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}.wav",
                                       Body=pcm16_wav(recording(*recipe)))
        yield rt


@pytest.fixture(scope="module")
def client(runtime: LocalRuntime) -> VoiceId:
    return voice_id(runtime)


@pytest.fixture(scope="module")
def domain(client: VoiceId, runtime: LocalRuntime) -> tuple[str, str]:
    """The module's domain id and its default watchlist's id."""
    created = client.create_domain(Name=f"d-{uuid.uuid4().hex[:8]}",
                                   ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})["Domain"]
    return created["DomainId"], created["WatchlistDetails"]["DefaultWatchlistId"]


def put_manifest(rt: LocalRuntime, key: str, *requests: tuple[str, str], metadata: dict[str, str] | None = None
                 ) -> str:
    """A registration manifest of (RequestId, audio name) pairs at `key` in the inbox bucket; its S3 URI."""
    body = {"Version": "1.0", "FraudsterRegistrationRequests": [
        {"RequestId": request_id,
         "AudioSpecifications": [{"S3Uri": f"s3://{rt.inbox_bucket}/audio/{name}.wav", "ChannelId": 0}]}
        for request_id, name in requests]}
    rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=key, Body=json.dumps(body).encode(),
                               Metadata=metadata or {})
    return f"s3://{rt.inbox_bucket}/{key}"


def wait_until_final(client: VoiceId, domain_id: str, job_id: str, *, enrollment: bool = False,
                     timeout: float = 120) -> dict[str, Any]:
    """Describe the job (a registration job, or an enrollment job) until it is final."""
    describe = client.describe_speaker_enrollment_job if enrollment else client.describe_fraudster_registration_job
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = describe(DomainId=domain_id, JobId=job_id)["Job"]
        if job["JobStatus"] in FINAL:
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def output(rt: LocalRuntime, job: dict[str, Any]) -> dict[str, Any]:
    """The output file of a finished job (dict from Describe)."""
    bucket, _, folder = job["OutputDataConfig"]["S3Uri"].removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job['JobId']}/{job['InputDataConfig']['S3Uri'].rsplit('/', 1)[-1]}.out"
    document: dict[str, Any] = json.loads(rt.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def by_request(document: dict[str, Any]) -> dict[str, Any]:
    """RequestId → its SuccessfulRegistrations entry or its Errors entry; each RequestId once."""
    entries = [*document["SuccessfulRegistrations"], *document["Errors"]]
    assert len({e["RequestId"] for e in entries}) == len(entries)
    return {e["RequestId"]: e for e in entries}


@pytest.fixture(scope="module")
def first_job(runtime: LocalRuntime, client: VoiceId, domain: tuple[str, str]) -> dict[str, Any]:
    put_manifest(runtime, "registration/first.json", ("carlo", "carlo-0"), ("june", "june"),
                 ("carlo-again", "carlo-1"), ("short", "short"))
    started = client.start_fraudster_registration_job(
        **start_request(runtime, domain[0], "registration/first.json"), JobName="first")["Job"]
    assert started["JobStatus"] == "SUBMITTED"
    return wait_until_final(client, domain[0], started["JobId"])


@pytest.fixture(scope="module")
def upload_job(runtime: LocalRuntime, client: VoiceId, domain: tuple[str, str], first_job: dict[str, Any]
               ) -> dict[str, Any]:
    uri = put_manifest(runtime, f"fraudsters/{domain[0]}/again.json", ("carlo-2", "carlo-1"),
                       metadata={"job-name": "uploaded"})
    job = wait_for_job(DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table), domain[0], uri, timeout=120)
    return wait_until_final(client, domain[0], job.job_id)


@pytest.fixture(scope="module")
def register_as_new_job(runtime: LocalRuntime, client: VoiceId, domain: tuple[str, str],
                        upload_job: dict[str, Any]) -> dict[str, Any]:
    put_manifest(runtime, "registration/as-new.json", ("carlo-3", "carlo-1"), ("june-2", "june"))
    config = {"DuplicateRegistrationAction": "REGISTER_AS_NEW", "WatchlistIds": [domain[1]]}
    started = client.start_fraudster_registration_job(
        **start_request(runtime, domain[0], "registration/as-new.json"), RegistrationConfig=config)["Job"]
    return wait_until_final(client, domain[0], started["JobId"])


def test_a_job_registers_new_fraudsters_and_skips_a_second_recording(
    runtime: LocalRuntime, client: VoiceId, domain: tuple[str, str], first_job: dict[str, Any]
) -> None:
    assert first_job["JobStatus"] == "COMPLETED_WITH_ERRORS" and first_job["JobProgress"]["PercentComplete"] == 100
    assert first_job["RegistrationConfig"] == {"DuplicateRegistrationAction": "SKIP"}
    assert first_job["JobName"] == "first" and first_job["EndedAt"] >= first_job["CreatedAt"]
    results = by_request(output(runtime, first_job))
    carlo, june, again = results["carlo"], results["june"], results["carlo-again"]
    assert carlo["RegistrationStatus"] == june["RegistrationStatus"] == "NEW_REGISTRATION"
    assert carlo["GeneratedFraudsterId"] != june["GeneratedFraudsterId"]
    assert again["RegistrationStatus"] == "DUPLICATE_SKIPPED"
    assert again["GeneratedFraudsterId"] == carlo["GeneratedFraudsterId"]
    assert again["FraudsterSimilarityScore"] >= DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
    assert june["FraudsterSimilarityScore"] < DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
    assert results["short"]["ErrorCode"] == 400 and "Not enough speech" in results["short"]["ErrorMessage"]
    listed = client.list_fraudsters(DomainId=domain[0], WatchlistId=domain[1])["FraudsterSummaries"]
    assert {f["GeneratedFraudsterId"] for f in listed} == {carlo["GeneratedFraudsterId"],
                                                            june["GeneratedFraudsterId"]}


def test_an_upload_under_fraudsters_starts_a_job_that_skips_the_known_fraudster(
    runtime: LocalRuntime, first_job: dict[str, Any], upload_job: dict[str, Any]
) -> None:
    assert upload_job["JobStatus"] == "COMPLETED" and upload_job["JobName"] == "uploaded"
    (entry,) = output(runtime, upload_job)["SuccessfulRegistrations"]
    carlo = by_request(output(runtime, first_job))["carlo"]
    assert (entry["RegistrationStatus"], entry["GeneratedFraudsterId"]) == (
        "DUPLICATE_SKIPPED", carlo["GeneratedFraudsterId"])
    assert entry["FraudsterSimilarityScore"] >= DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD


def test_register_as_new_registers_the_duplicate_within_the_watchlist_quota(
    runtime: LocalRuntime, first_job: dict[str, Any], register_as_new_job: dict[str, Any]
) -> None:
    results = by_request(output(runtime, register_as_new_job))
    carlo = by_request(output(runtime, first_job))["carlo"]
    assert results["carlo-3"]["RegistrationStatus"] == "NEW_REGISTRATION"
    assert results["carlo-3"]["GeneratedFraudsterId"] != carlo["GeneratedFraudsterId"]
    assert results["carlo-3"]["FraudsterSimilarityScore"] >= DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
    assert results["june-2"]["ErrorCode"] == 402 and "quota of 3 fraudsters" in results["june-2"]["ErrorMessage"]


def test_registration_jobs_are_listed_apart_from_enrollment_jobs(
    client: VoiceId, domain: tuple[str, str], first_job: dict[str, Any], upload_job: dict[str, Any],
    register_as_new_job: dict[str, Any]
) -> None:
    domain_id = domain[0]
    first_page = client.list_fraudster_registration_jobs(DomainId=domain_id, MaxResults=2)
    second_page = client.list_fraudster_registration_jobs(DomainId=domain_id, NextToken=first_page["NextToken"])
    assert "NextToken" not in second_page
    listed = [j["JobId"] for j in first_page["JobSummaries"] + second_page["JobSummaries"]]
    assert listed == [register_as_new_job["JobId"], upload_job["JobId"], first_job["JobId"]]  # newest first
    with_errors = client.list_fraudster_registration_jobs(DomainId=domain_id, JobStatus="COMPLETED_WITH_ERRORS")
    assert {j["JobId"] for j in with_errors["JobSummaries"]} == {first_job["JobId"], register_as_new_job["JobId"]}
    assert client.list_speaker_enrollment_jobs(DomainId=domain_id)["JobSummaries"] == []
    missing = error_of(client.describe_speaker_enrollment_job, DomainId=domain_id, JobId=first_job["JobId"])
    assert (missing["Code"], missing["ResourceType"]) == ("ResourceNotFoundException", "BATCH_JOB")


def test_an_enrollment_job_refuses_the_registered_fraudster(
    runtime: LocalRuntime, client: VoiceId, domain: tuple[str, str], first_job: dict[str, Any],
    register_as_new_job: dict[str, Any]
) -> None:
    body = {"Version": "1.0", "SpeakerEnrollmentRequests": [
        {"RequestId": name, "SpeakerId": name,
         "AudioSpecifications": [{"S3Uri": f"s3://{runtime.inbox_bucket}/audio/{audio}.wav", "ChannelId": 0}]}
        for name, audio in (("carlo", "carlo-1"), ("allison", "allison"))]}
    runtime.client("s3").put_object(Bucket=runtime.inbox_bucket, Key="enroll/after.json",
                                    Body=json.dumps(body).encode())
    started = client.start_speaker_enrollment_job(**start_request(runtime, domain[0], "enroll/after.json"))["Job"]
    job = wait_until_final(client, domain[0], started["JobId"], enrollment=True)
    document = output(runtime, job)
    assert [s["RequestId"] for s in document["SuccessfulEnrollments"]] == ["allison"]
    (refused,) = document["Errors"]
    assert refused["RequestId"] == "carlo" and refused["ErrorCode"] == 400
    assert refused["ErrorMessage"].startswith("Fraud risk ") and domain[1] in refused["ErrorMessage"]
    listed = client.list_speaker_enrollment_jobs(DomainId=domain[0])["JobSummaries"]
    assert [j["JobId"] for j in listed] == [job["JobId"]]
    registrations = client.list_fraudster_registration_jobs(DomainId=domain[0])["JobSummaries"]
    assert job["JobId"] not in {j["JobId"] for j in registrations}
    missing = error_of(client.describe_fraudster_registration_job, DomainId=domain[0], JobId=job["JobId"])
    assert missing["ResourceType"] == "BATCH_JOB"

