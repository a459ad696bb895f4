"""``make demo``: a real enrollment job, end to end, on the embedded local runtime, then calls verified.

Builds recordings of real people (Debian's Asterisk prompts) in the formats contact centres have,
uploads them and a Voice ID manifest to the local inbox bucket exactly as one would in AWS, shows the
job's progress, then prints the job record and the decrypted output file. Last, three recorded calls are
uploaded as sessions and evaluated (Voice ID's EvaluateSession): the genuine caller, another person claiming
to be them, and a call too short to decide.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr
from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from speaker_enrollment.domain.shared.job import BatchJob

from enrollctl import samples
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from enrollctl.progress import ProgressBar
from enrollctl.voiceid_client import Target, voice_id_client
from enrollctl.voiceid_evaluate import upload_session, wait_for_session


@dataclass(frozen=True)
class DemoCaller:
    request_id: str
    speaker_id: str
    voice: str
    seconds: float
    description: str
    channel: int = 0


CALLERS = (
    DemoCaller("req-001", "cust-1001", "allison-en", 40, "8 kHz PCM16 WAV"),
    DemoCaller("req-002", "cust-1002", "june-fr", 40, "8 kHz mu-law WAV"),
    DemoCaller("req-003", "cust-1003", "carlo-it", 40, "16 kHz FLAC"),
    DemoCaller("req-004", "cust-1004", "menardi-it", 40, "44.1 kHz PCM16 WAV"),
    DemoCaller("req-005", "cust-1005", "ivr-ru", 40, "stereo WAV, caller on channel 1", channel=1),
    DemoCaller("req-006", "cust-1006", "armelle-fr", 12, "only 12 s of speech"),
)


# The demo shows the job, not the functions' structured logs and metrics (enrollctl serve keeps them).
QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


def encode(caller: DemoCaller) -> tuple[str, bytes]:
    speech = samples.recording(caller.voice, caller.seconds)
    if caller.request_id == "req-002":
        return "wav", samples.wav_bytes(speech, subtype="ULAW")
    if caller.request_id == "req-003":
        return "flac", samples.wav_bytes(soxr.resample(speech, 8000, 16000), 16000, "PCM_16", "FLAC")
    if caller.request_id == "req-004":
        return "wav", samples.wav_bytes(soxr.resample(speech, 8000, 44100), 44100)
    if caller.channel == 1:
        agent = samples.recording("allison-es", caller.seconds, part=3)
        return "wav", samples.wav_bytes(np.stack([agent, speech], axis=1))
    return "wav", samples.wav_bytes(speech)


def upload_inputs(runtime: LocalRuntime, manifest_name: str) -> str:
    s3 = runtime.client("s3")
    requests: list[dict[str, Any]] = []
    for caller in CALLERS:
        extension, body = encode(caller)
        key = f"audio/{caller.speaker_id}.{extension}"
        s3.put_object(Bucket=runtime.inbox_bucket, Key=key, Body=body)
        requests.append({"RequestId": caller.request_id, "SpeakerId": caller.speaker_id,
                         "AudioSpecifications": [{"S3Uri": f"s3://{runtime.inbox_bucket}/{key}",
                                                  "ChannelId": caller.channel}]})
        print(f"  uploaded {key:28} {caller.description}")
    requests.append({"RequestId": "req-007", "SpeakerId": "cust-1007",
                     "AudioSpecifications": [{"S3Uri": f"s3://{runtime.inbox_bucket}/audio/cust-1001.wav",
                                              "ChannelId": 2}]})
    manifest = {"Version": "1.0", "SpeakerEnrollmentRequests": requests}
    key = f"manifests/{runtime.domain_id}/{manifest_name}"
    s3.put_object(Bucket=runtime.inbox_bucket, Key=key, Body=json.dumps(manifest, indent=1).encode())
    print(f"  uploaded {key} ({len(requests)} requests)")
    return f"s3://{runtime.inbox_bucket}/{key}"


def wait_for(runtime: LocalRuntime, manifest_uri: str) -> BatchJob:
    bar = ProgressBar(sys.stdout)
    jobs = DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table)
    try:
        return wait_for_job(jobs, runtime.domain_id, manifest_uri,
                            on_progress=lambda job: bar.update(job.percent_complete, job.status.value))
    finally:
        bar.close()


def show_output(runtime: LocalRuntime, job: BatchJob) -> None:
    bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job.job_id}/{job.input_s3_uri.rsplit('/', 1)[-1]}.out".lstrip("/")
    response = runtime.client("s3").get_object(Bucket=bucket, Key=key)
    print(f"\nOutput file s3://{bucket}/{key} (SSE {response.get('ServerSideEncryption')}, "
          f"key {response.get('SSEKMSKeyId')}), decrypted:")
    print(response["Body"].read().decode())


def run_job(runtime: LocalRuntime, manifest_name: str) -> BatchJob:
    manifest_uri = upload_inputs(runtime, manifest_name)
    print("Job progress:")
    return wait_for(runtime, manifest_uri)


@dataclass(frozen=True)
class DemoCall:
    description: str
    voice: str
    seconds: float
    claims: str  # the CustomerSpeakerId the caller claims to be (speaker-id metadata)


CALLS = (
    DemoCall("the genuine caller (other words than enrolled)", "allison-en", 15, "cust-1001"),
    DemoCall("another person claiming to be cust-1001", "june-fr", 15, "cust-1001"),
    DemoCall("a short call (6 s)", "allison-en", 6, "cust-1001"),
)


def verify_calls(runtime: LocalRuntime) -> None:
    """Each call uploaded as sessions/<DomainId>/<SessionName>.wav with speaker-id metadata; EvaluateSession's
    decisions printed."""
    s3 = runtime.client("s3")
    voice_id = voice_id_client(Target.resolve(runtime.endpoint, runtime.region))
    for index, demo_call in enumerate(CALLS, start=1):
        body = samples.wav_bytes(samples.recording(demo_call.voice, demo_call.seconds, part=1))
        upload = upload_session(s3, runtime.inbox_bucket, runtime.domain_id, body, "wav",
                                session_name=f"demo-contact-{index}", speaker_id=demo_call.claims)
        outcome = wait_for_session(voice_id, s3, runtime.domain_id, upload)
        auth = outcome.response.get("AuthenticationResult", {})
        fraud = outcome.response.get("FraudDetectionResult", {})
        score = f"score {auth['Score']:3d}" if "Score" in auth else "         "
        print(f"  {upload.session_name}: {auth.get('Decision', outcome.error):18} {score}  "
              f"fraud {fraud.get('Decision', '-'):17}  {demo_call.description}")


def main() -> int:
    print("Starting the embedded local runtime (moto: S3, DynamoDB, KMS, STS, Step Functions) ...")
    with LocalRuntime.start(port=0, environment=QUIET) as runtime:
        print(runtime.info().json_line())
        print("\nJob 1: enroll six callers from real recordings")
        job = run_job(runtime, "demo-enrollment.json")
        print("\nJob record (DescribeSpeakerEnrollmentJob shape):")
        print(json.dumps(job.to_api(), indent=1))
        show_output(runtime, job)
        print("Job 2: the same callers again (ExistingEnrollmentAction SKIP)")
        again = run_job(runtime, "demo-enrollment-again.json")
        print(f"Job {again.job_id}: {again.status.value}; output:")
        show_output(runtime, again)
        print("Verification: recorded calls evaluated as Voice ID sessions (EvaluateSession, threshold 90)")
        verify_calls(runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
