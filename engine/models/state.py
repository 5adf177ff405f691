"""The recurrent state of one conversation: fixed in size, saved and restored as a file.

An RWKV model carries everything it has read in a handful of tensors per layer, so a chat of any
length resumes by loading this and nothing else. The file is safetensors: the state's tensors, the
logits of the last token (so generation continues without re-reading anything), and metadata that
ties it to the model it came from.

A state that is subtly wrong does not crash: it makes the model write garbage, or NaN logits that
fail later, far from the cause. So a file is checked before use: a sha256 over its tensors and
metadata, written at save (files from before it load without), catches flipped bytes; every part
must have the shape and dtype the model keeps it in and hold finite values, and ``last_logits``
one finite value per vocabulary entry. State-tuning files are checked for finite values too.
A saved state is also a valid state-tuning file for its model (:meth:`State.from_tuning_file`
takes one, with :meth:`State.load`'s checks): it starts new chats where the saved one stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from engine.atomic import atomic_write_bytes
from engine.errors import IncompatibleStateError, NotAModelError, StateFormatError, StateNotFoundError

if TYPE_CHECKING:
    from engine.models.model import Model

FORMAT = "rwkv-desktop-state"
FORMAT_VERSION = 1
# The token-shift parts are kept in the model's compute precision, so a state saved while the same
# model ran in another precision holds them in that one; they are converted. Every other part is
# float32 in every precision and must be stored so.
_SHIFT_PARTS = ("att_x_prev", "ffn_x_prev")
_COMPUTE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_RESERVED = {"format", "format_version", "generation", "fingerprint", "tokens_seen", "shapes", "checksum",
             "companions"}


@dataclass
class State:
    """Per-layer tensors of one sequence, named by part, each ``[n_layer, ...]``.

    RWKV-5, -6 and -7: ``att_x_prev``, ``wkv`` and ``ffn_x_prev``. The token-shift parts hold the
    LayerNorm'ed input of the last token (``[L, C]``, compute dtype); ``wkv`` is the float32 matrix
    state ``[L, H, N, N]``, indexed ``[layer, head, key, value]`` for RWKV-5/6 and
    ``[layer, head, value, key]`` for RWKV-7 (each as BlinkDL's package keeps it). RWKV-4:
    ``att_x_prev``, ``aa``, ``bb``, ``pp`` (``[L, A]`` float32: the numerator, denominator and
    running max exponent of its WKV average; ``pp`` starts at -1e30) and ``ffn_x_prev``.

    ``tokens_seen`` counts the tokens the state has consumed, ``last_logits`` holds the model's
    output for the last of them. Models advance a state in place: ``clone()`` keeps a checkpoint.
    """

    parts: dict[str, Tensor]
    generation: int
    fingerprint: str
    tokens_seen: int = 0
    last_logits: Tensor | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Tensor:
        parts = self.__dict__.get("parts", {})
        if name in parts:
            return parts[name]
        raise AttributeError(name)

    def clone(self) -> State:
        return State({k: v.clone() for k, v in self.parts.items()}, self.generation, self.fingerprint,
                     self.tokens_seen, None if self.last_logits is None else self.last_logits.clone(),
                     dict(self.meta))

    def copy_(self, other: State) -> None:
        """Overwrite this state with another's values (no new allocation)."""
        for k, v in self.parts.items():
            v.copy_(other.parts[k])
        self.tokens_seen = other.tokens_seen
        self.last_logits = None if other.last_logits is None else other.last_logits.clone()

    @property
    def nbytes(self) -> int:
        """Size in memory; it depends on the model only, never on how long the chat has run."""
        return sum(t.numel() * t.element_size() for t in self.parts.values())

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.parts.items()}

    def save(self, path: str | os.PathLike, meta: Mapping[str, object] | None = None,
             companions: Mapping[str, State] | None = None) -> None:
        """Write the state atomically (temp file, fsync, rename) as safetensors with metadata.

        ``companions`` are other states of the same model kept in the same file under a name (an
        exported conversation carries the state it started from): their tensors are stored as
        ``<name>/<part>`` and read back with :meth:`load_companion`; :meth:`load` ignores them."""
        from safetensors.torch import save

        tensors = _tensors(self)
        described = {}
        for name, other in (companions or {}).items():
            if not name or "/" in name:
                raise ValueError(f"a companion state's name must be a plain word, got {name!r}")
            tensors.update({f"{name}/{k}": v for k, v in _tensors(other).items()})
            described[name] = {"generation": other.generation, "fingerprint": other.fingerprint,
                               "tokens_seen": other.tokens_seen}
        merged = {**self.meta, **(meta or {})}
        info = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}
        info.update(format=FORMAT, format_version=str(FORMAT_VERSION), generation=str(self.generation),
                    fingerprint=self.fingerprint, tokens_seen=str(self.tokens_seen),
                    shapes=json.dumps(self.shapes()))
        if described:
            info["companions"] = json.dumps(described)
        info["checksum"] = _checksum(tensors, info)
        atomic_write_bytes(Path(path), save(tensors, metadata=info))

    @classmethod
    def load(cls, path: str | os.PathLike, model: Model, *, check_fingerprint: bool = True) -> State:
        """Read a state saved by :meth:`save`, checked against ``model`` before use."""
        path = Path(path)
        tensors, info = _read_checked(path)
        try:
            gen, tokens_seen = int(info.get("generation", "0")), int(info.get("tokens_seen", "0"))
        except ValueError as e:
            raise StateFormatError("'{name}' has damaged metadata ({error}); it cannot be used.",
                                   name=path.name, error=e) from e
        own = {k: v for k, v in tensors.items() if "/" not in k}
        state = _assemble(path, "", own, gen, info.get("fingerprint"), tokens_seen, model, check_fingerprint)
        state.meta = {k: v for k, v in info.items() if k not in _RESERVED}
        return state

    @classmethod
    def load_companion(cls, path: str | os.PathLike, model: Model, name: str) -> State | None:
        """The state kept beside the main one under ``name`` (see :meth:`save`); None if there is none."""
        path = Path(path)
        tensors, info = _read_checked(path)
        try:
            described = json.loads(info.get("companions", "{}")).get(name)
            if described is None:
                return None
            gen, tokens_seen = int(described["generation"]), int(described["tokens_seen"])
            fingerprint = str(described["fingerprint"])
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise StateFormatError("'{name}' has damaged metadata ({error}); it cannot be used.",
                                   name=path.name, error=e) from e
        prefix = f"{name}/"
        own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        return _assemble(path, f" ({name})", own, gen, fingerprint, tokens_seen, model, True)

    @classmethod
    def from_tuning_file(cls, path: str | os.PathLike, model: Model, *, check_name: bool = False) -> State:
        """An initial state from a state-tuning file: an official ``.pth`` or an Ai00 ``.state``
        (safetensors), both holding ``blocks.N.att.time_state`` ``[H, N, N]`` per layer; or a state
        :meth:`save` wrote (``python -m engine chat --save-state``, ``/save``, the app's saved states).

        The layers, heads and head size are checked against ``model``. RWKV-5/6 files store the
        matrix transposed relative to their runtime state, RWKV-7 files do not; ``model`` applies
        its own rule. (The files carry nothing else, so a v6 file for a v7 model of the very same
        shape cannot be told apart; the file name, e.g. ``rwkv-x060-...``, says which it is.)

        A saved state is a whole state (every part, any generation, RWKV-4 too) and says which model
        it came from, so it goes through :meth:`load`'s checks instead: generation, layers, width and
        heads, the weights' fingerprint, checksum, dtypes and values, each refused with its own
        message. It starts new chats where the saved one left off.

        ``check_name``: also refuse a tuning file named for another generation
        (:func:`engine.models.file_info.check_named_generation`); a saved state says its own inside.
        """
        from engine.models.checkpoint import read_checkpoint

        path = Path(path)
        if is_saved_state(path):
            return cls.load(path, model)
        state = model.new_state()
        if "wkv" not in state.parts:
            raise IncompatibleStateError(
                "'{name}' cannot be used: RWKV-{generation} models have no matrix state, "
                "and state-tuning files set one (they exist for RWKV-5, -6 and -7 models).",
                name=path.name, generation=model.info.generation)
        try:
            tensors = read_checkpoint(path).tensors
        except NotAModelError as e:         # said as what was asked for: a state file, not a model
            raise StateFormatError("'{name}' is not a state-tuning file: a state-tuning file is an official "
                                   ".pth, an Ai00 .state or a state RWKV Desktop saved, and this is none of "
                                   "them.", name=path.name) from e
        L, H, N = model.info.n_layer, model.info.n_head, model.info.head_size
        found = {k: _layer_index(k) for k in tensors if k.endswith(".att.time_state")}
        if not found:
            raise StateFormatError("'{name}' is not a state-tuning file: it has no "
                                   "'blocks.N.att.time_state' tensors, and it is not a state RWKV Desktop saved.",
                                   name=path.name)
        layers = sorted(found.values())
        # Some converters flatten the heads: [H * N, N] holds the same matrices.
        tensors = {k: tensors[k].reshape(H, N, N) if tuple(tensors[k].shape) == (H * N, N) else tensors[k]
                   for k in found}
        shapes = {tuple(tensors[k].shape) for k in found}
        if layers != list(range(L)) or shapes != {(H, N, N)}:
            raise IncompatibleStateError(
                "'{name}' was tuned for another model: it has {found} layers of "
                "{shapes}, but the loaded model needs {layers} "
                "layers of [{heads}, {head_size}, {head_size}]. Use it with the model it was tuned on.",
                name=path.name, found=len(found), shapes=" / ".join(str(list(s)) for s in sorted(shapes)), layers=L,
                heads=H, head_size=N)
        for k in found:
            if not tensors[k].is_floating_point():
                raise StateFormatError("'{name}' holds '{key}' as {dtype}, not as floating point "
                                       "numbers; it is not a state-tuning file we can use.",
                                       name=path.name, key=k, dtype=tensors[k].dtype)
            _check_finite(tensors[k], f"'{path.name}'", f"'{k}'")
        wkv = state.parts["wkv"]
        for k, i in found.items():
            wkv[i].copy_(model.tuning_to_wkv(tensors[k]))
        if check_name:
            from engine.models.file_info import check_named_generation

            check_named_generation(path, model.info.generation)
        return state


