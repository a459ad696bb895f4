"""Per-domain keys end to end on the local runtime, with real speech (issue 10 item 3): two domains under two
customer keys; disabling one domain's key stops that domain's enrollments (each request a 403 naming the key's
state, nothing written, nothing in plaintext) and not the other's; UpdateDomain with a new key re-encrypts every
voiceprint, after which the old key no longer matters. The tables are scanned for plaintext voiceprints throughout.
Deleting biometric data never needs the key (issue 15 item 5): with the domain's key disabled or pending deletion,
speakers are still described, listed, opted out and deleted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from enrollctl.local.runtime import LocalRuntime
from helpers import VoiceprintOf, pcm16_wav, plaintext_voiceprints, recording
from speaker_enrollment.domain.shared.ids import new_id
from speaker_enrollment.domain.shared.job import JobStatus
from speaker_enrollment.voiceprint.scoring import DEFAULT_ACCEPTANCE_THRESHOLD, cosine, score
from test_api import VoiceId, error_of, reencryption_ended, voice_id
from test_job_e2e import audio, entry, manifest, outcomes, output_of, run

pytestmark = pytest.mark.slow
CACHE_SECONDS = 1  # data keys live this long here (60 s deployed), so the test waits 1 s for a key's new state
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1",
               "SHARD_SIZE": "2", "VOICEPRINT_KEY_CACHE_SECONDS": str(CACHE_SECONDS)}
AUDIO = {"allison.wav": ("allison-en", 35, 0), "carlo.wav": ("carlo-it", 35, 0), "june.wav": ("june-fr", 50, 0),
         "menardi.wav": ("menardi-it", 35, 0), "armelle.wav": ("armelle-fr", 50, 0)}


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        for name, recipe in AUDIO.items():
            rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}", Body=pcm16_wav(recording(*recipe)))
        yield rt


def new_key(rt: LocalRuntime, name: str) -> tuple[str, str]:
    meta = rt.client("kms").create_key(Description=name)["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]


def new_domain(client: VoiceId, key_id: str) -> str:
    return str(client.create_domain(Name="calls", ClientToken=new_id(),
                                    ServerSideEncryptionConfiguration={"KmsKeyId": key_id})["Domain"]["DomainId"])


def enroll(rt: LocalRuntime, domain_id: str, *speakers: str) -> tuple[JobStatus, dict[str, Any], dict[str, Any]]:
    body = manifest(*(entry(f"r-{name}", name, audio(rt, f"{name}.wav")) for name in speakers))
    job = run(rt, f"{new_id()}.json", body, domain=domain_id)
    document, _ = output_of(rt, job)
    return job.status, outcomes(document), {e["RequestId"]: e["ErrorMessage"] for e in document["Errors"]}


def tables(rt: LocalRuntime) -> list[str]:
    s = rt.settings
    return [s.speakers_table, s.fraudsters_table, s.domains_table, s.watchlists_table, s.jobs_table]


def key_arns(rt: LocalRuntime, domain_id: str) -> set[str]:
    speakers = rt.composition().speakers
    return {s.key_arn or "plaintext" for s in speakers.voiceprint_keys(domain_id, 100, None).items}


def test_a_domain_key_protects_that_domain_only_and_a_new_key_reencrypts_it(
    runtime: LocalRuntime, voiceprint_of: VoiceprintOf
) -> None:
    client = voice_id(runtime)
    kms = runtime.client("kms")
    (key_a, arn_a), (key_b, arn_b) = new_key(runtime, "domain A"), new_key(runtime, "domain B")
    domain_a, domain_b = new_domain(client, key_a), new_domain(client, key_b)
    assert enroll(runtime, domain_a, "allison", "carlo")[1] == {"r-allison": "NEW_ENROLLMENT",
                                                                 "r-carlo": "NEW_ENROLLMENT"}
    assert enroll(runtime, domain_b, "june", "menardi")[1] == {"r-june": "NEW_ENROLLMENT",
                                                                "r-menardi": "NEW_ENROLLMENT"}
    assert (key_arns(runtime, domain_a), key_arns(runtime, domain_b)) == ({arn_a}, {arn_b})
    stored = runtime.composition().speakers
    vectors = [stored.get(d, n).voiceprint for d, n in  # type: ignore[union-attr]
               ((domain_a, "allison"), (domain_a, "carlo"), (domain_b, "june"), (domain_b, "menardi"))]
    vectors += [tuple(voiceprint_of(v, s, p).as_list()) for v, s, p in AUDIO.values()]
    assert plaintext_voiceprints(runtime.client("dynamodb"), tables(runtime), vectors) == []

    # Domain A's key disabled: its enrollments fail, each request saying why; nothing is written.
    kms.disable_key(KeyId=key_a)
    time.sleep(CACHE_SECONDS + 0.2)
    status, results, messages = enroll(runtime, domain_a, "armelle", "allison")
    assert status is JobStatus.COMPLETED_WITH_ERRORS and results == {"r-armelle": 403, "r-allison": 403}
    assert all(f"{arn_a} is disabled (DisabledException)" in m or f"{key_a} is disabled (DisabledException)" in m
               for m in messages.values()), messages
    assert runtime.composition().speakers.count(domain_a) == 2
    assert [s.customer_speaker_id for s in stored.page(domain_a, 10, None).items] == ["allison", "carlo"]
    # Reading a speaker for its ids and status does not need the key (its voiceprint is not opened).
    assert client.describe_speaker(DomainId=domain_a, SpeakerId="allison")["Speaker"]["Status"] == "ENROLLED"
    # Domain B is not affected: it enrolls, and its stored voiceprints open and score.
    assert enroll(runtime, domain_b, "armelle")[1] == {"r-armelle": "NEW_ENROLLMENT"}
    june = np.array(runtime.composition().speakers.get(domain_b, "june").voiceprint, dtype=np.float32)  # type: ignore[union-attr]
    same = np.array(voiceprint_of("june-fr", 20, 1).as_list(), dtype=np.float32)
    other = np.array(voiceprint_of("carlo-it", 20, 1).as_list(), dtype=np.float32)
    assert score(cosine(june, same)) >= DEFAULT_ACCEPTANCE_THRESHOLD > score(cosine(june, other))

    # A's key enabled again, then replaced: every voiceprint of A is re-encrypted under the new key.
    kms.enable_key(KeyId=key_a)
    key_c, arn_c = new_key(runtime, "domain A, second key")
    updated = client.update_domain(DomainId=domain_a, Name="calls",
                                   ServerSideEncryptionConfiguration={"KmsKeyId": key_c})["Domain"]
    assert updated["ServerSideEncryptionUpdateDetails"] == {"OldKmsKeyId": key_a, "UpdateStatus": "IN_PROGRESS"}
    described = reencryption_ended(client, domain_a)  # the maintenance workflow's reencrypt task
    assert described["ServerSideEncryptionUpdateDetails"] == {"OldKmsKeyId": key_a, "UpdateStatus": "COMPLETED"}
    assert key_arns(runtime, domain_a) == {arn_c} and key_arns(runtime, domain_b) == {arn_b}

    # The old key no longer matters: disabled, A still reads and enrolls under the new one.
    kms.disable_key(KeyId=key_a)
    time.sleep(CACHE_SECONDS + 0.2)
    assert client.describe_speaker(DomainId=domain_a, SpeakerId="allison")["Speaker"]["Status"] == "ENROLLED"
    assert enroll(runtime, domain_a, "allison", "june")[1] == {"r-allison": "DUPLICATE_SKIPPED",
                                                                "r-june": "NEW_ENROLLMENT"}
    assert key_arns(runtime, domain_a) == {arn_c}
    assert plaintext_voiceprints(runtime.client("dynamodb"), tables(runtime), vectors) == []


SEALED_ATTRIBUTES = {"SealedVoiceprint", "VoiceprintDataKey", "VoiceprintKeyArn", "Voiceprint"}


def refuse(rt: LocalRuntime, key_id: str, state: str) -> str:
    """Put the key in `state` (and wait out the data key cache); the wording of the requests' refusals."""
    kms = rt.client("kms")
    if state == "disabled":
        kms.disable_key(KeyId=key_id)
        wording = "is disabled (DisabledException)"
    else:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        wording = "is pending deletion (KMSInvalidStateException)"
    time.sleep(CACHE_SECONDS + 0.2)
    return wording


