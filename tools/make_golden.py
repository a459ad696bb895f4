"""Write tests/golden/voiceprints.json: reference outputs of the original resemblyzer pipeline.

Run with the reference environment (torch + resemblyzer 0.1.4 + librosa + scipy), never in the
project's own venv::

    .venv-ref/bin/python tools/make_golden.py

For each recipe (a deterministic recording from ``enrollctl.samples``, written as PCM16 8 kHz WAV
and read back, exactly the bytes the tests feed to our engine) it stores resemblyzer's voiceprint
``VoiceEncoder('cpu').embed_utterance(preprocess_wav(wav, source_sr=8000))``, the length of the
preprocessed (volume-normalised, silence-trimmed) waveform and the partial-window count. It also
stores librosa's mel filterbank and one mel spectrogram (zlib + base64 of the float32 bytes),
resemblyzer's ``compute_partial_slices`` starts for edge lengths, the SHA-256 of every inference
tensor as torch loads it, and a tiny checkpoint written by ``torch.save`` in the legacy format
(``tests/golden/tiny_legacy.pt``) with the values it holds. So the NumPy port is pinned to the
reference without the tests ever importing torch, librosa or scipy.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import io
import json
import sys
import zlib
from importlib import metadata
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import numpy.typing as npt
import resemblyzer
import resemblyzer.audio
import soundfile
import torch
from resemblyzer import VoiceEncoder, preprocess_wav
from resemblyzer.hparams import sampling_rate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "cli"))

from enrollctl import samples  # noqa: E402

GOLDEN_DIR = ROOT / "tests" / "golden"
OUTPUT = GOLDEN_DIR / "voiceprints.json"
TINY_CHECKPOINT = GOLDEN_DIR / "tiny_legacy.pt"
MEL_SPECTROGRAM_SAMPLES = 4000  # of the first recipe's 8 kHz samples, taken as a 16 kHz waveform

# (voice, seconds, part, gap_seconds): gap_seconds of digital silence are inserted in the middle
# of the recording, so the reference silence trimming has something long to cut.
RECIPES: tuple[dict[str, Any], ...] = (
    {"voice": "allison-en", "seconds": 8.0, "part": 0, "gap_seconds": 0.0},
    {"voice": "carlo-it", "seconds": 12.0, "part": 2, "gap_seconds": 0.0},
    {"voice": "armelle-fr", "seconds": 6.0, "part": 1, "gap_seconds": 0.0},
    {"voice": "ivr-ru", "seconds": 7.0, "part": 3, "gap_seconds": 2.5},
)

# Utterance lengths (16 kHz samples) around the window rule's edges. Window k (starting at frame 77k)
# appears at (77k + 82) * 160 samples, covering 51 %, and is kept from 77k * 160 + 19_200 (75 %).
SLICE_LENGTHS = (
    0, 1, 159, 160, 161, 12_000, 19_199, 19_200, 25_439, 25_440, 25_600, 31_519, 31_520,
    37_759, 37_760, 43_839, 43_840, 50_079, 50_080, 56_159, 56_160, 100_000, 160_000,
)


def recipe_audio(recipe: dict[str, Any]) -> npt.NDArray[np.float32]:
    """The 8 kHz recording of a recipe (tests/conftest.py builds the same)."""
    speech = samples.recording(recipe["voice"], recipe["seconds"], recipe["part"])
    gap = np.zeros(round(recipe["gap_seconds"] * samples.RATE), dtype=np.float32)
    half = speech.size // 2
    return np.concatenate([speech[:half], gap, speech[half:]]).astype(np.float32)


def pcm16_roundtrip(wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """What a reader of the PCM16 WAV the tests write gets back."""
    data = samples.wav_bytes(wav, samples.RATE, "PCM_16", "WAV")
    decoded, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == samples.RATE
    return np.asarray(decoded, dtype=np.float32)


def floats(values: npt.NDArray[np.float32]) -> list[float]:
    """float32 values as JSON numbers that read back to the very same float32."""
    return [float(v) for v in np.asarray(values, dtype=np.float32)]


def packed(array: npt.NDArray[Any]) -> dict[str, Any]:
    """An array as shape, dtype, SHA-256 and zlib + base64 of its bytes."""
    data = np.ascontiguousarray(array).tobytes()
    return {
        "shape": list(array.shape),
        "dtype": array.dtype.str,
        "sha256": hashlib.sha256(data).hexdigest(),
        "zlib_base64": base64.b64encode(zlib.compress(data, 9)).decode("ascii"),
    }


def _holds(path: Path, state: collections.OrderedDict[str, torch.Tensor]) -> bool:
    """Whether the checkpoint at path already holds exactly these tensors, laid out the same way."""
    if not path.exists():
        return False
    saved = torch.load(path, weights_only=False)["model_state"]
    return list(saved) == list(state) and all(
        saved[k].dtype == v.dtype and saved[k].stride() == v.stride() and torch.equal(saved[k], v)
        for k, v in state.items()
    )


def tiny_checkpoint() -> dict[str, Any]:
    """Write a small legacy-format torch checkpoint and return what it holds."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = collections.OrderedDict([
        ("weight", torch.nn.Parameter(torch.tensor([[1.5, -2.25, 3.0], [4.0, 5.5, -6.0]]))),
        ("transposed", base.t()),  # non-contiguous view of a storage shared with "row"
        ("row", base[1]),  # view with a storage offset
        ("steps", torch.tensor([7, -3, 2**40], dtype=torch.int64)),
        ("half", torch.tensor([0.5, -1.0, 65504.0], dtype=torch.float16)),
        ("scalar", torch.tensor(2.5, dtype=torch.float64)),
    ])
    if not _holds(TINY_CHECKPOINT, state):  # legacy storage keys are memory addresses: rewrite only if needed
        torch.save({"model_state": state, "step": 3}, TINY_CHECKPOINT, _use_new_zipfile_serialization=False)
    return {
        "file": TINY_CHECKPOINT.name,
        "step": 3,
        "tensors": {
            name: {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                   "values": t.detach().double().flatten().tolist()}
            for name, t in state.items()
        },
    }


