"""Mel spectrogram and the partial windows the encoder embeds.

Matches the reference preprocessing: 25 ms Hann window, 10 ms hop, centred frames with zero
padding, power spectrum, 40 Slaney-scale mel bands with Slaney normalisation; windows of
160 frames every 77 frames, the last one kept when at least 75 % of it holds audio.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from .audio import MODEL_RATE

N_FFT = MODEL_RATE * 25 // 1000  # 400
HOP = MODEL_RATE * 10 // 1000  # 160
N_MELS = 40
WINDOW_FRAMES = 160
WINDOW_STEP = round(MODEL_RATE / 1.3 / HOP)  # 77 frames: 1.3 windows per second
MIN_COVERAGE = 0.75

FloatArray = npt.NDArray[np.float32]


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    linear = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = mel * (200.0 / 3)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), linear)


@cache
def mel_filterbank() -> FloatArray:
    """(40, 201) triangular filters on the Slaney mel scale, area-normalised (Slaney norm)."""
    fft_freqs = np.fft.rfftfreq(N_FFT, d=1.0 / MODEL_RATE)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(MODEL_RATE / 2)), N_MELS + 2))
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_freqs)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@cache
def _hann_window() -> FloatArray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_spectrogram(wav: FloatArray, chunk_frames: int = 2048) -> FloatArray:
    """(frames, 40) power mel spectrogram with centred frames (1 + len(wav) // 160 of them).

    Frames are transformed `chunk_frames` at a time, so memory stays small for long recordings.
    """
    padded = np.pad(wav, N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    mel = np.empty((frames.shape[0], N_MELS), dtype=np.float32)
    for start in range(0, frames.shape[0], chunk_frames):
        spectrum = np.fft.rfft(frames[start : start + chunk_frames] * _hann_window(), axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        mel[start : start + chunk_frames] = power @ mel_filterbank().T
    return mel


def window_starts(n_samples: int) -> list[int]:
    """First frame of each 160-frame window covering an utterance of n_samples samples."""
    n_frames = -(-(n_samples + 1) // HOP)
    steps = max(1, n_frames - WINDOW_FRAMES + WINDOW_STEP + 1)
    starts = list(range(0, steps, WINDOW_STEP))
    coverage = (n_samples - starts[-1] * HOP) / (WINDOW_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def mel_windows(wav: FloatArray) -> FloatArray:
    """(windows, 160, 40): the partial utterances of one stretch of speech."""
    starts = window_starts(wav.size)
    needed = (starts[-1] + WINDOW_FRAMES) * HOP
    if needed >= wav.size:
        wav = np.pad(wav, (0, needed - wav.size))
    mel = mel_spectrogram(wav)
    view = np.lib.stride_tricks.sliding_window_view(mel, (WINDOW_FRAMES, N_MELS))[:, 0]
    return np.ascontiguousarray(view[starts])
