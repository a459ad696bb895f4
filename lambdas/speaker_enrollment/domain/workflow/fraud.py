"""Screening voiceprints against a watchlist of fraudsters, and Voice ID's FraudDetectionConfig.

FraudDetectionConfig: action FAIL (default) refuses a caller whose risk reaches the threshold, IGNORE lets
everyone through (nothing is compared); without WatchlistIds the domain's default watchlist is used, without
RiskThreshold the calibrated default. The risk is the highest score (0-100) of a voiceprint against the
watchlist's fraudsters; a fraudster whose voiceprint another model made cannot be compared and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from ...voiceprint.engine import Voiceprint
from ...voiceprint.scoring import DEFAULT_FRAUD_RISK_THRESHOLD, cosines, score
from ..ports import FraudsterSource
from ..shared.fraudster import Fraudster
from ..shared.watchlist import default_watchlist_id
from .metadata import choice, choice_problem, score_of, score_problem, watchlist_id_problem, watchlist_ids_of

LOG = logging.getLogger(__name__)
FRAUD_METADATA = ("fraud-detection-action", "risk-threshold", "watchlist-id")


class FraudDetectionAction(StrEnum):
    FAIL = "FAIL"
    IGNORE = "IGNORE"


@dataclass(frozen=True)
class FraudDetectionConfig:
    action: FraudDetectionAction = FraudDetectionAction.FAIL
    risk_threshold: int | None = None
    watchlist_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"FraudDetectionAction": self.action.value}
        if self.risk_threshold is not None:
            shape["RiskThreshold"] = self.risk_threshold
        if self.watchlist_ids:
            shape["WatchlistIds"] = list(self.watchlist_ids)
        return shape

    @classmethod
    def from_api(cls, shape: Mapping[str, Any]) -> FraudDetectionConfig:
        return cls(
            action=FraudDetectionAction(shape.get("FraudDetectionAction", FraudDetectionAction.FAIL)),
            risk_threshold=int(shape["RiskThreshold"]) if shape.get("RiskThreshold") is not None else None,
            watchlist_ids=tuple(shape.get("WatchlistIds", ())),
        )

    @classmethod
    def from_upload(cls, metadata: Mapping[str, str]) -> FraudDetectionConfig | None:
        """What an upload's metadata asks for; None (the stack's defaults) without fraud metadata."""
        if not any(name in metadata for name in FRAUD_METADATA):
            return None
        return cls(
            action=choice(FraudDetectionAction, metadata.get("fraud-detection-action"), FraudDetectionAction.FAIL),
            risk_threshold=score_of(metadata.get("risk-threshold", "")),
            watchlist_ids=watchlist_ids_of(metadata),
        )


def fraud_metadata_problem(metadata: Mapping[str, str]) -> str | None:
    return (choice_problem(metadata, "fraud-detection-action", FraudDetectionAction)
            or score_problem(metadata, "risk-threshold") or watchlist_id_problem(metadata))


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

    @classmethod
    def load(cls, config: FraudDetectionConfig | None, domain_id: str, source: FraudsterSource,
             model_id: str) -> FraudScreen | None:
        """The screen a FraudDetectionConfig asks for; None with action IGNORE (nothing is compared)."""
        fraud = config or FraudDetectionConfig()
        if fraud.action is FraudDetectionAction.IGNORE:
            return None
        watchlist_id = fraud.watchlist_ids[0] if fraud.watchlist_ids else default_watchlist_id(domain_id)
        threshold = DEFAULT_FRAUD_RISK_THRESHOLD if fraud.risk_threshold is None else fraud.risk_threshold
        return cls.of_watchlist(domain_id, watchlist_id, threshold, source, model_id)

    def add(self, fraudster_id: str, voiceprint: Voiceprint) -> None:
        """Compare later voiceprints with this fraudster too (registered since the watchlist was read)."""
        row = np.asarray(voiceprint.vector, dtype=np.float32).reshape(1, -1)
        self._voiceprints = row if not self._ids else np.vstack([self._voiceprints, row])
        self._ids.append(fraudster_id)

    def match(self, voiceprint: Voiceprint) -> FraudMatch | None:
        """The fraudster closest to `voiceprint` and its risk score; None when the watchlist has none."""
        if not self._ids:
            return None
        similarity = cosines(self._voiceprints, voiceprint.vector)
        best = int(np.argmax(similarity))
        return FraudMatch(score(float(similarity[best])), self._ids[best])

    def flagged(self, voiceprint: Voiceprint) -> FraudMatch | None:
        """The match when its risk reaches the threshold, else None."""
        found = self.match(voiceprint)
        return found if found is not None and found.risk >= self.threshold else None
