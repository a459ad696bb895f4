"""Domain maintenance end to end on the local runtime with IAM enforced (``enrollctl serve --iam``), real speech
and boto3's voice-id client signing as the administrator (issue 15): DeleteDomain purges every item and inbox
upload of the domain, leaving its tombstone, even with the domain's key disabled; the daily schedule deletes the
speakers not accessed for the retention period; UpdateDomain's re-encryption runs as a maintenance task."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from enrollctl.local import LocalRuntime
from helpers import execution_ended, pcm16_wav, recording
from speaker_enrollment.domain.shared.ids import new_generated_speaker_id, new_id
from speaker_enrollment.domain.shared.job import JobStatus
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus
from test_api import reencryption_ended
from test_authorization_local import client, keys_of
from test_job_e2e import audio, entry, manifest, output_of, run

pytestmark = pytest.mark.slow
RETENTION_DAYS = 30  # SPEAKER_RETENTION_DAYS of this runtime (3 years deployed)
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1",
               "SHARD_SIZE": "2", "VOICEPRINT_KEY_CACHE_SECONDS": "0", "SPEAKER_RETENTION_DAYS": str(RETENTION_DAYS)}
MAINTENANCE = "DomainMaintenance"
PURGE_SECONDS = 60  # the acceptance bound for a domain of a few speakers
DAY = 86_400.0


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT, iam=True) as rt:
        for name, voice in (("allison.wav", "allison-en"), ("carlo.wav", "carlo-it")):
            rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}",
                                       Body=pcm16_wav(recording(voice, 35, 0)))
        yield rt


@pytest.fixture(scope="module")
def voice(runtime: LocalRuntime) -> Any:
    return client(runtime, "voice-id", keys_of(runtime))


def new_domain(rt: LocalRuntime, voice: Any) -> tuple[str, str]:
    key_id = rt.client("kms").create_key(Description="domain")["KeyMetadata"]["KeyId"]
    domain = voice.create_domain(Name="calls", ClientToken=new_id(),
                                 ServerSideEncryptionConfiguration={"KmsKeyId": key_id})["Domain"]
    return str(domain["DomainId"]), key_id


def populate(rt: LocalRuntime, voice: Any, domain_id: str) -> list[str]:
    """Everything a domain holds: an enrollment job (speakers, count slots, job record, progress markers, work
    files, its manifest and output file), an opted-out speaker, a watchlist, a recorded call's session and a
    fraudster registration manifest in the inbox. The job ids."""
    body = manifest(entry("r-allison", "allison", audio(rt, "allison.wav")),
                    entry("r-carlo", "carlo", audio(rt, "carlo.wav")))
    job = run(rt, f"{new_id()}.json", body, domain=domain_id)
    assert job.status is JobStatus.COMPLETED
    voice.opt_out_speaker(DomainId=domain_id, SpeakerId="opted-out-caller")
    voice.create_watchlist(DomainId=domain_id, Name="suspects", ClientToken=new_id())
    s3 = rt.client("s3")
    s3.put_object(Bucket=rt.inbox_bucket, Key=f"sessions/{domain_id}/call-1.wav",
                  Body=pcm16_wav(recording("allison-en", 12, 1)), Metadata={"speaker-id": "allison"})
    s3.put_object(Bucket=rt.inbox_bucket, Key=f"sessions/{domain_id}/call-1.wav",  # a second version
                  Body=pcm16_wav(recording("allison-en", 12, 2)), Metadata={"speaker-id": "allison"})
    wait_for(lambda: session_status(voice, domain_id, "call-1") == "ENDED", 60)
    return [job.job_id]


def session_status(voice: Any, domain_id: str, name: str) -> str | None:
    """None until the upload's evaluation has begun (EvaluateSession: ResourceNotFoundException)."""
    try:
        return str(voice.evaluate_session(DomainId=domain_id, SessionNameOrId=name)["StreamingStatus"])
    except voice.exceptions.ResourceNotFoundException:
        return None


def wait_for(condition: Any, seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.2)
    return time.monotonic() - started


def maintenance_runs(rt: LocalRuntime, domain_id: str, task: str) -> list[dict[str, Any]]:
    sfn = rt.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=rt.state_machine_arns[MAINTENANCE])["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions
            if e["name"].startswith(f"{task}-{domain_id}-")]


