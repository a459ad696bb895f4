"""A one-line terminal progress bar (redraws in place on a terminal, prints changes otherwise)."""

from __future__ import annotations

from typing import TextIO

WIDTH = 40


class ProgressBar:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last: tuple[int, str] | None = None
        self._interactive = stream.isatty()

    def update(self, percent: int, status: str) -> None:
        if (percent, status) == self._last:
            return
        self._last = (percent, status)
        filled = WIDTH * percent // 100
        line = f"  [{'#' * filled}{'.' * (WIDTH - filled)}] {percent:3d}% {status}"
        if self._interactive:
            self._stream.write("\r" + line.ljust(WIDTH + 40))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._interactive and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()
