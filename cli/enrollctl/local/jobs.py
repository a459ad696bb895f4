"""``enrollctl jobs``: the jobs of a running local runtime (a scan of its Jobs table, found as the runtime
finds it: the table the functions' variables name in the synthesized template)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from speaker_enrollment.domain.shared.job import BatchJob

from enrollctl.local.resources import Clients
from enrollctl.local.stack import DEFAULT_PORT, DEFAULT_REGION, HOST, local_settings
from enrollctl.local.template import load_template

ENDPOINT_ENV = "ENROLLCTL_ENDPOINT"
COLUMNS = ("JobId", "JobName", "JobStatus", "Percent", "CreatedAt")


def default_endpoint() -> str:
    return os.environ.get(ENDPOINT_ENV, f"http://{HOST}:{DEFAULT_PORT}")


@dataclass(frozen=True)
class JobRow:
    job_id: str
    job_name: str
    status: str
    percent: str
    created_at: str

    def cells(self) -> tuple[str, ...]:
        return (self.job_id, self.job_name, self.status, self.percent, self.created_at)


def _plain(value: dict[str, Any] | None) -> Any:
    """A DynamoDB attribute value as a plain Python value (only the types job records use)."""
    if not value:
        return None
    (kind, raw), = value.items()
    if kind == "M":
        return {key: _plain(item) for key, item in raw.items()}
    if kind == "L":
        return [_plain(item) for item in raw]
    if kind == "N":
        return float(raw)
    return raw


def _timestamp(value: Any) -> str:
    if isinstance(value, float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "" if value is None else str(value)


def _row(item: dict[str, Any]) -> JobRow:
    progress = _plain(item.get("JobProgress")) or {}
    percent = progress.get("PercentComplete")
    return JobRow(job_id=str(_plain(item.get("JobId"))), job_name=str(_plain(item.get("JobName")) or ""),
                  status=str(_plain(item.get("JobStatus"))),
                  percent="" if percent is None else f"{percent:.0f}",
                  created_at=_timestamp(_plain(item.get("CreatedAt"))))


def jobs_table(region: str) -> str:
    """The running runtime's Jobs table (``enrollctl serve`` has synthesized the template: no synth here)."""
    return local_settings(load_template(synth=False), region).jobs_table


def _scan(endpoint: str, region: str) -> Iterator[dict[str, Any]]:
    paginator = Clients(endpoint, region)("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=jobs_table(region)):
        yield from page["Items"]


def list_jobs(endpoint: str | None = None, region: str = DEFAULT_REGION) -> list[JobRow]:
    """Job records only (the table also holds per-shard progress markers), oldest first."""
    items = (item for item in _scan(endpoint or default_endpoint(), region) if "JobStatus" in item)
    return sorted((_row(item) for item in items), key=lambda row: (row.created_at, row.job_id))


def format_table(rows: Sequence[JobRow]) -> str:
    table = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in table)


def job_for_manifest(jobs: DynamoJobStore, domain_id: str, manifest_uri: str) -> BatchJob | None:
    """The job an upload of `manifest_uri` started (the newest, if it was uploaded more than once)."""
    started = [job for job in jobs.list(domain_id) if job.input_s3_uri == manifest_uri]
    return max(started, key=lambda job: job.created_at, default=None)


def wait_for_job(
    jobs: DynamoJobStore, domain_id: str, manifest_uri: str, timeout: float = 600.0,
    on_progress: Callable[[BatchJob], None] | None = None,
) -> BatchJob:
    """Poll until the job started by uploading `manifest_uri` reaches a final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_for_manifest(jobs, domain_id, manifest_uri)
        if job is not None:
            if on_progress is not None:
                on_progress(job)
            if job.status.is_final:
                return job
        time.sleep(0.1)
    raise TimeoutError(f"the job for {manifest_uri} did not finish within {timeout:.0f} s")
