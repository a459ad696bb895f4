"""Read PyTorch checkpoints written with the legacy (pre-1.6) ``torch.save`` format, without torch.

The legacy format is a sequence of pickles followed by raw storage data:

1. the magic number, 2. the protocol version, 3. system info (byte order, type sizes),
4. the checkpoint object, whose tensors point at storages through persistent ids
   ``("storage", <StorageType>, key, location, numel[, view_metadata])``,
5. the sorted list of storage keys, then for each key: an 8-byte little-endian element
   count followed by the storage's raw little-endian bytes.

Only what a model checkpoint needs is understood: float/int storages, ``_rebuild_tensor_v2``,
``_rebuild_parameter`` and ordered dicts. Anything else in the pickle is refused, so the file
cannot run code while it is read.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class CheckpointFormatError(ValueError):
    """The file is not a legacy torch checkpoint this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class _PendingTensor:
    """A tensor whose storage bytes come after the pickled object; resolved in a second pass."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _PendingTensor:
    return _PendingTensor(storage, offset, tuple(shape), tuple(stride))


def _rebuild_parameter(data: _PendingTensor, *_: Any) -> _PendingTensor:
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointFormatError(f"checkpoint refers to {module}.{name}, which is not allowed") from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointFormatError(f"unexpected storage type {storage_type!r}")
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _read_storages(stream: IO[bytes], keys: list[str], refs: dict[str, _StorageRef]) -> dict[str, np.ndarray]:
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointFormatError(f"storage {key} is truncated")
        (numel,) = struct.unpack("<q", header)
        ref = refs.get(key)
        if ref is None:
            raise CheckpointFormatError(f"storage {key} is not referenced by any tensor")
        raw = stream.read(numel * ref.dtype.itemsize)
        if len(raw) != numel * ref.dtype.itemsize:
            raise CheckpointFormatError(f"storage {key} is truncated")
        storages[key] = np.frombuffer(raw, dtype=ref.dtype)
    return storages


def _collect_refs(obj: Any, refs: dict[str, _StorageRef]) -> None:
    if isinstance(obj, _PendingTensor):
        refs[obj.storage.key] = obj.storage
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect_refs(value, refs)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _collect_refs(value, refs)


def _check_bounds(tensor: _PendingTensor, storage_size: int) -> None:
    """Refuse views that reach outside their storage (as_strided would read foreign memory)."""
    shape, stride, offset = tensor.shape, tensor.stride, tensor.offset
    if len(shape) != len(stride) or min((offset, *shape, *stride)) < 0:
        raise CheckpointFormatError(f"tensor on storage {tensor.storage.key} has an invalid layout")
    if all(shape) and offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True)) >= storage_size:
        raise CheckpointFormatError(f"tensor on storage {tensor.storage.key} reaches outside its storage")


def _materialise(obj: Any, storages: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, _PendingTensor):
        data = storages[obj.storage.key]
        _check_bounds(obj, data.size)
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[obj.offset :], shape=obj.shape, strides=tuple(s * itemsize for s in obj.stride)
        )
        return np.array(view, dtype=data.dtype.newbyteorder("="))
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v, storages)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(v, storages) for v in obj)
    return obj


def load_legacy_checkpoint(data: bytes) -> Any:
    """Return the checkpoint object with every tensor replaced by a NumPy array."""
    stream = io.BytesIO(data)
    try:
        # Every pickle of the file, the header ones too, goes through the restricted unpickler.
        magic = _CheckpointUnpickler(stream).load()
        if magic != MAGIC_NUMBER:
            raise CheckpointFormatError("not a legacy torch checkpoint (bad magic number)")
        if _CheckpointUnpickler(stream).load() != PROTOCOL_VERSION:
            raise CheckpointFormatError("unsupported legacy checkpoint protocol version")
        sys_info = _CheckpointUnpickler(stream).load()
        if not sys_info.get("little_endian", True):
            raise CheckpointFormatError("big-endian checkpoints are not supported")
        obj = _CheckpointUnpickler(stream).load()
        keys = [str(k) for k in _CheckpointUnpickler(stream).load()]
        refs: dict[str, _StorageRef] = {}
        _collect_refs(obj, refs)
        return _materialise(obj, _read_storages(stream, keys, refs))
    except CheckpointFormatError:
        raise
    except Exception as exc:  # a corrupt pickle fails in many ways (ValueError, OverflowError, struct.error…)
        raise CheckpointFormatError(f"unreadable checkpoint: {exc!r}") from exc
