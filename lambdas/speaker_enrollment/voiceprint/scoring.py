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


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def score(cos: float, equal_error_cosine: float = EQUAL_ERROR_COSINE) -> int:
    """Map a cosine to 0–100 with 50 at the equal-error cosine."""
    span = 1.0 - equal_error_cosine
    return round(min(100.0, max(0.0, 50.0 + 50.0 * (cos - equal_error_cosine) / span)))
