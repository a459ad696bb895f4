"""Shared fixtures: real 8 kHz speech (Debian's Asterisk prompts) as WAV bytes, and one voiceprint engine.

Nothing here skips: without the speech packages or the model artifact the tests that need them fail
with the command that installs them (``make speech``, ``make model``).
"""

from __future__ import annotations

from functools import cache

import pytest
from helpers import SpeechOf, VoiceprintOf, pcm16_wav, recording
from speaker_enrollment.voiceprint.audio import Speech
from speaker_enrollment.voiceprint.engine import Voiceprint, VoiceprintEngine
from speaker_enrollment.voiceprint.model import ModelNotBuiltError, SpeakerEncoder
from speaker_enrollment.voiceprint.vad import VadModelNotBuiltError


@pytest.fixture(scope="session")
def encoder() -> SpeakerEncoder:
    try:
        return SpeakerEncoder()
    except ModelNotBuiltError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def engine(encoder: SpeakerEncoder) -> VoiceprintEngine:
    """One engine for the session, on one BLAS thread: two pytest-xdist workers on two cores (or
    anything else running) would otherwise fight over the cores, and spinning BLAS threads then
    cost several times the CPU."""
    try:
        return VoiceprintEngine(encoder=encoder, threads=1)
    except VadModelNotBuiltError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def speech_of(engine: VoiceprintEngine) -> SpeechOf:
    """(voice, seconds, part) → the engine's Speech of that recording sent as a PCM16 8 kHz WAV."""

    @cache
    def speech(voice: str, seconds: float, part: int) -> Speech:
        return engine.speech(pcm16_wav(recording(voice, seconds, part)), f"{voice}-{seconds:g}s-part{part}.wav")

    return speech


@pytest.fixture(scope="session")
def voiceprint_of(engine: VoiceprintEngine, speech_of: SpeechOf) -> VoiceprintOf:
    """(voice, seconds, part) → the voiceprint of that PCM16 8 kHz recording, computed once per session."""

    @cache
    def voiceprint(voice: str, seconds: float, part: int) -> Voiceprint:
        return engine.voiceprint([speech_of(voice, seconds, part)])

    return voiceprint
