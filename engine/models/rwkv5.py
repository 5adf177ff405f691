"""RWKV-5.2 "Eagle" (x052): matrix-valued state per head, a gate, and a GroupNorm (``ln_x``).

Time mix of ``x`` (LN1'ed) after the previous token ``x_prev``:

    x_* = x mix_* + x_prev (1 - mix_*)                (for r k v g)
    r, k, v = x_r R, x_k K, x_v V;   g = silu(x_g G)
    y = WKV(r, w, k, v, u)    with w = exp(-exp(time_decay)) and u = time_faaaa, per channel
    out = (GroupNorm_heads(y) * g) O

The recurrence is RWKV-6's with a constant decay (``kernels.wkv6``). Channel mix as RWKV-4's.
Earlier RWKV-5 files (5.0 without a gate, 5.1 with a per-head decay) are refused by the loader.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.models.checkpoint import Checkpoint
from engine.models.recurrent import MatrixStateModel, channel_mix, channel_mix_schema
from engine.models.schema import Schema, Sizes, linear, shaped, vec


def _sizes(t: Sizes) -> dict[str, int]:
    V, C = t.dims("emb.weight", 2)
    H, N = t.dims("blocks.0.att.time_decay", 2)      # [H, N]: what makes a file 5.2
    return {"V": V, "C": C, "H": H, "N": N, "A": H * N, "F": t.dims("blocks.0.ffn.key.weight", 2)[0]}


SCHEMA = Schema(5, "RWKV-5.2", _sizes, {
    **channel_mix_schema("time_mix_k", "time_mix_r"),
    **{f"att.time_mix_{n}": vec("C") for n in "kvrg"},
    "att.time_decay": shaped("H", "N"), "att.time_faaaa": vec("H", "N"),
    **{f"att.{n}.weight": linear("A", "C", r) for n, r in (("receptance", "R"), ("key", "K"), ("value", "V"),
                                                           ("gate", "G"))},
    "att.output.weight": linear("C", "A", "O"), "att.ln_x.weight": vec("A"), "att.ln_x.bias": vec("A"),
    "att.time_state": shaped("H", "N", "N", optional=True)})


@dataclass(slots=True)
class Layer:
    mix: Tensor          # [4, C]: k, v, r, g
    w: Tensor            # [H, N] float32 decay in (0, 1)
    u: Tensor            # [H, N] float32 bonus
    R: Tensor            # [C, A] as [in, out]
    K: Tensor
    V: Tensor
    G: Tensor
    O: Tensor            # [A, C]
    lnx_w: Tensor        # float32
    lnx_b: Tensor
    ffn_mix_k: Tensor
    ffn_mix_r: Tensor
    ffn_K: Tensor
    ffn_R: Tensor
    ffn_V: Tensor


class RWKV5(MatrixStateModel):
    def __init__(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, backend: str = "auto"):
        w = self.start(ckpt, device, dtype, backend, SCHEMA)
        n_head, head_size = self.info.n_head, self.info.head_size
        f32 = torch.float32
        self.layers: list[Layer] = []
        for i in range(self.info.n_layer):
            att, ffn = f"blocks.{i}.att.", f"blocks.{i}.ffn."
            self.layers.append(Layer(
                mix=torch.stack([w.vec(att + f"time_mix_{n}") for n in "kvrg"]),
                w=torch.exp(-torch.exp(w.get(att + "time_decay", f32))).reshape(n_head, head_size),
                u=w.get(att + "time_faaaa", f32).reshape(n_head, head_size),
                R=w.mat(att + "receptance.weight"), K=w.mat(att + "key.weight"),
                V=w.mat(att + "value.weight"),
                G=w.mat(att + "gate.weight"), O=w.mat(att + "output.weight"),
                lnx_w=w.vec(att + "ln_x.weight", f32), lnx_b=w.vec(att + "ln_x.bias", f32),
                ffn_mix_k=w.vec(ffn + "time_mix_k"), ffn_mix_r=w.vec(ffn + "time_mix_r"),
                ffn_K=w.mat(ffn + "key.weight"), ffn_R=w.mat(ffn + "receptance.weight"),
                ffn_V=w.mat(ffn + "value.weight")))
        self.load_merged_state(ckpt.tensors)
        self.finish(self.layers)

    def time_mix(self, i: int, x: Tensor, sx: Tensor, wkv: dict[str, Tensor], seq: bool) -> Tensor:
        ly, H, N = self.layers[i], self.info.n_head, self.info.head_size
        R = x.shape[0]
        xk, xv, xr, xg = (x * ly.mix.unsqueeze(1) + sx * (1 - ly.mix.unsqueeze(1))).unbind(0)
        return self.attend(ly, x, xr, xk, xv, xg, ly.w.expand(R, H, N), wkv["wkv"], seq)

    def decoder_layer(self, i: int) -> dict[str, Tensor | None]:
        ly = self.layers[i]
        return {"mix": ly.mix, "decay": ly.w, "u": ly.u, "lnx_w": ly.lnx_w, "lnx_b": ly.lnx_b,
                "ffn_mix_k": ly.ffn_mix_k, "ffn_mix_r": ly.ffn_mix_r}

    def channel_mix(self, i: int, x: Tensor, sx: Tensor) -> Tensor:
        ly = self.layers[i]
        return channel_mix(x, sx, ly.ffn_mix_k, ly.ffn_mix_r, ly.ffn_K, ly.ffn_R, ly.ffn_V, lerp_from_prev=False)
