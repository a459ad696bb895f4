"""The model's regular expressions (Java / ECMAScript flavour) as Python ``re`` patterns.

Two differences matter: ``\\p{L}``, ``\\p{N}``, ``\\p{Z}`` and ``\\p{ASCII}`` (Python's ``re`` has no Unicode
property classes; they are expanded from ``unicodedata``, lazily, once per category) and ``$`` (in Python it
also matches before a trailing newline; ``\\Z`` does not).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

_PROPERTY = re.compile(r"\\p\{(\w+)\}")


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern))


def translate(pattern: str) -> str:
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            prop = _PROPERTY.match(pattern, i)
            if prop:
                body = _property_class(prop.group(1))
                out.append(body if in_class else f"[{body}]")
                i = prop.end()
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(r"\Z" if char == "$" and not in_class else char)
        i += 1
    return "".join(out)


def _property_class(name: str) -> str:
    if name == "ASCII":
        return r"\x00-\x7f"
    if name in ("L", "N", "Z", "P", "S", "M", "C"):
        return _category_ranges(name)
    raise ValueError(f"unsupported Unicode property \\p{{{name}}}")


def _category_ranges(major: str) -> str:
    """A character-class body matching every code point whose general category starts with `major`."""
    return "".join(rf"\U{a:08x}" if a == b else rf"\U{a:08x}-\U{b:08x}" for a, b in _ranges_by_category()[major])


@cache
def _ranges_by_category() -> dict[str, list[tuple[int, int]]]:
    """Code point ranges per major general category, in one pass over Unicode (~0.2 s, once)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for code in range(sys.maxunicode + 1):
        spans = ranges.setdefault(unicodedata.category(chr(code))[0], [])
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return ranges
