"""Burst benchmark (issue 18 item 1): recorded calls and evaluation jobs uploaded at once to the local runtime.

Run: ``make bench-burst`` (``python -m bench.burst``; needs ``make speech``): 500 session uploads and 3 evaluation
jobs of 200 requests at once, as the issue reports them; ``--sessions``, ``--jobs``, ``--requests`` resize it.

What is measured: 8 speakers are enrolled (written through the speaker store, as an enrollment job would), then
every upload goes at once (UPLOADERS threads): calls of CALL_SECONDS of real speech of those voices under
``sessions/<DomainId>/`` with the caller's SpeakerId, and the job manifests under ``evaluations/<DomainId>/`` among
them, each request naming one of the same calls. Then:

* sessions/s: sessions over the seconds from the first upload until every session answered ENDED with a decision
  (EvaluateSession, polled); requests/s: the jobs' requests over the seconds until every job ended;
* timeouts (``Sandbox.Timedout`` reported) and drops (an event given up after its retries), from the runtime's log;
* every job's output file must list each of its RequestIds exactly once.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from enrollctl import samples
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.lambda_runner import InProcessLambda
from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_client import Target, voice_id_client
from enrollctl.voiceid_evaluate import SessionUpload, upload_session, wait_for_session
from speaker_enrollment.domain.shared.ids import new_generated_speaker_id
from speaker_enrollment.domain.shared.job import BatchJob
from speaker_enrollment.domain.shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus
from speaker_enrollment.voiceprint.engine import VoiceprintEngine

SESSIONS, JOBS, REQUESTS = 500, 3, 200
CALL_SECONDS = 10
ENROLL_SECONDS = 40
UPLOADERS = 32
POLL_SECONDS = 1.0
TIMEOUT_SECONDS = 3600.0
QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
# What the runtime logs (WARNING) when an invocation times out and when an event delivery is given up.
TIMED_OUT = ("enrollctl.local.lambda_runner", "timed out after")
GAVE_UP = ("enrollctl.local.events", "gave up on")


@dataclass(frozen=True)
class BurstResult:
    sessions: int
    requests: int
    session_seconds: float  # first upload → every session ENDED with a decision
    job_seconds: float  # first upload → every job ended
    timeouts: int
    drops: int
    undecided: list[str]  # session names without a decision
    misreported: dict[str, Counter[str]]  # job id → RequestIds not listed exactly once (their count)
    peak_queue: int  # most invocations waiting for a slot at once

    @property
    def clean(self) -> bool:
        return not (self.timeouts or self.drops or self.undecided or self.misreported)

    def report(self) -> str:
        return (f"{self.sessions} sessions in {self.session_seconds:.1f} s: {self.sessions / self.session_seconds:.2f} "
                f"sessions/s; {self.requests} job requests in {self.job_seconds:.1f} s: "
                f"{self.requests / self.job_seconds:.2f} requests/s\n"
                f"timeouts {self.timeouts}, drops {self.drops}, sessions without a decision {len(self.undecided)}, "
                f"jobs with a request not listed once {len(self.misreported)}; "
                f"at most {self.peak_queue} invocations queued at once")


class LogCounter(logging.Handler):
    """Counts the runtime's warnings about timeouts and drops."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        for logger, text in (TIMED_OUT, GAVE_UP):
            if record.name == logger and text in record.getMessage():
                self.counts[(logger, text)] += 1


@contextmanager
def counting_logs() -> Iterator[LogCounter]:
    counter = LogCounter()
    loggers = [logging.getLogger(name) for name, _ in (TIMED_OUT, GAVE_UP)]
    for logger in loggers:
        logger.addHandler(counter)
    try:
        yield counter
    finally:
        for logger in loggers:
            logger.removeHandler(counter)


def enroll_voices(runtime: LocalRuntime) -> list[str]:
    """Every voice enrolled under its own name (from part 0 of its speech; the calls are part 1)."""
    engine, store = VoiceprintEngine(threads=1), runtime.composition().speakers
    for voice in sorted(samples.VOICES):
        recording = samples.wav_bytes(samples.recording(voice, ENROLL_SECONDS, 0))
        voiceprint = engine.voiceprint([engine.speech(recording, voice)])
        speaker = Speaker(runtime.domain_id, voice, new_generated_speaker_id(), SpeakerStatus.PENDING, 1.0, 1.0)
        store.create(speaker, 100_000)
        store.replace(speaker.enrolled(voiceprint=tuple(voiceprint.as_list()), model_id=voiceprint.model_id,
                                       net_speech_seconds=voiceprint.net_speech_seconds, by="bench/1",
                                       status=EnrollmentStatus.NEW_ENROLLMENT, now=time.time()), speaker)
    return sorted(samples.VOICES)


def put_calls(runtime: LocalRuntime, voices: Sequence[str], seconds: int) -> dict[str, bytes]:
    """One call per voice (part 1), also stored under audio/ for the jobs' requests."""
    calls = {voice: samples.wav_bytes(samples.recording(voice, seconds, 1)) for voice in voices}
    s3 = runtime.client("s3")
    for voice, body in calls.items():
        s3.put_object(Bucket=runtime.inbox_bucket, Key=f"audio/{voice}.wav", Body=body)
    return calls


