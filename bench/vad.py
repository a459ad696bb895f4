"""Voice activity benchmark (issue 16): Silero VAD beside WebRTC's, on one core, per minute of audio.

Run: ``make bench-vad`` (``python -m bench.vad``; needs ``make model speech``).

Audio: 60 s of real speech of a few voices and 60 s of a few hold-music tracks (Debian's Asterisk
packages, 8 kHz). For each VAD: its CPU time alone, the net speech it finds in speech and in music;
then a whole request (WAV bytes → voiceprint) with WebRTC's trimming only (before) and with Silero too
(now). Medians of a few runs; the process is pinned to one CPU, BLAS and onnxruntime to one thread.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt
import soxr
from enrollctl import samples
from speaker_enrollment.voiceprint import audio
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.vad import FRAME, FRAME_SECONDS, SileroVad

VOICES = ("allison-en", "june-fr", "carlo-it")
TRACKS = samples.HOLD_MUSIC[:3]
SECONDS = 60.0
RUNS = 5

FloatArray = npt.NDArray[np.float32]


class EverythingIsSpeech:
    """No detector: the engine as it was before Silero (WebRTC's trimming alone feeds the encoder)."""

    def speech_frames(self, samples: FloatArray) -> npt.NDArray[np.bool_]:
        return np.ones(-(-samples.size // FRAME), dtype=bool)


def cpu_seconds(work: Callable[[], object]) -> float:
    """Median CPU seconds of `work` over RUNS runs."""
    took = []
    for _ in range(RUNS):
        start = time.process_time()
        work()
        took.append(time.process_time() - start)
    return statistics.median(took)


def webrtc_speech_seconds(clip: FloatArray) -> float:
    """Seconds WebRTC's VAD (mode 3) calls speech, on the normalised 16 kHz audio the engine gives it (the
    resampling it needs is in its CPU time)."""
    wav = audio._normalise_volume(soxr.resample(clip, samples.RATE, audio.MODEL_RATE, quality="HQ").astype(np.float32))
    return float(audio._vad_flags(wav).sum()) * 0.03


def silero_speech_seconds(vad: SileroVad, clip: FloatArray) -> float:
    return float(vad.speech_frames(clip).sum()) * FRAME_SECONDS


def whole_request(engine: VoiceprintEngine, data: bytes) -> None:
    engine.voiceprint([engine.speech(data, "bench.wav")])


def main() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    vad = SileroVad()
    clips = {**{f"speech {v}": samples.recording(v, SECONDS, 2) for v in VOICES},
             **{f"music {t}": samples.hold_music(t, SECONDS) for t in TRACKS}}
    minutes = SECONDS / 60
    print(f"Net speech found in {SECONDS:.0f} s of audio, and CPU seconds per minute of audio on one core "
          f"(median of {RUNS}):")
    print(f"{'audio':34s} {'WebRTC s':>9s} {'Silero s':>9s} {'WebRTC CPU':>11s} {'Silero CPU':>11s}")
    for name, clip in clips.items():
        print(f"{name:34s} {webrtc_speech_seconds(clip):9.1f} {silero_speech_seconds(vad, clip):9.1f} "
              f"{cpu_seconds(partial(webrtc_speech_seconds, clip)) / minutes:11.3f} "
              f"{cpu_seconds(partial(vad.speech_frames, clip)) / minutes:11.3f}")
    before = VoiceprintEngine(threads=1, detector=EverythingIsSpeech())
    now = VoiceprintEngine(encoder=before.encoder, threads=1, detector=vad)
    print("\nA whole request, WAV bytes → voiceprint, CPU seconds per minute of speech on one core:")
    for voice in VOICES:
        data = samples.wav_bytes(clips[f"speech {voice}"])
        costs = [cpu_seconds(partial(whole_request, engine, data)) / minutes for engine in (before, now)]
        print(f"{voice:34s} before {costs[0]:.3f}  now {costs[1]:.3f}  (+{costs[1] / costs[0] - 1:.0%})")


if __name__ == "__main__":
    main()
