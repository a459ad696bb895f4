"""Which parts of a recording are speech: the Silero VAD model (ONNX, MIT), run with onnxruntime.

WebRTC's VAD calls hold music, tones and noise speech (99.7 % of music frames, 100 % of pink noise), so it
cannot measure Voice ID's "net speech"; Silero marks none of them and keeps the speech under music at 5 dB.
It runs on the telephone-band audio as it arrived (8 kHz, before any volume change), one 32 ms frame at a
time: the model is recurrent, each frame sees the state left by the previous ones and the last 4 ms of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime

SILERO_ARTIFACT = Path(__file__).resolve().parents[1] / "model" / "silero_vad.onnx"
VAD_RATE = 8000
FRAME = 256  # samples per decision: 32 ms at 8 kHz, the only frame size the model takes at this rate
FRAME_SECONDS = FRAME / VAD_RATE
_CONTEXT = 32  # samples of the previous frame the model is given before each frame (Silero's own wrapper)
_STATE_SHAPE = (2, 1, 128)
# Silero's own hysteresis (its get_speech_timestamps): speech starts at 0.5 and lasts while above 0.35.
SPEECH_STARTS = 0.5
SPEECH_CONTINUES = 0.35

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


class SpeechFrames(Protocol):
    """Decides, per FRAME of 8 kHz audio, whether it is speech."""

    def speech_frames(self, samples: FloatArray) -> BoolArray: ...


class VadModelNotBuiltError(FileNotFoundError):
    """The Silero model file is missing: run ``make model``."""


class SileroVad:
    """Silero VAD on one core (its frames are sequential: more threads only add overhead)."""

    def __init__(self, artifact: Path = SILERO_ARTIFACT) -> None:
        if not artifact.exists():
            raise VadModelNotBuiltError(f"voice activity model {artifact} not found: run 'make model'")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(artifact), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._rate = np.array(VAD_RATE, dtype=np.int64)

    def probabilities(self, samples: FloatArray) -> FloatArray:
        """The speech probability of each FRAME (the last one zero-padded)."""
        count = -(-samples.size // FRAME)
        frames = np.zeros((count, FRAME), dtype=np.float32)
        frames.reshape(-1)[: samples.size] = samples
        state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        window = np.zeros((1, _CONTEXT + FRAME), dtype=np.float32)
        found = np.empty(count, dtype=np.float32)
        for index, frame in enumerate(frames):
            window[0, :_CONTEXT] = window[0, -_CONTEXT:]
            window[0, _CONTEXT:] = frame
            probability, state = self._session.run(None, {"input": window, "state": state, "sr": self._rate})
            found[index] = probability[0, 0]
        return found

    def speech_frames(self, samples: FloatArray) -> BoolArray:
        return hysteresis(self.probabilities(samples), SPEECH_STARTS, SPEECH_CONTINUES)


def hysteresis(probabilities: FloatArray, starts: float, continues: float) -> BoolArray:
    """Speech from the first frame ≥ `starts` until the first frame below `continues`."""
    flags = np.zeros(probabilities.size, dtype=bool)
    speaking = False
    for index, probability in enumerate(probabilities.tolist()):
        speaking = probability >= (continues if speaking else starts)
        flags[index] = speaking
    return flags
