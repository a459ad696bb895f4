"""Audio front end: decode, pick the channel, bring to the telephone band, find the speech.

Everything is first brought to 8 kHz (the telephone band call recordings live in), so a voiceprint
enrolled from wideband audio and one verified from a phone call see the same band; it is then
resampled to the encoder's 16 kHz with the same resampler the reference model's preprocessing uses
(soxr, high quality).

Net speech is what Silero's VAD (``vad.py``) calls speech in the telephone-band audio. The encoder still
gets the reference preprocessing (volume normalised, long silences trimmed with WebRTC's VAD, as GE2E was
trained), less whatever lies over ENCODER_SPEECH_REACH from Silero's speech: a stretch of hold music or
noise does not enter the voiceprint, and clean speech gives the voiceprint it gave before.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soundfile
import soxr
import webrtcvad

from .vad import FRAME, FRAME_SECONDS, SpeechFrames

TELEPHONE_RATE = 8000
MODEL_RATE = 16000
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024

_INT16_MAX = 2**15 - 1
_TARGET_DBFS = -30.0
_VAD_WINDOW = MODEL_RATE * 30 // 1000  # 30 ms, in samples
_VAD_SMOOTHING_WIDTH = 8  # windows averaged when smoothing the speech flags
_VAD_MAX_SILENCE = 6  # silent windows kept around speech
# The encoder's audio keeps what WebRTC's trimming keeps within this many Silero frames (0.5 s) of
# Silero's speech: at 0.5 s it removed nothing from the clean calibration recordings (at 0.25 s, 0.8 %).
ENCODER_SPEECH_REACH = 16
_READ_BLOCK_FRAMES = 1 << 16  # frames per read for files libsndfile cannot seek in

FloatArray = npt.NDArray[np.float32]


class AudioError(ValueError):
    """A recording cannot give speech for a voiceprint. The message names the file and the cause."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class UnreadableAudioError(AudioError):
    pass


class EmptyAudioError(AudioError):
    pass


class AudioTooLargeError(AudioError):
    pass


class ChannelNotFoundError(AudioError):
    pass


class NoSpeechError(AudioError):
    """The recording holds no speech (silence, music, a tone, noise): `audio_seconds` of audio, none of it speech."""

    def __init__(self, source: str, problem: str, audio_seconds: float = 0.0) -> None:
        super().__init__(source, problem)
        self.audio_seconds = audio_seconds


@dataclass(frozen=True)
class DecodedAudio:
    """One channel of a recording in the telephone band."""

    source: str
    samples: FloatArray  # mono, TELEPHONE_RATE
    original_rate: int
    channels: int
    format: str


@dataclass(frozen=True)
class Speech:
    """The model-rate speech of one recording, silences trimmed, ready for the encoder."""

    source: str
    samples: FloatArray  # mono, MODEL_RATE, long silences removed
    net_speech_seconds: float
    audio_seconds: float  # the whole recording's length


def decode(data: bytes, source: str, channel: int = 0, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> DecodedAudio:
    """Decode WAV (PCM, float, µ-law, A-law, GSM 6.10), FLAC or MP3 bytes to one telephone-band channel."""
    if len(data) > max_bytes:
        raise AudioTooLargeError(source, f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    if not data:
        raise EmptyAudioError(source, "file is empty")
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            frames = _read_all_frames(sound)
            rate, channels = sound.samplerate, sound.channels
            audio_format = f"{sound.format}/{sound.subtype}"
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise UnreadableAudioError(source, f"not a readable audio file ({exc})") from None
    if frames.shape[0] == 0:
        raise EmptyAudioError(source, "file holds no audio samples")
    if not 0 <= channel < channels:
        raise ChannelNotFoundError(
            source, f"ChannelId {channel} requested, but the file has {channels} channel(s)"
        )
    mono = np.ascontiguousarray(frames[:, channel])
    if rate != TELEPHONE_RATE:
        mono = soxr.resample(mono, rate, TELEPHONE_RATE, quality="HQ").astype(np.float32)
    return DecodedAudio(source, mono, rate, channels, audio_format)


def _read_all_frames(sound: soundfile.SoundFile) -> FloatArray:
    """All frames as float32 (frames × channels).

    libsndfile reports some compressed WAVs (GSM 6.10) as not seekable, and ``read()`` without a
    frame count refuses those: they are read block by block to the end instead.
    """
    if sound.seekable():
        return sound.read(dtype="float32", always_2d=True)
    blocks: list[FloatArray] = []
    while (block := sound.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)).shape[0]:
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, sound.channels), dtype=np.float32)


