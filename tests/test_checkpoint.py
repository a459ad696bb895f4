"""The torch-free reader of legacy torch checkpoints: reads what torch wrote, refuses everything else."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import GOLDEN_DIR, golden
from speaker_enrollment.voiceprint.checkpoint import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    CheckpointFormatError,
    load_legacy_checkpoint,
)
from speaker_enrollment.voiceprint.model import (
    EMBEDDING_SIZE,
    HIDDEN,
    MODEL_ARTIFACT,
    MODEL_ID,
    ModelNotBuiltError,
    SpeakerEncoder,
)
from threadpoolctl import threadpool_limits

SYS_INFO = {
    "protocol_version": PROTOCOL_VERSION,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}
N_MELS = 40


class _RunsCommand:
    """Pickles to a call of os.system: what a malicious checkpoint would carry."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


def legacy_file(obj: Any, *, magic: Any = MAGIC_NUMBER, protocol: Any = PROTOCOL_VERSION, keys: Any = ()) -> bytes:
    """The pickle sequence of a legacy torch.save file (no storages unless the caller appends them)."""
    return b"".join(pickle.dumps(part, protocol=2) for part in (magic, protocol, SYS_INFO, obj, list(keys)))


@pytest.fixture(scope="module")
def tiny() -> bytes:
    name: str = golden()["legacy_checkpoint"]["file"]
    return (GOLDEN_DIR / name).read_bytes()


# ------------------------------------------------------------------------------ reading what torch wrote


def test_reads_a_checkpoint_written_by_torch_save(tiny: bytes) -> None:
    expected = golden()["legacy_checkpoint"]
    checkpoint = load_legacy_checkpoint(tiny)
    assert checkpoint["step"] == expected["step"]
    state = checkpoint["model_state"]
    assert list(state) == list(expected["tensors"])  # an OrderedDict, in torch's order
    for name, tensor in expected["tensors"].items():
        array = state[name]
        assert isinstance(array, np.ndarray), name
        assert array.dtype == np.dtype(tensor["dtype"]), name
        assert list(array.shape) == tensor["shape"], name
        np.testing.assert_array_equal(array.ravel().astype(np.float64), tensor["values"], err_msg=name)


def test_views_of_one_storage_keep_their_strides_and_offsets(tiny: bytes) -> None:
    state = load_legacy_checkpoint(tiny)["model_state"]
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(state["transposed"], base.T)  # strides (1, 4) on the shared storage
    np.testing.assert_array_equal(state["row"], base[1])  # storage offset 4
    assert state["steps"].tolist() == [7, -3, 2**40]  # int64 beyond 32 bits


# --------------------------------------------------------------------------------- refusing other files


def test_refuses_a_global_that_would_run_code_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = legacy_file({"model_state": _RunsCommand(f"touch {marker}")})
    with pytest.raises(CheckpointFormatError, match=r"refers to (posix|os|nt)\.system, which is not allowed"):
        load_legacy_checkpoint(data)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["magic", "protocol", "storage keys"])
def test_refuses_code_in_the_header_pickles_too(tmp_path: Path, where: str) -> None:
    marker = tmp_path / "ran"
    evil = _RunsCommand(f"touch {marker}")
    data = {
        "magic": lambda: legacy_file({}, magic=evil),
        "protocol": lambda: legacy_file({}, protocol=evil),
        "storage keys": lambda: legacy_file({}, keys=[evil]),
    }[where]()
    with pytest.raises(CheckpointFormatError, match="not allowed"):
        load_legacy_checkpoint(data)
    assert not marker.exists(), f"the {where} pickle ran a command"