def speaker_item(rt: LocalRuntime, domain_id: str, name: str) -> dict[str, Any] | None:
    item = rt.client("dynamodb").get_item(TableName=rt.settings.speakers_table, ConsistentRead=True, Key={
        "DomainId": {"S": domain_id}, "CustomerSpeakerId": {"S": name}}).get("Item")
    return dict(item) if item else None


@pytest.mark.parametrize("state", ["disabled", "pending deletion"])
def test_speakers_are_described_listed_opted_out_and_deleted_whatever_the_state_of_the_domains_key(
    runtime: LocalRuntime, state: str
) -> None:
    client = voice_id(runtime)
    key, arn = new_key(runtime, f"domain key, then {state}")
    domain = new_domain(client, key)
    assert enroll(runtime, domain, "allison", "carlo", "june")[1] == dict.fromkeys(
        ("r-allison", "r-carlo", "r-june"), "NEW_ENROLLMENT")
    wording = refuse(runtime, key, state)

    carlo = client.describe_speaker(DomainId=domain, SpeakerId="carlo")["Speaker"]
    assert carlo["Status"] == "ENROLLED" and carlo["CustomerSpeakerId"] == "carlo"
    listed = client.list_speakers(DomainId=domain)["SpeakerSummaries"]
    assert [s["CustomerSpeakerId"] for s in listed] == ["allison", "carlo", "june"]
    assert client.opt_out_speaker(DomainId=domain, SpeakerId="allison")["Speaker"]["Status"] == "OPTED_OUT"
    client.delete_speaker(DomainId=domain, SpeakerId=carlo["GeneratedSpeakerId"])
    allison = speaker_item(runtime, domain, "allison")
    assert allison is not None and allison["Status"] == {"S": "OPTED_OUT"} and not SEALED_ATTRIBUTES & allison.keys()
    assert speaker_item(runtime, domain, "carlo") is None
    assert error_of(client.describe_speaker, DomainId=domain, SpeakerId="carlo")["Code"] == "ResourceNotFoundException"
    assert runtime.composition().speakers.count(domain) == 2

    # Enrollment still needs the key: a new speaker, a duplicate to skip and an opted-out one are each a 403.
    status, results, messages = enroll(runtime, domain, "armelle", "june", "allison")
    assert status is JobStatus.COMPLETED_WITH_ERRORS
    assert results == {"r-armelle": 403, "r-june": 403, "r-allison": 403}
    assert all(wording in m and "wrote nothing" in m for m in messages.values()), messages
    assert [s["CustomerSpeakerId"] for s in client.list_speakers(DomainId=domain)["SpeakerSummaries"]] == [
        "allison", "june"]
    assert runtime.composition().speakers.count(domain) == 2 and key_arns(runtime, domain) == {arn}
