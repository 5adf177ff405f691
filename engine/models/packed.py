"""Big matrices kept for the compiled CPU kernels, and int8 weight-only quantisation.

``int8`` is our own format, made at load time from any file: each output row of a matrix keeps
``round(w / s)`` in int8 with ``s = max|row| / 127`` in float32. The matrices (R, K, V, O, FFN
key/value, head, and RWKV-7's LoRAs) are quantised; vectors and the embedding keep float32.
Decoded tokens multiply float32 activations (the compiled GEMV); prompts quantise each token's
activations to 8 bits too and multiply integers (:class:`Int8Product`, ``kernels.cpu.gemm``).

Torch's code writes ``x @ W`` with ``W`` ``[in, out]``. For a matrix kept in another dtype than
torch computes in, ``W`` is one of the small classes below, whose ``__rmatmul__`` does the product
without a float copy of the layer: the int8 GEMM, or one shared fp32 scratch matrix filled just
before each product (:class:`ExpandedProduct`; bf16 where the CPU has no bf16 GEMM, and int8
without the compiled library).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_ROWS_PER_CHUNK = 4096  # quantise a big head in slices: no full-size float temporaries


@dataclass(slots=True)
class Packed:
    """One big matrix ``[out, in]`` in fp32, bf16, or int8 with a float32 ``scale`` per output row."""

    w: Tensor
    scale: Tensor | None = None

    def dense_into(self, out: Tensor) -> Tensor:
        """Write the fp32 matrix ``[out, in]`` into ``out`` (a reused scratch buffer) and return it."""
        if self.scale is None:
            return out.copy_(self.w)
        return torch.mul(self.w, self.scale.unsqueeze(1), out=out)

    @property
    def shape(self) -> tuple[int, int]:
        """``[in, out]``, as torch's code sees the matrix (``x @ W``)."""
        return self.w.shape[1], self.w.shape[0]

    def matvec_rows(self, x: Tensor) -> Tensor:
        """``x @ W^T`` for ``x`` ``[..., in]`` without materialising the whole fp32 matrix (the torch
        fallback for an int8 head)."""
        outs = []
        for i in range(0, self.w.shape[0], _ROWS_PER_CHUNK):
            w = self.w[i:i + _ROWS_PER_CHUNK].float()
            if self.scale is not None:
                w.mul_(self.scale[i:i + _ROWS_PER_CHUNK].unsqueeze(1))
            outs.append(x @ w.t())
        return torch.cat(outs, dim=-1)


class Int8Product:
    """``x @ W`` for an int8 :class:`Packed` by the compiled int8 GEMM (``kernels.cpu.gemm``): no
    float copy of ``W`` at all. ``x`` ``[..., in]``; the result is float32 ``[..., out]``."""

    __slots__ = ("p",)

    def __init__(self, p: Packed):
        self.p = p

    @property
    def shape(self) -> tuple[int, int]:
        return self.p.shape

    def __rmatmul__(self, x: Tensor) -> Tensor:
        from kernels.cpu.gemm import gemm_int8

        return gemm_int8(x, self.p.w, self.p.scale)


class Scratch:
    """One fp32 buffer that every :class:`ExpandedProduct` of a model shares, as big as its largest
    matrix, allocated when first needed (a model whose prompts never expand a matrix has none)."""

    __slots__ = ("numel", "device", "buf")

    def __init__(self, numel: int, device: torch.device):
        self.numel, self.device, self.buf = numel, device, None

    def take(self, shape: torch.Size) -> Tensor:
        if self.buf is None:
            self.buf = torch.empty(self.numel, dtype=torch.float32, device=self.device)
        return self.buf[:shape.numel()].view(shape)


class ExpandedProduct:
    """``x @ W`` for a :class:`Packed` kept int8 or bf16 while torch computes in fp32: the matrix
    is expanded into the model's :class:`Scratch` just before torch's GEMM reads it."""

    __slots__ = ("p", "scratch")

    def __init__(self, p: Packed, scratch: Scratch):
        self.p, self.scratch = p, scratch

    @property
    def shape(self) -> tuple[int, int]:
        return self.p.shape

    def __rmatmul__(self, x: Tensor) -> Tensor:
        return x @ self.p.dense_into(self.scratch.take(self.p.w.shape)).t()


def quantize_int8(w: Tensor) -> Packed:
    """Per-output-row symmetric int8 of ``w`` ``[out, in]`` (any float dtype)."""
    q = torch.empty(w.shape, dtype=torch.int8)
    scale = torch.empty(w.shape[0], dtype=torch.float32)
    for i in range(0, w.shape[0], _ROWS_PER_CHUNK):
        rows = w[i:i + _ROWS_PER_CHUNK].float()
        s = rows.abs().amax(dim=1).clamp_min(1e-30) / 127.0
        q[i:i + _ROWS_PER_CHUNK] = torch.round(rows / s.unsqueeze(1)).clamp_(-127, 127).to(torch.int8)
        scale[i:i + _ROWS_PER_CHUNK] = s
    return Packed(q, scale)


def pack(w: Tensor, fmt: torch.dtype) -> Packed:
    """``w`` ``[out, in]`` (from the file, possibly memory-mapped) as an owned :class:`Packed` in ``fmt``."""
    if fmt == torch.int8:
        return quantize_int8(w)
    t = w.to(fmt).contiguous()
    return Packed(t.clone() if t.data_ptr() == w.data_ptr() else t)
