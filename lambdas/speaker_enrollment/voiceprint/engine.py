"""Voiceprints from recordings: the one entry point the enrollment and the CLI use."""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from .audio import DEFAULT_MAX_FILE_BYTES, Speech, decode, extract_speech
from .features import mel_windows
from .model import EMBEDDING_SIZE, SpeakerEncoder
from .vad import SileroVad, SpeechFrames

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Voiceprint:
    """A 256-dim L2-normalised speaker embedding and the model that made it."""

    vector: FloatArray
    model_id: str
    net_speech_seconds: float

    def as_list(self) -> list[float]:
        return [float(x) for x in self.vector]


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class VoiceprintEngine:
    """Turns recordings into voiceprints, batching the encoder across windows and requests.

    ``batch_windows`` bounds how many 1.6 s windows go through the LSTM at once, which bounds
    memory (about 0.35 MB per window) whatever the length of the recordings.
    """

    def __init__(
        self,
        encoder: SpeakerEncoder | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        batch_windows: int = 512,
        threads: int | None = None,
        detector: SpeechFrames | None = None,
    ) -> None:
        self.encoder = encoder or SpeakerEncoder()
        self.detector = detector or SileroVad()
        self.max_file_bytes = max_file_bytes
        self.batch_windows = batch_windows
        self.threads = threads or available_cores()

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def speech(self, data: bytes, source: str, channel: int = 0) -> Speech:
        """Decode one recording and keep its speech; raises AudioError with the reason."""
        return extract_speech(decode(data, source, channel, self.max_file_bytes), self.detector)

    def voiceprint(self, speeches: Sequence[Speech]) -> Voiceprint:
        """One voiceprint pooling the speech of several recordings of the same speaker."""
        return self.voiceprints([speeches])[0]

    def voiceprints(self, requests: Sequence[Sequence[Speech]]) -> list[Voiceprint]:
        """One voiceprint per request; all windows of all requests share the encoder's batches."""
        pool = self.pool()
        for index, speeches in enumerate(requests):
            for speech in speeches:
                pool.add(index, speech)
        return [pool.voiceprint(index) for index in range(len(requests))]

    def pool(self) -> VoiceprintPool:
        return VoiceprintPool(self)

    def embed(self, windows: FloatArray) -> FloatArray:
        with threadpool_limits(limits=self.threads, user_api="blas"):
            return self.encoder.embed_windows(windows)


class VoiceprintPool:
    """Collects speech of many requests and embeds their windows in shared, bounded batches.

    Only the windows not yet embedded (fewer than one batch) and a running sum per request are
    held, so memory does not grow with the number or length of recordings.
    """

    def __init__(self, engine: VoiceprintEngine) -> None:
        self._engine = engine
        self._pending: list[tuple[Hashable, FloatArray]] = []
        self._pending_count = 0
        self._sums: dict[Hashable, FloatArray] = {}
        self._seconds: dict[Hashable, float] = {}

    def add(self, key: Hashable, speech: Speech) -> None:
        windows = mel_windows(speech.samples)
        self._sums.setdefault(key, np.zeros(EMBEDDING_SIZE, dtype=np.float64))
        self._seconds[key] = self._seconds.get(key, 0.0) + speech.net_speech_seconds
        self._pending.append((key, windows))
        self._pending_count += windows.shape[0]
        while self._pending_count >= self._engine.batch_windows:
            self._embed_batch(self._engine.batch_windows)

    def discard(self, key: Hashable) -> None:
        """Forget `key` (a refused request): its pending windows are dropped, its sum is not reported."""
        self._pending = [(k, windows) for k, windows in self._pending if k != key]
        self._pending_count = sum(windows.shape[0] for _, windows in self._pending)
        self._sums.pop(key, None)
        self._seconds.pop(key, None)

    def voiceprint(self, key: Hashable) -> Voiceprint:
        """The pooled voiceprint of `key` (embeds whatever is still pending)."""
        if key not in self._sums:
            raise ValueError(f"no speech was added for {key!r}: a voiceprint needs at least one recording")
        while self._pending_count:
            self._embed_batch(self._pending_count)
        total = self._sums[key]
        return Voiceprint(
            vector=(total / np.linalg.norm(total)).astype(np.float32),
            model_id=self._engine.model_id,
            net_speech_seconds=round(self._seconds[key], 2),
        )

    def _embed_batch(self, size: int) -> None:
        """Embed the first `size` pending windows and add each into its request's sum."""
        taken: list[tuple[Hashable, FloatArray]] = []
        remaining = size
        while remaining:
            key, windows = self._pending[0]
            head, tail = windows[:remaining], windows[remaining:]
            taken.append((key, head))
            remaining -= head.shape[0]
            if tail.shape[0]:
                self._pending[0] = (key, tail)
            else:
                self._pending.pop(0)
        self._pending_count -= size
        embeddings = self._engine.embed(np.concatenate([w for _, w in taken]))
        offset = 0
        for key, windows in taken:
            self._sums[key] += embeddings[offset : offset + windows.shape[0]].sum(axis=0, dtype=np.float64)
            offset += windows.shape[0]
