"""``enrollctl evaluate FILE --domain-id D [--speaker-id S] [--channel N] [--session-name X]``: a recorded call
uploaded as a session (``sessions/<DomainId>/<SessionName>.<ext>`` in the inbox bucket, the options as object
metadata), followed with EvaluateSession until its evaluation of this upload has ENDED; prints the response.

An upload the service could not evaluate is tagged ``voiceid-error`` with the reason (EvaluateSession's answer has
no member for it): the reason goes to stderr, exit status 1. Exit 0 when evaluated, 254 on a service error, 255
when ``--timeout`` runs out.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from speaker_enrollment.domain.workflow.sessions import ERROR_TAG, SESSION_UPLOAD_PREFIX, result_ids, session_id_of

from enrollctl.voiceid_client import LOCAL_CREDENTIALS, Target, voice_id_client
from enrollctl.voiceid_commands import (
    EXIT_OTHER,
    Commands,
    add_target_options,
    format_response,
    report_error,
    target_of,
)

INBOX_PREFIX = "speaker-enrollment-inbox-"  # the local runtime's inbox bucket (docs/architecture.md)
CLOCK_SLACK_SECONDS = 1.0
# Not evaluated (yet), or a name Voice ID refuses: the upload's voiceid-error tag will say why.
NO_SESSION_ERRORS = ("ResourceNotFoundException", "ValidationException")  # S3's LastModified is whole seconds


@dataclass(frozen=True)
class SessionUpload:
    bucket: str
    key: str
    version_id: str | None
    uploaded_at: float  # S3's LastModified: the evaluation of this upload starts after it

    @property
    def session_name(self) -> str:
        return self.key.rsplit("/", 1)[-1].split(".", 1)[0]


@dataclass(frozen=True)
class SessionOutcome:
    response: dict[str, Any]  # EvaluateSession's
    error: str | None = None  # why the upload was not evaluated (its voiceid-error tag)


def upload_session(s3: Any, bucket: str, domain_id: str, body: bytes, extension: str, *,
                   session_name: str | None = None, speaker_id: str | None = None, channel: int | None = None,
                   metadata: dict[str, str] | None = None) -> SessionUpload:
    """Upload a recording as a session (a new name, unless given) with the options as object metadata."""
    name = session_name or f"session-{uuid.uuid4().hex[:16]}"
    key = f"{SESSION_UPLOAD_PREFIX}/{domain_id}/{name}.{extension.lstrip('.') or 'wav'}"
    meta = dict(metadata or {})
    if speaker_id is not None:
        meta["speaker-id"] = speaker_id
    if channel is not None:
        meta["channel-id"] = str(channel)
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=meta)
    version_id = put.get("VersionId")
    head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    return SessionUpload(bucket, key, version_id, head["LastModified"].timestamp())


def wait_for_session(voice_id: Any, s3: Any, domain_id: str, upload: SessionUpload, *, interval: float = 0.2,
                     timeout: float | None = 120.0) -> SessionOutcome:
    """EvaluateSession until it reports this upload's evaluation ENDED, or the upload's voiceid-error tag says
    why it was not evaluated. TimeoutError when `timeout` runs out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        error = _refusal(s3, upload)
        if error is not None:
            response = _evaluate(voice_id, domain_id, upload.session_name)
            return SessionOutcome(response or {"DomainId": domain_id, "SessionName": upload.session_name}, error)
        response = _evaluate(voice_id, domain_id, upload.session_name)
        if response is not None and _evaluated(response, domain_id, upload):
            return SessionOutcome(response)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"session {upload.session_name} was not evaluated within {timeout:.0f} s")
        time.sleep(interval)


