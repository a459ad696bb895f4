"""A Voice ID domain: the unit of isolation of speakers and jobs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DomainStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"


@dataclass(frozen=True)
class Domain:
    domain_id: str
    name: str
    status: DomainStatus = DomainStatus.ACTIVE
    speaker_count: int = 0
