"""What a model file is, read from its header alone: no weights are loaded.

A library of a dozen multi-gigabyte models has to list generation, parameters and precision in a
moment. A safetensors file says all of that in its JSON header; an official ``.pth`` (a zip
written by ``torch.save``) says it in ``data.pkl``, a pickle of a few kilobytes whose tensors
point at storages kept in other zip entries. We read that pickle with an unpickler that knows
only the handful of names a tensor-only checkpoint uses and builds placeholders (shape and dtype)
instead of tensors; any other name is refused, so nothing in the file can run code.

Hugging Face folders (``config.json`` plus one or more weight shards) are read the same way,
shard by shard, and their names go through the loader's own mapping
(:func:`engine.models.layouts.to_official`) on ``meta`` tensors: shapes without storage, so the mapping's
reshapes and transposes cost nothing and a folder is listed exactly as it loads.

The generation is decided by the loader's own rule (:func:`engine.models.checkpoint.detect_generation`),
which looks at tensor names and shapes only.
"""

from __future__ import annotations

import collections
import math
import os
import pickle
import re
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import (
    EngineError,
    IncompatibleStateError,
    NotAModelError,
    TruncatedModelError,
    UnsafeCheckpointError,
)
from engine.models.checkpoint import detect_generation, parse_header, unknown_format
from engine.models.layouts import read_config, to_official, weight_files

__all__ = ["FileInfo", "check_named_generation", "inspect_file", "named_generation"]

_SAFETENSORS_DTYPES = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F64": "fp64", "I64": "int64",
                       "I32": "int32", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
_TORCH_STORAGES = {"FloatStorage": "fp32", "HalfStorage": "fp16", "BFloat16Storage": "bf16",
                   "DoubleStorage": "fp64", "LongStorage": "int64", "IntStorage": "int32",
                   "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool"}


@dataclass(frozen=True)
class FileInfo:
    """A model file as the library lists it."""

    path: Path                # the file, or the Hugging Face folder
    size: int                 # bytes on disk (a folder: its weight files)
    generation: int           # 4, 5, 6 or 7
    n_params: int
    n_layer: int
    n_embd: int
    vocab_size: int
    precision: str            # the dtype most parameters are stored in: "bf16", "fp16", "fp32", ...


@dataclass(frozen=True)
class _Tensor:
    shape: tuple[int, ...]
    dtype: str


def inspect_file(path: str | os.PathLike) -> FileInfo:
    """Generation, sizes and precision of a ``.pth`` or ``.safetensors`` model, or of a Hugging Face
    folder (fla-hub RWKV-7, transformers' RWKV-4), reading kilobytes.

    Raises the loader's typed errors (:class:`NotAModelError`, :class:`UnknownLayoutError`, ...)
    for files that are not RWKV models, so the library can say why a file is not listed as usable,
    and :class:`OSError` when the file cannot be read; nothing else, whatever the file holds, so
    that one bad file in a library folder never hides the others (the scan catches these two).
    """
    path = Path(path)
    try:
        return _inspect(path)
    except (EngineError, OSError):
        raise
    except Exception as e:   # a header no check above foresaw: say so on the file's row
        raise NotAModelError("'{name}' cannot be read as a model index ({kind}: {error}).",
                             name=path.name, kind=type(e).__name__, error=e) from e


