"""The GE2E speaker encoder (3-layer LSTM → Linear → ReLU → L2 norm) in NumPy.

Inference is shaped for the one thing that costs: matrix products. All three layers advance
together, one time step at a time, over a batch of windows (a "wavefront"), so each layer-step is
a single product ``[x_t, h_{t-1}, 1] @ [W_ih; W_hh; b]`` and no per-layer sequence is ever stored.
The elementwise work is cut with exact rewrites folded into the weights at load time:

* gate columns are reordered from PyTorch's (i, f, g, o) to (i, f, o, g) and the sigmoid gates'
  columns are halved, so one ``tanh`` over all four gates yields ``tanh(x)`` for g and
  ``2·sigmoid(x) - 1`` for i, f, o; adding 1 gives ``2i, 2f, 2o``;
* the hidden state is kept doubled (``2h``), and every weight that reads it is halved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

MODEL_ID = "resemblyzer-ge2e-0.1.4"
MODEL_ARTIFACT = Path(__file__).resolve().parents[1] / "model" / "ge2e.npz"

HIDDEN = 256
N_LAYERS = 3
EMBEDDING_SIZE = 256

FloatArray = npt.NDArray[np.float32]


class ModelNotBuiltError(FileNotFoundError):
    """The model artifact is missing: run ``make model``."""


def _gate_columns(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """PyTorch (4H, n) gate rows → (n, 4H) columns ordered (i, f, o, g), sigmoid gates halved."""
    i, f, g, o = np.split(matrix.astype(np.float64), 4, axis=0)
    return np.concatenate([0.5 * i, 0.5 * f, 0.5 * o, g], axis=0).T


def _layer_matrix(weights: np.lib.npyio.NpzFile, layer: int) -> FloatArray:
    """[W_ih; W_hh; b] for one layer, with the doubled-hidden-state inputs halved."""
    input_scale = 1.0 if layer == 0 else 0.5
    stacked = np.concatenate(
        [
            _gate_columns(weights[f"lstm.weight_ih_l{layer}"]) * input_scale,
            _gate_columns(weights[f"lstm.weight_hh_l{layer}"]) * 0.5,
            _gate_columns((weights[f"lstm.bias_ih_l{layer}"] + weights[f"lstm.bias_hh_l{layer}"])[:, None]),
        ]
    )
    return np.ascontiguousarray(stacked, dtype=np.float32)


class SpeakerEncoder:
    """Maps batches of (frames × 40) mel windows to L2-normalised 256-dim embeddings."""

    def __init__(self, artifact: Path = MODEL_ARTIFACT) -> None:
        if not artifact.exists():
            raise ModelNotBuiltError(f"voiceprint model {artifact} not found: run 'make model'")
        with np.load(artifact, allow_pickle=False) as weights:
            self.model_id = str(weights["model_id"])
            self._layers = [_layer_matrix(weights, n) for n in range(N_LAYERS)]
            self._linear_w = np.ascontiguousarray(0.5 * weights["linear.weight"].T, dtype=np.float32)
            self._linear_b = weights["linear.bias"].astype(np.float32)

    def embed_windows(self, windows: FloatArray) -> FloatArray:
        """(batch, frames, 40) mel windows → (batch, 256) embeddings."""
        batch, steps, features = windows.shape
        inputs = [np.zeros((batch, m.shape[0]), dtype=np.float32) for m in self._layers]
        for row in inputs:
            row[:, -1] = 1.0  # the bias input
        cells = [np.zeros((batch, HIDDEN), dtype=np.float32) for _ in self._layers]
        gates = np.empty((batch, 4 * HIDDEN), dtype=np.float32)
        for t in range(steps):
            inputs[0][:, :features] = windows[:, t]
            for layer, (weights, row, cell) in enumerate(zip(self._layers, inputs, cells, strict=True)):
                hidden = row[:, -HIDDEN - 1 : -1]
                self._step(weights, row, cell, gates, hidden)
                if layer + 1 < N_LAYERS:
                    inputs[layer + 1][:, :HIDDEN] = hidden
        doubled_hidden = inputs[-1][:, -HIDDEN - 1 : -1]
        raw = np.maximum(doubled_hidden @ self._linear_w + self._linear_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.maximum(norms, np.finfo(np.float32).tiny)).astype(np.float32)

    @staticmethod
    def _step(
        weights: FloatArray, row: FloatArray, cell: FloatArray, gates: FloatArray, hidden: FloatArray
    ) -> None:
        """One LSTM step: reads [x, 2h, 1] from row, updates cell in place, writes 2h into hidden."""
        np.matmul(row, weights, out=gates)
        np.tanh(gates, out=gates)
        gates[:, : 3 * HIDDEN] += 1.0  # 2i, 2f, 2o
        two_i, two_f = gates[:, :HIDDEN], gates[:, HIDDEN : 2 * HIDDEN]
        two_o, candidate = gates[:, 2 * HIDDEN : 3 * HIDDEN], gates[:, 3 * HIDDEN :]
        cell *= two_f
        candidate *= two_i
        cell += candidate
        cell *= 0.5  # c = f·c + i·g
        np.tanh(cell, out=hidden)
        hidden *= two_o  # 2h = 2o·tanh(c)
