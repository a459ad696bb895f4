"""Gathering a request's speech, shared by enrollment and fraudster registration.

Voice ID pools the speech of all files of one request and requires at least 30 s of net speech (400
otherwise); a file that cannot be fetched or decoded is a 400 too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...voiceprint.audio import AudioError
from ..ports import AudioSource, Embedder, SpeechPool
from ..shared.errors import AudioFetchError
from .manifest import AudioSpecification, ManifestRequest
from .results import RequestError

MIN_NET_SPEECH_SECONDS = 30.0


@dataclass(frozen=True)
class SpeechGathering:
    audio: AudioSource
    engine: Embedder
    max_file_bytes: int
    min_net_speech_seconds: float = MIN_NET_SPEECH_SECONDS

    def gather(self, index: int, request: ManifestRequest, pool: SpeechPool) -> RequestError | None:
        """Put the request's speech into `pool` under `index`; the 400 entry (and nothing pooled) when refused.

        Each file goes into the pool as soon as its speech is found, so only one recording is held at a time
        (ten 20 MB files would otherwise hold ~800 MB of speech)."""
        try:
            found = [self._add_speech(index, spec, pool) for spec in request.audio]
        except (AudioFetchError, AudioError) as exc:
            pool.discard(index)
            return RequestError(request.request_id, 400, f"Audio problem: {exc}")
        net = sum(seconds for _, seconds in found)
        if net < self.min_net_speech_seconds:
            pool.discard(index)
            files = "; ".join(f"{source}: {seconds:.1f} s" for source, seconds in found)
            return RequestError(
                request.request_id, 400,
                f"Not enough speech: {net:.1f} s of net speech found in {len(found)} file(s) ({files}); "
                f"at least {self.min_net_speech_seconds:.0f} s is required",
            )
        return None

    def _add_speech(self, index: int, spec: AudioSpecification, pool: SpeechPool) -> tuple[str, float]:
        """Fetch one file, add its speech to the pool; returns (source, net speech seconds)."""
        data = self.audio.fetch(spec.s3_uri, self.max_file_bytes)
        speech = self.engine.speech(data, f"{spec.s3_uri} (channel {spec.channel_id})", spec.channel_id)
        pool.add(index, speech)
        return speech.source, speech.net_speech_seconds