def _inspect(path: Path) -> FileInfo:
    if path.is_dir():
        shards = weight_files(path)
        if not shards:
            raise NotAModelError("The folder '{name}' holds no .safetensors or .bin weight files.", name=path.name)
        tensors: dict[str, _Tensor] = {}
        for shard in shards:
            tensors.update(_read_header(shard))
        size = sum(shard.stat().st_size for shard in shards)
        config = read_config(path)
    else:
        tensors, size, config = _read_header(path), path.stat().st_size, None
    if not tensors:
        raise NotAModelError("'{name}' holds no tensors.", name=path.name)
    counts: Counter[str] = Counter()
    for t in tensors.values():
        counts[t.dtype] += math.prod(t.shape)
    try:    # shapes only: the loader's name mapping runs on storage-less tensors
        mapped = to_official({k: torch.empty(t.shape, dtype=torch.uint8, device="meta")
                              for k, t in tensors.items()}, config)
    except (RuntimeError, TypeError, ValueError, IndexError) as e:
        raise NotAModelError("'{name}' describes tensors of impossible shapes ({error}).",
                             name=path.name, error=e) from e
    generation = detect_generation(mapped, path.name)
    emb = mapped.get("emb.weight")
    vocab, n_embd = emb.shape if emb is not None and emb.dim() == 2 else (0, 0)
    layers = {int(k.split(".")[1]) for k in mapped if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    return FileInfo(path, size, generation, sum(t.numel() for t in mapped.values()), len(layers), n_embd,
                    vocab, counts.most_common(1)[0][0])


@dataclass(frozen=True)
class StateFileInfo:
    """A state-tuning file as the state library lists it: the shape of the model it was tuned on."""

    path: Path
    size: int
    n_layer: int
    n_head: int
    head_size: int
    named_generation: int | None     # what its name says (the tensors cannot tell RWKV-6 from RWKV-7)

    @property
    def n_embd(self) -> int:
        return self.n_head * self.head_size

    def fits(self, info: FileInfo) -> bool:
        """Whether a model has this file's shape, by the rule :meth:`engine.models.state.State.from_tuning_file`
        applies when the file is used (layers, heads times head size) and the generation its name says."""
        return (info.n_layer == self.n_layer and info.n_embd == self.n_embd and info.generation >= 5
                and self.named_generation in (None, info.generation))


def inspect_state_file(path: str | os.PathLike) -> StateFileInfo:
    """Layers, heads and head size of an official state-tuning ``.pth`` or an Ai00 ``.state``, from its
    header alone (``blocks.N.att.time_state`` of ``[H, N, N]``, or flattened ``[H*N, N]``, per layer).
    Raises :class:`NotAModelError` for a file that is not one."""
    path = Path(path)
    if path.is_dir():
        raise NotAModelError("'{name}' is a folder, not a state-tuning file.", name=path.name)
    tensors = _read_header(path)
    found = {k: t for k, t in tensors.items() if k.endswith(".att.time_state")}
    if not found or len(found) != len(tensors):
        raise NotAModelError("'{name}' is not a state-tuning file: it holds other tensors than "
                             "'blocks.N.att.time_state'.", name=path.name)
    layers = sorted(int(k.split(".")[1]) for k in found if k.split(".")[1].isdigit())
    shapes = {t.shape for t in found.values()}
    if layers != list(range(len(found))) or len(shapes) != 1:
        raise NotAModelError("'{name}' has state tensors of mixed shapes or missing layers.", name=path.name)
    (shape,) = shapes
    if len(shape) == 3 and shape[1] == shape[2]:
        heads, size = shape[0], shape[1]
    elif len(shape) == 2 and shape[1] and shape[0] % shape[1] == 0:
        heads, size = shape[0] // shape[1], shape[1]
    else:
        raise NotAModelError("'{name}' holds state matrices of shape {shape}, not [H, N, N].",
                             name=path.name, shape=list(shape))
    return StateFileInfo(path, path.stat().st_size, len(layers), heads, size, named_generation(path.name))


_NAMED = (re.compile(r"x0(\d)\d", re.I), re.compile(r"rwkv[-_ ]?v?([4-7])(?![\d.bB])", re.I))


def named_generation(name: str) -> int | None:
    """The RWKV generation a file's *name* claims (``RWKV-x060-…``: 6, ``rwkv7-g1-…``: 7), or None.

    Only a hint, for files whose tensors cannot tell: a state-tuning file holds ``[H, N, N]``
    matrices and nothing else, so an RWKV-6 file fits an RWKV-7 model of the same shape. Models
    themselves are always identified by their tensors.
    """
    for pattern in _NAMED:
        if (m := pattern.search(name)) and 4 <= int(m.group(1)) <= 7:
            return int(m.group(1))
    return None


def check_named_generation(path: str | os.PathLike, generation: int) -> None:
    """Refuse a state-tuning file whose name says another generation than the model's (see above)."""
    name = Path(path).name
    named = named_generation(name)
    if named is not None and named != generation:
        raise IncompatibleStateError("'{name}' is named for RWKV-{named}, but the loaded model is RWKV-{generation}; "
                                     "a state-tuning file only works with the model it was tuned on.",
                                     name=name, named=named, generation=generation)


def _read_header(path: Path) -> dict[str, _Tensor]:
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"PK\x03\x04":
        return _torch_zip(path)
    if len(head) >= 9 and head[8:9] == b"{":
        return _safetensors(path, path.stat().st_size)
    if head[:4] == b"GGUF":
        raise unknown_format(path, head)
    raise NotAModelError("'{name}' is neither a zip-format PyTorch checkpoint nor safetensors.", name=path.name)


def _safetensors(path: Path, size: int) -> dict[str, _Tensor]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > min(size, 100 * 2**20):
            raise NotAModelError("'{name}' has an impossible safetensors header length ({size:,} bytes).",
                                 name=path.name, size=n)
        raw = f.read(n)
    if len(raw) < n:
        raise TruncatedModelError("'{name}' ends inside its header: it is truncated.", name=path.name)
    header = parse_header(raw, path.name)
    tensors = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        entry = v if isinstance(v, dict) else {}
        shape, dtype = entry.get("shape"), entry.get("dtype")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape) and isinstance(dtype, str)):
            raise NotAModelError("'{name}' has a broken safetensors header: tensor '{key}' has no valid "
                                 "shape and dtype.", name=path.name, key=k)
        tensors[k] = _Tensor(tuple(shape), _SAFETENSORS_DTYPES.get(dtype, dtype.lower()))
    return tensors


