"""Similarity of two voiceprints: the cosine, and Voice ID's 0–100 score.

The score is linear in the cosine, 50 at the equal-error cosine measured on real telephone speech
(``bench/calibrate.py``), 100 at identical voiceprints, 0 as far below the equal-error point as
100 is above it. Scores above 50 mean "more likely the same speaker than not" at equal error rates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EQUAL_ERROR_COSINE = 0.85


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def score(cos: float, equal_error_cosine: float = EQUAL_ERROR_COSINE) -> int:
    """Map a cosine to 0–100 with 50 at the equal-error cosine."""
    span = 1.0 - equal_error_cosine
    return int(round(min(100.0, max(0.0, 50.0 + 50.0 * (cos - equal_error_cosine) / span))))
