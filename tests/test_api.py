"""The Voice ID API on the local runtime, driven by the unmodified boto3 ``voice-id`` client (on the model shipped
with the API, as ``enrollctl`` makes it).

One runtime for the module (moto's state is process-wide); each test makes its own domain, so tests do not
see each other's speakers and jobs. A job runs on real speech, started by StartSpeakerEnrollmentJob.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_client import Target, voice_id_client
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoDomainStore, DynamoJobStore
from speaker_enrollment.adapters.kms import KmsMacSigner
from speaker_enrollment.api.model import service_model
from speaker_enrollment.api.operations import OPERATIONS
from speaker_enrollment.api.tokens import PageTokens
from speaker_enrollment.domain.shared.ids import new_id
from speaker_enrollment.domain.shared.job import BatchJob, JobStatus
from speaker_enrollment.domain.shared.speaker import SpeakerStatus
from speaker_enrollment.domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT, EnrollmentConfig

pytestmark = pytest.mark.slow
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1"}
OTHER_ACCOUNT = "210987654321"
JOB_FIELDS = {"CreatedAt", "DataAccessRoleArn", "DomainId", "EndedAt", "EnrollmentConfig", "FailureDetails",
              "InputDataConfig", "JobId", "JobName", "JobProgress", "JobStatus", "OutputDataConfig"}
VoiceId = Any  # botocore's generated client class


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        s3 = rt.client("s3")
        s3.put_object(Bucket=rt.inbox_bucket, Key="audio/allison.wav", Body=pcm16_wav(recording("allison-en", 40)))
        s3.put_object(Bucket=rt.inbox_bucket, Key="audio/short.wav", Body=pcm16_wav(recording("ivr-ru", 10)))
        yield rt


def voice_id(rt: LocalRuntime, **config: Any) -> VoiceId:
    return voice_id_client(Target.resolve(rt.endpoint, rt.region), Config(**config))


@pytest.fixture(scope="module")
def client(runtime: LocalRuntime) -> VoiceId:
    return voice_id(runtime)


@pytest.fixture(scope="module")
def lax_client(runtime: LocalRuntime) -> VoiceId:
    """Sends what botocore's own parameter validation would stop: the server must refuse it itself."""
    return voice_id(runtime, parameter_validation=False)


