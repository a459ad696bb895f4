"""Net speech is speech (Silero VAD): hold music (Debian's asterisk-moh-opsound-wav), noise and tones measure
none, speech under music keeps most of its speech, and clean speech keeps the voiceprint it had with WebRTC's
VAD alone (issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt
import pytest
from enrollctl import samples
from helpers import FloatArray, cos, pcm16_wav, recording
from speaker_enrollment.voiceprint.audio import NoSpeechError, Speech
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.model import SpeakerEncoder
from speaker_enrollment.voiceprint.vad import FRAME, hysteresis

MAX_SECONDS_IN_NOT_SPEECH = 1.0  # measured: at most 0.1 s in 40 s of each hold-music track, 0 s in noise and tones


class EverythingIsSpeech:
    """The detector before Silero: every frame counts, so the encoder gets WebRTC's trimming alone."""

    def speech_frames(self, samples: FloatArray) -> npt.NDArray[np.bool_]:
        return np.ones(-(-samples.size // FRAME), dtype=bool)


@pytest.fixture(scope="module")
def webrtc_only(encoder: SpeakerEncoder) -> VoiceprintEngine:
    return VoiceprintEngine(encoder=encoder, threads=1, detector=EverythingIsSpeech())


def hold_music(track: str, seconds: float, start: float = 10.0) -> FloatArray:
    try:
        return samples.hold_music(track, seconds, start)
    except samples.SpeechNotInstalledError as exc:
        pytest.fail(f"hold music is not installed: {exc}", pytrace=False)


def net_speech(engine: VoiceprintEngine, audio: FloatArray) -> float:
    try:
        return engine.speech(pcm16_wav(audio), "call.wav").net_speech_seconds
    except NoSpeechError:
        return 0.0


NOT_SPEECH: dict[str, Callable[[], FloatArray]] = {
    **{f"music-{track}": partial(hold_music, track, 40.0) for track in samples.HOLD_MUSIC},
    "white-noise": lambda: samples.white_noise(40.0),
    "pink-noise": lambda: samples.pink_noise(40.0),
    "tone-440Hz": lambda: samples.tones(40.0, 440.0),
    "dtmf-1": lambda: samples.tones(40.0, 697.0, 1209.0),
}


@pytest.mark.parametrize("name", NOT_SPEECH)
def test_music_noise_and_tones_are_not_speech(engine: VoiceprintEngine, webrtc_only: VoiceprintEngine,
                                              name: str) -> None:
    audio = NOT_SPEECH[name]()
    assert net_speech(engine, audio) < MAX_SECONDS_IN_NOT_SPEECH
    assert net_speech(webrtc_only, audio) > 30.0  # what WebRTC's VAD alone called it


def test_a_file_without_speech_says_how_long_it_was(engine: VoiceprintEngine) -> None:
    with pytest.raises(NoSpeechError) as raised:
        engine.speech(pcm16_wav(samples.pink_noise(12.5)), "noise.wav")
    assert raised.value.audio_seconds == 12.5


@pytest.mark.parametrize(("voice", "track"), [("allison-en", 0), ("june-fr", 1), ("menardi-it", 4)])
def test_speech_under_hold_music_at_5_db_keeps_most_of_its_speech(engine: VoiceprintEngine, voice: str,
                                                                  track: int) -> None:
    speech = recording(voice, 40.0, 1)
    music = hold_music(samples.HOLD_MUSIC[track], 40.0)
    clean = net_speech(engine, speech)
    assert clean > 20.0
    assert net_speech(engine, samples.mix(speech, music, 5.0)) >= 0.9 * clean  # measured 0.97-1.0


@pytest.mark.parametrize("voice", list(samples.VOICES))
def test_clean_speech_keeps_its_voiceprint(engine: VoiceprintEngine, webrtc_only: VoiceprintEngine,
                                           voice: str) -> None:
    data = pcm16_wav(recording(voice, 30.0))
    now, before = engine.speech(data, "a.wav"), webrtc_only.speech(data, "a.wav")
    assert cos(engine.voiceprint([now]).vector, webrtc_only.voiceprint([before]).vector) >= 0.99  # measured 1.0


def test_hold_music_between_speech_stays_out_of_the_voiceprint(engine: VoiceprintEngine,
                                                               webrtc_only: VoiceprintEngine) -> None:
    """20 s of music in the middle of 30 s of speech: measured cosine to the clean voiceprint 0.996 (0.93 before)."""
    speech = recording("carlo-it", 30.0)
    on_hold = np.concatenate([speech[: speech.size // 2], hold_music(samples.HOLD_MUSIC[2], 20.0),
                              speech[speech.size // 2 :]])
    clean = engine.voiceprint([engine.speech(pcm16_wav(speech), "clean.wav")]).vector
    held: Speech = engine.speech(pcm16_wav(on_hold), "held.wav")
    assert cos(engine.voiceprint([held]).vector, clean) >= 0.98
    assert cos(webrtc_only.voiceprint([webrtc_only.speech(pcm16_wav(on_hold), "held.wav")]).vector, clean) < 0.97
    assert held.net_speech_seconds <= net_speech(engine, speech) + MAX_SECONDS_IN_NOT_SPEECH


def test_hysteresis_starts_at_one_threshold_and_ends_below_the_other() -> None:
    probabilities = np.array([0.1, 0.4, 0.6, 0.4, 0.36, 0.3, 0.45, 0.5], dtype=np.float32)
    assert hysteresis(probabilities, 0.5, 0.35).tolist() == [False, False, True, True, True, False, False, True]