@pytest.mark.parametrize(
    "global_name",
    [("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load"), ("numpy", "load")],
    ids=".".join,
)
def test_refuses_any_global_outside_the_allow_list(global_name: tuple[str, str]) -> None:
    module, name = global_name
    # protocol 2: GLOBAL module name, EMPTY_TUPLE, REDUCE, STOP
    obj_pickle = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    data = b"".join(pickle.dumps(p, protocol=2) for p in (MAGIC_NUMBER, PROTOCOL_VERSION, SYS_INFO))
    with pytest.raises(CheckpointFormatError, match=rf"refers to {module}\.{name}, which is not allowed"):
        load_legacy_checkpoint(data + obj_pickle + pickle.dumps([], protocol=2))


def test_refuses_a_bad_magic_number() -> None:
    with pytest.raises(CheckpointFormatError, match="bad magic number"):
        load_legacy_checkpoint(legacy_file({}, magic=MAGIC_NUMBER + 1))


def test_refuses_an_unknown_protocol_version() -> None:
    with pytest.raises(CheckpointFormatError, match="protocol version"):
        load_legacy_checkpoint(legacy_file({}, protocol=PROTOCOL_VERSION + 1))


def test_refuses_a_zip_checkpoint_of_newer_torch() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        archive.writestr("archive/version", "3\n")
    with pytest.raises(CheckpointFormatError):
        load_legacy_checkpoint(buffer.getvalue())


@pytest.mark.parametrize(
    "data",
    [b"", b"not a checkpoint at all", b"\x80\x02", bytes(range(256)), b"\x80\x02}q\x00."],
    ids=["empty", "text", "pickle-header-only", "all-bytes", "a-dict-not-a-magic"],
)
def test_garbage_gives_a_format_error(data: bytes) -> None:
    with pytest.raises(CheckpointFormatError):
        load_legacy_checkpoint(data)


def test_every_truncation_gives_a_format_error(tiny: bytes) -> None:
    failures = {}
    for cut in range(len(tiny)):
        try:
            load_legacy_checkpoint(tiny[:cut])
        except CheckpointFormatError:
            continue
        except Exception as exc:  # any other outcome is the failure being looked for
            failures[cut] = repr(exc)
        else:
            failures[cut] = "loaded"
    assert not failures, f"{len(failures)} of {len(tiny)} truncations, e.g. {list(failures.items())[:3]}"


@dataclass(frozen=True)
class FakeTensor:
    """A tensor as legacy torch.save pickles it: _rebuild_tensor_v2(storage, offset, shape, stride, ...)."""

    storage_key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def crafted_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tensors: dict[str, FakeTensor], storages: dict[str, np.ndarray]
) -> bytes:
    """A legacy checkpoint written without torch: stand-in torch modules let pickle name torch's globals."""
    torch_module, utils_module = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("only pickled here, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    float_storage = type("FloatStorage", (), {"__module__": "torch"})
    utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch_module.FloatStorage = float_storage  # type: ignore[attr-defined]
    torch_module._utils = utils_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch_module)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_module)

    class Storage(str):
        pass

    class Tensor:
        def __init__(self, spec: FakeTensor) -> None:
            self.spec = spec

        def __reduce__(self) -> tuple[Any, ...]:
            s = self.spec
            return (_rebuild_tensor_v2, (Storage(s.storage_key), s.offset, s.shape, s.stride, False, OrderedDict()))

    def persistent_id(obj: Any) -> Any:
        if isinstance(obj, Storage):
            return ("storage", float_storage, str(obj), "cpu", storages[str(obj)].size)
        return None

    out = io.BytesIO()
    for part in (MAGIC_NUMBER, PROTOCOL_VERSION, SYS_INFO):
        pickle.dump(part, out, protocol=2)
    pickler = pickle.Pickler(out, protocol=2)
    pickler.persistent_id = persistent_id  # type: ignore[method-assign]
    pickler.dump({"model_state": OrderedDict((name, Tensor(spec)) for name, spec in tensors.items())})
    pickle.dump(sorted(storages), out, protocol=2)
    for key in sorted(storages):
        out.write(struct.pack("<q", storages[key].size) + storages[key].astype("<f4").tobytes())
    return out.getvalue()


