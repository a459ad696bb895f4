"""A shard inside one invocation's time: it stops before the time runs out and a continuation finishes it, with
every request processed once; a request too long for any invocation gets a 500 that says so; reading a request's
files stops at the speech cap. Rules only: the fake embedder, in-memory stores."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from fakes import (
    FakeCipher,
    FakeEmbedder,
    MemoryAudio,
    MemoryFraudsters,
    MemoryJobs,
    MemorySpeakers,
    MemoryWorkStore,
    fake_recording,
    run_shard_of,
)
from speaker_enrollment.domain.shared.job import BatchJob
from speaker_enrollment.domain.workflow.jobtype import Limits, RecordStores
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT, EnrollmentConfig, EnrollmentRequest
from speaker_enrollment.domain.workflow.manifest import AudioSpecification
from speaker_enrollment.domain.workflow.results import RequestError
from speaker_enrollment.domain.workflow.steps import JobSteps, VoiceprintServices

DOMAIN = "T" * 22
NOW = 1_700_000_000.0
LIMITS = Limits(max_requests_per_job=10_000, shard_size=20, speaker_quota=100, max_audio_file_bytes=1 << 20,
                fraudster_quota=500, max_speech_seconds=120)


@dataclass
class FetchClock:
    """An invocation that starts with `seconds` and loses `per_fetch` of them with each file read."""

    audio: MemoryAudio
    seconds: float
    per_fetch: float

    def remaining_seconds(self) -> float:
        return self.seconds - self.per_fetch * len(self.audio.fetched)


def request(index: int, files: int = 1, seconds: float = 40) -> tuple[EnrollmentRequest, dict[str, bytes]]:
    uris = [f"s3://inbox/r{index}-{n}.wav" for n in range(files)]
    audio = {uri: fake_recording(f"voice-{index}", seconds) for uri in uris}
    return EnrollmentRequest(f"r{index}", f"caller-{index}", tuple(AudioSpecification(u, 0) for u in uris)), audio


def shard_of(*specs: tuple[EnrollmentRequest, dict[str, bytes]]) -> tuple[list[EnrollmentRequest], MemoryAudio]:
    objects: dict[str, bytes] = {}
    for _, audio in specs:
        objects |= audio
    return [r for r, _ in specs], MemoryAudio(objects)


class Workflow:
    """JobSteps over in-memory stores with one job of one shard."""

    def __init__(self, requests: list[EnrollmentRequest]) -> None:
        self.jobs, self.work, self.speakers = MemoryJobs(), MemoryWorkStore(), MemorySpeakers()
        self.steps = JobSteps(self.jobs, self.work, JOB_TYPES, LIMITS, lambda: NOW)
        self.job = BatchJob("J" * 22, DOMAIN, SPEAKER_ENROLLMENT.name, EnrollmentConfig(), "arn:aws:iam::1:role/r",
                            "s3://inbox/m.json", "s3://out/", NOW)
        self.jobs.create(self.job, "token", "hash")
        self.work.put_shards(DOMAIN, self.job.job_id, [[r.to_json() for r in requests]])
        self.work.put_validation_errors(self.job.job_id, [])
        self.jobs.start(DOMAIN, self.job.job_id, len(requests))
        self.services = VoiceprintServices(RecordStores(self.speakers, MemoryFraudsters()), FakeEmbedder(),
                                           FakeCipher.for_domain(DOMAIN))

    def results(self) -> list[str]:
        documents = self.work.results(self.job.job_id, 0) or []
        return [str(d.get("EnrollmentStatus", d.get("ErrorCode"))) for d in documents]


def test_a_shard_short_of_time_stops_and_a_continuation_finishes_it() -> None:
    requests, audio = shard_of(*(request(i) for i in range(6)))
    flow = Workflow(requests)
    first = flow.steps.process_shard(flow.job, 0, audio, flow.services, deadline=FetchClock(audio, 10, 3))
    assert not first.done and 0 < first.next_start < 6
    assert flow.results() == ["NEW_ENROLLMENT"] * first.next_start  # what it did is recorded
    rest = flow.steps.process_shard(flow.job, 0, audio, flow.services, start=first.next_start)
    assert rest.done and rest.processed == 6 - first.next_start
    assert flow.results() == ["NEW_ENROLLMENT"] * 6
    assert flow.speakers.count(DOMAIN) == 6
    again = flow.steps.process_shard(flow.job, 0, audio, flow.services, start=first.next_start)  # a retry
    assert again.done and flow.results() == ["NEW_ENROLLMENT"] * 6 and flow.speakers.count(DOMAIN) == 6
    stored = flow.jobs.get(DOMAIN, flow.job.job_id)
    assert stored is not None and stored.percent_complete == 99  # 6 of 6, each segment counted once


def test_a_request_too_long_for_a_whole_invocation_is_a_500_that_says_why() -> None:
    requests, audio = shard_of(request(0, files=3, seconds=20), request(1))
    flow = Workflow(requests)
    progress = flow.steps.process_shard(flow.job, 0, audio, flow.services, deadline=FetchClock(audio, 4, 3.5))
    documents = flow.work.results(flow.job.job_id, 0) or []
    assert documents[0]["ErrorCode"] == 500
    message = documents[0]["ErrorMessage"]
    assert "longer to process than one shard invocation (4 s)" in message and "stopped after 1 of 3 file(s)" in message
    assert not progress.done and progress.next_start == 1  # the next request gets an invocation of its own


def test_a_request_cut_short_after_another_is_left_whole_to_the_continuation() -> None:
    requests, audio = shard_of(request(0), request(1, files=2, seconds=20))
    flow = Workflow(requests)
    progress = flow.steps.process_shard(flow.job, 0, audio, flow.services, deadline=FetchClock(audio, 10, 5))
    assert (progress.done, progress.next_start) == (False, 1) and flow.results() == ["NEW_ENROLLMENT"]
    assert flow.speakers.get(DOMAIN, "caller-1") is None  # nothing of it was written
    rest = flow.steps.process_shard(flow.job, 0, audio, flow.services, start=1)
    assert rest.done and flow.results() == ["NEW_ENROLLMENT", "NEW_ENROLLMENT"]


def test_reading_stops_once_a_request_has_the_speech_cap() -> None:
    (enrollment, objects), = [request(0, files=4, seconds=50)]
    audio = MemoryAudio(objects)
    speakers = MemorySpeakers()
    (result,) = run_shard_of(SPEAKER_ENROLLMENT, EnrollmentConfig(), [enrollment], audio=audio,
                             embedder=FakeEmbedder(), speakers=speakers, domain_id=DOMAIN)
    assert not isinstance(result, RequestError)
    assert len(audio.fetched) == 3  # 50 + 50 < 120 ≤ 150: the fourth file is not read
    speaker = speakers.get(DOMAIN, "caller-0")
    assert speaker is not None and speaker.net_speech_seconds == 150


class NoOutput:
    """The DataAccess port's output write, kept."""

    def __init__(self) -> None:
        self.body = b""

    def write_output(self, location: object, body: bytes, kms_key_id: str | None) -> None:
        self.body = body