def _torch_zip(path: Path) -> dict[str, _Tensor]:
    try:
        with zipfile.ZipFile(path) as zf:
            name = next((n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                raise NotAModelError("'{name}' is a zip archive but not a PyTorch checkpoint.", name=path.name)
            data = zf.read(name)
    except zipfile.BadZipFile as e:
        raise TruncatedModelError("'{name}' is damaged or incomplete ({error}).", name=path.name, error=e) from e
    try:
        obj = _HeaderUnpickler(data).load()
    except EngineError:
        raise
    except Exception as e:  # any malformed pickle: say so rather than crash the library
        raise NotAModelError("'{name}' has an unreadable checkpoint index ({error}).", name=path.name, error=e) from e
    if not isinstance(obj, dict) or not all(isinstance(v, _Tensor) for v in obj.values()):
        raise NotAModelError("'{name}' does not hold a flat set of named tensors.", name=path.name)
    return dict(obj)


class _Storage:
    def __init__(self, dtype: str):
        self.dtype = dtype


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *rest: object) -> _Tensor:
    return _Tensor(tuple(size), storage.dtype)


def _rebuild_parameter(data: _Tensor, *rest: object) -> _Tensor:
    return data


class _HeaderUnpickler(pickle.Unpickler):
    """Builds shapes and dtypes from ``data.pkl``; refuses every global a tensor dict does not need."""

    def __init__(self, data: bytes):
        import io

        super().__init__(io.BytesIO(data))

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _TORCH_STORAGES:
            return _TORCH_STORAGES[name]
        raise UnsafeCheckpointError("the checkpoint refers to {module}.{name}, which a tensor file never needs",
                                    module=module, name=name)

    def persistent_load(self, pid: object) -> _Storage:
        # ("storage", storage type, key, location, numel); the type was resolved to a dtype name above
        if not (isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "storage" and isinstance(pid[1], str)):
            raise NotAModelError("unexpected storage reference {pid}", pid=repr(pid))
        return _Storage(pid[1])