def test_a_crafted_checkpoint_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in writer is faithful: a well-formed view of it reads back right."""
    storage = np.arange(12, dtype=np.float32)
    data = crafted_checkpoint(monkeypatch, {"w": FakeTensor("0", 2, (2, 3), (1, 2))}, {"0": storage})
    np.testing.assert_array_equal(load_legacy_checkpoint(data)["model_state"]["w"], [[2, 4, 6], [3, 5, 7]])


@pytest.mark.parametrize(
    "tensor",
    [
        FakeTensor("0", 12, (4,), (1,)),  # offset past the end
        FakeTensor("0", 0, (13,), (1,)),  # more elements than stored
        FakeTensor("0", 0, (3, 4), (5, 1)),  # strides run past the end
        FakeTensor("0", 0, (1000000, 1000000), (1, 1)),  # huge
    ],
    ids=["offset", "length", "stride", "huge"],
)
def test_refuses_a_tensor_that_reaches_outside_its_storage(monkeypatch: pytest.MonkeyPatch, tensor: FakeTensor) -> None:
    """Such a view must not make as_strided read memory outside the storage."""
    data = crafted_checkpoint(monkeypatch, {"w": tensor}, {"0": np.arange(12, dtype=np.float32)})
    with pytest.raises(CheckpointFormatError, match="outside its storage"):
        load_legacy_checkpoint(data)


@pytest.mark.parametrize(
    "tensor",
    [FakeTensor("0", -1, (4,), (1,)), FakeTensor("0", 0, (4,), (-1,)), FakeTensor("0", 0, (2, 2), (1,))],
    ids=["negative-offset", "negative-stride", "rank-mismatch"],
)
def test_refuses_an_invalid_tensor_layout(monkeypatch: pytest.MonkeyPatch, tensor: FakeTensor) -> None:
    data = crafted_checkpoint(monkeypatch, {"w": tensor}, {"0": np.arange(12, dtype=np.float32)})
    with pytest.raises(CheckpointFormatError, match="invalid layout"):
        load_legacy_checkpoint(data)


# ------------------------------------------------------------------------------------ the real artifact


def test_model_artifact_holds_the_ge2e_tensors_torch_loads() -> None:
    with np.load(MODEL_ARTIFACT, allow_pickle=False) as weights:
        assert str(weights["model_id"]) == MODEL_ID
        assert str(weights["source_sha256"]) == golden()["checkpoint_sha256"]
        tensors = {name: weights[name] for name in weights.files if name not in ("model_id", "source_sha256")}
    expected_shapes = {"linear.weight": (EMBEDDING_SIZE, HIDDEN), "linear.bias": (EMBEDDING_SIZE,)}
    for layer in range(3):
        expected_shapes |= {
            f"lstm.weight_ih_l{layer}": (4 * HIDDEN, N_MELS if layer == 0 else HIDDEN),
            f"lstm.weight_hh_l{layer}": (4 * HIDDEN, HIDDEN),
            f"lstm.bias_ih_l{layer}": (4 * HIDDEN,),
            f"lstm.bias_hh_l{layer}": (4 * HIDDEN,),
        }
    assert {name: t.shape for name, t in tensors.items()} == expected_shapes
    for name, tensor in tensors.items():
        assert tensor.dtype == np.float32, name
        assert np.isfinite(tensor).all(), name
        # Byte for byte what torch itself loads from resemblyzer's pretrained.pt.
        assert hashlib.sha256(tensor.astype("<f4").tobytes()).hexdigest() == golden()["model_tensor_sha256"][name]


def test_encoder_gives_unit_length_non_negative_embeddings(encoder: SpeakerEncoder) -> None:
    windows = np.random.default_rng(0).random((3, 160, N_MELS), dtype=np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        embeddings = encoder.embed_windows(windows)
    assert embeddings.shape == (3, EMBEDDING_SIZE)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert (embeddings >= 0).all()  # ReLU before the norm


def test_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotBuiltError, match="make model"):
        SpeakerEncoder(tmp_path / "ge2e.npz")
