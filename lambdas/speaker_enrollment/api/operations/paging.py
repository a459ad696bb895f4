"""The shared part of every List operation: MaxResults (default: the model's maximum) and NextToken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ...domain.shared.paging import Page
from ..model import operation_model
from ..services import ApiServices

T = TypeVar("T")
Fetch = Callable[[int, str | None], Page[T]]


def listing(
    services: ApiServices, operation: str, params: dict[str, Any], fetch: Fetch[T]
) -> tuple[list[T], str | None]:
    """One page of items and the NextToken of the next one (None on the last page)."""
    token = params.get("NextToken")
    after = services.tokens.open(operation, params, token) if token else None
    page = fetch(int(params.get("MaxResults") or _max_results(operation)), after)
    if page.next_position is None:
        return page.items, None
    return page.items, services.tokens.issue(operation, params, page.next_position)


def _max_results(operation: str) -> int:
    model = operation_model(operation)
    assert model is not None and model.input_shape is not None
    return int(model.input_shape.members["MaxResults"].metadata["max"])
