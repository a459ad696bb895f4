"""The cosine → 0–100 score map (voiceprint/scoring.py): its measured anchors, its shape, and the defaults on its
scale. The anchors come from ``python -m bench.calibrate``; a change of them is a recalibration and shows here."""

from __future__ import annotations

import numpy as np
import pytest
from speaker_enrollment.voiceprint.scoring import (
    ACCEPTANCE_COSINE,
    DEFAULT_ACCEPTANCE_THRESHOLD,
    DEFAULT_FRAUD_RISK_THRESHOLD,
    DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD,
    SCORE_ANCHORS,
    WATCHLIST_EQUAL_ERROR_COSINE,
    ZERO_COSINE,
    score,
)


def test_the_anchors_are_the_calibrated_cosines_and_score_what_they_name() -> None:
    assert SCORE_ANCHORS == ((ZERO_COSINE, 0.0), (WATCHLIST_EQUAL_ERROR_COSINE, 50.0), (ACCEPTANCE_COSINE, 90.0),
                             (1.0, 100.0))
    assert (ZERO_COSINE, WATCHLIST_EQUAL_ERROR_COSINE, ACCEPTANCE_COSINE) == (0.725, 0.862, 0.873)
    assert [score(cosine) for cosine, _ in SCORE_ANCHORS] == [0, 50, 90, 100]


def test_the_defaults_sit_on_the_anchors() -> None:
    assert DEFAULT_ACCEPTANCE_THRESHOLD == score(ACCEPTANCE_COSINE) == 90  # Voice ID's AcceptanceThreshold
    assert DEFAULT_FRAUD_RISK_THRESHOLD == score(WATCHLIST_EQUAL_ERROR_COSINE) == 50  # "near 50"
    assert DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD == DEFAULT_ACCEPTANCE_THRESHOLD


@pytest.mark.parametrize(("cosine", "expected"), [
    ((ZERO_COSINE + WATCHLIST_EQUAL_ERROR_COSINE) / 2, 25),
    ((WATCHLIST_EQUAL_ERROR_COSINE + ACCEPTANCE_COSINE) / 2, 70),
    ((ACCEPTANCE_COSINE + 1.0) / 2, 95),
    (ACCEPTANCE_COSINE - 0.001, 86),  # the steep middle: 0.001 below the acceptance cosine is 4 points
    (WATCHLIST_EQUAL_ERROR_COSINE - 0.002, 49),
    (0.96, 97),  # a typical genuine 10 s call
    (0.72, 0),  # a typical other person
    (-1.0, 0),
    (0.99995, 100),  # the same audio read twice
])
def test_linear_between_the_anchors(cosine: float, expected: int) -> None:
    assert score(cosine) == expected
    assert isinstance(score(cosine), int)


def test_monotone_from_0_to_100_and_every_score_is_reached() -> None:
    values = [score(float(c)) for c in np.linspace(-1.0, 1.0, 40_001)]
    assert values == sorted(values)
    assert (values[0], values[-1]) == (0, 100)
    assert set(values) == set(range(101))


def test_acceptance_threshold_90_accepts_from_the_acceptance_cosine() -> None:
    assert score(ACCEPTANCE_COSINE) >= DEFAULT_ACCEPTANCE_THRESHOLD > score(ACCEPTANCE_COSINE - 0.0005)
    assert score(WATCHLIST_EQUAL_ERROR_COSINE) >= DEFAULT_FRAUD_RISK_THRESHOLD > score(
        WATCHLIST_EQUAL_ERROR_COSINE - 0.002)