def test_a_shard_lost_after_retries_reports_what_it_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shard enrolled two speakers, then died every time before recording its results: the output reports
    those two as enrolled (as stored), and only the others as 500."""
    requests, audio = shard_of(*(request(i) for i in range(4)))
    flow = Workflow(requests)
    services = flow.services
    flow.steps.process_shard(flow.job, 0, audio, services, deadline=FetchClock(audio, 10, 3))  # enrolls some
    results = [key for key in flow.work.objects if "/results/" in key]
    for key in results:  # ...but its result file never made it
        del flow.work.objects[key]
    written = flow.speakers.count(DOMAIN)
    assert 0 < written < 4
    sink = NoOutput()
    flow.steps.finalize(flow.job, 1, sink, services.stores)  # type: ignore[arg-type]
    document = json.loads(sink.body)
    assert len(document["SuccessfulEnrollments"]) == written
    assert {e["ErrorCode"] for e in document["Errors"]} == {500} and len(document["Errors"]) == 4 - written
    stored = {s["CustomerSpeakerId"]: s["GeneratedSpeakerId"] for s in document["SuccessfulEnrollments"]}
    for customer, generated in stored.items():
        speaker = flow.speakers.get(DOMAIN, customer)
        assert speaker is not None and speaker.generated_speaker_id == generated
