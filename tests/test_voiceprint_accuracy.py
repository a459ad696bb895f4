"""Voiceprints tell people apart on real telephone speech (30 s per voiceprint, as enrolment uses).

Every voice gives two 30 s recordings with no prompt in common (parts 0 and 1: same person, other
words). Measured on this data: same person ≥ 0.95 (scores ≥ 96), different people ≤ 0.862 (scores ≤ 50), the
one person recorded in two languages (allison-en / allison-es) 0.906–0.920. A 10 s call (part 2) against the 30 s
enrolment (part 0) is authentication as Voice ID did it, at its default AcceptanceThreshold 90.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from enrollctl import samples
from helpers import SHORT_PART, SHORT_SECONDS, SpeechOf, cos, pcm16_wav, recording
from speaker_enrollment.voiceprint.audio import Speech
from speaker_enrollment.voiceprint.engine import Voiceprint, VoiceprintEngine
from speaker_enrollment.voiceprint.model import MODEL_ID
from speaker_enrollment.voiceprint.scoring import DEFAULT_ACCEPTANCE_THRESHOLD, score

SECONDS = 30.0
VOICES = tuple(samples.VOICES)
PARTS = (0, 1)
CODECS = ("PCM_16", "GSM610")  # a call as recorded, and through a GSM 6.10 network


@dataclass(frozen=True)
class Trial:
    a: tuple[str, int]
    b: tuple[str, int]
    cosine: float

    def __str__(self) -> str:
        return f"{self.a[0]}/part{self.a[1]} vs {self.b[0]}/part{self.b[1]}: {self.cosine:.4f}"


@dataclass(frozen=True)
class Matrix:
    speeches: dict[tuple[str, int], Speech]
    prints: dict[tuple[str, int], Voiceprint]

    def trials(self) -> list[Trial]:
        return [
            Trial(a, b, cos(self.prints[a].vector, self.prints[b].vector))
            for a, b in itertools.combinations(sorted(self.prints), 2)
        ]

    def same_voice(self) -> list[Trial]:
        return [t for t in self.trials() if t.a[0] == t.b[0]]

    def different_people(self) -> list[Trial]:
        person = {key: voice.person for key, voice in samples.VOICES.items()}
        return [t for t in self.trials() if person[t.a[0]] != person[t.b[0]]]

    def cross_language(self) -> list[Trial]:
        return [t for t in self.trials() if {t.a[0], t.b[0]} == {"allison-en", "allison-es"}]


@pytest.fixture(scope="module")
def matrix(engine: VoiceprintEngine) -> Matrix:
    keys = [(voice, part) for voice in VOICES for part in PARTS]
    speeches = {
        (voice, part): engine.speech(pcm16_wav(recording(voice, SECONDS, part)), f"{voice}-part{part}.wav")
        for voice, part in keys
    }
    prints = engine.voiceprints([[speeches[key]] for key in keys])  # one batch for all
    return Matrix(speeches, dict(zip(keys, prints, strict=True)))


def test_every_voiceprint_is_a_unit_vector_of_the_model(matrix: Matrix) -> None:
    for key, voiceprint in matrix.prints.items():
        assert voiceprint.model_id == MODEL_ID
        assert voiceprint.vector.shape == (256,), key
        assert voiceprint.vector.dtype == np.float32, key
        assert abs(float(np.linalg.norm(voiceprint.vector)) - 1.0) < 1e-5, key
        assert voiceprint.net_speech_seconds >= 15.0, f"{key}: too little speech kept for the test"


def test_same_person_other_words_scores_well_above_different_people(matrix: Matrix) -> None:
    same = min(matrix.same_voice(), key=lambda t: t.cosine)
    different = max(matrix.different_people(), key=lambda t: t.cosine)
    assert len(matrix.same_voice()) == len(VOICES)
    assert same.cosine - different.cosine >= 0.05, f"lowest same person {same}, highest different people {different}"


def test_one_person_in_two_languages_is_still_closer_than_different_people(matrix: Matrix) -> None:
    lowest = min(t.cosine for t in matrix.cross_language())
    highest_different = max(t.cosine for t in matrix.different_people())
    assert len(matrix.cross_language()) == 4
    assert lowest > highest_different + 0.02


def test_each_test_recording_is_identified_as_its_own_voice(matrix: Matrix) -> None:
    """Closed-set identification: part 1 of every voice is nearest to that voice's part 0."""
    for voice in VOICES:
        probe = matrix.prints[voice, 1].vector
        nearest = max(VOICES, key=lambda enrolled: cos(probe, matrix.prints[enrolled, 0].vector))
        assert nearest == voice


def test_scores_say_same_speaker_only_for_the_same_person(matrix: Matrix) -> None:
    same_scores = {str(t): score(t.cosine) for t in matrix.same_voice()}
    different_scores = {str(t): score(t.cosine) for t in matrix.different_people()}
    assert all(s >= DEFAULT_ACCEPTANCE_THRESHOLD for s in same_scores.values()), same_scores
    assert all(s < DEFAULT_ACCEPTANCE_THRESHOLD for s in different_scores.values()), different_scores
    # Score 50 is the watchlist's equal-error point, so a few different-people pairs may reach it, never the
    # same-person range, and the bulk stays far below.
    at_or_above_50 = [trial for trial, s in different_scores.items() if s >= 50]
    assert len(at_or_above_50) <= 0.05 * len(different_scores), at_or_above_50
    assert max(different_scores.values()) < min(same_scores.values()) - 20
    assert float(np.median(list(different_scores.values()))) < 25