@pytest.fixture(autouse=True)
def no_botocore_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """botocore parses every response without a warning (types, timestamps, unknown members)."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="botocore"):
        warnings.simplefilter("always")
        yield
    assert [w for w in caught if "/botocore/" in w.filename or "/boto3/" in w.filename] == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("botocore")] == []


@pytest.fixture
def domain(client: VoiceId, runtime: LocalRuntime) -> dict[str, Any]:
    return new_domain(client, runtime)


def new_domain(client: VoiceId, rt: LocalRuntime, **extra: Any) -> dict[str, Any]:
    response = client.create_domain(Name=f"d-{uuid.uuid4().hex[:8]}",
                                    ServerSideEncryptionConfiguration={"KmsKeyId": rt.key.key_id}, **extra)
    return dict(response["Domain"])


def error_of(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = dict(caught.value.response)
    return {**response["Error"], "Status": response["ResponseMetadata"]["HTTPStatusCode"],
            **{k: v for k, v in response.items() if k in ("ResourceType", "ConflictType")}}


def start_request(rt: LocalRuntime, domain_id: str, manifest: str, **extra: Any) -> dict[str, Any]:
    return {"DomainId": domain_id, "DataAccessRoleArn": rt.data_access_role_arn,
            "InputDataConfig": {"S3Uri": f"s3://{rt.inbox_bucket}/{manifest}"},
            "OutputDataConfig": {"S3Uri": f"s3://{rt.output_bucket}/api-jobs", "KmsKeyId": rt.key.key_id},
            **extra}


def reencryption_ended(client: VoiceId, domain_id: str, timeout: float = 60) -> dict[str, Any]:
    """The domain once its re-encryption (the maintenance workflow's ``reencrypt`` task) is no longer IN_PROGRESS."""
    deadline = time.monotonic() + timeout
    while True:
        domain: dict[str, Any] = client.describe_domain(DomainId=domain_id)["Domain"]
        if domain["ServerSideEncryptionUpdateDetails"]["UpdateStatus"] != "IN_PROGRESS":
            return domain
        assert time.monotonic() < deadline, "the re-encryption did not end"
        time.sleep(0.2)


def wait_until_final(client: VoiceId, domain_id: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.describe_speaker_enrollment_job(DomainId=domain_id, JobId=job_id)["Job"]
        if job["JobStatus"] in {s.value for s in JobStatus if s.is_final}:
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def put_manifest(rt: LocalRuntime, key: str, *requests: tuple[str, str, str]) -> None:
    body = {"Version": "1.0", "SpeakerEnrollmentRequests": [
        {"RequestId": rid, "SpeakerId": speaker,
         "AudioSpecifications": [{"S3Uri": f"s3://{rt.inbox_bucket}/audio/{audio}", "ChannelId": 0}]}
        for rid, speaker, audio in requests]}
    rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=key, Body=json.dumps(body).encode())


# ------------------------------------------------------------------------------------------------ jobs


@pytest.fixture(scope="module")
def finished_job(runtime: LocalRuntime, client: VoiceId) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(domain, the job as Start returned it, the job once final) for a real job on real speech."""
    domain = new_domain(client, runtime)
    put_manifest(runtime, "api/batch.json", ("enroll", "allison", "allison.wav"), ("short", "ivr", "short.wav"))
    config = {"ExistingEnrollmentAction": "OVERWRITE", "FraudDetectionConfig": {
        "FraudDetectionAction": "IGNORE", "RiskThreshold": 60,
        "WatchlistIds": [domain["WatchlistDetails"]["DefaultWatchlistId"]]}}
    request = start_request(runtime, domain["DomainId"], "api/batch.json", JobName="api-batch",
                            EnrollmentConfig=config, ClientToken="batch-1")
    started = client.start_speaker_enrollment_job(**request)["Job"]
    return domain, started, wait_until_final(client, domain["DomainId"], started["JobId"])


def test_a_started_job_runs_and_describe_returns_every_field(
    runtime: LocalRuntime, client: VoiceId, finished_job: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
) -> None:
    domain, started, job = finished_job
    assert started["JobStatus"] == "SUBMITTED" and started["JobProgress"] == {"PercentComplete": 0}
    assert set(job) == JOB_FIELDS - {"FailureDetails"}
    assert job["JobId"] == started["JobId"] and job["DomainId"] == domain["DomainId"]
    assert job["JobName"] == "api-batch" and job["JobStatus"] == "COMPLETED_WITH_ERRORS"
    assert job["JobProgress"] == {"PercentComplete": 100}
    assert isinstance(job["CreatedAt"], datetime) and job["EndedAt"] >= job["CreatedAt"]
    assert job["DataAccessRoleArn"] == runtime.data_access_role_arn
    assert job["InputDataConfig"] == {"S3Uri": f"s3://{runtime.inbox_bucket}/api/batch.json"}
    assert job["OutputDataConfig"] == {"S3Uri": f"s3://{runtime.output_bucket}/api-jobs",
                                       "KmsKeyId": runtime.key.key_id}
    assert job["EnrollmentConfig"]["ExistingEnrollmentAction"] == "OVERWRITE"
    assert job["EnrollmentConfig"]["FraudDetectionConfig"]["RiskThreshold"] == 60
    output = runtime.client("s3").get_object(Bucket=runtime.output_bucket,
                                             Key=f"api-jobs/{job['JobId']}/batch.json.out")
    document = json.loads(output["Body"].read())
    assert [e["RequestId"] for e in document["SuccessfulEnrollments"]] == ["enroll"]
    assert [(e["RequestId"], e["ErrorCode"]) for e in document["Errors"]] == [("short", 400)]
    speaker = client.describe_speaker(DomainId=domain["DomainId"], SpeakerId="allison")["Speaker"]
    assert speaker["Status"] == "ENROLLED"
    assert speaker["GeneratedSpeakerId"] == document["SuccessfulEnrollments"][0]["GeneratedSpeakerId"]


def test_a_job_that_fails_as_a_whole_has_failure_details(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    started = client.start_speaker_enrollment_job(**start_request(runtime, domain["DomainId"], "api/none.json"))
    job = wait_until_final(client, domain["DomainId"], started["Job"]["JobId"])
    assert set(job) == JOB_FIELDS - {"JobName"}
    assert job["JobStatus"] == "FAILED" and job["FailureDetails"]["StatusCode"] == 403
    assert "api/none.json" in job["FailureDetails"]["Message"]


def test_the_same_client_token_gives_the_same_job_and_another_request_is_refused(
    runtime: LocalRuntime, client: VoiceId, finished_job: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
) -> None:
    domain, started, _ = finished_job
    retry = start_request(runtime, domain["DomainId"], "api/batch.json", JobName="api-batch",
                          ClientToken="batch-1", EnrollmentConfig={
                              "ExistingEnrollmentAction": "OVERWRITE", "FraudDetectionConfig": {
                                  "FraudDetectionAction": "IGNORE", "RiskThreshold": 60,
                                  "WatchlistIds": [domain["WatchlistDetails"]["DefaultWatchlistId"]]}})
    again = client.start_speaker_enrollment_job(**retry)["Job"]
    assert again["JobId"] == started["JobId"] and again["JobStatus"] == "COMPLETED_WITH_ERRORS"
    error = error_of(client.start_speaker_enrollment_job, **{**retry, "JobName": "another-name"})
    assert error["Code"] == "ValidationException" and "ClientToken 'batch-1'" in error["Message"]


def test_start_without_client_token_gets_one_from_the_sdk(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    first = client.start_speaker_enrollment_job(**start_request(runtime, domain["DomainId"], "api/none.json"))
    second = client.start_speaker_enrollment_job(**start_request(runtime, domain["DomainId"], "api/none.json"))
    assert first["Job"]["JobId"] != second["Job"]["JobId"]  # botocore filled in two different tokens


def seed_jobs(runtime: LocalRuntime, domain_id: str, statuses: list[JobStatus]) -> list[str]:
    """Job records straight in the table (no workflow), created one second apart; their ids, oldest first."""
    store = DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table)
    ids = []
    for index, status in enumerate(statuses):
        job = BatchJob(new_id(), domain_id, SPEAKER_ENROLLMENT.name, EnrollmentConfig(), runtime.data_access_role_arn,
                       "s3://b/m.json", "s3://b/o", created_at=1_700_000_000.0 + index, job_name=f"seed-{index}",
                       status=status)
        store.create(job, f"seed-{index}", "hash")
        ids.append(job.job_id)
    return ids


def test_list_jobs_is_newest_first_paginated_and_filtered_by_status(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    statuses = [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.IN_PROGRESS,
                JobStatus.COMPLETED]
    ids = seed_jobs(runtime, domain["DomainId"], statuses)
    paginator = client.get_paginator("list_speaker_enrollment_jobs")
    pages = list(paginator.paginate(DomainId=domain["DomainId"], PaginationConfig={"PageSize": 2}))
    assert [len(p["JobSummaries"]) for p in pages] == [2, 2, 1]
    listed = [j for p in pages for j in p["JobSummaries"]]
    assert [j["JobId"] for j in listed] == ids[::-1]
    assert set(listed[0]) == {"JobId", "JobName", "JobStatus", "DomainId", "CreatedAt", "JobProgress"}
    completed = paginator.paginate(DomainId=domain["DomainId"], JobStatus="COMPLETED",
                                   PaginationConfig={"PageSize": 1}).build_full_result()
    assert [j["JobId"] for j in completed["JobSummaries"]] == [ids[4], ids[2], ids[0]]
    other = new_domain(client, runtime)
    assert client.list_speaker_enrollment_jobs(DomainId=other["DomainId"])["JobSummaries"] == []


def test_jobs_are_only_seen_from_their_domain(
    client: VoiceId, runtime: LocalRuntime, finished_job: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
) -> None:
    other = new_domain(client, runtime)
    error = error_of(client.describe_speaker_enrollment_job, DomainId=other["DomainId"],
                     JobId=finished_job[1]["JobId"])
    assert (error["Code"], error["Status"], error["ResourceType"]) == ("ResourceNotFoundException", 404, "BATCH_JOB")


def test_start_refuses_what_cannot_run(runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]) -> None:
    start = client.start_speaker_enrollment_job
    unknown = error_of(start, **start_request(runtime, new_id(), "api/m.json"))
    assert (unknown["Status"], unknown["ResourceType"]) == (404, "DOMAIN")
    watchlist = error_of(start, **start_request(runtime, domain["DomainId"], "api/m.json", EnrollmentConfig={
        "FraudDetectionConfig": {"WatchlistIds": [new_id()]}}))
    assert (watchlist["Status"], watchlist["ResourceType"]) == (404, "WATCHLIST")
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/elsewhere"
    denied = error_of(start, **{**start_request(runtime, domain["DomainId"], "api/m.json"), "DataAccessRoleArn": role})
    assert (denied["Code"], denied["Status"]) == ("AccessDeniedException", 403) and OTHER_ACCOUNT in denied["Message"]
    folder = error_of(start, **start_request(runtime, domain["DomainId"], "api/"))
    assert folder["Code"] == "ValidationException" and "InputDataConfig.S3Uri" in folder["Message"]


def test_start_in_a_suspended_domain_is_a_conflict(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    runtime.client("dynamodb").update_item(
        TableName=runtime.domains_table, Key={"DomainId": {"S": domain["DomainId"]}},
        UpdateExpression="SET DomainStatus = :s", ExpressionAttributeValues={":s": {"S": "SUSPENDED"}})
    error = error_of(client.start_speaker_enrollment_job, **start_request(runtime, domain["DomainId"], "api/m.json"))
    assert (error["Code"], error["Status"], error["ConflictType"]) == ("ConflictException", 409, "DOMAIN_NOT_ACTIVE")
    assert client.describe_domain(DomainId=domain["DomainId"])["Domain"]["DomainStatus"] == "SUSPENDED"


# --------------------------------------------------------------------------------------------- domains


def test_domain_life_cycle(runtime: LocalRuntime, client: VoiceId) -> None:
    token = uuid.uuid4().hex
    created = new_domain(client, runtime, ClientToken=token, Description="Contact centre EU",
                         Tags=[{"Key": "team", "Value": "voice"}])
    domain_id = created["DomainId"]
    assert created["Arn"] == f"arn:aws:voiceid:{runtime.region}:123456789012:domain/{domain_id}"
    assert created["DomainStatus"] == "ACTIVE" and created["Description"] == "Contact centre EU"
    watchlist_id = created["WatchlistDetails"]["DefaultWatchlistId"]
    watchlist = runtime.client("dynamodb").get_item(TableName=runtime.watchlists_table, Key={
        "DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist_id}})["Item"]
    assert watchlist["DefaultWatchlist"] == {"BOOL": True}
    retried = client.create_domain(Name=created["Name"], ClientToken=token, Description="Contact centre EU",
                                   ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id},
                                   Tags=[{"Key": "team", "Value": "voice"}])["Domain"]
    assert retried == created
    reused = error_of(client.create_domain, Name="other", ClientToken=token,
                      ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})
    assert reused["Code"] == "ValidationException" and "already used" in reused["Message"]

    other_key = runtime.client("kms").create_key(Description="another domain key")["KeyMetadata"]["KeyId"]
    unknown = error_of(client.update_domain, DomainId=domain_id, Name="renamed",
                       ServerSideEncryptionConfiguration={"KmsKeyId": "alias/other"})
    assert unknown["Code"] == "ValidationException" and "does not exist" in unknown["Message"]
    updated = client.update_domain(DomainId=domain_id, Name="renamed",
                                   ServerSideEncryptionConfiguration={"KmsKeyId": other_key})["Domain"]
    assert updated["Name"] == "renamed" and "Description" not in updated  # UpdateDomain replaces everything
    # The new key re-encrypts the domain's voiceprints (none here): IN_PROGRESS, then COMPLETED.
    assert updated["ServerSideEncryptionUpdateDetails"] == {"OldKmsKeyId": runtime.key.key_id,
                                                            "UpdateStatus": "IN_PROGRESS"}
    assert updated["UpdatedAt"] >= updated["CreatedAt"] == created["CreatedAt"]
    described = reencryption_ended(client, domain_id)
    assert described["ServerSideEncryptionUpdateDetails"]["UpdateStatus"] == "COMPLETED"
    assert described["ServerSideEncryptionConfiguration"] == {"KmsKeyId": other_key}

    client.delete_domain(DomainId=domain_id)
    for call in (client.describe_domain, client.delete_domain, client.list_speakers):
        error = error_of(call, DomainId=domain_id)
        assert (error["Code"], error["ResourceType"]) == ("ResourceNotFoundException", "DOMAIN")
    gone = error_of(client.create_domain, Name=created["Name"], ClientToken=token,
                    ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})
    assert gone["Code"] == "ValidationException" and "deleted" in gone["Message"]


def test_list_domains_pages_through_every_domain(runtime: LocalRuntime, client: VoiceId) -> None:
    made = {new_domain(client, runtime)["DomainId"] for _ in range(3)}
    deleted = new_domain(client, runtime)["DomainId"]
    client.delete_domain(DomainId=deleted)
    pages = list(client.get_paginator("list_domains").paginate(PaginationConfig={"PageSize": 2}))
    listed = [d["DomainId"] for page in pages for d in page["DomainSummaries"]]
    assert len(pages) > 1 and len(listed) == len(set(listed))
    assert made | {runtime.domain_id} <= set(listed) and deleted not in listed
    too_many = error_of(client.list_domains, MaxResults=11)
    assert too_many["Code"] == "ValidationException" and "MaxResults" in too_many["Message"]


def test_tags_of_a_domain(runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]) -> None:
    arn = domain["Arn"]
    client.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    client.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "one"}])
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "one"},
                                                                      {"Key": "b", "Value": "2"}]
    client.untag_resource(ResourceArn=arn, TagKeys=["a", "absent"])
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    reserved = error_of(client.tag_resource, ResourceArn=arn, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert reserved["Code"] == "ValidationException" and "reserved" in reserved["Message"]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert "at most 50" in error_of(client.tag_resource, ResourceArn=arn, Tags=many)["Message"]
    elsewhere = arn.replace(":123456789012:", f":{OTHER_ACCOUNT}:")
    error = error_of(client.list_tags_for_resource, ResourceArn=elsewhere)
    assert (error["Code"], error["ResourceType"]) == ("ResourceNotFoundException", "DOMAIN")


# -------------------------------------------------------------------------------------------- speakers


def test_opt_out_of_a_new_speaker_and_either_id_finds_it(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    domain_id = domain["DomainId"]
    speaker = client.opt_out_speaker(DomainId=domain_id, SpeakerId="caller-1")["Speaker"]
    assert speaker["Status"] == "OPTED_OUT" and speaker["GeneratedSpeakerId"].startswith("id#")
    by_generated = client.describe_speaker(DomainId=domain_id, SpeakerId=speaker["GeneratedSpeakerId"])["Speaker"]
    assert by_generated == client.describe_speaker(DomainId=domain_id, SpeakerId="caller-1")["Speaker"] == speaker
    assert client.opt_out_speaker(DomainId=domain_id, SpeakerId=speaker["GeneratedSpeakerId"])["Speaker"] == speaker
    other = new_domain(client, runtime)
    error = error_of(client.describe_speaker, DomainId=other["DomainId"], SpeakerId="caller-1")
    assert (error["Code"], error["Status"], error["ResourceType"]) == ("ResourceNotFoundException", 404, "SPEAKER")
    unknown = error_of(client.opt_out_speaker, DomainId=domain_id, SpeakerId="id#" + new_id())
    assert unknown["ResourceType"] == "SPEAKER"


def test_opt_out_of_an_enrolled_speaker_deletes_its_voiceprint(
    runtime: LocalRuntime, client: VoiceId, finished_job: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
) -> None:
    domain_id = finished_job[0]["DomainId"]
    store = runtime.composition().speakers
    enrolled = store.get(domain_id, "allison")
    assert enrolled is not None and enrolled.voiceprint
    speaker = client.opt_out_speaker(DomainId=domain_id, SpeakerId=enrolled.generated_speaker_id)["Speaker"]
    assert speaker["Status"] == "OPTED_OUT" and speaker["CustomerSpeakerId"] == "allison"
    stored = store.get(domain_id, "allison")
    assert stored is not None and stored.status is SpeakerStatus.OPTED_OUT
    assert (stored.voiceprint, stored.model_id) == ((), None)


def test_list_and_delete_speakers(runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]) -> None:
    domain_id = domain["DomainId"]
    names = [f"caller-{i}" for i in range(5)]
    generated = {n: client.opt_out_speaker(DomainId=domain_id, SpeakerId=n)["Speaker"]["GeneratedSpeakerId"]
                 for n in names}
    pages = list(client.get_paginator("list_speakers").paginate(DomainId=domain_id,
                                                                PaginationConfig={"PageSize": 2}))
    assert [len(p["SpeakerSummaries"]) for p in pages] == [2, 2, 1]
    assert sorted(s["CustomerSpeakerId"] for p in pages for s in p["SpeakerSummaries"]) == names
    client.delete_speaker(DomainId=domain_id, SpeakerId=generated["caller-0"])
    client.delete_speaker(DomainId=domain_id, SpeakerId="caller-1")
    for speaker_id in ("caller-0", generated["caller-1"]):
        error = error_of(client.delete_speaker, DomainId=domain_id, SpeakerId=speaker_id)
        assert (error["Code"], error["ResourceType"]) == ("ResourceNotFoundException", "SPEAKER")
    left = client.list_speakers(DomainId=domain_id)["SpeakerSummaries"]
    assert [s["CustomerSpeakerId"] for s in left] == names[2:]
    speakers = runtime.composition().speakers
    assert speakers.count(domain_id) == 3


def test_opt_out_of_a_new_speaker_counts_against_the_speaker_quota(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    runtime.client("dynamodb").update_item(
        TableName=runtime.domains_table, Key={"DomainId": {"S": domain["DomainId"]}},
        UpdateExpression="SET SpeakerCount = :n", ExpressionAttributeValues={":n": {"N": "100000"}})
    error = error_of(client.opt_out_speaker, DomainId=domain["DomainId"], SpeakerId="one-too-many")
    assert (error["Code"], error["Status"]) == ("ServiceQuotaExceededException", 402)
    assert "100,000 speakers" in error["Message"]


# ---------------------------------------------------------------------------------------- NextToken


def first_page_token(client: VoiceId, domain_id: str) -> str:
    for name in ("a", "b", "c"):
        client.opt_out_speaker(DomainId=domain_id, SpeakerId=name)
    return str(client.list_speakers(DomainId=domain_id, MaxResults=1)["NextToken"])


def test_next_token_is_bound_tamper_proof_and_expires(
    runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
) -> None:
    domain_id = domain["DomainId"]
    token = first_page_token(client, domain_id)
    assert [s["CustomerSpeakerId"] for s in client.list_speakers(
        DomainId=domain_id, MaxResults=1, NextToken=token)["SpeakerSummaries"]] == ["b"]
    payload, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**data, "p": "a"}).encode()).decode().rstrip("=")
    other = new_domain(client, runtime)["DomainId"]
    expired = PageTokens(KmsMacSigner(runtime.client("kms"), runtime.mac_key.key_id),
                         clock=lambda: time.time() - 25 * 3600).issue("ListSpeakers", {"DomainId": domain_id}, "a")
    cases = {
        "altered": (domain_id, f"{forged}.{mac}"), "garbage": (domain_id, "not-a-token"),
        "different listing": (other, token), "expired": (domain_id, expired),
    }
    for expected, (target, bad) in cases.items():
        error = error_of(client.list_speakers, DomainId=target, NextToken=bad)
        assert error["Code"] == "ValidationException", expected
        assert expected.split()[0] in error["Message"] or "invalid" in error["Message"], (expected, error)
    jobs = error_of(client.list_speaker_enrollment_jobs, DomainId=domain_id, NextToken=token)
    assert jobs["Code"] == "ValidationException" and "different listing" in jobs["Message"]


# ---------------------------------------------------------------------------------- validation & wire


def test_input_is_validated_against_the_model_naming_each_field(
    lax_client: VoiceId, runtime: LocalRuntime, domain: dict[str, Any]
) -> None:
    bad_start = {**start_request(runtime, "short", "api/m.json"), "InputDataConfig": {},
                 "EnrollmentConfig": {"ExistingEnrollmentAction": "MERGE",
                                      "FraudDetectionConfig": {"RiskThreshold": 101, "WatchlistIds": []}}}
    message = error_of(lax_client.start_speaker_enrollment_job, **bad_start)["Message"]
    assert message.startswith("6 validation errors detected: ")  # DomainId: length and pattern
    for field in ("'DomainId'", "'InputDataConfig.S3Uri'", "'EnrollmentConfig.ExistingEnrollmentAction'",
                  "'EnrollmentConfig.FraudDetectionConfig.RiskThreshold'",
                  "'EnrollmentConfig.FraudDetectionConfig.WatchlistIds'"):
        assert field in message
    assert "Member must not be null" in message and "less than or equal to 100" in message
    cases = [
        (lax_client.list_speakers, {"DomainId": domain["DomainId"], "MaxResults": 0}, "'MaxResults'"),
        (lax_client.list_speakers, {"DomainId": domain["DomainId"], "MaxResults": "10"}, "must be an integer"),
        (lax_client.list_speaker_enrollment_jobs, {"DomainId": domain["DomainId"], "JobStatus": "DONE"},
         "enum value set"),
        (lax_client.describe_speaker, {"DomainId": domain["DomainId"], "SpeakerId": "-bad"},
         "Value at 'SpeakerId'"),  # sensitive: the value is not echoed
        (lax_client.tag_resource, {"ResourceArn": domain["Arn"], "Tags": [{"Key": "k", "Value": "bad!"}]},
         "'Tags[0].Value'"),
    ]
    for call, params, expected in cases:
        error = error_of(call, **params)
        assert (error["Code"], error["Status"]) == ("ValidationException", 400)
        assert expected in error["Message"], (expected, error["Message"])


def test_unicode_descriptions_and_tags_pass_the_model_patterns(runtime: LocalRuntime, client: VoiceId) -> None:
    created = new_domain(client, runtime, Description="Centre Zürich 中文 ٣ 2/3",
                         Tags=[{"Key": "équipe", "Value": "voix 2"}])
    assert created["Description"] == "Centre Zürich 中文 ٣ 2/3"
    apostrophe = error_of(client.create_domain, Name="d", Description="Centre d'appels",
                          ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})
    assert "'Description'" in apostrophe["Message"]  # the model's pattern has no apostrophe


UNSUPPORTED = sorted(set(service_model().operation_names) - set(OPERATIONS))


def test_every_operation_of_the_model_is_implemented() -> None:
    """EvaluateSession was the last (tests/test_session_api.py); an operation without an implementation would
    answer ValidationException "<Operation> is not supported yet" (tests/test_service_model.py)."""
    assert UNSUPPORTED == []


def post(rt: LocalRuntime, target: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(rt.endpoint + "/", data=body, method="POST", headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_wire_format_on_the_shared_port(runtime: LocalRuntime, domain: dict[str, Any]) -> None:
    status, headers, body = post(runtime, "VoiceID.DescribeDomain",
                                 json.dumps({"DomainId": domain["DomainId"]}).encode())
    assert status == 200 and headers["Content-Type"] == "application/x-amz-json-1.0"
    assert isinstance(body["Domain"]["CreatedAt"], float)  # epoch seconds on the wire
    assert post(runtime, "VoiceID.DescribeDomain", b"{not json")[2]["__type"] == "SerializationException"
    status, _, body = post(runtime, "VoiceID.MakeCoffee", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, _, body = post(runtime, "VoiceID.DescribeDomain", json.dumps({"DomainId": new_id()}).encode())
    assert (status, body["__type"], body["ResourceType"]) == (404, "ResourceNotFoundException", "DOMAIN")
    assert body["message"] == body["Message"]
    assert runtime.api is not None
    assert runtime.api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": domain["DomainId"]})).status == 200
    assert runtime.client("s3").head_bucket(Bucket=runtime.inbox_bucket)  # everything else still goes to moto


def test_an_unexpected_fault_is_an_internal_server_exception(
    runtime: LocalRuntime, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: DynamoDomainStore, domain_id: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(DynamoDomainStore, "get", broken)
    once = voice_id(runtime, retries={"total_max_attempts": 1})
    with caplog.at_level(logging.ERROR, logger="speaker_enrollment.api"):
        error = error_of(once.describe_domain, DomainId=domain["DomainId"])
    assert (error["Code"], error["Status"]) == ("InternalServerException", 500)
    assert "disk on fire" not in error["Message"]
    # The log says what failed and where, never the message (it may carry personal data).
    assert "RuntimeError" in caplog.text and "broken" in caplog.text and "disk on fire" not in caplog.text
