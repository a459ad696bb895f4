"""Build the model artifacts: the GE2E voiceprint weights and the Silero voice activity model.

Run by ``make model`` (part of ``make setup``). Downloads the pinned wheels from PyPI (without their
dependencies: neither torch nor the packages' code is used) and checks each file's SHA-256:

* ``resemblyzer``: its checkpoint is read without torch into a compact ``.npz`` holding only the
  tensors inference needs (LSTM and projection), in PyTorch's layout, plus the model id;
* ``silero-vad``: ``silero_vad.onnx`` is copied as it is, with the wheel's licence beside it.
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
from speaker_enrollment.voiceprint.vad import SILERO_ARTIFACT

WHEEL_REQUIREMENT = "resemblyzer==0.1.4"
CHECKPOINT_IN_WHEEL = "resemblyzer/pretrained.pt"
CHECKPOINT_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
INFERENCE_TENSORS = ("lstm.", "linear.")

VAD_WHEEL_REQUIREMENT = "silero-vad==6.2.3"
VAD_MODEL_IN_WHEEL = "silero_vad/data/silero_vad.onnx"
VAD_MODEL_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
VAD_LICENCE_IN_WHEEL = "silero_vad-6.2.3.dist-info/licenses/LICENSE"


def download_wheel(requirement: str, dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "-d", str(dest), requirement],
        check=True,
    )
    return next(dest.glob("*.whl"))


def read_checked(wheel: Path, member: str, sha256: str) -> bytes:
    """`member` of the wheel, refused unless its SHA-256 is `sha256`."""
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{member} has SHA-256 {digest}, expected {sha256}")
    return data


def extract_vad(wheel: Path, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(read_checked(wheel, VAD_MODEL_IN_WHEEL, VAD_MODEL_SHA256))
    with zipfile.ZipFile(wheel) as archive:
        output.with_name("LICENSE-silero-vad").write_bytes(archive.read(VAD_LICENCE_IN_WHEEL))


def convert(checkpoint: bytes, output: Path) -> None:
    state = load_legacy_checkpoint(checkpoint)["model_state"]
    tensors = {k: v.astype(np.float32) for k, v in state.items() if k.startswith(INFERENCE_TENSORS)}
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez(output, model_id=np.array(MODEL_ID), source_sha256=np.array(CHECKPOINT_SHA256), **tensors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel", type=Path, help="use this resemblyzer wheel instead of downloading it")
    parser.add_argument("--vad-wheel", type=Path, help="use this silero-vad wheel instead of downloading it")
    parser.add_argument("--output", type=Path, default=MODEL_ARTIFACT)
    parser.add_argument("--vad-output", type=Path, default=SILERO_ARTIFACT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(WHEEL_REQUIREMENT, Path(tmp) / "ge2e")
        convert(read_checked(wheel, CHECKPOINT_IN_WHEEL, CHECKPOINT_SHA256), args.output)
        vad_wheel = args.vad_wheel or download_wheel(VAD_WHEEL_REQUIREMENT, Path(tmp) / "vad")
        extract_vad(vad_wheel, args.vad_output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, model {MODEL_ID})")
    print(f"wrote {args.vad_output} ({args.vad_output.stat().st_size / 1e6:.1f} MB, {VAD_WHEEL_REQUIREMENT})")


if __name__ == "__main__":
    main()
