"""RWKV-7's WKV as Triton kernels: a fused recurrent form and a chunked form, same math as
:mod:`kernels.reference` and :mod:`kernels.chunked`.

Imports triton at module level: reach it through :mod:`kernels.gpu`, which guards the import.

Both kernels run one program per (sequence, head, block of value rows). Each row ``i`` of the
state ``S[value, key]`` evolves on its own,

    S_i <- S_i diag(w) + (S_i . a) b^T + v_i k^T,

so splitting the value dimension over programs (``BV`` rows each) is exact and gives the GPU
``N / BV`` times more programs than one per head. The key-side work of a chunk (decays, the
triangular solve) is repeated by every value block: it is small next to the state traffic.

Chunked form (per chunk of ``L`` tokens, ``c_t`` the inclusive cumulative log-decay per key): with
``ad = a e^{c_{t-1}}``, ``bd = b e^{-c}``, ``kd = k e^{-c}``, ``rd = r e^{c}``, the rows ``z_t = S_{t-1} a_t``
solve ``(I - A_b) Z = ad S_0^T + A_k V`` where ``A_b = tril_{-1}(ad bd^T)``, ``A_k = tril_{-1}(ad kd^T)``.
``A_b`` is strictly lower triangular, so ``(I - A_b)^{-1} = (I + A_b)(I + A_b^2)(I + A_b^4)...``: log2(L)
products, all matrix multiplies. Then ``Y = rd S_0^T + tril(rd bd^T) Z + tril(rd kd^T) V`` and
``S_L = S_0 diag(e^{c_L}) + Z^T (bd e^{c_L}) + V^T (kd e^{c_L})``. Padding past ``T`` loads
``w = 1`` and zeros elsewhere, which contributes nothing, so any T runs without a separate tail.

Matrix products use ``input_precision="ieee"`` (plain fp32) by default: TF32 would cost ~1e-3
relative error. ``"tf32x3"`` is the candidate to measure on a GPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

# Launch options. Compiled ahead of time for sm_90 (N=64, chunk 16), the chunked kernel spills
# 0.8-4 KB of stack per thread with 4 warps; with 8 warps and the loads not software-pipelined it
# uses 253 registers and spills nothing. FMA contraction is asked for explicitly (triton 3.9 warns
# that its default will change). Guesses until measured on a GPU.
RECURRENT_LAUNCH = {"num_warps": 4, "enable_fp_fusion": True}
CHUNKED_LAUNCH = {"num_warps": 8, "num_stages": 1, "enable_fp_fusion": True}


@triton.jit
def _wkv7_recurrent_kernel(r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, s_ptr, y_ptr, T,
                           H: tl.constexpr, N: tl.constexpr, BV: tl.constexpr):
    pid = tl.program_id(0)                      # sequence * H + head
    vb = tl.program_id(1)                       # block of value rows
    seq = (pid // H).to(tl.int64)
    h = pid % H
    iv = vb * BV + tl.arange(0, BV)             # value rows of this program
    ik = tl.arange(0, N)                        # key columns
    s_off = pid.to(tl.int64) * N * N + iv[:, None] * N + ik[None, :]
    S = tl.load(s_ptr + s_off)                  # [BV, N] float32
    base = (seq * T * H + h) * N
    for t in range(T):
        off = base + t * (H * N)
        r = tl.load(r_ptr + off + ik).to(tl.float32)
        w = tl.load(w_ptr + off + ik).to(tl.float32)
        k = tl.load(k_ptr + off + ik).to(tl.float32)
        a = tl.load(a_ptr + off + ik).to(tl.float32)
        b = tl.load(b_ptr + off + ik).to(tl.float32)
        v = tl.load(v_ptr + off + iv).to(tl.float32)
        sa = tl.sum(S * a[None, :], axis=1)     # [BV]: S_{t-1} a_t
        S = S * w[None, :] + sa[:, None] * b[None, :] + v[:, None] * k[None, :]
        tl.store(y_ptr + off + iv, tl.sum(S * r[None, :], axis=1))
    tl.store(s_ptr + s_off, S)


@triton.jit
def _wkv7_chunked_kernel(r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, s_ptr, y_ptr, T,
                         H: tl.constexpr, N: tl.constexpr, BV: tl.constexpr, L: tl.constexpr,
                         LOG2L: tl.constexpr, PREC: tl.constexpr):
    pid = tl.program_id(0)
    vb = tl.program_id(1)
    seq = (pid // H).to(tl.int64)
    h = pid % H
    iv = vb * BV + tl.arange(0, BV)
    ik = tl.arange(0, N)
    pos = tl.arange(0, L)
    strict = pos[:, None] > pos[None, :]
    incl = pos[:, None] >= pos[None, :]
    s_off = pid.to(tl.int64) * N * N + iv[:, None] * N + ik[None, :]
    S = tl.load(s_ptr + s_off)                  # [BV, Nk]
    base = (seq * T * H + h) * N
    for t0 in range(0, T, L):
        tok = t0 + pos
        m = (tok < T)[:, None]
        row = base + tok[:, None].to(tl.int64) * (H * N)
        offk = row + ik[None, :]                # [L, Nk]
        offv = row + iv[None, :]                # [L, BV]
        r = tl.load(r_ptr + offk, mask=m, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + offk, mask=m, other=1.0).to(tl.float32)
        k = tl.load(k_ptr + offk, mask=m, other=0.0).to(tl.float32)
        a = tl.load(a_ptr + offk, mask=m, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + offk, mask=m, other=0.0).to(tl.float32)
        v = tl.load(v_ptr + offv, mask=m, other=0.0).to(tl.float32)

        logw = tl.log(w)
        c = tl.cumsum(logw, axis=0)             # c_t, inclusive
        eL = tl.exp(tl.sum(logw, axis=0))       # [Nk]: e^{c_L}; padding adds log 1 = 0
        inv = tl.exp(-c)
        kd = k * inv
        bd = b * inv
        ad = a * tl.exp(c - logw)
        rd = r * tl.exp(c)
        A_b = tl.where(strict, tl.dot(ad, tl.trans(bd), input_precision=PREC), 0.0)
        A_k = tl.where(strict, tl.dot(ad, tl.trans(kd), input_precision=PREC), 0.0)
        B_b = tl.where(incl, tl.dot(rd, tl.trans(bd), input_precision=PREC), 0.0)
        B_k = tl.where(incl, tl.dot(rd, tl.trans(kd), input_precision=PREC), 0.0)

        St = tl.trans(S)                        # [Nk, BV]
        Z = tl.dot(ad, St, input_precision=PREC) + tl.dot(A_k, v, input_precision=PREC)
        P = A_b
        for j in tl.static_range(LOG2L):        # Z <- (I + A_b^{2^j}) Z
            Z = Z + tl.dot(P, Z, input_precision=PREC)
            if j < LOG2L - 1:
                P = tl.dot(P, P, input_precision=PREC)
        y = tl.dot(rd, St, input_precision=PREC) + tl.dot(B_b, Z, input_precision=PREC) \
            + tl.dot(B_k, v, input_precision=PREC)
        tl.store(y_ptr + offv, y, mask=m)

        # b e^{c_L - c} = bd e^{c_L} (and so for k): b, k and c need not stay live this long
        S = S * eL[None, :] + tl.dot(tl.trans(Z), bd * eL[None, :], input_precision=PREC) \
            + tl.dot(tl.trans(v), kd * eL[None, :], input_precision=PREC)
    tl.store(s_ptr + s_off, S)


def _launch(kernel, r, w, k, v, a, b, state: Tensor, bv: int, **meta) -> Tensor:
    *lead, T, H, N = r.shape
    if tuple(state.shape) != (*lead, H, N, N) or state.dtype != torch.float32:
        raise ValueError(f"state must be float32 {(*lead, H, N, N)}, got {state.dtype} {tuple(state.shape)}")
    if N < 16 or N & (N - 1):
        raise ValueError(f"head size {N} is not a power of two >= 16")
    inputs = [t.contiguous() for t in (r, w, k, v, a, b)]
    s = state if state.is_contiguous() else state.contiguous()
    y = torch.empty(r.shape, dtype=torch.float32, device=r.device)
    n_seq = s.numel() // (H * N * N)
    bv = min(bv, N)
    if T and n_seq:
        kernel[(n_seq * H, N // bv)](*inputs, s, y, T, H=H, N=N, BV=bv, **meta)
    if s is not state:
        state.copy_(s)
    return y


def wkv7_recurrent(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor,
                   block_v: int = 16) -> Tensor:
    """Token by token in one fused kernel: inputs ``[..., T, H, N]``, state ``[..., H, N, N]`` updated
    in place; returns ``y`` ``[..., T, H, N]`` float32."""
    return _launch(_wkv7_recurrent_kernel, r, w, k, v, a, b, state, block_v, **RECURRENT_LAUNCH)


def wkv7_chunked(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor,
                 chunk: int = 16, block_v: int = 16, precision: str = "ieee") -> Tensor:
    """Chunks of ``chunk`` tokens (16 or 32; RWKV-7 decays only: see :mod:`kernels.chunked` on the
    ``e^{-c}`` range), sequential from chunk to chunk; same contract as :func:`wkv7_recurrent`."""
    if chunk not in (16, 32):
        raise ValueError(f"chunk must be 16 or 32, got {chunk}")
    return _launch(_wkv7_chunked_kernel, r, w, k, v, a, b, state, max(block_v, 16),
                   L=chunk, LOG2L=chunk.bit_length() - 1, PREC=precision, **CHUNKED_LAUNCH)
