"""A manifest upload asks for one job, reading the very version of the manifest the event names."""

from __future__ import annotations

from dataclasses import dataclass, field

from fakes import MemoryJobs, MemoryWorkStore
from speaker_enrollment.domain.workflow.jobtype import Limits
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.domain.workflow.steps import JobSteps
from speaker_enrollment.domain.workflow.submission import Upload, UploadDefaults, request_from_upload

DOMAIN = "U" * 22
DEFAULTS = UploadDefaults("out-bucket", "key-id", "arn:aws:iam::123456789012:role/data")
LIMITS = Limits(max_requests_per_job=10, shard_size=5, speaker_quota=10, max_audio_file_bytes=1 << 20,
                fraudster_quota=5, max_speech_seconds=120)
MANIFEST = b'{"Version": "1.0", "SpeakerEnrollmentRequests": []}'


@dataclass
class VersionedInbox:
    """The DataAccess port over a versioned bucket: which version of the manifest was read."""

    reads: list[tuple[str, str | None]] = field(default_factory=list)

    def read_manifest(self, s3_uri: str, version_id: str | None = None) -> bytes:
        self.reads.append((s3_uri, version_id))
        return MANIFEST


def test_the_job_reads_the_manifest_version_its_upload_event_named() -> None:
    upload = Upload("inbox", f"manifests/{DOMAIN}/batch 2.json", "sequencer-1", {}, version_id="v-17")
    job = request_from_upload(upload, JOB_TYPES, DEFAULTS).request.new_job(1.0)
    assert job.input_s3_uri == f"s3://inbox/manifests/{DOMAIN}/batch 2.json" and job.input_version_id == "v-17"
    jobs, inbox = MemoryJobs(), VersionedInbox()
    jobs.create(job, "token", "hash")
    JobSteps(jobs, MemoryWorkStore(), JOB_TYPES, LIMITS, lambda: 2.0).prepare(job, inbox)  # type: ignore[arg-type]
    assert inbox.reads == [(job.input_s3_uri, "v-17")]


def test_a_job_started_without_a_version_reads_the_current_manifest() -> None:
    upload = Upload("inbox", f"manifests/{DOMAIN}/batch.json", "sequencer-2", {})
    assert request_from_upload(upload, JOB_TYPES, DEFAULTS).request.new_job(1.0).input_version_id is None
