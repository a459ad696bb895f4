"""The enrollment's fraud check: a caller's voiceprint against the fraudsters of one watchlist.

Voice ID's EnrollmentConfig.FraudDetectionConfig: action FAIL (default) refuses a caller whose risk reaches the
threshold, IGNORE enrolls everyone (nothing is compared); without WatchlistIds the domain's default watchlist is
used, without RiskThreshold the calibrated default. The risk is the highest score (0-100) of the caller against
the watchlist's fraudsters; a fraudster whose voiceprint another model made cannot be compared and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..voiceprint.engine import Voiceprint
from ..voiceprint.scoring import DEFAULT_FRAUD_RISK_THRESHOLD, cosines, score
from .fraudster import Fraudster
from .job import FraudDetectionAction, FraudDetectionConfig
from .manifest import EnrollmentRequest, RequestError
from .ports import FraudsterSource
from .watchlist import default_watchlist_id

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class FraudMatch:
    risk: int
    fraudster_id: str


class FraudScreen:
    """The comparable fraudsters of one watchlist, loaded once per shard, and the job's threshold."""

    def __init__(self, watchlist_id: str, threshold: int, fraudsters: Sequence[Fraudster]) -> None:
        self.watchlist_id = watchlist_id
        self.threshold = threshold
        self._ids = [f.generated_fraudster_id for f in fraudsters]
        self._voiceprints = np.array([f.voiceprint for f in fraudsters], dtype=np.float32)

    @classmethod
    def of_watchlist(cls, domain_id: str, watchlist_id: str, threshold: int, source: FraudsterSource,
                     model_id: str) -> FraudScreen:
        """The watchlist's fraudsters whose voiceprints `model_id` made (the others cannot be compared)."""
        fraudsters = source.in_watchlist(domain_id, watchlist_id)
        comparable = [f for f in fraudsters if f.model_id == model_id and f.voiceprint]
        if len(comparable) < len(fraudsters):
            LOG.warning("watchlist %s: %d of %d fraudsters have voiceprints of another model than %s and are not "
                        "compared", watchlist_id, len(fraudsters) - len(comparable), len(fraudsters), model_id)
        return cls(watchlist_id, threshold, comparable)

    def add(self, fraudster_id: str, voiceprint: Voiceprint) -> None:
        """Compare later voiceprints with this fraudster too (registered since the watchlist was read)."""
        row = np.asarray(voiceprint.vector, dtype=np.float32).reshape(1, -1)
        self._voiceprints = row if not self._ids else np.vstack([self._voiceprints, row])
        self._ids.append(fraudster_id)

    @classmethod
    def load(cls, config: FraudDetectionConfig | None, domain_id: str, source: FraudsterSource,
             model_id: str) -> FraudScreen | None:
        """The screen a job's config asks for; None with action IGNORE (every caller is enrolled)."""
        fraud = config or FraudDetectionConfig()
        if fraud.action is FraudDetectionAction.IGNORE:
            return None
        watchlist_id = fraud.watchlist_ids[0] if fraud.watchlist_ids else default_watchlist_id(domain_id)
        threshold = DEFAULT_FRAUD_RISK_THRESHOLD if fraud.risk_threshold is None else fraud.risk_threshold
        return cls.of_watchlist(domain_id, watchlist_id, threshold, source, model_id)

    def match(self, voiceprint: Voiceprint) -> FraudMatch | None:
        """The fraudster closest to `voiceprint` and its risk score; None when the watchlist has none."""
        if not self._ids:
            return None
        similarity = cosines(self._voiceprints, voiceprint.vector)
        best = int(np.argmax(similarity))
        return FraudMatch(score(float(similarity[best])), self._ids[best])

    def refusal(self, request: EnrollmentRequest, voiceprint: Voiceprint) -> RequestError | None:
        """The 400 entry of a caller whose risk reaches the threshold, else None."""
        found = self.match(voiceprint)
        if found is None or found.risk < self.threshold:
            return None
        return RequestError(
            request.request_id, 400,
            f"Fraud risk {found.risk} (threshold {self.threshold}): the voice of speaker '{request.speaker_id}' "
            f"matches fraudster {found.fraudster_id} of watchlist {self.watchlist_id}; not enrolled",
        )
