"""One validator for every operation: the request walked against botocore's input shape.

Checks what the model says (required members, types, string and list lengths, patterns, enums, integer
ranges) and reports every problem in one ValidationException, naming each field by its path
(``EnrollmentConfig.FraudDetectionConfig.RiskThreshold``, ``Tags[2].Key``), in AWS's wording. Values of
sensitive members are never echoed. Members the model does not know are ignored, as AWS services do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from .errors import ValidationException
from .patterns import compiled

MAX_ECHOED = 100


def check_request(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every way `params` breaks `shape`."""
    if shape is None:
        return
    problems = _Walker().walk(shape, params, "")
    if problems:
        count = len(problems)
        raise ValidationException(f"{count} validation error{'s' if count > 1 else ''} detected: "
                                  + "; ".join(problems))


class _Walker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self._checks: dict[str, Callable[[Shape, Any, str], None]] = {
            "structure": self._structure, "list": self._list, "map": self._map, "string": self._string,
            "integer": self._integer, "long": self._integer, "float": self._number, "double": self._number,
            "boolean": self._boolean, "timestamp": self._number, "blob": self._blob,
        }

    def walk(self, shape: Shape, value: Any, path: str) -> list[str]:
        self._checks.get(shape.type_name, _ignore)(shape, value, path)
        return self.problems

    def _fail(self, shape: Shape, value: Any, path: str, constraint: str) -> None:
        where = path or "request"
        if shape.metadata.get("sensitive") or isinstance(value, dict | list):
            self.problems.append(f"Value at '{where}' failed to satisfy constraint: {constraint}")
            return
        shown = str(value)
        shown = shown if len(shown) <= MAX_ECHOED else shown[:MAX_ECHOED] + "..."
        self.problems.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: {constraint}")

    def _structure(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self._fail(shape, value, path, "Member must be a structure (JSON object)")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                self.problems.append(f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                                     "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                self.walk(member, value[name], _join(path, name))

    def _list(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self._fail(shape, value, path, "Member must be a list")
            return
        self._length(shape, value, path)
        for index, item in enumerate(value):
            self.walk(shape.member, item, f"{path}[{index}]")

    def _map(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self._fail(shape, value, path, "Member must be a map (JSON object)")
            return
        self._length(shape, value, path)
        for key, item in value.items():
            self.walk(shape.key, key, f"{path}.{key}")
            self.walk(shape.value, item, f"{path}.{key}")

    def _string(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self._fail(shape, value, path, "Member must be a string")
            return
        self._length(shape, value, path)
        pattern = shape.metadata.get("pattern")
        if pattern and not compiled(pattern).search(value):
            self._fail(shape, value, path, f"Member must satisfy regular expression pattern: {pattern}")
        if shape.enum and value not in shape.enum:
            self._fail(shape, value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")

    def _length(self, shape: Shape, value: str | list[Any] | dict[str, Any], path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            self._fail(shape, value, path, f"Member must have length greater than or equal to {low}")
        if high is not None and len(value) > high:
            self._fail(shape, value, path, f"Member must have length less than or equal to {high}")

    def _integer(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(shape, value, path, "Member must be an integer")
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self._fail(shape, value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self._fail(shape, value, path, f"Member must have value less than or equal to {high}")

    def _number(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(shape, value, path, "Member must be a number")

    def _boolean(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self._fail(shape, value, path, "Member must be a boolean")

    def _blob(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self._fail(shape, value, path, "Member must be a base64-encoded string")


def _ignore(shape: Shape, value: Any, path: str) -> None:
    """Shapes the Voice ID model does not use in requests (documents, unions...): nothing to check."""


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
