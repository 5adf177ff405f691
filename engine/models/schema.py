"""The tensors each RWKV generation expects, checked before a model allocates anything.

A generation describes its checkpoint as a table (its module's ``SCHEMA``): which tensors every
block holds and which the file holds once, each with a shape written in the model's sizes
(``("F", "C")``), and a function reading those sizes from a few anchor tensors (the embedding
gives the vocabulary and the width, and so on). Matrices also say how they are stored (a linear
weight ``[out, in]``, a LoRA ``[in, out]``) and their role, the name the compiled decode step
knows them by, which is all :mod:`engine.models.weights` needs to place them.
:meth:`Schema.check` refuses, with a typed error that names the tensor, what was found and what
was expected:

- block numbers with gaps. The layer count is the number of blocks present, never one more than
  the largest number, so a file with one stray ``blocks.100000000.att.x`` cannot make the loader
  list a hundred million layers' worth of key names (it used to take many GB);
- missing tensors (:class:`UnknownLayoutError`, with the first few names);
- dtypes other than float32, float16 and bfloat16: bool or integer weights used to load silently
  and compute garbage (:class:`InvalidTensorError`);
- shapes that disagree with the sizes: they used to fail at the first forward with untyped errors,
  or hand the compiled decode step a matrix of another size (:class:`InvalidTensorError`).

Only the file's metadata is read (names, shapes, dtypes): nothing is copied or allocated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from engine.errors import InvalidTensorError, UnknownLayoutError

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_SHOWN = 6   # missing names listed in a message


LINEAR, LORA, SMALL_LORA = "linear", "lora", "small-lora"   # how a matrix is stored and kept (Expect.kind)


@dataclass(frozen=True)
class Expect:
    """One tensor of a checkpoint: its shape in size names (or numbers), and for a matrix its kind
    and role (the compiled decode step's name for it: ``"R"``, ``"fK"``, ``"w1"``)."""

    shape: tuple[str | int, ...]
    vector: bool = False     # stored [n] or [1, 1, n] alike: only the dims that are not 1 must match
    optional: bool = False   # checked when present (RWKV-7's unused block-0 value LoRA, merged states)
    kind: str = ""           # LINEAR: [out, in]; LORA: [in, out], int8/bf16 like the linear ones;
    role: str = ""           # SMALL_LORA: [..., in, out], kept in the compute dtype (RWKV-6's)


def vec(*dims: str | int, optional: bool = False) -> Expect:
    """A parameter the model reads flattened: ``[C]``, ``[1, 1, C]`` and ``[C, 1]`` are all ``vec("C")``."""
    return Expect(dims, vector=True, optional=optional)


def shaped(*dims: str | int, optional: bool = False) -> Expect:
    """A tensor whose shape must be exactly ``dims``."""
    return Expect(dims, optional=optional)


def linear(out: str | int, in_: str | int, role: str) -> Expect:
    """A linear weight, stored ``[out, in]`` as in ``F.linear``."""
    return Expect((out, in_), kind=LINEAR, role=role)


def lora(*dims: str | int, role: str, small: bool = False, optional: bool = False) -> Expect:
    """A LoRA factor, stored ``[..., in, out]`` (used as ``x @ W``); ``small``: kept in the compute
    dtype even when the linear weights are int8 or bf16 (RWKV-6's mix and decay LoRAs)."""
    return Expect(dims, optional=optional, kind=SMALL_LORA if small else LORA, role=role)


# What every generation holds besides its blocks' time and channel mixing.
GLOBALS = {"emb.weight": shaped("V", "C"), "blocks.0.ln0.weight": vec("C"), "blocks.0.ln0.bias": vec("C"),
           "ln_out.weight": vec("C"), "ln_out.bias": vec("C"), "head.weight": linear("V", "C", "head")}
BLOCK_NORMS = {"ln1.weight": vec("C"), "ln1.bias": vec("C"), "ln2.weight": vec("C"), "ln2.bias": vec("C")}


class Sizes:
    """Reads a generation's sizes from its anchor tensors, refusing shapes that cannot give them."""

    def __init__(self, tensors: Mapping[str, Tensor], file: str, label: str):
        self._z, self._file, self._label = tensors, file, label

    def dims(self, key: str, ndim: int) -> tuple[int, ...]:
        """The shape of ``key``, which must have ``ndim`` dimensions of at least 1."""
        shape = tuple(self._z[key].shape)
        if len(shape) != ndim or min(shape, default=1) < 1:
            raise InvalidTensorError("'{file}': '{key}' has shape {shape}, but an {label} "
                                     "checkpoint stores it with {ndim} dimensions, none of them 0.",
                                     file=self._file, key=key, shape=list(shape), label=self._label, ndim=ndim)
        return shape

    def has(self, key: str) -> bool:
        return key in self._z

    def require(self, ok: bool, what: str) -> None:
        """Refuse the file unless ``ok``; ``what`` says which sizes disagree."""
        if not ok:
            raise InvalidTensorError("'{file}' is not a consistent {label} checkpoint: {what}.",
                                     file=self._file, label=self._label, what=what)


@dataclass(frozen=True)
class Schema:
    """A generation's checkpoint: global tensors, per-block tensors, and how its sizes are read."""

    generation: int
    label: str                                        # "RWKV-5.2": how messages name the generation
    sizes: Callable[[Sizes], dict[str, int]]          # from the anchors; "L" is added by check()
    block: Mapping[str, Expect]                       # names after "blocks.{i}.", in file order
    block0: Mapping[str, Expect] = field(default_factory=dict)   # block 0's exceptions to ``block``
    globals_: Mapping[str, Expect] = field(default_factory=lambda: GLOBALS)

    def check(self, tensors: Mapping[str, Tensor], file: str) -> dict[str, int]:
        """Refuse ``tensors`` (from the file named ``file``) unless they are a whole checkpoint of
        this generation; return its sizes, ``"L"`` (the layer count) included."""
        L = _layer_count(tensors, file)
        expected = dict(self.globals_)
        for i in range(L):
            block = {**self.block, **self.block0} if i == 0 else self.block
            expected.update({f"blocks.{i}.{name}": e for name, e in block.items()})
        missing = [k for k, e in expected.items() if k not in tensors and not e.optional]
        if missing:
            shown = ", ".join(missing[:_SHOWN]) + (", ..." if len(missing) > _SHOWN else "")
            raise UnknownLayoutError("'{file}' looks like {label} but {count} tensors are missing "
                                     "({shown}); the file is incomplete or from an unsupported variant.",
                                     file=file, label=self.label, count=len(missing), shown=shown)
        sizes = {"L": L, **self.sizes(Sizes(tensors, file, self.label))}
        for key, e in expected.items():
            if key in tensors:
                _check_tensor(key, tensors[key], e, sizes, file, self.label)
        return sizes

    def entry(self, key: str) -> tuple[int, Expect]:
        """The block number (-1 for a global tensor) and the table entry of a checked tensor's key."""
        if key in self.globals_:
            return -1, self.globals_[key]
        _, i, name = key.split(".", 2)
        layer = int(i)
        return layer, (self.block0.get(name) if layer == 0 else None) or self.block[name]

    def shape(self, e: Expect, sizes: dict[str, int]) -> tuple[int, ...]:
        """``e``'s shape in numbers."""
        return tuple(s if isinstance(s, int) else sizes[s] for s in e.shape)


def _layer_count(tensors: Mapping[str, Tensor], file: str) -> int:
    """The number of blocks, which must be numbered 0, 1, 2, ... without gaps."""
    numbers: dict[int, str] = {}
    for key in tensors:
        parts = key.split(".", 2)
        if len(parts) > 2 and parts[0] == "blocks" and parts[1].isdigit():
            numbers.setdefault(int(parts[1]), key)
    if not numbers:
        raise UnknownLayoutError("'{file}' has no 'blocks.N.' tensors, so it holds no RWKV layers.", file=file)
    L = len(numbers)
    if max(numbers) != L - 1:
        gap = next(i for i in range(L) if i not in numbers)
        stray = numbers[max(numbers)]
        raise UnknownLayoutError("'{file}' has {layers} blocks numbered up to {last} (e.g. '{stray}'), "
                                 "but block {gap} is missing: blocks are numbered 0, 1, 2, ... without gaps, "
                                 "so the file is damaged or altered.",
                                 file=file, layers=L, last=max(numbers), stray=stray, gap=gap)
    return L


def _check_tensor(key: str, t: Tensor, e: Expect, sizes: dict[str, int], file: str, label: str) -> None:
    if t.dtype not in FLOAT_DTYPES:
        raise InvalidTensorError("'{file}': '{key}' is {dtype}, but {label} "
                                 "weights are float32, float16 or bfloat16; the file is damaged or was "
                                 "converted wrongly (quantised files are not read: load a float file with "
                                 "precision int8, q5 or q4 instead).",
                                 file=file, key=key, dtype=str(t.dtype).removeprefix("torch."), label=label)
    want, shape = tuple(s if isinstance(s, int) else sizes[s] for s in e.shape), tuple(t.shape)
    if e.vector:
        ok = [d for d in shape if d != 1] == [d for d in want if d != 1]
    else:
        ok = shape == want
    if not ok:
        names = " x ".join(f"{s}={sizes[s]}" if isinstance(s, str) else str(s) for s in e.shape)
        raise InvalidTensorError("'{file}': '{key}' has shape {shape}, but this {label} model "
                                 "needs {want} ({names}); the file is damaged or altered.",
                                 file=file, key=key, shape=list(shape), label=label, want=list(want), names=names)
