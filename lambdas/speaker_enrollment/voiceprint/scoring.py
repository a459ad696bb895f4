"""Similarity of two voiceprints: the cosine, and Voice ID's 0–100 score.

The score is linear in the cosine, 50 at the equal-error cosine measured on real telephone speech
(``bench/calibrate.py``), 100 at identical voiceprints, 0 as far below the equal-error point as
100 is above it. Scores above 50 mean "more likely the same speaker than not" at equal error rates.

EQUAL_ERROR_COSINE is the EER cosine of 30 s enrolment vs 10 s test (0.859, EER 1.7%; pooled with
30 s tests and GSM 6.10 10 s tests 0.857, EER 1.3%), measured by ``.venv/bin/python -m
bench.calibrate`` on 8 voices / 7 people of Asterisk prompts (studio speech; real calls score lower).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EQUAL_ERROR_COSINE = 0.86
# FraudDetectionConfig.RiskThreshold when a job gives none. ``bench.calibrate``'s watchlist measurement (10 s
# callers, clean + GSM 6.10, 576 innocent and 576 fraudster calls against 6-7 enrolled fraudsters, risk = highest
# score): threshold 50 gives 7.8% false alarms / 1.6% misses, 60 gives 0.0% / 6.2%, 70 gives 0.0% / 12.5%;
# 60 has the lowest false alarm + miss and is the default it recommends.
DEFAULT_FRAUD_RISK_THRESHOLD = 60
# RegistrationConfig.FraudsterSimilarityThreshold when a job gives none: the same score scale and the same
# operating point. Wrongly taking a new fraudster for a registered one (SKIP) loses that fraudster, so false
# matches must stay rare: 60 measured 0.0% for 10 s callers, and registrations (>= 30 s of speech each) score a
# different voice lower still. A missed duplicate only registers a fraudster twice; same-voice 30 s-vs-30 s
# scores are higher than the calibration's 10 s callers, so misses are rarer than its 6.2%.
DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD = DEFAULT_FRAUD_RISK_THRESHOLD


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def cosines(matrix: npt.NDArray[np.float32], vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """The cosine of `vector` with each row of `matrix`."""
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(vector)
    return np.asarray(matrix @ vector, dtype=np.float64) / norms


def score(cos: float, equal_error_cosine: float = EQUAL_ERROR_COSINE) -> int:
    """Map a cosine to 0–100 with 50 at the equal-error cosine."""
    span = 1.0 - equal_error_cosine
    return round(min(100.0, max(0.0, 50.0 + 50.0 * (cos - equal_error_cosine) / span)))
