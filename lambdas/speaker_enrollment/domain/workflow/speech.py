"""Gathering a request's speech, shared by every kind of job.

Voice ID pools the speech of all files of one request and requires at least 30 s of net speech (400
otherwise); a file that cannot be fetched or decoded is a 400 too. Files are read in the manifest's order and
reading stops once the request has `max_speech_seconds` of speech: more would cost time, not accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...voiceprint.audio import AudioError
from ..ports import AudioSource, Embedder, SpeechPool
from ..shared.errors import AudioFetchError
from .manifest import AudioSpecification, ManifestRequest
from .results import RequestError

MIN_NET_SPEECH_SECONDS = 30.0


class OutOfTime(Exception):
    """The invocation must stop before reading the request's next file; `files_read` of them were read."""

    def __init__(self, files_read: int) -> None:
        super().__init__(f"stopped after {files_read} file(s)")
        self.files_read = files_read


@dataclass(frozen=True)
class SpeechGathering:
    audio: AudioSource
    engine: Embedder
    max_file_bytes: int
    max_speech_seconds: float
    min_net_speech_seconds: float = MIN_NET_SPEECH_SECONDS

    def gather(self, index: int, request: ManifestRequest, pool: SpeechPool,
               time_is_up: Callable[[], bool] = lambda: False) -> RequestError | None:
        """Put the request's speech into `pool` under `index`; the 400 entry (and nothing pooled) when refused.

        Each file goes into the pool as soon as its speech is found, so only one recording is held at a time
        (ten 20 MB files would otherwise hold ~800 MB of speech). `time_is_up` is asked before each file after
        the first: when it says so, nothing stays pooled and OutOfTime is raised."""
        found: list[tuple[str, float]] = []
        try:
            for spec in request.audio:
                if sum(seconds for _, seconds in found) >= self.max_speech_seconds:
                    break
                if found and time_is_up():
                    raise OutOfTime(len(found))
                found.append(self._add_speech(index, spec, pool))
        except (AudioFetchError, AudioError) as exc:
            pool.discard(index)
            return RequestError(request.request_id, 400, f"Audio problem: {exc}")
        except OutOfTime:
            pool.discard(index)
            raise
        return self._enough(index, request, found, pool)

    def _enough(self, index: int, request: ManifestRequest, found: list[tuple[str, float]], pool: SpeechPool
                ) -> RequestError | None:
        net = sum(seconds for _, seconds in found)
        if net >= self.min_net_speech_seconds:
            return None
        pool.discard(index)
        files = "; ".join(f"{source}: {seconds:.1f} s" for source, seconds in found)
        return RequestError(
            request.request_id, 400,
            f"Not enough speech: {net:.1f} s of net speech found in {len(found)} file(s) ({files}); "
            f"at least {self.min_net_speech_seconds:.0f} s is required",
        )

    def _add_speech(self, index: int, spec: AudioSpecification, pool: SpeechPool) -> tuple[str, float]:
        """Fetch one file, add its speech to the pool; returns (source, net speech seconds)."""
        data = self.audio.fetch(spec.s3_uri, self.max_file_bytes)
        speech = self.engine.speech(data, f"{spec.s3_uri} (channel {spec.channel_id})", spec.channel_id)
        pool.add(index, speech)
        return speech.source, speech.net_speech_seconds
