"""Every implemented operation: name → function(services, validated request) → response body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..services import ApiServices
from . import domains, fraudsters, jobs, speakers, tags, watchlists

Operation = Callable[[ApiServices, dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Operation] = {**jobs.OPERATIONS, **domains.OPERATIONS, **speakers.OPERATIONS,
                                    **tags.OPERATIONS, **watchlists.OPERATIONS, **fraudsters.OPERATIONS}
