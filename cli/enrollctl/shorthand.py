"""Option values as the AWS CLI takes them: JSON, or its shorthand syntax, typed by the botocore input shape.

Shorthand: ``Key=value,Other=value``; nested ``Key={Inner=value}``, lists ``Key=[a,b]``; quote a value that
holds ``,{}[]`` with ``'...'`` or ``"..."``. A value starting with ``{`` or ``[`` is JSON, as in the AWS CLI.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import Shape

SCALAR_TYPES = ("string", "integer", "long", "float", "double", "boolean", "timestamp", "blob")
QUOTES = "'\""
STOPS = ",]}"


class ParameterError(ValueError):
    """A value that is neither valid JSON nor valid shorthand for its shape."""


class _Reader:
    """Recursive descent over one shorthand string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def structure(self, closing: str = "") -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            self._skip_spaces()
            if closing and self._peek() == closing:
                return result
            key = self._until("=").strip()
            if not key:
                raise self._error("a key")
            self._expect("=")
            result[key] = self.value()
            self._skip_spaces()
            if self._peek() != ",":
                return result
            self.pos += 1

    def value(self) -> Any:
        self._skip_spaces()
        char = self._peek()
        if char == "{":
            self.pos += 1
            nested = self.structure(closing="}")
            self._expect("}")
            return nested
        if char == "[":
            return self._list()
        if char and char in QUOTES:
            return self._quoted(char)
        return self._until(STOPS).strip()

    def _list(self) -> list[Any]:
        self._expect("[")
        items: list[Any] = []
        self._skip_spaces()
        while self._peek() != "]":
            items.append(self.value())
            self._skip_spaces()
            if self._peek() == ",":
                self.pos += 1
            elif self._peek() != "]":
                raise self._error("',' or ']'")
        self.pos += 1
        return items

    def _quoted(self, quote: str) -> str:
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self._error(f"a closing {quote}")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def _until(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start : self.pos]

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_spaces(self) -> None:
        while self._peek().isspace():
            self.pos += 1

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._error(f"'{char}'")
        self.pos += 1

    def end(self) -> None:
        self._skip_spaces()
        if self.pos < len(self.text):
            raise self._error("the end of the value (or ',')")

    def _error(self, expected: str) -> ParameterError:
        received = repr(self.text[self.pos]) if self.pos < len(self.text) else "EOF"
        return ParameterError(
            f"Expected: {expected}, received: {received} for input:\n{self.text}\n{' ' * self.pos}^"
        )


def parse_shorthand(text: str) -> dict[str, Any]:
    """``S3Uri=s3://b/k,KmsKeyId=alias/x`` → ``{"S3Uri": "s3://b/k", "KmsKeyId": "alias/x"}`` (all strings)."""
    reader = _Reader(text)
    result = reader.structure()
    reader.end()
    return result


def is_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"Invalid JSON: {error}\nJSON received: {text}") from None


def structure_value(text: str, shape: Shape) -> Any:
    """One structure (or map) argument: JSON as is, shorthand typed by ``shape``."""
    if is_json(text):
        return parse_json(text)
    return coerce(parse_shorthand(text), shape)


def list_value(items: list[str], shape: Shape) -> list[Any]:
    """A list argument (``nargs='+'``): one JSON list, or one JSON / shorthand / scalar per item."""
    if len(items) == 1 and items[0].lstrip().startswith("["):
        value = parse_json(items[0])
        return value if isinstance(value, list) else [value]
    member = shape.member
    if member.type_name in SCALAR_TYPES:
        return [coerce(item, member) for item in items]
    return [structure_value(item, member) for item in items]


def coerce(value: Any, shape: Shape) -> Any:
    """Shorthand strings to the types of ``shape``; what does not fit is left for botocore's validation."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: coerce(item, members[key]) if key in members else item for key, item in value.items()}
    if kind == "map" and isinstance(value, dict):
        return {key: coerce(item, shape.value) for key, item in value.items()}
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [coerce(item, shape.member) for item in items]
    if isinstance(value, str):
        return _scalar(value, kind)
    return value


def _scalar(text: str, kind: str) -> Any:
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise ParameterError(f"Invalid {kind} value: {text!r}") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ParameterError(f"Invalid boolean value: {text!r} (true or false)")
        return text.lower() == "true"
    return text
