"""The workflow's steps (Prepare, process a shard, Finalize, Fail) as plain Python over ports, the same for every
kind of job: the job's type (``kinds.JOB_TYPES``) supplies the manifest schema, the shard rules and the output
file's success list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ports import AudioSource, DataAccess, DomainKeys, Embedder, JobStore, WorkStore
from ..shared.job import BatchJob, final_status
from .errors import InvalidJobRequestError, JobNotFoundError, failure_details
from .jobtype import JobType, JobTypes, Limits, RecordStores, ShardServices
from .manifest import ManifestRequest, parse_manifest
from .output import ShardOutcome, merge_results, output_location, plan_shards
from .results import JobResult, RequestError
from .shards import Deadline, Segment, ShardProcessor
from .speech import SpeechGathering


@dataclass(frozen=True)
class PreparedJob:
    shards_key: str
    shard_count: int
    total_requests: int


@dataclass(frozen=True)
class ShardProgress:
    processed: int  # requests this invocation processed
    next_start: int  # where a continuation starts
    done: bool


@dataclass(frozen=True)
class VoiceprintServices:
    """What processing a shard needs beyond the job store: the record stores, the embedder and the domains' keys."""

    stores: RecordStores
    embedder: Embedder
    keys: DomainKeys


def run_segment(job_type: JobType, services: ShardServices, audio: AudioSource, requests: Sequence[ManifestRequest],
                *, start: int = 0, deadline: Deadline | None = None) -> Segment:
    """``requests[start:]`` of one shard under the job type's rules, until done or out of time."""
    limits = services.limits
    speech = SpeechGathering(audio, services.embedder, limits.max_audio_file_bytes, limits.max_speech_seconds,
                             job_type.min_speech_seconds(limits))
    processor = ShardProcessor(services.embedder, speech)
    return processor.run(job_type.shard_rules(services), requests, start, deadline)


def run_shard(job_type: JobType, services: ShardServices, audio: AudioSource,
              requests: Sequence[ManifestRequest]) -> list[JobResult]:
    """The results of all of one shard's requests, in request order (no time limit)."""
    return run_segment(job_type, services, audio, requests).results


@dataclass(frozen=True)
class JobSteps:
    """The steps of one job's workflow; `data` is S3 access through the job's data access role."""

    jobs: JobStore
    work: WorkStore
    job_types: JobTypes
    limits: Limits
    clock: Callable[[], float]

    def load(self, domain_id: str, job_id: str) -> BatchJob:
        job = self.jobs.get(domain_id, job_id)
        if job is None:
            raise JobNotFoundError(f"Job '{job_id}' does not exist in domain '{domain_id}'")
        return job

    def prepare(self, job: BatchJob, data: DataAccess) -> PreparedJob:
        """Read and validate the manifest, shard the valid requests, mark the job IN_PROGRESS."""
        schema = self.job_types.of(job).manifest
        document = data.read_manifest(job.input_s3_uri, job.input_version_id)
        manifest = parse_manifest(document, self.limits.max_requests_per_job, schema)
        try:
            output_location(job.output_s3_uri, job.job_id, job.input_s3_uri)
        except ValueError as exc:
            raise InvalidJobRequestError(f"OutputDataConfig: {exc}") from None
        shards = plan_shards(manifest.requests, self.limits.shard_size)
        self.work.put_validation_errors(job.job_id, [e.to_json() for e in manifest.errors])
        shards_key = self.work.put_shards(job.domain_id, job.job_id,
                                          [[r.to_json() for r in shard] for shard in shards])
        self.jobs.start(job.domain_id, job.job_id, manifest.total)
        if manifest.errors:  # invalid requests are processed already: count them in the progress
            self.jobs.record_shard(job.domain_id, job.job_id, -1, len(manifest.errors))
        return PreparedJob(shards_key, len(shards), manifest.total)

    def process_shard(self, job: BatchJob, shard_index: int, data: DataAccess, services: VoiceprintServices,
                      *, start: int = 0, deadline: Deadline | None = None) -> ShardProgress:
        """Run a shard's requests from `start` under the job type's rules until done or out of time; record the
        results so far (a continuation adds to them) and count this segment's progress once."""
        job_type = self.job_types.of(job)
        requests = self._shard_requests(job, shard_index)
        stores = services.stores
        shard = ShardServices(job, stores.speakers, stores.fraudsters, services.embedder, services.keys,
                              self.limits, self.clock)
        segment = run_segment(job_type, shard, data, requests, start=start, deadline=deadline)
        earlier = (self._results(job_type, job, shard_index) or [])[:start] if start else []
        self.work.put_results(job.job_id, shard_index, [r.to_json() for r in [*earlier, *segment.results]])
        self.jobs.record_shard(job.domain_id, job.job_id, shard_index, segment.stop - start, start)
        return ShardProgress(segment.stop - start, segment.stop, segment.done(len(requests)))

    def finalize(self, job: BatchJob, shard_count: int, data: DataAccess, stores: RecordStores) -> BatchJob:
        """Merge every shard's results into the output file, write it, set the final status. A request its shard
        did not record (the shard failed after retries) is reported from what is stored of it, if anything."""
        job_type = self.job_types.of(job)
        outcomes = [self._outcome(job_type, job, index, stores) for index in range(shard_count)]
        validation_errors = [RequestError.from_json(d) for d in self.work.validation_errors(job.job_id)]
        output = merge_results(validation_errors, outcomes, job_type)
        location = output_location(job.output_s3_uri, job.job_id, job.input_s3_uri)
        data.write_output(location, output.to_bytes(), job.output_kms_key_id)
        self.jobs.finish(job.domain_id, job.job_id, final_status(len(output.errors)), self.clock(),
                         job_type.summary([*output.errors, *output.successes]))
        return self.load(job.domain_id, job.job_id)

    def fail(self, domain_id: str, job_id: str, error_type: str, message: str) -> None:
        self.jobs.fail(domain_id, job_id, failure_details(error_type, message), self.clock())

    def _shard_requests(self, job: BatchJob, shard_index: int) -> list[ManifestRequest]:
        job_type = self.job_types.of(job)
        return [job_type.request_from_json(d) for d in self.work.shard_requests(job.job_id, shard_index)]

    def _outcome(self, job_type: JobType, job: BatchJob, shard_index: int, stores: RecordStores) -> ShardOutcome:
        requests = self._shard_requests(job, shard_index)
        recorded = {r.request_id: r for r in self._results(job_type, job, shard_index) or ()}
        known = [recorded.get(q.request_id) or job_type.replay(job, q, stores) for q in requests]
        return ShardOutcome(requests, [result for result in known if result is not None])

    def _results(self, job_type: JobType, job: BatchJob, shard_index: int) -> list[JobResult] | None:
        documents = self.work.results(job.job_id, shard_index)
        return None if documents is None else [job_type.result_from_json(d) for d in documents]