def ended(rt: LocalRuntime, domain_id: str, task: str, count: int = 1) -> bool:
    runs = maintenance_runs(rt, domain_id, task)
    return len(runs) >= count and all(execution_ended(run) for run in runs)


def items_of(rt: LocalRuntime, domain_id: str, job_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table whose partition is the domain's (or one of its jobs' progress markers)."""
    partitions = {domain_id, *(f"progress#{job_id}" for job_id in job_ids)}
    dynamodb, found = rt.client("dynamodb"), {}
    for table in dynamodb.list_tables()["TableNames"]:
        items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=table)
                 for item in page["Items"] if item.get("DomainId", {}).get("S") in partitions]
        if items:
            found[table] = items
    return found


def objects_of(rt: LocalRuntime, domain_id: str, job_ids: list[str]) -> list[str]:
    s3 = rt.client("s3")
    prefixes = [(rt.inbox_bucket, f"{prefix}/{domain_id}/")
                for prefix in ("manifests", "fraudsters", "evaluations", "sessions")]
    prefixes += [(rt.work_bucket, f"jobs/{job_id}/") for job_id in job_ids]
    found = []
    for bucket, prefix in prefixes:
        listing = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        found += [f"{bucket}/{v['Key']}" for v in (*listing.get("Versions", []), *listing.get("DeleteMarkers", []))]
    return found


def test_delete_domain_purges_every_item_and_upload_of_the_domain_within_a_minute_and_keeps_its_tombstone(
    runtime: LocalRuntime, voice: Any
) -> None:
    domain_id, _ = new_domain(runtime, voice)
    kept, _ = new_domain(runtime, voice)
    job_ids = populate(runtime, voice, domain_id)
    kept_jobs = populate(runtime, voice, kept)
    before = items_of(runtime, domain_id, job_ids)
    assert {runtime.settings.speakers_table, runtime.settings.jobs_table, runtime.settings.sessions_table,
            runtime.settings.watchlists_table} <= set(before)
    assert objects_of(runtime, domain_id, job_ids)
    job = runtime.composition().jobs.get(domain_id, job_ids[0])
    assert job is not None
    _, output = output_of(runtime, job)

    voice.delete_domain(DomainId=domain_id)
    assert domain_id not in [d["DomainId"] for d in voice.list_domains()["DomainSummaries"]]
    with pytest.raises(voice.exceptions.ResourceNotFoundException):
        voice.describe_domain(DomainId=domain_id)
    took = wait_for(lambda: ended(runtime, domain_id, "purge"), PURGE_SECONDS)

    (purge,) = maintenance_runs(runtime, domain_id, "purge")
    assert purge["status"] == "SUCCEEDED", purge
    left = items_of(runtime, domain_id, job_ids)
    assert list(left) == [runtime.settings.domains_table], left  # one item: the tombstone
    (tombstone,) = left[runtime.settings.domains_table]
    assert {"DeletedAt", "PurgedAt"} <= set(tombstone) and "PurgeError" not in tombstone
    assert "Name" not in tombstone and "Tags" not in tombstone
    assert objects_of(runtime, domain_id, job_ids) == []
    assert output_of(runtime, job)[1]["ETag"] == output["ETag"]  # the customer's output file stays
    assert set(items_of(runtime, kept, kept_jobs)) == set(before) | {runtime.settings.domains_table}  # untouched
    assert objects_of(runtime, kept, kept_jobs)
    print(f"purge of a domain with 3 speakers, 1 job, 1 session: {took:.1f} s")


def test_delete_domain_purges_a_domain_whose_key_is_disabled_and_speakers_there_can_be_deleted_and_opted_out(
    runtime: LocalRuntime, voice: Any
) -> None:
    domain_id, key_id = new_domain(runtime, voice)
    job_ids = populate(runtime, voice, domain_id)
    runtime.client("kms").disable_key(KeyId=key_id)
    generated = voice.describe_speaker(DomainId=domain_id, SpeakerId="carlo")["Speaker"]["GeneratedSpeakerId"]
    voice.opt_out_speaker(DomainId=domain_id, SpeakerId="allison")
    voice.delete_speaker(DomainId=domain_id, SpeakerId=generated)
    voice.delete_domain(DomainId=domain_id)
    wait_for(lambda: ended(runtime, domain_id, "purge"), PURGE_SECONDS)
    assert [run["status"] for run in maintenance_runs(runtime, domain_id, "purge")] == ["SUCCEEDED"]
    assert list(items_of(runtime, domain_id, job_ids)) == [runtime.settings.domains_table]


def speaker(domain_id: str, name: str, last_access_days_ago: float | None, *, created_days_ago: float = 400,
            status: SpeakerStatus = SpeakerStatus.ENROLLED) -> Speaker:
    now = time.time()
    created = now - created_days_ago * DAY
    return Speaker(domain_id, name, new_generated_speaker_id(), status, created, created,
                   None if last_access_days_ago is None else now - last_access_days_ago * DAY, version=1)


def test_the_daily_run_deletes_speakers_not_accessed_for_the_retention_period_and_keeps_opt_outs(
    runtime: LocalRuntime, voice: Any
) -> None:
    domain_id, _ = new_domain(runtime, voice)
    speakers = runtime.composition().speakers
    for record in (speaker(domain_id, "stale", RETENTION_DAYS + 1), speaker(domain_id, "never-since", None),
                   speaker(domain_id, "recent", RETENTION_DAYS - 1),
                   speaker(domain_id, "new", None, created_days_ago=1),
                   speaker(domain_id, "opted-out", None, status=SpeakerStatus.OPTED_OUT)):
        speakers.create(record, 100)
    runtime.run_schedules()
    wait_for(lambda: ended(runtime, domain_id, "expire"), 60)
    (expiry,) = maintenance_runs(runtime, domain_id, "expire")
    assert expiry["status"] == "SUCCEEDED"
    listed = voice.list_speakers(DomainId=domain_id)["SpeakerSummaries"]
    assert sorted(s["CustomerSpeakerId"] for s in listed) == ["new", "opted-out", "recent"]
    assert speakers.count(domain_id) == 3
    assert json.loads(expiry["output"])["Counts"] == {"SpeakersExpired": 2}  # the page's metric


def test_a_key_change_returns_at_once_and_a_refusing_old_key_fails_the_reencryption_until_retried(
    runtime: LocalRuntime, voice: Any
) -> None:
    """UpdateDomain answers IN_PROGRESS at once; the workflow's reencrypt task finds the old key disabled, ends on
    its Refused state and records FAILED with the key's state; the same key again, once the old one is enabled,
    completes."""
    domain_id, old_key = new_domain(runtime, voice)
    populate(runtime, voice, domain_id)
    new_key = runtime.client("kms").create_key(Description="new")["KeyMetadata"]["KeyId"]
    runtime.client("kms").disable_key(KeyId=old_key)
    update = {"DomainId": domain_id, "Name": "calls", "ServerSideEncryptionConfiguration": {"KmsKeyId": new_key}}
    answered = voice.update_domain(**update)["Domain"]["ServerSideEncryptionUpdateDetails"]
    assert answered == {"OldKmsKeyId": old_key, "UpdateStatus": "IN_PROGRESS"}
    failed = reencryption_ended(voice, domain_id)["ServerSideEncryptionUpdateDetails"]
    assert failed["UpdateStatus"] == "FAILED" and "DisabledException" in failed["Message"]
    wait_for(lambda: ended(runtime, domain_id, "reencrypt"), 30)
    (refused,) = maintenance_runs(runtime, domain_id, "reencrypt")
    assert (refused["status"], refused.get("error")) == ("FAILED", "KeyUnusable")

    runtime.client("kms").enable_key(KeyId=old_key)
    voice.update_domain(**update)  # the same key again: retry
    assert reencryption_ended(voice, domain_id)["ServerSideEncryptionUpdateDetails"] == {
        "OldKmsKeyId": old_key, "UpdateStatus": "COMPLETED"}
    runtime.client("kms").disable_key(KeyId=old_key)  # no longer needed: the speakers read under the new key
    assert voice.describe_speaker(DomainId=domain_id, SpeakerId="allison")["Speaker"]["Status"] == "ENROLLED"
    speaker = runtime.composition().speakers.get(domain_id, "allison")
    assert speaker is not None and len(speaker.voiceprint) == 256
