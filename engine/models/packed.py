"""Big matrices kept for the compiled CPU kernels, and int8 weight-only quantisation.

``int8`` is our own format, made at load time from any file: each output row of a matrix keeps
``round(w / s)`` in int8 with ``s = max|row| / 127`` in float32, and activations stay float32
(weight-only). The matrices (R, K, V, O, FFN key/value, head, and RWKV-7's LoRAs) are quantised;
vectors and the embedding keep float32.
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
