"""Recordings that cannot give a voiceprint fail with an AudioError that names the file and the cause."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from enrollctl import samples
from helpers import pcm16_wav, recording
from speaker_enrollment.voiceprint.audio import (
    DEFAULT_MAX_FILE_BYTES,
    AudioError,
    AudioTooLargeError,
    ChannelNotFoundError,
    EmptyAudioError,
    NoSpeechError,
    UnreadableAudioError,
    decode,
)
from speaker_enrollment.voiceprint.engine import VoiceprintEngine

SOURCE = "s3://enrollment-input/calls/2024-05-01/caller 17.wav"
RATE = samples.RATE


def failure(engine: VoiceprintEngine, data: bytes, channel: int = 0) -> AudioError:
    """The AudioError the engine raises for one recording (the test fails if it raises none)."""
    with pytest.raises(AudioError) as caught:
        engine.speech(data, SOURCE, channel)
    error = caught.value
    assert error.source == SOURCE
    assert str(error) == f"{SOURCE}: {error.problem}"  # the message starts with the file's name
    return error


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("call.txt", "not audio")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(7).bytes(4096),
        b"Caller,Agent,Duration\n+15550100,42,00:03:10\n" * 20,
        b'{"SpeakerId": "abc"}',
        b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40),  # a WAV header with nothing valid in it
        pcm16_wav(np.zeros(800, dtype=np.float32))[:30],  # a WAV cut inside its header
        zip_bytes(),
    ],
    ids=["random-bytes", "csv-text", "json-text", "broken-wav-header", "truncated-wav-header", "zip"],
)
def test_unreadable_bytes(engine: VoiceprintEngine, data: bytes) -> None:
    error = failure(engine, data)
    assert isinstance(error, UnreadableAudioError)
    assert error.problem.startswith("not a readable audio file")


def test_empty_file(engine: VoiceprintEngine) -> None:
    error = failure(engine, b"")
    assert isinstance(error, EmptyAudioError)
    assert error.problem == "file is empty"


@pytest.mark.parametrize(
    ("file_format", "subtype"), [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("WAV", "ULAW"), ("AIFF", "PCM_16")]
)
def test_valid_file_with_zero_frames(engine: VoiceprintEngine, file_format: str, subtype: str) -> None:
    data = samples.wav_bytes(np.zeros(0, dtype=np.float32), RATE, subtype, file_format)
    assert data  # a header, and no samples
    error = failure(engine, data)
    assert isinstance(error, EmptyAudioError)
    assert error.problem == "file holds no audio samples"


def test_digital_silence(engine: VoiceprintEngine) -> None:
    error = failure(engine, pcm16_wav(np.zeros(5 * RATE, dtype=np.float32)))
    assert isinstance(error, NoSpeechError)
    assert error.problem == "no speech found"


def test_silence_with_one_lone_burst_is_no_speech(engine: VoiceprintEngine) -> None:
    """One 30 ms burst is dropped by the VAD smoothing: nothing would be left to embed."""
    audio = np.zeros(10 * RATE, dtype=np.float32)
    audio[5 * RATE : 5 * RATE + 240] = recording("allison-en", 3.0)[RATE : RATE + 240]
    assert isinstance(failure(engine, pcm16_wav(audio)), NoSpeechError)


@pytest.mark.parametrize("seconds", [0.0001, 0.02, 0.1, 0.15, 0.2, 0.25])
def test_very_short_speech_gives_speech_or_no_speech_never_a_crash(engine: VoiceprintEngine, seconds: float) -> None:
    data = pcm16_wav(recording("allison-en", 3.0)[: max(1, int(seconds * RATE))])
    try:
        speech = engine.speech(data, SOURCE)
    except NoSpeechError:
        return
    assert 0 < speech.samples.size <= seconds * 2 * RATE
    assert 0 < speech.net_speech_seconds <= seconds
    assert np.isfinite(engine.voiceprint([speech]).vector).all()


def test_low_level_noise_is_no_speech(engine: VoiceprintEngine) -> None:
    """Volume normalisation lifts faint hiss to -30 dBFS, where the VAD hears "speech" in it: the net
    speech ignores windows that were below SPEECH_FLOOR_DBFS as recorded."""
    noise = np.random.default_rng(3).standard_normal(5 * RATE).astype(np.float32) * 10 ** (-70 / 20)
    try:
        speech = engine.speech(pcm16_wav(noise), SOURCE)
    except NoSpeechError:
        return
    raise AssertionError(f"-70 dBFS noise gave {speech.net_speech_seconds} s of 'speech'")


def test_steady_hum_is_no_speech(engine: VoiceprintEngine) -> None:
    t = np.arange(5 * RATE) / RATE
    hum = (0.001 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)  # 50 Hz mains hum, -63 dBFS
    assert isinstance(failure(engine, pcm16_wav(hum)), NoSpeechError)


# --------------------------------------------------------------------------------------------- size


def wav_of_size(n_bytes: int) -> bytes:
    """A valid PCM16 WAV of real speech, padded with silence to exactly n_bytes (n_bytes even)."""
    header = len(pcm16_wav(np.zeros(0, dtype=np.float32)))
    frames = (n_bytes - header) // 2
    speech = recording("june-fr", 3.0)
    audio = np.zeros(frames, dtype=np.float32)
    audio[: speech.size] = speech
    data = pcm16_wav(audio)
    assert len(data) == n_bytes
    return data


def test_file_over_the_default_20_mb_limit(engine: VoiceprintEngine) -> None:
    assert engine.max_file_bytes == DEFAULT_MAX_FILE_BYTES == 20 * 1024 * 1024
    data = wav_of_size(DEFAULT_MAX_FILE_BYTES + 2)  # a valid recording, 2 bytes too many
    error = failure(engine, data)
    assert isinstance(error, AudioTooLargeError)
    assert error.problem == "file is 20,971,522 bytes, over the 20,971,520-byte limit"


def test_configurable_limit_is_inclusive(engine: VoiceprintEngine) -> None:
    data = wav_of_size(100_000)
    at_limit = VoiceprintEngine(encoder=engine.encoder, max_file_bytes=100_000)
    assert at_limit.speech(data, SOURCE).net_speech_seconds > 2.0

    under = VoiceprintEngine(encoder=engine.encoder, max_file_bytes=99_999)
    error = failure(under, data)
    assert isinstance(error, AudioTooLargeError)
    assert error.problem == "file is 100,000 bytes, over the 99,999-byte limit"


def test_size_is_checked_before_the_file_is_parsed() -> None:
    with pytest.raises(AudioTooLargeError, match=r"file is 1,025 bytes, over the 1,024-byte limit"):
        decode(b"\x00" * 1025, SOURCE, max_bytes=1024)


# ------------------------------------------------------------------------------------------ channels


@pytest.mark.parametrize(
    ("channels", "channel_id"),
    [(1, 1), (1, 2), (1, -1), (2, 2), (2, 5), (2, -1), (4, 4)],
)
def test_channel_not_in_the_file(engine: VoiceprintEngine, channels: int, channel_id: int) -> None:
    speech = recording("carlo-it", 2.0)
    data = pcm16_wav(np.repeat(speech[:, None], channels, axis=1) if channels > 1 else speech)
    assert soundfile.info(io.BytesIO(data)).channels == channels
    error = failure(engine, data, channel=channel_id)
    assert isinstance(error, ChannelNotFoundError)
    assert error.problem == f"ChannelId {channel_id} requested, but the file has {channels} channel(s)"


def test_every_error_is_an_audio_error_and_a_value_error() -> None:
    for cls in (UnreadableAudioError, EmptyAudioError, AudioTooLargeError, ChannelNotFoundError, NoSpeechError):
        assert issubclass(cls, AudioError)
        assert issubclass(cls, ValueError)


def test_missing_speech_packages_fail_the_test_with_the_install_command(tmp_path: Path) -> None:
    """The suite never skips for lack of real speech: it fails and says how to install it."""
    samples._prompt_files.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(samples, "SOUNDS_ROOT", tmp_path)
            with pytest.raises(pytest.fail.Exception, match=r"run 'make speech' \(apt-get install asterisk-core"):
                recording("june-fr", 1.25, 3)
    finally:
        samples._prompt_files.cache_clear()
    assert recording("june-fr", 1.25, 3).size == 10_000  # installed here: the real prompts come back
