"""Session benchmark (issue #11): EvaluateSession on a 60 s recorded call.

Run: ``make bench-session`` (``python -m bench.session``; needs ``make speech``), under a minute.

What is measured:

* latency on the local runtime: a 60 s call (real speech of one voice, 8 kHz PCM16 WAV, part 1 of its prompts)
  uploaded to the inbox as ``sessions/<DomainId>/<SessionName>.wav`` with the enrolled speaker's id, from the
  upload to EvaluateSession answering ENDED with this upload's results (polled every POLL_SECONDS through the
  boto3 ``voice-id`` client); the first evaluation (the function's cold start: the model loaded) apart, then the
  median of RUNS warm ones;
* the compute of one evaluation on one core: what the evaluating function computes (decode, speech, the
  voiceprint, the score against the speaker and the watchlist) through ``VoiceprintEngine`` with BLAS on 1
  thread, in CPU seconds of this thread (``time.thread_time``), median of RUNS.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import numpy as np
from enrollctl import samples
from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_client import Target, voice_id_client
from enrollctl.voiceid_evaluate import upload_session, wait_for_session
from speaker_enrollment.domain.shared.ids import new_generated_speaker_id
from speaker_enrollment.domain.shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.scoring import cosine, cosines, score

VOICE = "allison-en"
CALL_SECONDS = 60
RUNS = 5
POLL_SECONDS = 0.05
QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


def enroll(runtime: LocalRuntime, engine: VoiceprintEngine) -> str:
    """The caller, written as an enrollment job would (40 s of part 0)."""
    voiceprint = engine.voiceprint([engine.speech(samples.wav_bytes(samples.recording(VOICE, 40, 0)), VOICE)])
    store = runtime.composition().speakers
    speaker = Speaker(runtime.domain_id, "bench-caller", new_generated_speaker_id(), SpeakerStatus.PENDING, 1.0, 1.0)
    store.create(speaker, 100_000)
    store.replace(speaker.enrolled(voiceprint=tuple(voiceprint.as_list()), model_id=voiceprint.model_id,
                                   net_speech_seconds=voiceprint.net_speech_seconds, by="bench/1",
                                   status=EnrollmentStatus.NEW_ENROLLMENT, now=time.time()), speaker)
    return speaker.customer_speaker_id


def latency(runtime: LocalRuntime, call: bytes, speaker_id: str) -> float:
    """Seconds from the upload to EvaluateSession's ENDED with this upload's results."""
    s3 = runtime.client("s3")
    voice_id = voice_id_client(Target.resolve(runtime.endpoint, runtime.region))
    started = time.perf_counter()
    upload = upload_session(s3, runtime.inbox_bucket, runtime.domain_id, call, "wav",
                            session_name=f"bench-{uuid.uuid4().hex[:12]}", speaker_id=speaker_id)
    outcome = wait_for_session(voice_id, s3, runtime.domain_id, upload, interval=POLL_SECONDS)
    elapsed = time.perf_counter() - started
    decision = outcome.response.get("AuthenticationResult", {}).get("Decision")
    if decision != "ACCEPT":
        raise RuntimeError(f"the genuine 60 s call was not accepted: {decision or outcome.error}")
    return elapsed


def compute_seconds(call: bytes, enrolled: Any, watchlist: np.ndarray[Any, Any]) -> float:
    """CPU seconds of one evaluation's compute on one core (this thread, BLAS 1 thread)."""
    engine = VoiceprintEngine(threads=1)
    engine.voiceprint([engine.speech(call, "warm-up")])  # the model loaded, as in a warm function
    started = time.thread_time()
    speech = engine.speech(call, "call")
    pool = engine.pool()
    pool.add(0, speech)
    voiceprint = pool.voiceprint(0)
    score(cosine(enrolled, voiceprint.vector))
    cosines(watchlist, voiceprint.vector)
    return time.thread_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    call = samples.wav_bytes(samples.recording(VOICE, CALL_SECONDS, 1))
    engine = VoiceprintEngine(threads=1)
    enrolled = engine.voiceprint([engine.speech(samples.wav_bytes(samples.recording(VOICE, 40, 0)), VOICE)]).vector
    watchlist = np.random.default_rng(0).standard_normal((500, enrolled.size)).astype(np.float32)  # a full one
    cpu = [compute_seconds(call, enrolled, watchlist) for _ in range(args.runs)]
    print(f"A {CALL_SECONDS} s call ({len(call):,} bytes, {engine.speech(call, 'call').net_speech_seconds:.1f} s "
          "of net speech), EvaluateSession on the local runtime:")
    print(f"  compute per evaluation, one core (BLAS 1 thread): median {statistics.median(cpu):.3f} CPU s "
          f"(runs: {', '.join(f'{s:.3f}' for s in cpu)})")
    with LocalRuntime.start(port=0, environment=QUIET) as runtime:
        speaker_id = enroll(runtime, engine)
        cold = latency(runtime, call, speaker_id)
        warm = [latency(runtime, call, speaker_id) for _ in range(args.runs)]
    print(f"  latency upload -> ENDED: first (cold function) {cold:.2f} s; warm median {statistics.median(warm):.2f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in warm)}; polled every {POLL_SECONDS} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
