"""Our torch-free engine gives resemblyzer's own voiceprints (golden data from tools/make_golden.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from enrollctl import samples
from helpers import FloatArray, cos, golden, pcm16_wav, recording
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.features import mel_windows
from speaker_enrollment.voiceprint.model import MODEL_ARTIFACT, MODEL_ID

REGENERATE = "the golden data no longer fits its recipe: regenerate it with .venv-ref/bin/python tools/make_golden.py"


def recipe_audio(recipe: dict[str, Any]) -> FloatArray:
    """The recipe's 8 kHz recording, built exactly as tools/make_golden.py builds it."""
    speech = recording(recipe["voice"], recipe["seconds"], recipe["part"])
    gap = np.zeros(round(recipe["gap_seconds"] * samples.RATE), dtype=np.float32)
    half = speech.size // 2
    return np.concatenate([speech[:half], gap, speech[half:]]).astype(np.float32)


def recipe_id(case: dict[str, Any]) -> str:
    recipe = case["recipe"]
    return f"{recipe['voice']}-{recipe['seconds']:g}s-part{recipe['part']}-gap{recipe['gap_seconds']:g}s"


CASES = golden()["voiceprints"]


def test_golden_data_comes_from_the_checkpoint_our_model_was_built_from() -> None:
    with np.load(MODEL_ARTIFACT, allow_pickle=False) as weights:
        assert str(weights["source_sha256"]) == golden()["checkpoint_sha256"]
    assert golden()["model_id"] == MODEL_ID
    assert len(CASES) >= 3


@pytest.mark.parametrize("case", CASES, ids=recipe_id)
def test_voiceprint_equals_resemblyzer(engine: VoiceprintEngine, case: dict[str, Any]) -> None:
    audio = recipe_audio(case["recipe"])
    assert audio.size == case["input_samples_8k"], REGENERATE

    speech = engine.speech(pcm16_wav(audio), "golden.wav")
    # The silence trimming is pinned to resemblyzer's trim_long_silences, sample for sample.
    assert speech.samples.size == case["trimmed_samples_16k"]
    assert mel_windows(speech.samples).shape[0] == case["windows"]

    voiceprint = engine.voiceprint([speech])
    reference: FloatArray = np.array(case["voiceprint"], dtype=np.float32)
    assert voiceprint.model_id == MODEL_ID
    assert voiceprint.vector.shape == reference.shape == (256,)
    assert 1.0 - cos(voiceprint.vector, reference) <= 1e-5
    np.testing.assert_allclose(voiceprint.vector, reference, atol=2e-5)


def test_golden_voiceprints_tell_the_voices_apart() -> None:
    """Guards the golden data itself: the recipes are different people, so their prints differ."""
    vectors = [np.array(case["voiceprint"], dtype=np.float32) for case in CASES]
    for i, a in enumerate(vectors):
        assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
        for b in vectors[i + 1 :]:
            assert cos(a, b) < 0.9
