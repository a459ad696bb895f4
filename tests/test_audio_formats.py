"""Every supported container, encoding, sample rate and channel layout gives the caller's voiceprint.

The reference is the voiceprint of the same speech as a PCM16 8 kHz mono WAV. Thresholds are set
from measurements on this recording (allison-en, 10 s), with room for the codec's own loss:
lossless ≥ 0.99999 (measured 1.00000), resampled ≥ 0.9995 (0.99994–0.99995), µ-law/A-law ≥ 0.998
(0.9986/0.9994), 8-bit ≥ 0.98 (0.9934), MP3 ≥ 0.98 (0.9912), GSM 6.10 ≥ 0.95 (0.9722; 0.947–0.996
across voices). Different people score at most ~0.86 (this other voice 0.65), so every case is still
clearly the same speaker.

All cases are decoded once and their voiceprints computed in one batch (module fixture); each test
then checks its own case.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pytest
import soxr
from enrollctl import samples
from helpers import SHORT_PART, SHORT_SECONDS, FloatArray, SpeechOf, VoiceprintOf, cos, pcm16_wav, recording
from speaker_enrollment.voiceprint.audio import AudioError, DecodedAudio, NoSpeechError, Speech, decode
from speaker_enrollment.voiceprint.engine import Voiceprint, VoiceprintEngine

CALLER = "allison-en"
OTHER = "carlo-it"  # a different person, for the second channel
RATE = samples.RATE

ENCODINGS = [
    ("WAV", "PCM_U8", 0.98),
    ("WAV", "PCM_16", 0.99999),
    ("WAV", "PCM_24", 0.99999),
    ("WAV", "PCM_32", 0.99999),
    ("WAV", "FLOAT", 0.99999),
    ("WAV", "ULAW", 0.998),
    ("WAV", "ALAW", 0.998),
    ("WAV", "GSM610", 0.95),
    ("FLAC", "PCM_16", 0.99999),
    ("MP3", "MPEG_LAYER_III", 0.98),
]
RATES = [8000, 11025, 16000, 22050, 44100, 48000]
STEREO = [(caller_channel, holds) for caller_channel in (0, 1) for holds in ("another voice", "silence")]


@dataclass(frozen=True)
class Outcome:
    data: bytes
    decoded: DecodedAudio | None = None
    speech: Speech | None = None
    voiceprint: Voiceprint | None = None
    error: AudioError | None = None

    def result(self) -> tuple[DecodedAudio, Speech, Voiceprint]:
        if self.error is not None:
            raise self.error
        assert self.decoded and self.speech and self.voiceprint
        return self.decoded, self.speech, self.voiceprint


def caller_audio() -> FloatArray:
    return recording(CALLER, SHORT_SECONDS, SHORT_PART)


def eight_bit(audio: FloatArray) -> FloatArray:
    """Rounded to the 8-bit grid first: libsndfile's float → PCM_U8 writer truncates (floor), which adds
    a DC offset and distortion no real 8-bit recorder would (cosine 0.87); that would test the writer."""
    return (np.clip(np.round(audio * 128), -128, 127) / 128).astype(np.float32)


def stereo_call(caller_channel: int, holds: str) -> bytes:
    caller = caller_audio()
    stereo = np.zeros((caller.size, 2), dtype=np.float32)
    stereo[:, caller_channel] = caller
    if holds == "another voice":
        second = recording(OTHER, SHORT_SECONDS, SHORT_PART)[: caller.size]
        stereo[: second.size, 1 - caller_channel] = second
    return pcm16_wav(stereo)


def all_cases() -> dict[Hashable, tuple[bytes, int]]:
    """Case key → (file bytes, ChannelId)."""
    audio = caller_audio()
    cases: dict[Hashable, tuple[bytes, int]] = {}
    for file_format, subtype, _ in ENCODINGS:
        source = eight_bit(audio) if subtype == "PCM_U8" else audio
        cases["encoding", file_format, subtype] = (samples.wav_bytes(source, RATE, subtype, file_format), 0)
    for rate in RATES:
        cases["rate", rate] = (pcm16_wav(soxr.resample(audio, RATE, rate, quality="HQ").astype(np.float32), rate), 0)
    for caller_channel, holds in STEREO:
        data = stereo_call(caller_channel, holds)
        for channel in (0, 1):
            cases["stereo", caller_channel, holds, channel] = (data, channel)
    return cases


@pytest.fixture(scope="module")
def outcomes(engine: VoiceprintEngine) -> dict[Hashable, Outcome]:
    decoded: dict[Hashable, Outcome] = {}
    for key, (data, channel) in all_cases().items():
        try:
            audio = decode(data, "call", channel)
            decoded[key] = Outcome(data, audio, engine.speech(data, "call", channel))
        except AudioError as exc:
            decoded[key] = Outcome(data, error=exc)
    ready = [key for key, outcome in decoded.items() if outcome.speech is not None]
    prints = engine.voiceprints([[decoded[key].speech] for key in ready])  # type: ignore[list-item]
    for key, voiceprint in zip(ready, prints, strict=True):
        outcome = decoded[key]
        decoded[key] = Outcome(outcome.data, outcome.decoded, outcome.speech, voiceprint)
    return decoded


@pytest.fixture(scope="module")
def original(voiceprint_of: VoiceprintOf) -> Voiceprint:
    return voiceprint_of(CALLER, SHORT_SECONDS, SHORT_PART)


@pytest.fixture(scope="module")
def other(voiceprint_of: VoiceprintOf) -> Voiceprint:
    return voiceprint_of(OTHER, SHORT_SECONDS, SHORT_PART)


@pytest.mark.parametrize("encoding", ENCODINGS, ids=[f"{f}-{s}" for f, s, _ in ENCODINGS])
def test_encoding_gives_the_same_voiceprint(
    outcomes: dict[Hashable, Outcome], original: Voiceprint, other: Voiceprint, encoding: tuple[str, str, float]
) -> None:
    file_format, subtype, min_cosine = encoding
    decoded, _, voiceprint = outcomes["encoding", file_format, subtype].result()
    assert decoded.format == f"{file_format}/{subtype}"
    assert (decoded.original_rate, decoded.channels) == (RATE, 1)
    # Every frame is read (GSM 6.10 and MP3 pad to whole codec frames).
    assert caller_audio().size <= decoded.samples.size <= caller_audio().size + 1200

    similarity = cos(voiceprint.vector, original.vector)
    assert similarity >= min_cosine, f"{file_format}/{subtype}: cosine {similarity:.5f}"
    assert cos(voiceprint.vector, other.vector) < similarity - 0.05


@pytest.mark.parametrize("rate", RATES)
def test_sample_rate_gives_the_same_voiceprint(
    outcomes: dict[Hashable, Outcome], original: Voiceprint, speech_of: SpeechOf, rate: int
) -> None:
    decoded, speech, voiceprint = outcomes["rate", rate].result()
    assert decoded.original_rate == rate
    assert abs(decoded.samples.size - caller_audio().size) <= 1  # brought back to 8 kHz, same duration

    reference_speech = speech_of(CALLER, SHORT_SECONDS, SHORT_PART)
    assert speech.net_speech_seconds == pytest.approx(reference_speech.net_speech_seconds, abs=0.1)
    similarity = cos(voiceprint.vector, original.vector)
    assert similarity >= 0.9995, f"{rate} Hz: cosine {similarity:.6f}"


@pytest.mark.parametrize(("caller_channel", "other_channel_holds"), STEREO)
def test_channel_id_picks_the_caller(
    outcomes: dict[Hashable, Outcome],
    original: Voiceprint,
    other: Voiceprint,
    caller_channel: int,
    other_channel_holds: str,
) -> None:
    decoded, _, picked = outcomes["stereo", caller_channel, other_channel_holds, caller_channel].result()
    assert decoded.channels == 2
    np.testing.assert_allclose(decoded.samples, caller_audio(), atol=1 / 32768)  # the caller's samples
    assert cos(picked.vector, original.vector) >= 0.99999
    assert cos(picked.vector, other.vector) < 0.9  # and not the other voice

    second = outcomes["stereo", caller_channel, other_channel_holds, 1 - caller_channel]
    if other_channel_holds == "silence":
        assert isinstance(second.error, NoSpeechError)
        assert str(second.error) == "call: no speech found"
    else:
        _, _, agent = second.result()
        assert cos(agent.vector, other.vector) >= 0.99999
        assert cos(agent.vector, original.vector) < 0.9
