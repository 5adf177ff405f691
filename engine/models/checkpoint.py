"""Reading model files safely and deciding what they are.

Nothing here unpickles code: ``.pth`` files go through ``torch.load(weights_only=True)`` and
safetensors through the safetensors reader. The generation is read from the tensors, never from
the file name, and every way a file can be wrong ends in a typed error that says what was found.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import mmap
import os
import pickle
import struct
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor

from engine.errors import (
    ModelNotFoundError,
    NotAModelError,
    OutOfMemoryError,
    TruncatedModelError,
    UnknownLayoutError,
    UnsafeCheckpointError,
)

MODEL_SUFFIXES = (".pth", ".safetensors", ".pt", ".bin", ".st")
_GENERIC_STEMS = ("model", "pytorch_model", "rwkv")     # file names that say nothing: the folder's says more


_MADV_DONTNEED = 4   # Linux


@dataclass(frozen=True)
class Checkpoint:
    """Tensors of one model file, still in the file's dtype (memory-mapped where possible).

    ``mapped``: the address ranges where this process maps the file (Linux; empty elsewhere), so
    that :meth:`release` can tell the file's pages from memory of our own.
    """

    path: Path
    tensors: dict[str, Tensor]
    fingerprint: str
    mapped: tuple[tuple[int, int], ...] = ()

    def release(self, t: Tensor) -> None:
        """Drop the pages of ``t`` (a tensor of :attr:`tensors`, read and converted) from this
        process's resident memory, so loading holds one tensor of the file at a time beside the model
        rather than the whole file. Only pages of the file's own private, unwritten mapping are
        dropped (a later read pages them in again from the file); anything else is left alone."""
        release_pages(t, self.mapped)

    def release_all(self) -> None:
        """:meth:`release` for the whole file: what reading left resident between and around its tensors
        (a page fault maps the cached pages near the one read too), once every tensor has been read."""
        for lo, hi in self.mapped:
            _libc().madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED)

    def is_mapped(self, t: Tensor) -> bool:
        """Whether ``t`` lies in this process's mapping of the file, so that its pages can be let go."""
        return _span(t, self.mapped) is not None


def release_pages(t: Tensor, mapped: tuple[tuple[int, int], ...]) -> None:
    """:meth:`Checkpoint.release` for a tensor of a file mapped at ``mapped`` (its pages only; also
    after the checkpoint itself is gone: the embedding reads its rows from the file while it runs)."""
    span = _span(t, mapped)
    if span is not None:
        _libc().madvise(ctypes.c_void_p(span[0]), ctypes.c_size_t(span[1] - span[0]), _MADV_DONTNEED)


