"""Sharding a job's requests and merging shard results into Voice ID's output file (the job type names its list
of successes: SuccessfulEnrollments, SuccessfulRegistrations, ...).

The merge is where "every request exactly once" is enforced: each request of each shard yields
exactly one entry, its result if the shard recorded one, otherwise a 500 entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..shared.s3uri import S3Location, parse_s3_uri
from .jobtype import JobType
from .manifest import ManifestRequest
from .results import JobResult, RequestError

OUTPUT_VERSION = "1.0"


def plan_shards(requests: Sequence[ManifestRequest], shard_size: int) -> list[list[ManifestRequest]]:
    return [list(requests[i : i + shard_size]) for i in range(0, len(requests), shard_size)]


@dataclass(frozen=True)
class OutputFile:
    errors: tuple[RequestError, ...]
    successes: tuple[JobResult, ...]
    successes_member: str

    def to_bytes(self) -> bytes:
        document = {
            "Version": OUTPUT_VERSION,
            "Errors": [e.to_json() for e in self.errors],
            self.successes_member: [s.to_json() for s in self.successes],
        }
        return json.dumps(document, indent=1).encode()


@dataclass(frozen=True)
class ShardOutcome:
    requests: Sequence[ManifestRequest]
    results: Sequence[JobResult] | None  # None when the shard never recorded its results


def merge_results(validation_errors: Sequence[RequestError], shards: Sequence[ShardOutcome],
                  job_type: JobType) -> OutputFile:
    errors = list(validation_errors)
    successes: list[JobResult] = []
    for shard in shards:
        for result in _results_or_lost(shard, job_type.lost_message):
            if isinstance(result, RequestError):
                errors.append(result)
            else:
                successes.append(result)
    return OutputFile(tuple(errors), tuple(successes), job_type.successes_member)


def _results_or_lost(shard: ShardOutcome, lost_message: str) -> Sequence[JobResult]:
    """Each request's recorded result (a shard that stopped part way recorded those before it), else a 500."""
    recorded = {r.request_id: r for r in shard.results or ()}
    return [recorded.get(q.request_id) or RequestError(q.request_id, 500, lost_message) for q in shard.requests]


def output_location(output_s3_uri: str, job_id: str, manifest_s3_uri: str) -> S3Location:
    """``<OutputDataConfig.S3Uri>/<JobId>/<manifest file name>.out``."""
    folder = parse_s3_uri(output_s3_uri, needs_key=False)
    manifest = parse_s3_uri(manifest_s3_uri, needs_key=True)
    return folder.child(job_id, f"{manifest.file_name}.out")
