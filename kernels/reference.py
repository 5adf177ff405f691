"""The WKV recurrences written out plainly: the in-house oracle every fast kernel is tested against.

RWKV-7 ("x070") keeps, per head, a matrix state ``S[value i, key j]``. For each token t:

    S = S * w[None, :] + (S @ a) b^T + v k^T        (w: decay in (0, 1) per key channel)
    y = S @ r

where, in the model, ``a = -kk`` and ``b = kk * a_gate`` (kk the normalised key). Shapes: r, w, k, v,
a, b are ``[T, H, N]``; the state is ``[H, N, N]`` in float32, indexed ``[head, value, key]`` as in
BlinkDL's ``rwkv`` package.
"""

from __future__ import annotations

import torch
from torch import Tensor


def wkv7_one(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor) -> Tensor:
    """One token: inputs ``[H, N]``; updates ``state`` in place and returns ``y`` ``[H, N]`` (float32)."""
    H, N = r.shape
    r, w, k, v, a, b = (t.float() for t in (r, w, k, v, a, b))
    sa = torch.bmm(state, a.view(H, N, 1))                 # [H, Nv, 1]
    state.mul_(w.view(H, 1, N))
    state.baddbmm_(sa, b.view(H, 1, N))
    state.baddbmm_(v.view(H, N, 1), k.view(H, 1, N))
    return torch.bmm(state, r.view(H, N, 1)).view(H, N)


def wkv7_seq(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor) -> Tensor:
    """A sequence, one token at a time: inputs ``[T, H, N]``; updates ``state`` in place, returns ``y``."""
    y = torch.empty(r.shape, dtype=torch.float32, device=r.device)
    for t in range(r.shape[0]):
        y[t] = wkv7_one(r[t], w[t], k[t], v[t], a[t], b[t], state)
    return y
