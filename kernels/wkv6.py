"""The WKV of RWKV-5.2 ("x052") and RWKV-6 ("x060"): a reference recurrence and a chunked form.

Per head, a matrix state ``S[key i, value j]`` (float32, indexed ``[head, key, value]`` as in
BlinkDL's ``rwkv`` package). For each token t, with a per-key decay ``w_t`` in (0, 1) and a
per-key bonus ``u`` for the current token:

    y_t = r_t^T (S + diag(u) k_t v_t^T)
    S   = diag(w_t) S + k_t v_t^T

RWKV-5.2's decay is one constant per channel; RWKV-6 computes one per token ("data-dependent
decay"), so both run here with ``w`` given as ``[T, H, N]``. Shapes: r, w, k, v are ``[T, H, N]``,
u is ``[H, N]``, the state ``[H, N, N]``; every function updates the state in place and returns
``y`` ``[T, H, N]`` in float32.

Chunked form. Within a chunk of L tokens, with ``c_t = sum_{i<=t} log w_i`` per key channel
(inclusive) and ``p_t = c_{t-1}``,

    y_t = (r_t e^{p_t})^T S_0 + sum_{s<t} (sum_n r_tn k_sn e^{p_tn - c_sn}) v_s + (r_t u k_t) v_t
    S_L = diag(e^{c_L}) S_0 + sum_s (k_s e^{c_L - c_s}) v_s^T

Every exponent there is <= 0 except inside ``e^{p_t - c_s}`` when it is split into
``e^{p_t} e^{-c_s}`` (two matmul operands). Unlike RWKV-7's (0.545, 1), these decays can come
close to 0, so the split is used only for chunks whose decay over the whole chunk stays above
``e^-SPLIT_LIMIT`` (so that ``e^{-c_s}`` cannot overflow); other chunks compute the pairwise
factors ``e^{p_t - c_s}`` directly, ``[L, L, N]`` per head, which is exact for any decay.
"""

from __future__ import annotations

import torch
from torch import Tensor

CHUNK = 16
PAIRWISE_ELEMENTS = 1 << 23   # at most ~32 MB per pairwise temporary, whatever the prompt length
SPLIT_LIMIT = 60.0   # e^60 ~ 1e26: far from float32's 3e38, with room for the r and k factors
# A token whose decay is below e^-20 erases the state to 2e-9 of itself: flooring the log-decay
# there changes nothing at float32 precision, and keeps the chunk sums small enough that their
# differences stay accurate (|c| <= 20 L).
LOG_W_FLOOR = -20.0


def wkv6_one(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor) -> Tensor:
    """One token: r, w, k, v ``[H, N]``, u ``[H, N]``; updates ``state`` ``[H, N, N]`` in place."""
    H, N = r.shape
    r, w, k, v = (t.float() for t in (r, w, k, v))
    kv = k.view(H, N, 1) * v.view(H, 1, N)                           # k_t v_t^T
    y = torch.bmm(r.view(H, 1, N), state + u.view(H, N, 1) * kv)
    state.mul_(w.view(H, N, 1)).add_(kv)
    return y.view(H, N)


def wkv6_seq(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor) -> Tensor:
    """The reference: a sequence ``[T, H, N]`` one token at a time."""
    y = torch.empty(r.shape, dtype=torch.float32, device=r.device)
    for t in range(r.shape[0]):
        y[t] = wkv6_one(r[t], w[t], k[t], v[t], u, state)
    return y


def wkv6_chunked(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor,
                 chunk: int = CHUNK) -> Tensor:
    """The same as :func:`wkv6_seq` in chunks of ``chunk`` tokens (see the module docstring)."""
    T = r.shape[0]
    r, k, v, u = r.float(), k.float(), v.float(), u.float()
    logw = torch.log(w.float()).clamp_min(LOG_W_FLOOR)
    full = (T // chunk) * chunk
    ys = []
    if full:
        ys.append(_chunks(r[:full], logw[:full], k[:full], v[:full], u, state, chunk))
    if full < T:
        ys.append(_chunks(r[full:], logw[full:], k[full:], v[full:], u, state, T - full))
    return ys[0] if len(ys) == 1 else torch.cat(ys)


def _chunks(r: Tensor, logw: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor, L: int) -> Tensor:
    T, H, N = r.shape
    n = T // L
    # [n, H, L, N]: chunk, head, position in the chunk, channel
    r, logw, k, v = (t.reshape(n, L, H, N).transpose(1, 2) for t in (r, logw, k, v))
    c = torch.cumsum(logw, dim=2)                   # c_t
    p = c - logw                                    # p_t = c_{t-1}
    cL = c[:, :, -1:, :]                            # [n, H, 1, N]

    strict = torch.ones(L, L, dtype=torch.bool, device=r.device).tril(-1)
    safe = (-cL).amax(dim=(1, 2, 3)) < SPLIT_LIMIT  # [n]: may e^{p} e^{-c} be split?
    A = torch.empty(n, H, L, L, dtype=torch.float32, device=r.device)
    if bool(safe.any()):
        i = safe.nonzero().squeeze(1)
        A[i] = (r[i] * torch.exp(p[i])) @ (k[i] * torch.exp(-c[i])).transpose(-1, -2)
    unsafe = (~safe).nonzero().squeeze(1)
    step = max(1, PAIRWISE_ELEMENTS // (H * L * L * N))       # bound the [m, H, L, L, N] temporaries
    for i in unsafe.split(step):
        expo = (p[i].unsqueeze(-2) - c[i].unsqueeze(-3)).masked_fill(~strict.unsqueeze(-1), float("-inf"))
        A[i] = (r[i].unsqueeze(-2) * k[i].unsqueeze(-3) * torch.exp(expo)).sum(-1)   # [m, H, L, L]
    A = A.masked_fill(~strict, 0.0)
    A = A + torch.diag_embed((r * u.view(1, H, 1, N) * k).sum(-1))                     # the bonus term
    y_in = A @ v                                                                       # [n, H, L, N]
    rd = r * torch.exp(p)                                                              # reads S_0
    kd = k * torch.exp(cL - c)                                                         # writes S_L
    decay = torch.exp(cL).transpose(-1, -2)                                            # [n, H, N, 1]

    ys = []
    for j in range(n):
        ys.append(y_in[j] + rd[j] @ state)
        state.mul_(decay[j]).add_(kd[j].transpose(-1, -2) @ v[j])
    y = torch.stack(ys)                                                                # [n, H, L, N]
    return y.transpose(1, 2).reshape(T, H, N)
