"""``enrollctl wait JOB_ID --domain-id D``: DescribeSpeakerEnrollmentJob until the job ends, with a progress bar.

The bar goes to stderr, the final ``{"Job": ...}`` to stdout (as ``describe-speaker-enrollment-job`` prints it).
Exit status 0 for COMPLETED, 1 for COMPLETED_WITH_ERRORS or FAILED (FailureDetails on stderr), 254 for a
service error, 255 when ``--timeout`` runs out.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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


def add_wait_command(commands: Commands) -> None:
    wait = commands.add_parser("wait", help="follow a speaker enrollment job until it ends (exit 0: COMPLETED)")
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
    return _outcome(job)


def poll(
    client: Any, domain_id: str, job_id: str, *, interval: float, timeout: float | None, bar: ProgressBar
) -> dict[str, Any]:
    """Describe the job until its status is final; every answer moves the bar."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            job: dict[str, Any] = client.describe_speaker_enrollment_job(DomainId=domain_id, JobId=job_id)["Job"]
            bar.update(int(job.get("JobProgress", {}).get("PercentComplete", 0)), job["JobStatus"])
            if job["JobStatus"] in EXIT_STATUS:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['JobStatus']} after {timeout:g} s")
            time.sleep(interval)
    finally:
        bar.close()


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