@pytest.fixture(scope="module")
def calls(engine: VoiceprintEngine) -> dict[tuple[str, str], Voiceprint]:
    """(voice, codec) → the voiceprint of a 10 s call: words the enrolment never had, as a PCM16 or GSM 6.10 WAV."""
    keys = [(voice, codec) for voice in VOICES for codec in CODECS]
    speeches = [engine.speech(samples.wav_bytes(recording(voice, SHORT_SECONDS, SHORT_PART), subtype=codec),
                              f"{voice}-call-{codec}.wav") for voice, codec in keys]
    return dict(zip(keys, engine.voiceprints([[speech] for speech in speeches]), strict=True))


def test_acceptance_threshold_90_lets_each_caller_in_and_other_people_not(
    matrix: Matrix, calls: dict[tuple[str, str], Voiceprint]
) -> None:
    """Voice ID's default AcceptanceThreshold 90: every voice's 10 s call, clean or through GSM 6.10, scores >= 90
    against its own 30 s enrolment (lowest: carlo-it, 91 both ways); against another person's enrolment it scores
    < 90, but for at most 1 % of the trials, the calibration's false accept target (here 1 of 108: ivr-ru's clean
    call against allison-es, the closest two voices of the data, 91)."""
    person = {key: voice.person for key, voice in samples.VOICES.items()}
    genuine = {key: score(cos(matrix.prints[key[0], 0].vector, call.vector)) for key, call in calls.items()}
    impostor = {(enrolled, *key): score(cos(matrix.prints[enrolled, 0].vector, call.vector))
                for key, call in calls.items() for enrolled in VOICES if person[enrolled] != person[key[0]]}
    assert all(s >= DEFAULT_ACCEPTANCE_THRESHOLD for s in genuine.values()), genuine
    assert float(np.median(list(genuine.values()))) >= 95
    accepted = {trial: s for trial, s in impostor.items() if s >= DEFAULT_ACCEPTANCE_THRESHOLD}
    assert len(impostor) == 108  # 8 calls × 2 codecs × the other 6-7 voices
    assert len(accepted) <= 0.01 * len(impostor), accepted
    assert float(np.median(list(impostor.values()))) < 25


# ----------------------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("voice", ["carlo-it", "menardi-it"])
def test_two_halves_pooled_equal_the_whole_recording(engine: VoiceprintEngine, matrix: Matrix, voice: str) -> None:
    """An enrolment from two 15 s files is (nearly) the voiceprint of one 30 s file of the same speech."""
    whole = recording(voice, SECONDS, 0)
    half = whole.size // 2
    first = engine.speech(pcm16_wav(whole[:half]), "first.wav")
    second = engine.speech(pcm16_wav(whole[half:]), "second.wav")

    requests = [[first, second], [second, first], [first], [second]]
    pooled, swapped, first_alone, second_alone = engine.voiceprints(requests)
    reference = matrix.prints[voice, 0]
    pooled_cosine = cos(pooled.vector, reference.vector)
    assert pooled_cosine > 0.995
    for alone in (first_alone, second_alone):  # pooling uses both files: closer than either half on its own
        assert cos(alone.vector, reference.vector) < pooled_cosine

    assert pooled.net_speech_seconds == round(first.net_speech_seconds + second.net_speech_seconds, 2)
    assert pooled.net_speech_seconds == pytest.approx(matrix.speeches[voice, 0].net_speech_seconds, abs=0.3)
    assert pooled.model_id == MODEL_ID
    np.testing.assert_allclose(swapped.vector, pooled.vector, atol=1e-6)  # the order of the files does not matter


def test_batched_requests_do_not_mix(engine: VoiceprintEngine, speech_of: SpeechOf) -> None:
    """voiceprints() shares encoder batches across requests; results equal one request at a time,
    also when the batch is so small that a recording's windows straddle batches."""
    requests = [
        [speech_of("allison-en", 10.0, 2)],
        [speech_of("carlo-it", 10.0, 2), speech_of("carlo-it", 5.0, 3)],
        [speech_of("ivr-ru", 5.0, 3)],
    ]
    tiny_batches = VoiceprintEngine(encoder=engine.encoder, batch_windows=7, threads=1)
    batched = tiny_batches.voiceprints(requests)
    assert len(batched) == len(requests)
    for request, voiceprint in zip(requests, batched, strict=True):
        alone = engine.voiceprint(request)
        np.testing.assert_allclose(voiceprint.vector, alone.vector, atol=1e-5)
        assert voiceprint.net_speech_seconds == alone.net_speech_seconds
    assert cos(batched[0].vector, batched[1].vector) < 0.9  # different people stay different
