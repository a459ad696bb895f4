"""The workflow's steps (Prepare, Enroll a shard, Finalize, Fail) as plain Python over ports.

Both kinds of job run through them: the job's `kind` picks the manifest schema, the shard processor
(ShardEnrollment or ShardRegistration) and the output file's success list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..voiceprint.engine import VoiceprintEngine
from .enrollment import EnrollmentContext, ShardEnrollment
from .failures import InvalidJobRequestError, JobFailure, failure_details
from .fraudster_admin import DEFAULT_FRAUDSTER_QUOTA
from .job import JobKind, SpeakerEnrollmentJob, final_status
from .manifest import EnrollmentRequest, ManifestRequest, RegistrationRequest, parse_manifest
from .output import ShardOutcome, merge_results, output_location, plan_shards
from .ports import DataAccess, FraudsterStore, JobStore, SpeakerStore, WorkStore
from .registration import RegistrationContext, ShardRegistration
from .results import JobResult


@dataclass(frozen=True)
class Limits:
    max_requests_per_job: int
    shard_size: int
    speaker_quota: int
    max_audio_file_bytes: int
    fraudster_quota: int = DEFAULT_FRAUDSTER_QUOTA  # per watchlist


@dataclass(frozen=True)
class PreparedJob:
    shards_key: str
    shard_count: int
    total_requests: int


class JobNotFoundError(JobFailure):
    status_code = 404


@dataclass(frozen=True)
class JobSteps:
    """The steps of one job's workflow; `data` is S3 access through the job's data access role."""

    jobs: JobStore
    work: WorkStore
    limits: Limits
    clock: Callable[[], float]

    def load(self, domain_id: str, job_id: str) -> SpeakerEnrollmentJob:
        job = self.jobs.get(domain_id, job_id)
        if job is None:
            raise JobNotFoundError(f"Job '{job_id}' does not exist in domain '{domain_id}'")
        return job

    def prepare(self, job: SpeakerEnrollmentJob, data: DataAccess) -> PreparedJob:
        """Read and validate the manifest, shard the valid requests, mark the job IN_PROGRESS."""
        manifest = parse_manifest(data.read_manifest(job.input_s3_uri), self.limits.max_requests_per_job, job.kind)
        try:
            output_location(job.output_s3_uri, job.job_id, job.input_s3_uri)
        except ValueError as exc:
            raise InvalidJobRequestError(f"OutputDataConfig: {exc}") from None
        shards = plan_shards(manifest.requests, self.limits.shard_size)
        self.work.put_validation_errors(job.job_id, list(manifest.errors))
        shards_key = self.work.put_shards(job.domain_id, job.job_id, shards)
        self.jobs.start(job.domain_id, job.job_id, manifest.total)
        if manifest.errors:  # invalid requests are processed already: count them in the progress
            self.jobs.record_shard(job.domain_id, job.job_id, -1, len(manifest.errors))
        return PreparedJob(shards_key, len(shards), manifest.total)

    def enroll_shard(self, job: SpeakerEnrollmentJob, shard_index: int, data: DataAccess, speakers: SpeakerStore,
                     engine: VoiceprintEngine, *, fraudsters: FraudsterStore) -> int:
        """Process one shard's requests (enroll speakers or register fraudsters, by the job's kind), record its
        results, count its progress once; return the count."""
        requests = self.work.shard_requests(job.job_id, shard_index)
        if job.kind is JobKind.FRAUDSTER_REGISTRATION:
            results = self._register(job, requests, data, fraudsters, engine)
        else:
            results = self._enroll(job, requests, data, engine, speakers=speakers, fraudsters=fraudsters)
        self.work.put_results(job.job_id, shard_index, results)
        self.jobs.record_shard(job.domain_id, job.job_id, shard_index, len(requests))
        return len(requests)

    def _enroll(self, job: SpeakerEnrollmentJob, requests: Sequence[ManifestRequest], data: DataAccess,
                engine: VoiceprintEngine, *, speakers: SpeakerStore, fraudsters: FraudsterStore
                ) -> Sequence[JobResult]:
        context = EnrollmentContext(
            job_id=job.job_id, domain_id=job.domain_id, config=job.enrollment_config,
            speaker_quota=self.limits.speaker_quota, max_file_bytes=self.limits.max_audio_file_bytes,
            clock=self.clock,
        )
        enrollments = [r for r in requests if isinstance(r, EnrollmentRequest)]
        return ShardEnrollment(context, data, speakers, engine, fraudsters).run(enrollments)

    def _register(self, job: SpeakerEnrollmentJob, requests: Sequence[ManifestRequest], data: DataAccess,
                  fraudsters: FraudsterStore, engine: VoiceprintEngine) -> Sequence[JobResult]:
        context = RegistrationContext(
            job_id=job.job_id, domain_id=job.domain_id, config=job.registration_config,
            fraudster_quota=self.limits.fraudster_quota, max_file_bytes=self.limits.max_audio_file_bytes,
            clock=self.clock,
        )
        registrations = [r for r in requests if isinstance(r, RegistrationRequest)]
        return ShardRegistration(context, data, fraudsters, engine).run(registrations)

    def finalize(self, job: SpeakerEnrollmentJob, shard_count: int, data: DataAccess) -> SpeakerEnrollmentJob:
        """Merge every shard's results into the output file, write it, set the final status."""
        outcomes = [
            ShardOutcome(self.work.shard_requests(job.job_id, index), self.work.results(job.job_id, index))
            for index in range(shard_count)
        ]
        output = merge_results(self.work.validation_errors(job.job_id), outcomes, job.kind)
        location = output_location(job.output_s3_uri, job.job_id, job.input_s3_uri)
        data.write_output(location, output.to_bytes(), job.output_kms_key_id)
        self.jobs.finish(job.domain_id, job.job_id, final_status(len(output.errors)), self.clock())
        return self.load(job.domain_id, job.job_id)

    def fail(self, domain_id: str, job_id: str, error_type: str, message: str) -> None:
        self.jobs.fail(domain_id, job_id, failure_details(error_type, message), self.clock())
