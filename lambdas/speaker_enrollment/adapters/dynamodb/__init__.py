"""DynamoDB adapters: jobs, speakers, domains, watchlists and fraudsters, with the conditional writes
idempotency and quotas rest on, and retries of the conflicts concurrency brings (see base.py)."""

from __future__ import annotations

from .domains import DynamoDomainStore
from .fraudsters import DynamoFraudsterStore
from .jobs import DynamoJobStore
from .sessions import DynamoSessionStore
from .speakers import DynamoSpeakerStore
from .watchlists import DynamoWatchlistStore

__all__ = ["DynamoDomainStore", "DynamoFraudsterStore", "DynamoJobStore", "DynamoSessionStore", "DynamoSpeakerStore",
           "DynamoWatchlistStore"]