def _evaluate(voice_id: Any, domain_id: str, session_name: str) -> dict[str, Any] | None:
    try:
        response = voice_id.evaluate_session(DomainId=domain_id, SessionNameOrId=session_name)
    except ClientError as error:
        if error.response["Error"]["Code"] in NO_SESSION_ERRORS:
            return None
        raise
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _evaluated(response: dict[str, Any], domain_id: str, upload: SessionUpload) -> bool:
    """ENDED with this upload's results (an earlier upload of the name may still be shown): in a versioned inbox
    their ids derive from the object version; else they were gathered after the upload."""
    if response.get("StreamingStatus") != "ENDED" or "AuthenticationResult" not in response:
        return False
    if upload.version_id:
        expected, _ = result_ids(session_id_of(domain_id, upload.session_name), upload.version_id)
        return bool(response["AuthenticationResult"]["AuthenticationResultId"] == expected)
    started = response["AuthenticationResult"]["AudioAggregationStartedAt"]
    started_at = started.timestamp() if hasattr(started, "timestamp") else float(started)
    return started_at >= upload.uploaded_at - CLOCK_SLACK_SECONDS


def _refusal(s3: Any, upload: SessionUpload) -> str | None:
    version = {"VersionId": upload.version_id} if upload.version_id else {}
    tags = s3.get_object_tagging(Bucket=upload.bucket, Key=upload.key, **version)["TagSet"]
    return next((tag["Value"] for tag in tags if tag["Key"] == ERROR_TAG), None)


# ---------------------------------------------------------------------------------------- the command


def add_evaluate_command(commands: Commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="upload a recorded call as a session and print its EvaluateSession result")
    evaluate.add_argument("file", metavar="FILE", type=Path, help="the recording (any format the service reads)")
    evaluate.add_argument("--domain-id", required=True)
    evaluate.add_argument("--speaker-id", default=None,
                          help="CustomerSpeakerId or GeneratedSpeakerId to authenticate (default: fraud check only)")
    evaluate.add_argument("--channel", type=int, choices=(0, 1), default=None, help="the caller's channel (default 0)")
    evaluate.add_argument("--session-name", default=None, help="SessionName, e.g. the ContactId (default: a new one)")
    evaluate.add_argument("--acceptance-threshold", type=int, default=None, help="0-100 (default 90)")
    evaluate.add_argument("--risk-threshold", type=int, default=None, help="0-100 (default: the calibrated one)")
    evaluate.add_argument("--watchlist-id", default=None, help="default: the domain's default watchlist")
    evaluate.add_argument("--inbox-bucket", default=None,
                          help="the stack's inbox bucket (stack output InboxBucketName; default: the local "
                               f"runtime's {INBOX_PREFIX}... bucket)")
    evaluate.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds (exit 255)")
    add_target_options(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)


def s3_client(target: Target) -> Any:
    if not target.deployed:
        return boto3.client("s3", region_name=target.region, endpoint_url=target.endpoint_url, **LOCAL_CREDENTIALS)
    return boto3.Session(profile_name=target.profile, region_name=target.region).client("s3")


def inbox_bucket(s3: Any, given: str | None) -> str:
    if given:
        return given
    names = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(INBOX_PREFIX)]
    if len(names) != 1:
        raise ValueError("cannot tell the inbox bucket: pass --inbox-bucket (the stack output InboxBucketName)")
    return str(names[0])


def cmd_evaluate(args: argparse.Namespace) -> int:
    try:
        body = args.file.read_bytes()
    except OSError as error:
        print(f"enrollctl: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    metadata = {name: str(value) for name, value in (
        ("acceptance-threshold", args.acceptance_threshold), ("risk-threshold", args.risk_threshold),
        ("watchlist-id", args.watchlist_id)) if value is not None}
    target = target_of(args)
    try:
        s3 = s3_client(target)
        upload = upload_session(s3, inbox_bucket(s3, args.inbox_bucket), args.domain_id, body, args.file.suffix,
                                session_name=args.session_name, speaker_id=args.speaker_id, channel=args.channel,
                                metadata=metadata)
        outcome = wait_for_session(voice_id_client(target), s3, args.domain_id, upload, timeout=args.timeout)
    except (BotoCoreError, ClientError) as error:
        return report_error(error)
    except ValueError as error:
        print(f"enrollctl: {error}", file=sys.stderr)
        return 1
    except TimeoutError as error:
        print(f"enrollctl: {error}", file=sys.stderr)
        return EXIT_OTHER
    print(format_response(outcome.response))
    if outcome.error is not None:
        print(f"enrollctl: session {upload.session_name} was not evaluated: {outcome.error}", file=sys.stderr)
        return 1
    return 0