def manifest(runtime: LocalRuntime, job: int, voices: Sequence[str], requests: int) -> bytes:
    entries = [{"RequestId": f"job{job}-r{i:05d}", "SpeakerId": voices[i % len(voices)],
                "AudioSpecifications": [{"S3Uri": f"s3://{runtime.inbox_bucket}/audio/{voices[i % len(voices)]}.wav",
                                         "ChannelId": 0}]} for i in range(requests)]
    return json.dumps({"Version": "1.0", "SpeakerEvaluationRequests": entries}).encode()


def upload_all(runtime: LocalRuntime, calls: dict[str, bytes], sessions: int, manifests: list[bytes]
               ) -> tuple[list[SessionUpload], list[str]]:
    """Every session upload and manifest at once (the manifests among the first uploads)."""
    voices = sorted(calls)
    s3 = runtime.client("s3")

    def session(index: int) -> SessionUpload:
        voice = voices[index % len(voices)]
        return upload_session(s3, runtime.inbox_bucket, runtime.domain_id, calls[voice], "wav",
                              session_name=f"burst-{index:05d}", speaker_id=voice)

    def job(index: int) -> str:
        key = f"evaluations/{runtime.domain_id}/burst-{index}.json"
        s3.put_object(Bucket=runtime.inbox_bucket, Key=key, Body=manifests[index])
        return f"s3://{runtime.inbox_bucket}/{key}"

    with ThreadPoolExecutor(UPLOADERS) as pool:
        spread = max(1, sessions // (len(manifests) + 1))
        work: list[Callable[[], Any]] = [functools.partial(session, i) for i in range(sessions)]
        for index in range(len(manifests)):
            work.insert(index * spread + index, functools.partial(job, index))
        done = list(pool.map(lambda call: call(), work))
    return [d for d in done if isinstance(d, SessionUpload)], [d for d in done if isinstance(d, str)]


def undecided_sessions(runtime: LocalRuntime, uploads: Sequence[SessionUpload], deadline: float) -> list[str]:
    voice_id = voice_id_client(Target.resolve(runtime.endpoint, runtime.region))
    s3 = runtime.client("s3")
    missing = []
    for upload in uploads:
        outcome = wait_for_session(voice_id, s3, runtime.domain_id, upload, interval=POLL_SECONDS,
                                   timeout=max(1.0, deadline - time.monotonic()))
        if outcome.error or "Decision" not in outcome.response.get("AuthenticationResult", {}):
            missing.append(upload.session_name)
    return missing


def misreported(runtime: LocalRuntime, job: BatchJob, requests: int) -> Counter[str]:
    bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job.job_id}/{job.input_s3_uri.rsplit('/', 1)[-1]}.out"
    document = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    listed = Counter(e["RequestId"] for e in [*document["SuccessfulEvaluations"], *document["Errors"]])
    index = job.input_s3_uri.rsplit("burst-", 1)[-1].removesuffix(".json")
    expected = Counter(f"job{index}-r{i:05d}" for i in range(requests))
    return (listed - expected) + (expected - listed)  # listed twice, or not asked for; never listed


def run_burst(runtime: LocalRuntime, sessions: int, jobs: int, requests: int, *,
              call_seconds: int = CALL_SECONDS, timeout: float = TIMEOUT_SECONDS) -> BurstResult:
    voices = enroll_voices(runtime)
    calls = put_calls(runtime, voices, call_seconds)
    manifests = [manifest(runtime, job, voices, requests) for job in range(jobs)]
    slots = InProcessLambda.slots
    with counting_logs() as logs:
        started = time.monotonic()
        deadline = started + timeout
        uploads, uris = upload_all(runtime, calls, sessions, manifests)
        store = runtime.composition().jobs
        ended = [wait_for_job(store, runtime.domain_id, uri, timeout=deadline - time.monotonic()) for uri in uris]
        job_seconds = time.monotonic() - started
        undecided = undecided_sessions(runtime, uploads, deadline)
        session_seconds = time.monotonic() - started
    wrong = {job.job_id: bad for job in ended if (bad := misreported(runtime, job, requests))}
    return BurstResult(sessions, jobs * requests, session_seconds, job_seconds, logs.counts[TIMED_OUT],
                       logs.counts[GAVE_UP], undecided, wrong, slots.peak_waiting if slots else 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="requests per job")
    parser.add_argument("--call-seconds", type=int, default=CALL_SECONDS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    with LocalRuntime.start(port=0, environment=QUIET) as runtime:
        limits = runtime.concurrency
        print(f"{args.sessions} session uploads ({args.call_seconds} s calls) and {args.jobs} evaluation jobs of "
              f"{args.requests} requests at once; {limits.per_function} invocations per function, "
              f"{limits.total} in all")
        result = run_burst(runtime, args.sessions, args.jobs, args.requests, call_seconds=args.call_seconds)
    print(result.report())
    return 0 if result.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
