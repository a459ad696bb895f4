"""Gathering a request's speech, shared by every kind of job.

Voice ID pools the speech of all files of one request and requires a minimum of net speech (the kind's: 30 s to
enroll or register, 10 s to evaluate; the kind decides what less means); a file that cannot be fetched or decoded is
a 400, a file without speech (silence, an unused channel, hold music, a tone, noise) adds none: 0 s towards the
minimum, as a session without speech is NOT_ENOUGH_SPEECH. Files are read in the manifest's order and
reading stops once the request has `max_speech_seconds` of speech: more would cost time, not accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...voiceprint.audio import AudioError, NoSpeechError
from ..ports import AudioSource, Embedder, SpeechPool
from ..shared.errors import AudioFetchError
from .manifest import AudioSpecification, ManifestRequest
from .results import RequestError

MIN_NET_SPEECH_SECONDS = 30.0


@dataclass(frozen=True)
class FileSpeech:
    """What one file gave: its net speech out of its length (music or noise alone: 0 s of many)."""

    source: str
    speech_seconds: float
    audio_seconds: float

    def __str__(self) -> str:
        return f"{self.source}: {self.speech_seconds:.1f} s of {self.audio_seconds:.1f} s of audio"


@dataclass(frozen=True)
class NotEnoughSpeech:
    """A request whose files hold less net speech than its kind needs: nothing of it stays pooled, and the kind
    decides what that means (``ShardRules.not_enough_speech``; ``refusal`` is Voice ID's 400 for enrollment)."""

    request_id: str
    net_speech_seconds: float
    found: tuple[FileSpeech, ...]  # per file read
    minimum: float

    def refusal(self) -> RequestError:
        files = "; ".join(str(file) for file in self.found)
        return RequestError(
            self.request_id, 400,
            f"Not enough speech: {self.net_speech_seconds:.1f} s of net speech found in {len(self.found)} file(s) "
            f"({files}); at least {self.minimum:.0f} s is required",
        )


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
               time_is_up: Callable[[], bool] = lambda: False) -> RequestError | NotEnoughSpeech | None:
        """Put the request's speech into `pool` under `index`: None when it has enough; else nothing stays
        pooled and the result is the 400 entry of an unreadable file, or what the request lacks.

        Each file goes into the pool as soon as its speech is found, so only one recording is held at a time
        (ten 20 MB files would otherwise hold ~800 MB of speech). `time_is_up` is asked before each file after
        the first: when it says so, nothing stays pooled and OutOfTime is raised."""
        found: list[FileSpeech] = []
        try:
            for spec in request.audio:
                if sum(file.speech_seconds for file in found) >= self.max_speech_seconds:
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

    def _enough(self, index: int, request: ManifestRequest, found: list[FileSpeech], pool: SpeechPool
                ) -> NotEnoughSpeech | None:
        net = sum(file.speech_seconds for file in found)
        if net > 0 and net >= self.min_net_speech_seconds:  # without any speech nothing was pooled
            return None
        pool.discard(index)
        return NotEnoughSpeech(request.request_id, net, tuple(found), self.min_net_speech_seconds)

    def _add_speech(self, index: int, spec: AudioSpecification, pool: SpeechPool) -> FileSpeech:
        """Fetch one file, add its speech to the pool; returns what it gave."""
        data = self.audio.fetch(spec.s3_uri, self.max_file_bytes)
        source = f"{spec.s3_uri} (channel {spec.channel_id})"
        try:
            speech = self.engine.speech(data, source, spec.channel_id)
        except NoSpeechError as nothing:
            return FileSpeech(source, 0.0, nothing.audio_seconds)
        pool.add(index, speech)
        return FileSpeech(speech.source, speech.net_speech_seconds, speech.audio_seconds)
