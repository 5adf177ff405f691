"""The WKV of RWKV-5.2 and RWKV-6 as a fused recurrent Triton kernel (math of :mod:`kernels.wkv6`).

Imports triton at module level: reach it through :mod:`kernels.gpu`, which guards the import.

The state is ``S[key, value]`` per head (transposed against RWKV-7's). For each token,

    y_t = r_t^T (S + diag(u) k_t v_t^T),    S <- diag(w_t) S + k_t v_t^T,

and each value column evolves on its own, so programs split the value dimension (``BV`` columns
each). RWKV-5.2's constant decay is passed as ``w`` broadcast to ``[T, H, N]``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

RECURRENT_LAUNCH = {"num_warps": 4, "enable_fp_fusion": True}   # see kernels.gpu.triton_wkv7


@triton.jit
def _wkv6_recurrent_kernel(r_ptr, w_ptr, k_ptr, v_ptr, u_ptr, s_ptr, y_ptr, T,
                           H: tl.constexpr, N: tl.constexpr, BV: tl.constexpr):
    pid = tl.program_id(0)                      # sequence * H + head
    vb = tl.program_id(1)                       # block of value columns
    seq = (pid // H).to(tl.int64)
    h = pid % H
    ik = tl.arange(0, N)                        # key rows
    iv = vb * BV + tl.arange(0, BV)             # value columns of this program
    s_off = pid.to(tl.int64) * N * N + ik[:, None] * N + iv[None, :]
    S = tl.load(s_ptr + s_off)                  # [N, BV] float32
    u = tl.load(u_ptr + h * N + ik).to(tl.float32)
    base = (seq * T * H + h) * N
    for t in range(T):
        off = base + t * (H * N)
        r = tl.load(r_ptr + off + ik).to(tl.float32)
        w = tl.load(w_ptr + off + ik).to(tl.float32)
        k = tl.load(k_ptr + off + ik).to(tl.float32)
        v = tl.load(v_ptr + off + iv).to(tl.float32)
        kv = k[:, None] * v[None, :]
        tl.store(y_ptr + off + iv, tl.sum(r[:, None] * (S + u[:, None] * kv), axis=0))
        S = S * w[:, None] + kv
    tl.store(s_ptr + s_off, S)


def wkv6_recurrent(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor,
                   block_v: int = 16) -> Tensor:
    """r, w, k, v ``[..., T, H, N]`` (w may be an expanded view), u ``[H, N]``, state ``[..., H, N, N]``
    float32 updated in place; returns ``y`` ``[..., T, H, N]`` float32."""
    *lead, T, H, N = r.shape
    if tuple(state.shape) != (*lead, H, N, N) or state.dtype != torch.float32:
        raise ValueError(f"state must be float32 {(*lead, H, N, N)}, got {state.dtype} {tuple(state.shape)}")
    if N < 16 or N & (N - 1):
        raise ValueError(f"head size {N} is not a power of two >= 16")
    r, k, v = (t.contiguous() for t in (r, k, v))
    w = w.expand(r.shape).contiguous()
    u = u.reshape(H, N).contiguous()
    s = state if state.is_contiguous() else state.contiguous()
    y = torch.empty(r.shape, dtype=torch.float32, device=r.device)
    n_seq = s.numel() // (H * N * N)
    bv = min(block_v, N)
    if T and n_seq:
        _wkv6_recurrent_kernel[(n_seq * H, N // bv)](r, w, k, v, u, s, y, T, H=H, N=N, BV=bv, **RECURRENT_LAUNCH)
    if s is not state:
        state.copy_(s)
    return y
