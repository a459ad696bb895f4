"""Every implemented operation: name → function(services, validated request) → response body."""

from __future__ import annotations

from ..services import Operation
from . import domains, fraudsters, jobs, sessions, speakers, tags, watchlists

OPERATIONS: dict[str, Operation] = {**jobs.OPERATIONS, **domains.OPERATIONS, **speakers.OPERATIONS,
                                    **tags.OPERATIONS, **watchlists.OPERATIONS, **fraudsters.OPERATIONS,
                                    **sessions.OPERATIONS}