def is_saved_state(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file :meth:`State.save` wrote (its safetensors header names our format),
    read from the header alone; False for anything else (a ``.pth``, another program's safetensors,
    a file that is not there)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except (SafetensorError, OSError, ValueError):
        return False


def _tensors(state: State) -> dict[str, Tensor]:
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.parts.items()}
    if state.last_logits is not None:
        tensors["last_logits"] = state.last_logits.detach().float().to("cpu").contiguous()
    return tensors


def _read_checked(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """A state file's tensors and metadata, its format and checksum verified."""
    tensors, info = _read_safetensors(path)
    try:
        version = int(info.get("format_version", "0"))
    except ValueError as e:
        raise StateFormatError("'{name}' has damaged metadata ({error}); it cannot be used.",
                               name=path.name, error=e) from e
    if info.get("format") != FORMAT:
        raise StateFormatError("'{name}' is not an RWKV Desktop state file "
                               "(format: {format}).", name=path.name, format=repr(info.get("format", "none")))
    if version > FORMAT_VERSION:
        raise StateFormatError("'{name}' was written by a newer RWKV Desktop "
                               "(state format {version}); update the app to read it.",
                               name=path.name, version=info["format_version"])
    if "checksum" in info and info["checksum"] != _checksum(tensors, info):
        raise StateFormatError(
            "'{name}' is damaged: its contents no longer match the checksum written when it was "
            "saved (a disk or copy error changed it). It cannot be used; resume from an earlier state.", name=path.name)
    return tensors, info


def _assemble(path: Path, which: str, tensors: dict[str, Tensor], gen: int, fingerprint: str | None,
              tokens_seen: int, model: Model, check_fingerprint: bool) -> State:
    """A state of ``model`` from a file's tensors, after checking generation, shapes, weights, dtypes
    and values (``which`` names a companion state in messages)."""
    name = f"'{path.name}'{which}"
    expected = model.new_state()
    logits = tensors.pop("last_logits", None)
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    if gen != expected.generation or got != expected.shapes():
        raise IncompatibleStateError(
            "{name} is a state for another model: it has {has}, but the loaded "
            "model needs {needs}.",
            name=name, has=_describe(gen, got), needs=_describe(expected.generation, expected.shapes()))
    if check_fingerprint and fingerprint != expected.fingerprint:
        raise IncompatibleStateError(
            "{name} was saved with other weights of the same shape (model fingerprint {fingerprint}, loaded "
            "model {expected}); its text would be garbled. Load the model it was saved with.",
            name=name, fingerprint=fingerprint, expected=expected.fingerprint)
    for k, v in expected.parts.items():
        allowed = _COMPUTE_DTYPES if k in _SHIFT_PARTS else (v.dtype,)
        if tensors[k].dtype not in allowed:
            raise StateFormatError(
                "{name} holds '{key}' as {dtype}, but this model keeps it as {expected}; "
                "RWKV Desktop never writes it so, so the file is damaged or was made by another program.",
                name=name, key=k, dtype=tensors[k].dtype, expected=v.dtype)
        v.copy_(tensors[k])
        _check_finite(v, name, f"'{k}'")
    expected.tokens_seen = tokens_seen
    if logits is not None:
        vocab = model.info.vocab_size
        if tuple(logits.shape) != (vocab,):
            raise IncompatibleStateError(
                "{name} holds last-token logits of shape {shape}, but the loaded model "
                "has a vocabulary of {vocab}: the state belongs to another model. Load the model it was "
                "saved with.", name=name, shape=list(logits.shape), vocab=vocab)
        if not logits.is_floating_point():
            raise StateFormatError("{name} holds its last-token logits as {dtype}, not as "
                                   "floating point numbers; the file is damaged.", name=name, dtype=logits.dtype)
        _check_finite(logits, name, "its last-token logits")
        expected.last_logits = logits.float().to(model.device)
    return expected


def _checksum(tensors: Mapping[str, Tensor], info: Mapping[str, str]) -> str:
    """sha256 over every tensor (name, dtype, shape, bytes) and every metadata entry but itself."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    digest.update(json.dumps({k: v for k, v in info.items() if k != "checksum"}, sort_keys=True).encode())
    return f"sha256:{digest.hexdigest()}"


def _check_finite(t: Tensor, file: str, what: str) -> None:
    """NaN or infinity in a state never comes back out: every later token would be garbage. One sum
    carries any NaN or infinity through (~5x cheaper than ``isfinite().all()`` on a 1.5B state; a
    real state's values are far from overflowing it)."""
    if not math.isfinite(float(t.float().sum()) if t.dtype != torch.float32 else float(t.sum())):
        raise StateFormatError("{file} is damaged: {what} holds NaN or infinite values, and a model run from "
                               "them writes garbage. It cannot be used; use an earlier state, or make it again.",
                               file=file, what=what)


def _layer_index(key: str) -> int:
    parts = key.split(".")
    if len(parts) < 2 or parts[0] != "blocks" or not parts[1].isdigit():
        raise StateFormatError("Unexpected key '{key}' in a state-tuning file (expected "
                               "'blocks.N.att.time_state').", key=key)
    return int(parts[1])


def _describe(generation: int, shapes: Mapping[str, tuple[int, ...]]) -> str:
    wkv = shapes.get("wkv")
    x = shapes.get("att_x_prev")
    if wkv is None and x is not None and "aa" in shapes:
        return f"RWKV-{generation} with {x[0]} layers, width {x[1]}"
    if wkv is not None and x is not None:
        return (f"RWKV-{generation} with {wkv[0]} layers, width {x[1]}, {wkv[1]} heads of size {wkv[2]} "
                f"(wkv {list(wkv)})")
    return f"RWKV-{generation} parts {dict(shapes)}"


def _read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise StateNotFoundError("No state file at '{path}'.", path=path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            info = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise StateFormatError("'{name}' is not a readable state file ({error}).", name=path.name, error=e) from e
    return tensors, info
