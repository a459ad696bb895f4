"""What telemetry may say about an error: where it happened, never its message (messages name speakers, S3
objects and roles)."""

from __future__ import annotations

import traceback


def error_location(error: BaseException) -> list[str]:
    """The frames an error went through, innermost last: file, line and function of each."""
    return [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_tb(error.__traceback__)]