def _span(t: Tensor, mapped: tuple[tuple[int, int], ...]) -> tuple[int, int] | None:
    """The whole pages under ``t``, if it lies in one of the ``mapped`` ranges."""
    if not mapped or t.device.type != "cpu" or not t.is_contiguous() or t.numel() == 0:
        return None
    start, end = t.data_ptr(), t.data_ptr() + t.numel() * t.element_size()
    for lo, hi in mapped:
        if lo <= start and end <= hi:
            page = mmap.PAGESIZE
            return max(lo, start // page * page), min(hi, -(-end // page) * page)
    return None


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    Loading frees a float temporary or two per matrix converted; glibc keeps freed blocks below its
    mmap threshold (which rises to 32 MiB as big blocks are freed) for reuse, and the packed matrices
    allocated between them leave holes it can neither reuse nor return: at 1.5B int8 ~400 MiB stayed
    resident after loading. Trimmed after each matrix, loading peaks at the model plus one matrix's
    temporaries."""
    trim = getattr(_libc(), "malloc_trim", None) if sys.platform == "linux" else None
    if trim is not None:
        trim(0)


@cache
def _libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    lib.madvise.argtypes, lib.madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    if hasattr(lib, "malloc_trim"):
        lib.malloc_trim.argtypes, lib.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lib


def _mappings(files: list[Path]) -> tuple[tuple[int, int], ...]:
    """Where this process maps ``files`` (``/proc/self/maps``; nothing where that does not exist)."""
    names = {str(f.resolve()) for f in files}
    try:
        with open("/proc/self/maps") as f:
            lines = f.readlines()
    except OSError:
        return ()
    out = []
    for line in lines:
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].rstrip("\n") in names and parts[1].startswith("r"):
            lo, hi = parts[0].split("-")
            out.append((int(lo, 16), int(hi, 16)))
    return tuple(out)


def resolve(source: str | os.PathLike) -> Path:
    """A path to a model file or Hugging Face folder, from a path or a bundled model name (``demo``)."""
    from engine.models.layouts import is_hf_folder

    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir():
            return path if is_hf_folder(path) else _pick_file(path)
        return path
    bundled = resources.files("resources") / "models" / text
    if bundled.is_dir():
        return _pick_file(Path(str(bundled)))
    raise ModelNotFoundError("No model at '{text}': there is no such file or folder, "
                             "and no bundled model has that name.", text=text)


def model_name(path: str | os.PathLike) -> str:
    """The name a model is shown under, from its file or folder: the file's name without suffix, its
    folder's for a generic file name (the bundled ``demo/model.safetensors`` is "demo"), the repository's
    for a file or folder in the Hugging Face cache (``models--org--name/snapshots/<commit>``). A
    conversation keeps only its model's path, so this names that model again for it."""
    path = Path(path)
    is_file = path.suffix.lower() in MODEL_SUFFIXES    # folders may have dots: "World-0.1B"
    if is_file and path.stem in _GENERIC_STEMS:
        path, is_file = path.parent, False
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return path.parent.parent.name.split("--")[-1]
    return path.stem if is_file else path.name


def _pick_file(folder: Path) -> Path:
    files = sorted(p for p in folder.iterdir() if p.suffix in (".pth", ".safetensors"))
    if len(files) == 1:
        return files[0]
    if not files:
        gguf = " (GGUF files, llama.cpp's format, cannot be loaded)" if any(folder.glob("*.gguf")) else ""
        raise ModelNotFoundError("The folder '{folder}' holds no .pth or .safetensors model file{gguf}.",
                                 folder=folder, gguf=gguf)
    names = ", ".join(p.name for p in files)
    raise ModelNotFoundError("The folder '{folder}' holds several model files ({names}); pick one.",
                             folder=folder, names=names)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a ``.pth`` or ``.safetensors`` file, or a Hugging Face folder, into a dict of tensors under
    the official key names (see :mod:`engine.models.layouts`), refusing anything unsafe."""
    from engine.models.layouts import read_config, to_official, weight_files

    if path.is_dir():
        tensors: dict[str, Tensor] = {}
        files = list(weight_files(path))
        for shard in files:
            tensors.update(_read_file(shard))
        tensors = to_official(tensors, read_config(path))
    else:
        files = [path]
        tensors = to_official(_read_file(path))
    return Checkpoint(path, tensors, fingerprint(tensors), _mappings(files) if sys.platform == "linux" else ())


def _read_file(path: Path) -> dict[str, Tensor]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if size == 0:
        raise TruncatedModelError("'{name}' is empty (0 bytes): the download probably failed.", name=path.name)
    if head[:4] == b"PK\x03\x04":
        tensors = _read_torch_zip(path, size)
    elif len(head) >= 9 and _looks_like_safetensors(head, size):   # before the pickle test: a header of
        tensors = _read_safetensors(path, size)                     # 0x..80 bytes starts with 0x80 too
    elif head[:1] == b"\x80":       # a legacy (pre-zip) torch.save file
        tensors = _read_torch(path, mmap=False)
    else:
        raise unknown_format(path, head)
    if not tensors or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in tensors.items()):
        raise UnknownLayoutError("'{name}' does not hold a flat set of named tensors, so it is not "
                                 "an RWKV model file.", name=path.name)
    return tensors


def unknown_format(path: Path, head: bytes) -> NotAModelError:
    """The error for a file in no format the engine reads (``head``: its first bytes). A GGUF file is
    named as one: RWKV models are published as GGUF too, and its magic bytes would mean nothing to a user."""
    if head[:4] == b"GGUF":
        return NotAModelError("'{name}' is a GGUF file (llama.cpp's format), which RWKV Desktop cannot load. "
                              "Get the model as an official .pth, a .safetensors file or a Hugging Face model "
                              "folder instead.", name=path.name)
    return NotAModelError("'{name}' is not a model file: it is neither a PyTorch checkpoint nor safetensors "
                          "(it starts with {head}). RWKV Desktop reads an official .pth, a .safetensors file or a "
                          "Hugging Face model folder.", name=path.name, head=repr(head[:8]))


def _read_torch_zip(path: Path, size: int) -> dict[str, Tensor]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as e:
        raise TruncatedModelError(
            "'{name}' is damaged or incomplete ({size:,} bytes; the end of the archive is "
            "missing or broken: {error}). If it was downloaded, download it again.",
            name=path.name, size=size, error=e) from e
    if not any(n.endswith("/data.pkl") for n in names):
        raise NotAModelError("'{name}' is a zip archive but not a PyTorch checkpoint (it has no "
                             "data.pkl). Open the model's .pth or .safetensors file itself.", name=path.name)
    return _read_torch(path, mmap=True)


def _read_torch(path: Path, mmap: bool) -> dict[str, Tensor]:
    # torch.load reads any path ending in .safetensors as safetensors, whatever its bytes: a checkpoint
    # so renamed is given as an open file (which cannot be memory-mapped: read whole, as a legacy file is).
    renamed = path.name.endswith(".safetensors")
    try:
        if renamed:
            with open(path, "rb") as f:
                obj = torch.load(f, map_location="cpu", weights_only=True)
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        if "GLOBAL" not in str(e):
            raise NotAModelError("'{name}' is not a model file: it starts like a Python pickle but "
                                 "cannot be read as one ({error}).",
                                 name=path.name, error=str(e).splitlines()[-1][:200]) from e
        raise UnsafeCheckpointError(
            "'{name}' contains pickled Python objects other than tensors, which could run code, "
            "so it was refused without being executed. Official RWKV checkpoints hold tensors only; "
            "get the file from a trusted source, or convert it to .safetensors.", name=path.name) from e
    except (RuntimeError, MemoryError, EOFError, OSError, IndexError, ValueError) as e:
        if is_oom(e):
            raise _oom_reading(path) from e
        raise TruncatedModelError("'{name}' could not be read completely ({error}). The file is "
                                  "probably truncated; download it again.", name=path.name, error=e) from e
    if not isinstance(obj, dict):
        raise UnknownLayoutError("'{name}' holds a {kind}, not a set of named tensors, "
                                 "so it is not an RWKV model file.", name=path.name, kind=type(obj).__name__)
    return dict(obj)


def is_oom(e: BaseException) -> bool:
    """True for allocation failures: torch reports CPU ones as plain RuntimeErrors."""
    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(e).lower()
    return any(m in text for m in ("can't allocate memory", "cannot allocate memory", "out of memory"))


def _oom_reading(path: Path) -> OutOfMemoryError:
    size = path.stat().st_size
    return OutOfMemoryError("Not enough memory to read '{name}' ({gib:.2f} GiB). Close other "
                            "programs or choose a smaller model or a quantised file.", name=path.name, gib=size / 2**30)


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 0 < n < 100 * 2**20 and n < size + 2**40


def _read_safetensors(path: Path, size: int) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        raw = f.read(n)
    if len(raw) < n:
        raise TruncatedModelError("'{name}' ends inside its header ({size:,} bytes): it is truncated. "
                                  "If it was downloaded, download it again.", name=path.name, size=size)
    header = parse_header(raw, path.name)
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    if not entries or not all(isinstance(v, dict) and _is_offsets(v.get("data_offsets"))
                              for v in entries.values()):
        raise NotAModelError("'{name}' has a safetensors header that describes no valid tensors, "
                             "so it is not a model file.", name=path.name)
    expected = 8 + n + max(v["data_offsets"][1] for v in entries.values())
    if size < expected:
        raise TruncatedModelError(
            "'{name}' is truncated: its header describes {expected:,} bytes but the file has "
            "{size:,}. If it was downloaded, the download was cut off; download it again.",
            name=path.name, expected=expected, size=size)
    try:
        return load_file(str(path), device="cpu")
    except SafetensorError as e:
        raise NotAModelError("'{name}' is not a valid safetensors file ({error}).", name=path.name, error=e) from e
    except (RuntimeError, MemoryError, OSError) as e:
        if is_oom(e):
            raise _oom_reading(path) from e
        raise


def parse_header(raw: bytes, name: str) -> dict:
    """A safetensors header's JSON object, or :class:`NotAModelError`: broken JSON, nesting too deep
    for the parser (``[[[[...`` 100k deep raised an untyped RecursionError), or not an object."""
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as e:
        reason = "it nests too deeply to be a tensor index" if isinstance(e, RecursionError) else str(e)
        raise NotAModelError("'{name}' has a broken safetensors header ({reason}).", name=name, reason=reason) from e
    if not isinstance(header, dict):
        raise NotAModelError("'{name}' has a safetensors header that is a JSON {kind}, "
                             "not an index of tensors.", name=name, kind=type(header).__name__)
    return header


def _is_offsets(v: object) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v) and v[0] <= v[1]


def fingerprint(tensors: dict[str, Tensor]) -> str:
    """A short content hash of a model: names, shapes and samples of every tensor's bytes.

    Cheap on a memory-mapped file (a few KB read per tensor) yet different for any two trained
    models, so a saved state can tell which weights it belongs to. It ignores the load precision.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}:{tuple(t.shape)};".encode())
        flat = t.detach().reshape(-1)
        for part in (flat[:512], flat[-512:]):
            h.update(part.float().numpy().tobytes())
    return h.hexdigest()[:16]


def detect_generation(tensors: dict[str, Tensor], name: str) -> int:
    """The RWKV generation of a checkpoint (4, 5, 6 or 7) from its key names and shapes.

    Unlike BlinkDL's package, which scans keys in file order (and so takes a one-layer RWKV-5.2
    file for 5.1), this looks at the set of keys, so any order gives the same answer.
    """
    keys = set(tensors)
    att = {k.split(".att.", 1)[1] for k in keys if k.startswith("blocks.") and ".att." in k}
    if "r_k" in att and "emb.weight" in keys:
        return 7
    if any(n.startswith("time_maa") for n in att):
        return 6
    if "ln_x.weight" in att:
        decay = tensors.get("blocks.0.att.time_decay")
        if "gate.weight" not in att:
            raise UnknownLayoutError("'{name}' is an RWKV-5.0 model (no gate): an early preview of RWKV-5 that "
                                     "RWKV Desktop does not run. Use an RWKV-5.2 (x052) or later model.", name=name)
        if decay is None or decay.dim() != 2 or decay.shape[1] <= 1:
            shape = "missing" if decay is None else list(decay.shape)
            raise UnknownLayoutError("'{name}' is an RWKV-5.1 model (one decay per head, time_decay {shape}): an "
                                     "early preview of RWKV-5 that RWKV Desktop does not run. Use an RWKV-5.2 "
                                     "(x052) or later model.", name=name, shape=shape)
        return 5
    if "time_first" in att and "time_mix_k" in att:
        return 4
    if any(k.startswith(("model.layers.", "rwkv.blocks.", "model.embeddings")) for k in keys):
        raise UnknownLayoutError(
            "'{name}' is in a Hugging Face layout that RWKV Desktop does not know (it reads fla-hub RWKV-7 and "
            "transformers' RWKV-4 folders); open the original RWKV .pth file instead.", name=name)
    sample = ", ".join(sorted(keys)[:8])
    raise UnknownLayoutError(
        "'{name}' is not an RWKV model: found {count} tensors "
        "({sample}{more}) "
        "but none of the keys that RWKV-4 to RWKV-7 checkpoints have (e.g. 'blocks.0.att.r_k').",
        name=name, count=len(keys), sample=sample, more=", ..." if len(keys) > 8 else "")
