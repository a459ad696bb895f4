"""Pages of a listing: the items and where the next page starts (an opaque, store-specific position)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_position: str | None = None  # None on the last page


@dataclass(frozen=True)
class Erased:
    """A page of deletions: how many items went, and where the next page starts (None: nothing left)."""

    count: int
    next_position: str | None = None


def newest_first(
    items: Sequence[T], key: Callable[[T], tuple[float, str]], limit: int, after: str | None
) -> Page[T]:
    """One page of `items` sorted by `key` descending, starting after the position `after`.

    The position is the key of the last item handed out, so items added meanwhile never shift a page.
    """
    ordered = sorted(items, key=key, reverse=True)
    if after is not None:
        cursor = _cursor(after)
        ordered = [item for item in ordered if key(item) < cursor]
    page = ordered[:limit]
    more = len(ordered) > limit
    return Page(page, json.dumps(list(key(page[-1]))) if more else None)


def _cursor(position: str) -> tuple[float, str]:
    try:
        at, ident = json.loads(position)
        return float(at), str(ident)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad page position {position!r}") from exc
