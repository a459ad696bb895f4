"""Fraudster registration without AWS: the manifest, the upload's job request, and the shard rules on real speech
with in-memory stores (duplicates within a shard, REGISTER_AS_NEW, the watchlist quota, retries)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from enrollctl import samples
from fakes import MemoryAudio, MemoryFraudsters, MemoryWatchlists, run_shard_of
from speaker_enrollment.domain.shared.watchlist import default_watchlist, default_watchlist_id
from speaker_enrollment.domain.workflow.errors import RequestLimitExceededError
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT
from speaker_enrollment.domain.workflow.kinds.registration import (
    FRAUDSTER_REGISTRATION,
    DuplicateRegistrationAction,
    RegistrationConfig,
    RegistrationRequest,
    RegistrationStatus,
    SuccessfulRegistration,
)
from speaker_enrollment.domain.workflow.manifest import AudioSpecification, parse_manifest
from speaker_enrollment.domain.workflow.output import merge_results
from speaker_enrollment.domain.workflow.results import JobResult, RequestError
from speaker_enrollment.domain.workflow.submission import Upload, UploadDefaults, request_from_upload
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.scoring import DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD

DOMAIN = "R" * 22
RECORDINGS = {"carlo-0": ("carlo-it", 40, 0), "carlo-1": ("carlo-it", 40, 1), "june": ("june-fr", 40, 0),
              "short": ("ivr-ru", 10, 0)}
DEFAULTS = UploadDefaults("out-bucket", "key-id", "arn:aws:iam::123456789012:role/data")
Runner = Callable[..., list[JobResult]]


def request(request_id: str, name: str) -> RegistrationRequest:
    return RegistrationRequest(request_id, (AudioSpecification(f"s3://inbox/{name}.wav", 0),))


def registration_manifest(*entries: object) -> bytes:
    return json.dumps({"Version": "1.0", "FraudsterRegistrationRequests": list(entries)}).encode()


# ------------------------------------------------------------------------------------------- manifest


def test_a_registration_manifest_has_no_speaker_id_and_round_trips_through_the_shard_files() -> None:
    spec = {"S3Uri": "s3://inbox/a.wav", "ChannelId": 1}
    parsed = parse_manifest(registration_manifest({"RequestId": "a", "AudioSpecifications": [spec]},
                                                  {"RequestId": "b", "AudioSpecifications": []}), 10,
                            FRAUDSTER_REGISTRATION.manifest)
    (valid,) = parsed.requests
    assert valid == RegistrationRequest("a", (AudioSpecification("s3://inbox/a.wav", 1),))
    assert FRAUDSTER_REGISTRATION.request_from_json(valid.to_json()) == valid
    (error,) = parsed.errors
    assert error.request_id == "b" and "FraudsterRegistrationRequests[1].AudioSpecifications" in error.error_message


def test_a_registration_job_takes_at_most_500_requests() -> None:
    entries = [{"RequestId": str(i), "AudioSpecifications": [{"S3Uri": "s3://b/k.wav", "ChannelId": 0}]}
               for i in range(501)]
    with pytest.raises(RequestLimitExceededError, match="at most 500"):
        parse_manifest(registration_manifest(*entries), 10_000, FRAUDSTER_REGISTRATION.manifest)


def test_the_output_file_lists_successful_registrations() -> None:
    success = SuccessfulRegistration("a", "id#" + "x" * 22, RegistrationStatus.NEW_REGISTRATION, 12)
    output = json.loads(merge_results([RequestError("b", 400, "bad")], [], FRAUDSTER_REGISTRATION)
                        .to_bytes())
    assert output == {"Version": "1.0", "Errors": [{"RequestId": "b", "ErrorCode": 400, "ErrorMessage": "bad"}],
                      "SuccessfulRegistrations": []}
    assert FRAUDSTER_REGISTRATION.result_from_json(success.to_json()) == success


# ---------------------------------------------------------------------------------------------- upload


def test_an_upload_under_fraudsters_asks_for_a_registration_job_with_the_metadata() -> None:
    watchlist_id = "W" * 22
    metadata = {"duplicate-registration-action": "register_as_new", "fraudster-similarity-threshold": "75",
                "watchlist-id": watchlist_id}
    uploaded = request_from_upload(Upload("inbox", f"fraudsters/{DOMAIN}/known.json", "seq", metadata), JOB_TYPES,
                                   DEFAULTS)
    job = uploaded.request
    assert job.job_type is FRAUDSTER_REGISTRATION and job.job_name == "known"
    assert job.config == RegistrationConfig(DuplicateRegistrationAction.REGISTER_AS_NEW, 75, (watchlist_id,))
    assert job.watchlist_ids == (watchlist_id,) and uploaded.refusal is None
    same_token = request_from_upload(Upload("inbox", f"manifests/{DOMAIN}/known.json", "seq", {}), JOB_TYPES,
                                     DEFAULTS).request
    assert same_token.job_type is SPEAKER_ENROLLMENT and same_token.job_id != job.job_id
    assert job.new_job(1.0).to_api()["RegistrationConfig"]["FraudsterSimilarityThreshold"] == 75


@pytest.mark.parametrize(("metadata", "reason"), [
    ({"duplicate-registration-action": "OVERWRITE"}, "must be SKIP or REGISTER_AS_NEW, got 'OVERWRITE'"),
    ({"fraudster-similarity-threshold": "101"}, "fraudster-similarity-threshold must be a whole number"),
    ({"watchlist-id": "nope"}, "watchlist-id 'nope' must be 22 characters"),
    ({"job-name": "no spaces"}, "job-name 'no spaces' must be"),
])
def test_invalid_registration_metadata_is_refused(metadata: dict[str, str], reason: str) -> None:
    upload = Upload("inbox", f"fraudsters/{DOMAIN}/known.json", "seq", metadata)
    assert reason in str(request_from_upload(upload, JOB_TYPES, DEFAULTS).refusal)


# ------------------------------------------------------------------------------------------ shard rules


@pytest.fixture(scope="module")
def audio_objects() -> dict[str, bytes]:
    return {f"s3://inbox/{name}.wav": samples.wav_bytes(samples.recording(*recipe))
            for name, recipe in RECORDINGS.items()}


@pytest.fixture
def fraudsters() -> MemoryFraudsters:
    """The fraudsters of a domain that has its default watchlist (a registration needs its watchlist)."""
    return MemoryFraudsters(watchlists=MemoryWatchlists.of(default_watchlist(DOMAIN, 1_700_000_000.0)))


@pytest.fixture
def run(engine: VoiceprintEngine, audio_objects: dict[str, bytes], fraudsters: MemoryFraudsters) -> Runner:
    def run_shard(*requests: RegistrationRequest, config: RegistrationConfig | None = None, quota: int = 500,
                  job_id: str = "J") -> list[JobResult]:
        return run_shard_of(FRAUDSTER_REGISTRATION, config or RegistrationConfig(), requests,
                            audio=MemoryAudio(dict(audio_objects)), embedder=engine, fraudsters=fraudsters,
                            job_id=job_id, domain_id=DOMAIN, fraudster_quota=quota)
    return run_shard


def test_two_recordings_of_one_fraudster_register_once_and_a_retry_registers_nothing(
    run: Runner, fraudsters: MemoryFraudsters
) -> None:
    requests = (request("carlo", "carlo-0"), request("june", "june"), request("again", "carlo-1"),
                request("short", "short"))
    first = run(*requests)
    carlo, june, again, short = first
    assert isinstance(carlo, SuccessfulRegistration) and isinstance(june, SuccessfulRegistration)
    assert isinstance(again, SuccessfulRegistration) and isinstance(short, RequestError)
    assert (carlo.status.value, june.status.value, again.status.value) == (
        "NEW_REGISTRATION", "NEW_REGISTRATION", "DUPLICATE_SKIPPED")
    assert again.generated_fraudster_id == carlo.generated_fraudster_id
    assert again.similarity_score >= DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
    assert short.error_code == 400 and "Not enough speech" in short.error_message
    assert {f.watchlist_ids for f in fraudsters.fraudsters} == {frozenset({default_watchlist_id(DOMAIN)})}
    assert run(*requests) == first  # the retried shard reports what the first attempt registered
    assert len(fraudsters.fraudsters) == 2


def test_register_as_new_registers_a_duplicate_until_the_watchlist_is_full(
    run: Runner, fraudsters: MemoryFraudsters
) -> None:
    run(request("carlo", "carlo-0"))
    config = RegistrationConfig(DuplicateRegistrationAction.REGISTER_AS_NEW)
    again, june = run(request("again", "carlo-1"), request("june", "june"), config=config, quota=2, job_id="K")
    assert isinstance(again, SuccessfulRegistration) and again.status.value == "NEW_REGISTRATION"
    assert again.similarity_score >= DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
    assert isinstance(june, RequestError) and june.error_code == 402
    assert len(fraudsters.fraudsters) == 2


def test_a_threshold_of_100_registers_another_recording_as_new(run: Runner) -> None:
    run(request("carlo", "carlo-0"))
    (again,) = run(request("again", "carlo-1"), config=RegistrationConfig(fraudster_similarity_threshold=100),
                   job_id="K")
    assert isinstance(again, SuccessfulRegistration) and again.status.value == "NEW_REGISTRATION"
