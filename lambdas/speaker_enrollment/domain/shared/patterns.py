"""Input formats as whole-string regular expressions.

Python's ``$`` also matches before a trailing newline, so ``^[a-z]+$`` accepts ``'alice\\n'``, and ``re.match``
anchors only the start. A format compiled by ``whole`` is anchored with ``\\A`` and ``\\Z``: it accepts the entire
value or nothing, whichever method tests it; call sites use ``fullmatch`` to say so.
"""

from __future__ import annotations

import re


def whole(pattern: str) -> re.Pattern[str]:
    """`pattern` (written without anchors) matching only an entire string."""
    return re.compile(rf"\A(?:{pattern})\Z")
