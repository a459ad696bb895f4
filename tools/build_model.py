"""Build the voiceprint model artifact from the GE2E weights inside the resemblyzer wheel.

Run by ``make model`` (part of ``make setup``). Downloads the pinned wheel from PyPI, checks the
checkpoint's SHA-256, reads it without torch and writes a compact ``.npz`` holding only the
tensors inference needs (LSTM and projection), in PyTorch's layout, plus the model id.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

from speaker_enrollment.voiceprint.checkpoint import load_legacy_checkpoint
from speaker_enrollment.voiceprint.model import MODEL_ARTIFACT, MODEL_ID

WHEEL_REQUIREMENT = "resemblyzer==0.1.4"
CHECKPOINT_IN_WHEEL = "resemblyzer/pretrained.pt"
CHECKPOINT_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
INFERENCE_TENSORS = ("lstm.", "linear.")


def download_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "-d", str(dest), WHEEL_REQUIREMENT],
        check=True,
    )
    return next(dest.glob("*.whl"))


def read_checkpoint(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(CHECKPOINT_IN_WHEEL)
    digest = hashlib.sha256(data).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise SystemExit(f"{CHECKPOINT_IN_WHEEL} has SHA-256 {digest}, expected {CHECKPOINT_SHA256}")
    return data


def convert(checkpoint: bytes, output: Path) -> None:
    state = load_legacy_checkpoint(checkpoint)["model_state"]
    tensors = {k: v.astype(np.float32) for k, v in state.items() if k.startswith(INFERENCE_TENSORS)}
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez(output, model_id=np.array(MODEL_ID), source_sha256=np.array(CHECKPOINT_SHA256), **tensors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel", type=Path, help="use this resemblyzer wheel instead of downloading it")
    parser.add_argument("--output", type=Path, default=MODEL_ARTIFACT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        convert(read_checkpoint(wheel), args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, model {MODEL_ID})")


if __name__ == "__main__":
    main()
