"""Jobs (pk DomainId, sk JobId) and their progress markers.

Progress without a hot item: each shard keeps one marker item of how far it got (``Requests``: requests done from
its start; the manifest's invalid requests are shard -1), raised conditionally and never lowered, so a retried or
continued segment, whatever its boundaries, counts each request once ("already further", a failed condition, is
told apart from a conflict). The markers live in the job's own partition (``DomainId = progress#<JobId>``, so
listing a domain's jobs never reads them) with a TTL. PercentComplete is then raised from their sum by one
conditional single-item update: no transaction touches the job item, so concurrent shards never cancel each
other; the update only moves the percentage up.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ...domain.shared.job import BatchJob, FailureDetails, JobStatus, JobSummary, percent
from ...domain.shared.paging import Page
from ...domain.workflow.jobtype import JobTypes
from ...domain.workflow.kinds import JOB_TYPES
from ..codecs import JobCodec, from_item, to_item
from .base import CONFLICTS, ConflictRetries, collect, condition_failed, values
from .partition import DynamoPartition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from .base import Attributes

PROGRESS_TTL_SECONDS = 30 * 24 * 3600  # as long as the work bucket keeps the job's shards and results
LEGACY_MARKER = "#shard#"  # the first release kept markers beside the job (sk <JobId>#shard#<index>)


def progress_partition(job_id: str) -> str:
    return f"progress#{job_id}"


class DynamoJobStore:
    def __init__(self, client: DynamoDBClient, table: str, job_types: JobTypes = JOB_TYPES,
                 conflicts: ConflictRetries = CONFLICTS) -> None:
        self._db = client
        self._table = table
        self._codec = JobCodec(job_types)
        self._conflicts = conflicts
        self._progress = DynamoPartition(client, table, "JobId", "ProgressMarkers", progress_partition)

    def _key(self, partition: str, sort_key: str) -> Attributes:
        return {"DomainId": {"S": partition}, "JobId": {"S": sort_key}}

    def get(self, domain_id: str, job_id: str) -> BatchJob | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(domain_id, job_id), ConsistentRead=True)
        return self._codec.decode(from_item(item["Item"])) if "Item" in item else None

    def list(self, domain_id: str) -> list[BatchJob]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="DomainId = :d",
            ExpressionAttributeValues=values(d=domain_id),
        )
        items = [from_item(i) for page in pages for i in page["Items"] if LEGACY_MARKER not in i["JobId"]["S"]]
        return [self._codec.decode(i) for i in items]

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[BatchJob]:
        items, last = collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d", ExpressionAttributeValues=values(d=domain_id),
            ConsistentRead=True,
        )
        jobs = [self._codec.decode(from_item(i)) for i in items if LEGACY_MARKER not in i["JobId"]["S"]]
        return Page(jobs, last["JobId"]["S"] if last else None)

    def erase_job(self, job_id: str) -> int:
        """The job's progress markers (its own partition, kept 30 days by TTL otherwise)."""
        return self._progress.erase_all(job_id)

    def create(self, job: BatchJob, client_token: str, request_hash: str) -> bool:
        document = self._codec.encode(job) | {"ClientToken": client_token, "RequestHash": request_hash}
        try:
            self._db.put_item(
                TableName=self._table, Item=to_item(document), ConditionExpression="attribute_not_exists(JobId)"
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def request_hash(self, domain_id: str, job_id: str) -> str | None:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(domain_id, job_id), ProjectionExpression="RequestHash",
            ConsistentRead=True,
        ).get("Item")
        return item["RequestHash"]["S"] if item and "RequestHash" in item else None

    def start(self, domain_id: str, job_id: str, total_requests: int) -> None:
        self._conditional_update(
            domain_id, job_id, UpdateExpression="SET JobStatus = :running, TotalRequests = :total",
            ConditionExpression="JobStatus = :submitted",
            ExpressionAttributeValues=values(running=JobStatus.IN_PROGRESS.value, submitted=JobStatus.SUBMITTED.value,
                                             total=total_requests))

    def record_shard(self, domain_id: str, job_id: str, shard_index: int, requests: int, start: int = 0) -> int:
        reached = start + requests
        try:
            self._conflicts.run(lambda: self._db.update_item(
                TableName=self._table, Key=self._key(progress_partition(job_id), f"{shard_index:05d}"),
                UpdateExpression="SET Requests = :reached, ExpiresAt = :expires",
                ConditionExpression="attribute_not_exists(Requests) OR Requests < :reached",
                ExpressionAttributeValues=values(reached=reached,
                                                 expires=int(time.time()) + PROGRESS_TTL_SECONDS)))
        except ClientError as error:
            if not condition_failed(error):  # else an attempt of this shard got as far already
                raise
        return self._raise_progress(domain_id, job_id)

    def _processed(self, job_id: str) -> int:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, ConsistentRead=True, KeyConditionExpression="DomainId = :p",
            ProjectionExpression="Requests", ExpressionAttributeValues=values(p=progress_partition(job_id)),
        )
        return sum(int(item["Requests"]["N"]) for page in pages for item in page["Items"])

    def _raise_progress(self, domain_id: str, job_id: str) -> int:
        item = from_item(self._db.get_item(
            TableName=self._table, Key=self._key(domain_id, job_id), ConsistentRead=True)["Item"])
        processed = self._processed(job_id) + int(item.get("ProcessedRequests", 0))  # + the first release's count
        # 100 % is reserved for the finished job: the output file is not written yet.
        done = min(99, percent(processed, int(item.get("TotalRequests", 0))))
        self._conditional_update(
            domain_id, job_id, UpdateExpression="SET JobProgress.PercentComplete = :p",
            ConditionExpression="JobProgress.PercentComplete < :p AND JobStatus = :running",
            ExpressionAttributeValues=values(p=done, running=JobStatus.IN_PROGRESS.value))
        return done

    def finish(self, domain_id: str, job_id: str, status: JobStatus, ended_at: float,
               summary: JobSummary | None = None) -> None:
        update = "SET JobStatus = :s, EndedAt = :e, JobProgress.PercentComplete = :p"
        named: dict[str, Any] = {"s": status.value, "e": ended_at, "p": 100, "running": JobStatus.IN_PROGRESS.value}
        if summary is not None:
            update += f", {JobCodec.SUMMARY} = :summary"
            named["summary"] = JobCodec.encode_summary(summary)
        self._conflicts.run(lambda: self._db.update_item(
            TableName=self._table, Key=self._key(domain_id, job_id), UpdateExpression=update,
            ConditionExpression="JobStatus = :running OR JobStatus = :s", ExpressionAttributeValues=values(**named),
        ))

    def fail(self, domain_id: str, job_id: str, details: FailureDetails, ended_at: float) -> None:
        self._conditional_update(
            domain_id, job_id, UpdateExpression="SET JobStatus = :failed, EndedAt = :e, FailureDetails = :d",
            ConditionExpression="JobStatus IN (:submitted, :running)",  # the first ending recorded wins
            ExpressionAttributeValues=values(failed=JobStatus.FAILED.value, e=ended_at, d=details.to_api(),
                                             submitted=JobStatus.SUBMITTED.value,
                                             running=JobStatus.IN_PROGRESS.value))

    def _conditional_update(self, domain_id: str, job_id: str, **update: Any) -> None:
        """An update whose failed condition means "nothing to do" (already past that state)."""
        try:
            self._conflicts.run(lambda: self._db.update_item(
                TableName=self._table, Key=self._key(domain_id, job_id), **update))
        except ClientError as error:
            if not condition_failed(error):
                raise