def main() -> None:
    torch.set_num_threads(1)
    version = metadata.version("resemblyzer")
    checkpoint = Path(resemblyzer.__file__).with_name("pretrained.pt").read_bytes()
    encoder = VoiceEncoder("cpu", verbose=False)

    voiceprints = []
    for recipe in RECIPES:
        wav8k = pcm16_roundtrip(recipe_audio(recipe))
        preprocessed = preprocess_wav(wav8k, source_sr=samples.RATE)
        untrimmed = librosa.resample(wav8k, orig_sr=samples.RATE, target_sr=sampling_rate)
        _, partials, _ = encoder.embed_utterance(preprocessed, return_partials=True)
        embedding = encoder.embed_utterance(preprocessed)
        voiceprints.append({
            "recipe": recipe,
            "input_samples_8k": int(wav8k.size),
            "resampled_samples_16k": int(untrimmed.size),
            "trimmed_samples_16k": int(preprocessed.size),
            "windows": int(partials.shape[0]),
            "voiceprint": floats(embedding),
        })
        print(f"{recipe}: {wav8k.size / samples.RATE:.2f} s, trimmed to "
              f"{preprocessed.size / sampling_rate:.2f} s, {partials.shape[0]} windows")

    mel = librosa.filters.mel(sr=16000, n_fft=400, n_mels=40).astype("<f4")
    spectrogram_input = pcm16_roundtrip(recipe_audio(RECIPES[0]))[:MEL_SPECTROGRAM_SAMPLES]
    spectrogram = resemblyzer.audio.wav_to_mel_spectrogram(spectrogram_input).astype("<f4")
    state = encoder.state_dict()
    tensor_sha256 = {
        name: hashlib.sha256(tensor.detach().numpy().astype("<f4").tobytes()).hexdigest()
        for name, tensor in state.items()
        if name.startswith(("lstm.", "linear."))
    }
    slices = {
        str(n): [int(s.start) for s in VoiceEncoder.compute_partial_slices(n, rate=1.3, min_coverage=0.75)[1]]
        for n in SLICE_LENGTHS
    }
    golden = {
        "about": "Reference outputs of resemblyzer; regenerate with .venv-ref/bin/python tools/make_golden.py",
        "model_id": f"resemblyzer-ge2e-{version}",
        "checkpoint_sha256": hashlib.sha256(checkpoint).hexdigest(),
        "versions": {name: metadata.version(name) for name in ("resemblyzer", "torch", "librosa", "soxr", "numpy")},
        "voiceprints": voiceprints,
        "model_tensor_sha256": tensor_sha256,
        "mel_filterbank": {"call": "librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)", **packed(mel)},
        "mel_spectrogram": {
            "call": "resemblyzer.audio.wav_to_mel_spectrogram(x)",
            "input": f"the first {MEL_SPECTROGRAM_SAMPLES} samples of recipe 0 (PCM16 round trip)",
            "input_samples": MEL_SPECTROGRAM_SAMPLES,
            **packed(spectrogram),
        },
        "legacy_checkpoint": tiny_checkpoint(),
        "partial_window_starts": {"rate": 1.3, "min_coverage": 0.75, "starts_by_samples": slices},
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
