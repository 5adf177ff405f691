"""The WKV of RWKV-4: a per-channel weighted average of past values, kept in a stable form.

Per channel, with ``w = -exp(time_decay)`` (log of the decay, < 0) and ``u = time_first`` (log of
the current token's bonus), the output for token t is

    wkv_t = (sum_{s<t} e^{(t-1-s) w + k_s} v_s + e^{u + k_t} v_t)
          / (sum_{s<t} e^{(t-1-s) w + k_s}     + e^{u + k_t})

kept as ``aa / bb`` scaled by ``e^{-pp}``: ``pp`` is the largest exponent seen so far, so nothing
overflows (the "max trick"). State ``aa, bb, pp`` ``[A]`` in float32, ``pp`` starting at -1e30 as
in BlinkDL's ``rwkv`` package. The recurrence is sequential per channel, so a sequence is a loop
over tokens with every channel at once; there is no cheaper exact form.
"""

from __future__ import annotations

import torch
from torch import Tensor

PP_START = -1e30


def wkv4_one(w: Tensor, u: Tensor, k: Tensor, v: Tensor, aa: Tensor, bb: Tensor, pp: Tensor) -> Tensor:
    """One token: k, v ``[A]`` (float32); updates ``aa, bb, pp`` in place; returns ``wkv`` ``[A]``.

    Elementwise, so k, v and the states may also be ``[B, A]``: one token for each of B sequences.
    """
    ww = u + k
    p = torch.maximum(pp, ww)
    e1 = torch.exp(pp - p)
    e2 = torch.exp(ww - p)
    y = (e1 * aa + e2 * v) / (e1 * bb + e2)
    ww = w + pp
    p = torch.maximum(ww, k)
    e1 = torch.exp(ww - p)
    e2 = torch.exp(k - p)
    aa.mul_(e1).add_(e2 * v)
    bb.mul_(e1).add_(e2)
    pp.copy_(p)
    return y


def wkv4_seq(w: Tensor, u: Tensor, k: Tensor, v: Tensor, aa: Tensor, bb: Tensor, pp: Tensor) -> Tensor:
    """A sequence, k and v ``[T, A]``: one step per token; returns ``wkv`` ``[T, A]`` (float32)."""
    k, v = k.float(), v.float()
    y = torch.empty_like(k)
    for t in range(k.shape[0]):
        y[t] = wkv4_one(w, u, k[t], v[t], aa, bb, pp)
    return y
