"""Plain helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from enrollctl import samples
from speaker_enrollment.adapters.codecs import pack_voiceprint
from speaker_enrollment.voiceprint.audio import Speech
from speaker_enrollment.voiceprint.engine import Voiceprint

FloatArray = npt.NDArray[np.float32]
SpeechOf = Callable[[str, float, int], Speech]  # the speech_of fixture: (voice, seconds, part) → Speech
VoiceprintOf = Callable[[str, float, int], Voiceprint]  # the voiceprint_of fixture
GOLDEN_DIR = Path(__file__).parent / "golden"

# Recordings the format and CLI tests share: long enough for a stable voiceprint, short enough to be fast.
SHORT_SECONDS = 10.0
SHORT_PART = 2  # parts 0 and 1 are the accuracy tests' enrolment and test speech


def recording(voice: str, seconds: float, part: int = 0) -> FloatArray:
    """Real speech of one voice (float32, 8 kHz, mono); fails the test if the prompts are missing."""
    try:
        return samples.recording(voice, seconds, part)
    except samples.SpeechNotInstalledError as exc:
        pytest.fail(f"real speech is not installed: {exc}", pytrace=False)


def pcm16_wav(audio: FloatArray, rate: int = samples.RATE) -> bytes:
    """A PCM16 WAV of mono (1-D) or multi-channel (frames × channels) samples."""
    return samples.wav_bytes(audio, rate, "PCM_16", "WAV")


def cos(a: FloatArray, b: FloatArray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@cache
def golden() -> dict[str, Any]:
    """tests/golden/voiceprints.json, written by tools/make_golden.py from resemblyzer itself."""
    data: dict[str, Any] = json.loads((GOLDEN_DIR / "voiceprints.json").read_text())
    return data


def release_n_speakers_table() -> dict[str, Any]:
    """The Speakers table resource of the releases before the keys-only index (tests/golden: copied from their
    synthesized template), whose one index ``GeneratedSpeakerId`` projects every attribute."""
    table: dict[str, Any] = json.loads((GOLDEN_DIR / "speakers_table_release_n.json").read_text())
    return table


def plaintext_voiceprints(dynamodb: Any, tables: Iterable[str], vectors: Iterable[tuple[float, ...]]) -> list[str]:
    """``table:attribute`` of every item attribute, in any table, that holds a voiceprint in plaintext: the old
    ``Voiceprint`` attribute, or a binary value containing one of `vectors` packed as the stores packed them."""
    packed = [p for p in (pack_voiceprint(v) for v in vectors) if p]
    found = []
    for table in tables:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                for name, value in item.items():
                    blob = value.get("B")
                    if name == "Voiceprint" or (blob is not None and any(p in bytes(blob) for p in packed)):
                        found.append(f"{table}:{name}")
    return found


def execution_ended(described: Mapping[str, Any]) -> bool:
    """A DescribeExecution answer of an execution that has ended with its output recorded: moto sets SUCCEEDED a
    moment before it writes the output (AWS records both at once), so a poll can see the status without it."""
    if described["status"] == "RUNNING":
        return False
    return described["status"] != "SUCCEEDED" or "output" in described
