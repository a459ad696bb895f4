"""``enrollctl wait JOB_ID --domain-id D``: Describe the batch job until it ends, with a progress bar.

Any kind of batch job (speaker enrollment, fraudster registration, speaker evaluation: the registry's kinds, in its
order): the first Describe that knows the JobId names the kind, and that Describe is polled. The bar goes to stderr,
the final ``{"Job": ...}`` to stdout (as ``describe-speaker-enrollment-job`` etc. print it), and the job's summary
(an evaluation job's ``EvaluationSummary``: decisions, accept rate, score quartiles) as one line to stderr.
Exit status 0 for COMPLETED, 1 for COMPLETED_WITH_ERRORS or FAILED (FailureDetails on stderr), 254 for a
service error (a JobId no kind knows: the first kind's ResourceNotFoundException), 255 when ``--timeout`` runs out.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES

from enrollctl.progress import ProgressBar
from enrollctl.voiceid_client import voice_id_client
from enrollctl.voiceid_commands import (
    EXIT_OTHER,
    Commands,
    add_target_options,
    format_response,
    report_error,
    target_of,
)

EXIT_STATUS = {"COMPLETED": 0, "COMPLETED_WITH_ERRORS": 1, "FAILED": 1}  # the final statuses
DESCRIBE_METHODS = tuple(xform_name(job_type.operations.describe) for job_type in JOB_TYPES)


def add_wait_command(commands: Commands) -> None:
    wait = commands.add_parser("wait", help="follow a batch job (enrollment, registration, evaluation) until it "
                                            "ends (exit 0: COMPLETED)")
    wait.add_argument("job_id", metavar="JOB_ID")
    wait.add_argument("--domain-id", required=True)
    wait.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    wait.add_argument("--timeout", type=float, default=None, help="give up after this many seconds (exit 255)")
    add_target_options(wait)
    wait.set_defaults(func=cmd_wait)


def cmd_wait(args: argparse.Namespace) -> int:
    try:
        client = voice_id_client(target_of(args))
        job = poll(client, args.domain_id, args.job_id, interval=args.interval, timeout=args.timeout,
                   bar=ProgressBar(sys.stderr))
    except (BotoCoreError, ClientError) as error:
        return report_error(error)
    except TimeoutError as error:
        print(f"\nenrollctl: {error}", file=sys.stderr)
        return EXIT_OTHER
    print(format_response({"Job": job}))
    _print_summaries(job)
    return _outcome(job)


def _describer(client: Any, domain_id: str, job_id: str) -> tuple[Any, dict[str, Any]]:
    """The Describe of the job's kind and its first answer: each kind's Describe is asked in the registry's order
    until one knows the JobId (the others answer ResourceNotFoundException); none: the first kind's error."""
    first_error: ClientError | None = None
    for method in DESCRIBE_METHODS:
        describe = getattr(client, method)
        try:
            return describe, describe(DomainId=domain_id, JobId=job_id)["Job"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def poll(
    client: Any, domain_id: str, job_id: str, *, interval: float, timeout: float | None, bar: ProgressBar
) -> dict[str, Any]:
    """Describe the job until its status is final; every answer moves the bar."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        describe, job = _describer(client, domain_id, job_id)
        while True:
            bar.update(int(job.get("JobProgress", {}).get("PercentComplete", 0)), job["JobStatus"])
            if job["JobStatus"] in EXIT_STATUS:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['JobStatus']} after {timeout:g} s")
            time.sleep(interval)
            job = describe(DomainId=domain_id, JobId=job_id)["Job"]
    finally:
        bar.close()


def _print_summaries(job: dict[str, Any]) -> None:
    """One line per summary member of the job (e.g. ``EvaluationSummary: AuthenticationDecisions: ACCEPT 12,
    REJECT 2, ...; AcceptRate: 0.8571; Scores: Count 14, Minimum 3, ...``)."""
    for member, summary in job.items():
        if member.endswith("Summary") and isinstance(summary, dict):
            print(f"{member}: {_line(summary)}", file=sys.stderr)


def _line(value: Any) -> str:
    if not isinstance(value, dict):
        return f"{value:g}" if isinstance(value, float) else str(value)
    nested = any(isinstance(item, dict) for item in value.values())
    parts = [f"{key}: {_line(item)}" if nested or isinstance(item, dict) else f"{key} {_line(item)}"
             for key, item in value.items()]
    return ("; " if nested else ", ").join(parts)


def _outcome(job: dict[str, Any]) -> int:
    status = job["JobStatus"]
    failure = job.get("FailureDetails")
    if failure:
        print(f"FailureDetails: StatusCode {failure.get('StatusCode')}: {failure.get('Message')}", file=sys.stderr)
    if status == "COMPLETED_WITH_ERRORS":
        folder = job.get("OutputDataConfig", {}).get("S3Uri", "the output folder")
        print(f"enrollctl: job {job.get('JobId')} is {status}: the failed requests are in the output file "
              f"under {folder}", file=sys.stderr)
    return EXIT_STATUS[status]
