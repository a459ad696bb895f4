"""Tags of a resource (a domain): AWS's tagging rules on top of what the model checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..shared.domain import Tags
from .errors import InvalidRequestError

MAX_TAGS = 50
RESERVED_PREFIX = "aws:"


def tagged(current: Tags, new: Sequence[tuple[str, str]]) -> Tags:
    """`current` with `new` added (a key already there gets the new value)."""
    _check_keys(key for key, _ in new)
    keys = [key for key, _ in new]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise InvalidRequestError(f"Tag keys must be unique in a request; repeated: {', '.join(duplicates)}")
    result = dict(current)
    result.update(new)
    if len(result) > MAX_TAGS:
        raise InvalidRequestError(f"A resource can have at most {MAX_TAGS} tags; this request would make "
                                  f"{len(result)}")
    return tuple(result.items())


def untagged(current: Tags, keys: Sequence[str]) -> Tags:
    """`current` without `keys` (keys that are not there are ignored)."""
    _check_keys(keys)
    removed = set(keys)
    return tuple((key, value) for key, value in current if key not in removed)


def _check_keys(keys: Iterable[str]) -> None:
    reserved = sorted({key for key in keys if key.lower().startswith(RESERVED_PREFIX)})
    if reserved:
        raise InvalidRequestError(f"Tag keys starting with '{RESERVED_PREFIX}' are reserved for AWS: "
                                  f"{', '.join(reserved)}")
