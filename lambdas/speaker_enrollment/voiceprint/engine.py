"""Voiceprints from recordings: the one entry point the enrollment and the CLI use."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from .audio import DEFAULT_MAX_FILE_BYTES, Speech, decode, extract_speech
from .features import mel_windows
from .model import SpeakerEncoder

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
    ) -> None:
        self.encoder = encoder or SpeakerEncoder()
        self.max_file_bytes = max_file_bytes
        self.batch_windows = batch_windows
        self.threads = threads or available_cores()

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def speech(self, data: bytes, source: str, channel: int = 0) -> Speech:
        """Decode one recording and keep its speech; raises AudioError with the reason."""
        return extract_speech(decode(data, source, channel, self.max_file_bytes))

    def voiceprint(self, speeches: Sequence[Speech]) -> Voiceprint:
        """One voiceprint pooling the speech of several recordings of the same speaker."""
        return self.voiceprints([speeches])[0]

    def voiceprints(self, requests: Sequence[Sequence[Speech]]) -> list[Voiceprint]:
        """One voiceprint per request; all windows of all requests share the encoder's batches."""
        per_request = [[mel_windows(speech.samples) for speech in speeches] for speeches in requests]
        counts = [sum(w.shape[0] for w in windows) for windows in per_request]
        all_windows = [w for windows in per_request for w in windows]
        if not all_windows:
            return []
        embeddings = self._embed(np.concatenate(all_windows))
        results = []
        for speeches, segment in zip(requests, np.split(embeddings, np.cumsum(counts)[:-1]), strict=True):
            mean = segment.mean(axis=0)
            results.append(
                Voiceprint(
                    vector=(mean / np.linalg.norm(mean)).astype(np.float32),
                    model_id=self.model_id,
                    net_speech_seconds=round(sum(s.net_speech_seconds for s in speeches), 2),
                )
            )
        return results

    def _embed(self, windows: FloatArray) -> FloatArray:
        with threadpool_limits(limits=self.threads, user_api="blas"):
            return np.concatenate(
                [
                    self.encoder.embed_windows(windows[start : start + self.batch_windows])
                    for start in range(0, windows.shape[0], self.batch_windows)
                ]
            )
