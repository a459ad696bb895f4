"""Mel features and partial windows, against the documented rule and librosa/resemblyzer's own output."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from helpers import golden, recording
from speaker_enrollment.voiceprint.features import mel_filterbank, mel_spectrogram, mel_windows, window_starts

HOP = 160  # samples per 10 ms frame at 16 kHz
WINDOW = 160  # frames per window (1.6 s)
STEP = 77  # frames between window starts (1.3 windows per second)


def expected_starts(n_samples: int) -> list[int]:
    """The documented rule, stated independently of the implementation: windows of 160 frames start
    every 77 frames; one is used when at least 75 % of its 160 × 160 samples hold audio; the first
    is always used, however short the audio."""
    return [s for s in range(0, n_samples // HOP + 1, STEP) if s == 0 or n_samples - s * HOP >= 0.75 * WINDOW * HOP]


def unpack(entry: dict[str, Any]) -> npt.NDArray[Any]:
    raw = zlib.decompress(base64.b64decode(entry["zlib_base64"]))
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
    return np.frombuffer(raw, dtype=np.dtype(entry["dtype"])).reshape(entry["shape"])


def edge_lengths() -> list[int]:
    """Every length within two frames of where window k is first considered (the frame count reaches
    77k + 83) or becomes 75 % covered."""
    edges = {0, 1, 2}
    for k in range(1, 12):
        for edge in ((STEP * k + WINDOW - STEP - 1) * HOP, STEP * k * HOP + int(0.75 * WINDOW * HOP)):
            edges.update(range(edge - 2 * HOP, edge + 2 * HOP + 1))
    return sorted(edges)


def test_window_starts_follow_the_documented_rule_on_every_edge() -> None:
    lengths = edge_lengths() + list(range(0, 200_000, 37))
    mismatches = {n: (window_starts(n), expected_starts(n)) for n in lengths if window_starts(n) != expected_starts(n)}
    assert not mismatches, f"{len(mismatches)} lengths differ, e.g. {list(mismatches.items())[:3]}"


@pytest.mark.parametrize(
    ("n_samples", "starts"),
    [
        (0, [0]),  # no audio at all: still one (zero-padded) window
        (19_199, [0]),  # under one window
        (31_519, [0]),  # second window 1 sample short of 75 % covered
        (31_520, [0, 77]),  # ... and exactly 75 % covered
        (43_840, [0, 77, 154]),
        (160_000, [0, 77, 154, 231, 308, 385, 462, 539, 616, 693, 770, 847]),  # 10 s
    ],
)
def test_window_starts_known_values(n_samples: int, starts: list[int]) -> None:
    assert window_starts(n_samples) == starts


def test_window_starts_equal_resemblyzer_compute_partial_slices() -> None:
    reference = golden()["partial_window_starts"]
    assert (reference["rate"], reference["min_coverage"]) == (1.3, 0.75)
    for n_samples, starts in reference["starts_by_samples"].items():
        assert window_starts(int(n_samples)) == starts, n_samples


def test_mel_filterbank_equals_librosa() -> None:
    reference = unpack(golden()["mel_filterbank"])
    ours = mel_filterbank()
    assert ours.shape == reference.shape == (40, 201)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)


def test_mel_spectrogram_equals_resemblyzer() -> None:
    entry = golden()["mel_spectrogram"]
    first_recipe = golden()["voiceprints"][0]["recipe"]
    wav = recording(first_recipe["voice"], first_recipe["seconds"], first_recipe["part"])[: entry["input_samples"]]
    reference = unpack(entry)
    ours = mel_spectrogram(wav)
    assert ours.shape == reference.shape == (1 + wav.size // HOP, 40)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6 * float(reference.max()))


@pytest.mark.parametrize("n_samples", [0, 1, 159, 160, 161, 12_345, 31_520, 50_000])
def test_mel_windows_shape_and_padding(n_samples: int) -> None:
    wav = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32) * 0.1
    windows = mel_windows(wav)
    assert windows.shape == (len(window_starts(n_samples)), WINDOW, 40)
    assert windows.dtype == np.float32
    assert np.isfinite(windows).all()
    if n_samples:
        # The first window starts at the first frame of the audio; the rest is zero padding.
        mel = mel_spectrogram(wav)
        np.testing.assert_allclose(windows[0, : mel.shape[0]], mel[:WINDOW], rtol=1e-5, atol=1e-9)
    if n_samples == 0:
        assert not windows.any()  # nothing but zero padding