def extract_speech(audio: DecodedAudio, detector: SpeechFrames) -> Speech:
    """Net speech by `detector` (Silero); the encoder's audio as the module docstring says."""
    audio_seconds = round(audio.samples.size / TELEPHONE_RATE, 2)
    heard = detector.speech_frames(audio.samples)
    if not heard.any():
        raise NoSpeechError(audio.source, "no speech found", audio_seconds)
    wav = _normalise_volume(soxr.resample(audio.samples, TELEPHONE_RATE, MODEL_RATE, quality="HQ").astype(np.float32))
    trimmed = np.repeat(_speech_mask(_vad_flags(wav)), _VAD_WINDOW)
    keep = trimmed & _near_speech(heard, trimmed.size)
    if not keep.any():
        raise NoSpeechError(audio.source, "no speech found (only isolated blips under 0.1 s)", audio_seconds)
    net_seconds = float(heard.sum()) * FRAME_SECONDS
    return Speech(audio.source, np.ascontiguousarray(wav[: keep.size][keep]), round(net_seconds, 2), audio_seconds)


def _near_speech(heard: npt.NDArray[np.bool_], size: int) -> npt.NDArray[np.bool_]:
    """A model-rate sample mask of `size`: within ENCODER_SPEECH_REACH frames of a frame of speech."""
    near = np.repeat(_dilate(heard, ENCODER_SPEECH_REACH), FRAME * MODEL_RATE // TELEPHONE_RATE)
    return np.concatenate((near, np.zeros(max(0, size - near.size), dtype=bool)))[:size]


def _normalise_volume(wav: FloatArray) -> FloatArray:
    """Raise (never lower) the level to -30 dBFS."""
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * _INT16_MAX) ** 2)))
    if rms == 0.0:
        return wav
    change_db = _TARGET_DBFS - 20 * np.log10(rms / _INT16_MAX)
    if change_db < 0:
        return wav
    return (wav * (10 ** (change_db / 20))).astype(np.float32)


def _vad_flags(wav: FloatArray) -> npt.NDArray[np.bool_]:
    """WebRTC VAD (most aggressive mode) on each whole 30 ms window."""
    usable = wav.size - wav.size % _VAD_WINDOW
    pcm = np.clip(np.round(wav[:usable] * _INT16_MAX), -_INT16_MAX - 1, _INT16_MAX).astype("<i2").tobytes()
    vad = webrtcvad.Vad(3)
    step = _VAD_WINDOW * 2
    return np.fromiter(
        (vad.is_speech(pcm[start : start + step], MODEL_RATE) for start in range(0, len(pcm), step)),
        dtype=bool,
        count=usable // _VAD_WINDOW,
    )


def _speech_mask(voiced: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Smooth the VAD flags with a moving average, then keep up to 3 silent windows around speech."""
    if not voiced.size:  # under one 30 ms window of audio
        return np.zeros(0, dtype=bool)
    width = _VAD_SMOOTHING_WIDTH
    padded = np.concatenate((np.zeros((width - 1) // 2), voiced, np.zeros(width // 2)))
    sums = np.cumsum(padded, dtype=float)
    sums[width:] = sums[width:] - sums[:-width]
    smoothed = np.round(sums[width - 1 :] / width).astype(bool)
    return _dilate(smoothed, (_VAD_MAX_SILENCE + 1) // 2)


def _dilate(flags: npt.NDArray[np.bool_], reach: int) -> npt.NDArray[np.bool_]:
    """True wherever a True flag lies within `reach` positions."""
    # "full" then cut, not mode="same": that returns the kernel's length for short inputs.
    dilated = np.convolve(flags.astype(np.int32), np.ones(2 * reach + 1, dtype=np.int32), mode="full")
    return dilated[reach : reach + flags.size] > 0
