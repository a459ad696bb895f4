"""Start/Describe/List of every kind of batch job (Start/Describe/ListSpeakerEnrollmentJob(s),
Start/Describe/ListFraudsterRegistrationJob(s), ...), from the registry of job types.

Start accepts a job only for an existing, ACTIVE domain, a DataAccessRoleArn of this account (which the caller
may pass: ``iam:PassRole`` is checked for every request carrying one, before any operation runs, by
``api.authorization``), an input URI naming an object, and watchlists of the domain; the job then runs on the
workflow (Submitter). Jobs of one domain may run in parallel (Voice ID allowed one active job per domain). Each
kind's Describe and List see only jobs of that kind.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from ...domain.admin.errors import AccessDeniedError, ResourceKind, ResourceNotFoundError
from ...domain.shared.job import BatchJob
from ...domain.shared.paging import newest_first
from ...domain.shared.s3uri import parse_s3_uri
from ...domain.workflow.jobtype import JobType
from ...domain.workflow.kinds import JOB_TYPES
from ...domain.workflow.submission import JobRequest
from ..errors import ValidationException
from ..services import ApiServices, Operation
from .paging import listing

ROLE_ACCOUNT_FIELD = 4  # arn:partition:iam::<account>:role/...


def start_job(job_type: JobType, services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    services.domain_admin.active(params["DomainId"])
    request = _job_request(params, job_type)
    _check_role(services, request.data_access_role_arn)
    _check_watchlists(services, request)
    return {"Job": services.submitter.submit(request).to_api()}


def describe_job(job_type: JobType, services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    job = services.jobs.get(domain.domain_id, params["JobId"])
    if job is None or job.kind != job_type.name:
        raise ResourceNotFoundError(ResourceKind.BATCH_JOB, f"Job '{params['JobId']}' does not exist in domain "
                                                            f"'{domain.domain_id}'")
    return {"Job": job.to_api()}


def list_jobs(job_type: JobType, services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    """Newest first; JobStatus filters."""
    domain = services.domain_admin.describe(params["DomainId"])
    status = params.get("JobStatus")
    jobs = [job for job in services.jobs.list(domain.domain_id)
            if job.kind == job_type.name and status in (None, job.status.value)]
    items, token = listing(services, job_type.operations.list, params,
                           lambda limit, after: newest_first(jobs, _age, limit, after))
    return {"JobSummaries": [job.to_api() for job in items], "NextToken": token}


def _age(job: BatchJob) -> tuple[float, str]:
    return job.created_at, job.job_id


def _job_request(params: dict[str, Any], job_type: JobType) -> JobRequest:
    output = params["OutputDataConfig"]
    request = JobRequest(
        job_type=job_type, domain_id=params["DomainId"], client_token=params.get("ClientToken") or str(uuid.uuid4()),
        data_access_role_arn=params["DataAccessRoleArn"], input_s3_uri=params["InputDataConfig"]["S3Uri"],
        output_s3_uri=output["S3Uri"], output_kms_key_id=output.get("KmsKeyId"), job_name=params.get("JobName"),
        config=job_type.config_from_api(params.get(job_type.config_member)),
    )
    for field, uri, needs_key in (("InputDataConfig.S3Uri", request.input_s3_uri, True),
                                  ("OutputDataConfig.S3Uri", request.output_s3_uri, False)):
        try:
            parse_s3_uri(uri, needs_key=needs_key)
        except ValueError as exc:
            raise ValidationException(f"{field}: {exc}") from None
    return request


def _check_role(services: ApiServices, role_arn: str) -> None:
    """The workflow assumes the job's role from this account's functions: a role elsewhere is refused."""
    account = role_arn.split(":")[ROLE_ACCOUNT_FIELD]
    if account != services.deployment.account:
        raise AccessDeniedError(f"DataAccessRoleArn must be a role of account {services.deployment.account} "
                                f"(the account this service runs in), not of account {account}")


def _check_watchlists(services: ApiServices, request: JobRequest) -> None:
    for watchlist_id in request.watchlist_ids:
        if services.watchlists.get(request.domain_id, watchlist_id) is None:
            raise ResourceNotFoundError(ResourceKind.WATCHLIST, f"Watchlist '{watchlist_id}' does not exist in "
                                                                f"domain '{request.domain_id}'")


def _operations(job_type: JobType) -> dict[str, Operation]:
    names = job_type.operations
    return {names.start: partial(start_job, job_type), names.describe: partial(describe_job, job_type),
            names.list: partial(list_jobs, job_type)}


OPERATIONS: dict[str, Operation] = {name: op for job_type in JOB_TYPES for name, op in _operations(job_type).items()}
