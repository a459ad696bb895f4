"""Reading the object metadata of a manifest upload (``x-amz-meta-*``), which stands in for the Start
operation's configuration: the checks and conversions the job kinds share."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from ..shared.ids import is_id

MAX_SCORE = 100
E = TypeVar("E", bound=StrEnum)


def choice(enum: type[E], value: str | None, default: E) -> E:
    """The enum member `value` names (any case), else `default` (check with `choice_problem` first)."""
    upper = (value or "").upper()
    return enum(upper) if upper in enum.__members__ else default


def choice_problem(metadata: Mapping[str, str], name: str, enum: type[StrEnum]) -> str | None:
    value = metadata.get(name)
    if value is not None and value.upper() not in enum.__members__:
        return f"object metadata {name} must be {' or '.join(enum.__members__)}, got '{value[:300]}'"
    return None


def score_of(value: str) -> int | None:
    """A 0-100 score (a threshold), or None when `value` is not one."""
    text = value.strip()
    return int(text) if text.isdigit() and int(text) <= MAX_SCORE else None


def score_problem(metadata: Mapping[str, str], name: str) -> str | None:
    value = metadata.get(name)
    if value is not None and score_of(value) is None:
        return f"object metadata {name} must be a whole number from 0 to 100, got '{value[:300]}'"
    return None


def watchlist_ids_of(metadata: Mapping[str, str]) -> tuple[str, ...]:
    watchlist_id = metadata.get("watchlist-id")
    return (watchlist_id,) if watchlist_id and is_id(watchlist_id) else ()


def watchlist_id_problem(metadata: Mapping[str, str]) -> str | None:
    watchlist_id = metadata.get("watchlist-id")
    if watchlist_id is not None and not is_id(watchlist_id):
        return f"object metadata watchlist-id '{watchlist_id[:300]}' must be 22 characters of [a-zA-Z0-9]"
    return None
