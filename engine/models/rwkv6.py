"""RWKV-6 "Finch" (x060): RWKV-5.2 with a data-dependent token shift and decay.

Time mix of ``x`` (LN1'ed) after the previous token ``x_prev``:

    sx = x_prev - x
    m_w, m_k, m_v, m_r, m_g = tanh((x + sx maa_x) W1) W2        (a LoRA per target, [5, D] -> [5, C])
    x_* = x + sx (maa_* + m_*)                                   (for w k v r g)
    r, k, v = x_r R, x_k K, x_v V;   g = silu(x_g G)
    w = exp(-exp(time_decay + tanh(x_w D1) D2))                  (a decay per token and channel)
    y = WKV(r, w, k, v, u = time_faaaa)                          (kernels.wkv6)
    out = (GroupNorm_heads(y) * g) O

Channel mix: ``sigmoid(x_r R) * relu(x_k K)^2 V`` with ``x_* = x + (x_prev - x) maa_*``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.models.checkpoint import Checkpoint
from engine.models.recurrent import MatrixStateModel, channel_mix, channel_mix_schema
from engine.models.schema import Schema, Sizes, linear, lora, shaped, vec


def _sizes(t: Sizes) -> dict[str, int]:
    V, C = t.dims("emb.weight", 2)
    H, N = t.dims("blocks.0.att.time_faaaa", 2)
    D = t.dims("blocks.0.att.time_maa_w2", 3)[1]
    return {"V": V, "C": C, "H": H, "N": N, "A": H * N, "F": t.dims("blocks.0.ffn.key.weight", 2)[0],
            "D": D, "5D": 5 * D, "Dd": t.dims("blocks.0.att.time_decay_w1", 2)[1]}


SCHEMA = Schema(6, "RWKV-6", _sizes, {
    **channel_mix_schema("time_maa_k", "time_maa_r"),
    **{f"att.time_maa_{n}": vec("C") for n in "xwkvrg"},
    "att.time_maa_w1": lora("C", "5D", role="maa_w1", small=True),
    "att.time_maa_w2": lora(5, "D", "C", role="maa_w2", small=True),
    "att.time_decay": vec("A"), "att.time_decay_w1": lora("C", "Dd", role="decay_w1", small=True),
    "att.time_decay_w2": lora("Dd", "A", role="decay_w2", small=True),
    "att.time_faaaa": vec("H", "N"),
    **{f"att.{n}.weight": linear("A", "C", r) for n, r in (("receptance", "R"), ("key", "K"), ("value", "V"),
                                                           ("gate", "G"))},
    "att.output.weight": linear("C", "A", "O"), "att.ln_x.weight": vec("A"), "att.ln_x.bias": vec("A"),
    "att.time_state": shaped("H", "N", "N", optional=True)})


@dataclass(slots=True)
class Layer:
    maa_x: Tensor        # [C]
    maa: Tensor          # [5, C]: w, k, v, r, g
    maa_w1: Tensor       # [C, 5 D]
    maa_w2: Tensor       # [5, D, C]
    decay: Tensor        # [H, N] float32 (log-log space: w = exp(-exp(decay + lora)))
    decay_w1: Tensor     # [C, Dd]
    decay_w2: Tensor     # [Dd, A]
    u: Tensor            # [H, N] float32 bonus (time_faaaa)
    R: Tensor            # [C, A] as [in, out]
    K: Tensor
    V: Tensor
    G: Tensor
    O: Tensor            # [A, C]
    lnx_w: Tensor        # float32
    lnx_b: Tensor
    ffn_maa_k: Tensor
    ffn_maa_r: Tensor
    ffn_K: Tensor        # [C, F]
    ffn_R: Tensor        # [C, C]
    ffn_V: Tensor        # [F, C]


class RWKV6(MatrixStateModel):
    def __init__(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, backend: str = "auto"):
        w = self.start(ckpt, device, dtype, backend, SCHEMA)
        n_head, head_size = self.info.n_head, self.info.head_size
        f32 = torch.float32
        self.layers: list[Layer] = []
        for i in range(self.info.n_layer):
            att, ffn = f"blocks.{i}.att.", f"blocks.{i}.ffn."
            self.layers.append(Layer(
                maa_x=w.vec(att + "time_maa_x"),
                maa=torch.stack([w.vec(att + f"time_maa_{n}") for n in "wkvrg"]),
                maa_w1=w.mat(att + "time_maa_w1"), maa_w2=w.mat(att + "time_maa_w2"),
                decay=w.get(att + "time_decay", f32).reshape(n_head, head_size),
                decay_w1=w.mat(att + "time_decay_w1"), decay_w2=w.mat(att + "time_decay_w2"),
                u=w.get(att + "time_faaaa", f32).reshape(n_head, head_size),
                R=w.mat(att + "receptance.weight"), K=w.mat(att + "key.weight"),
                V=w.mat(att + "value.weight"),
                G=w.mat(att + "gate.weight"), O=w.mat(att + "output.weight"),
                lnx_w=w.vec(att + "ln_x.weight", f32), lnx_b=w.vec(att + "ln_x.bias", f32),
                ffn_maa_k=w.vec(ffn + "time_maa_k"), ffn_maa_r=w.vec(ffn + "time_maa_r"),
                ffn_K=w.mat(ffn + "key.weight"), ffn_R=w.mat(ffn + "receptance.weight"),
                ffn_V=w.mat(ffn + "value.weight")))
        self.load_merged_state(ckpt.tensors)
        self.finish(self.layers)

    def time_mix(self, i: int, x: Tensor, sx: Tensor, wkv: dict[str, Tensor], seq: bool) -> Tensor:
        ly, H, N = self.layers[i], self.info.n_head, self.info.head_size
        R = x.shape[0]
        sx = sx - x
        lora = torch.tanh((x + sx * ly.maa_x) @ ly.maa_w1).view(R, 5, -1).transpose(0, 1)   # [5, R, D]
        m = torch.bmm(lora, ly.maa_w2)                                                      # [5, R, C]
        xw, xk, xv, xr, xg = (x + sx * (ly.maa.unsqueeze(1) + m)).unbind(0)
        w = ly.decay + (torch.tanh(xw @ ly.decay_w1) @ ly.decay_w2).float().view(R, H, N)
        return self.attend(ly, x, xr, xk, xv, xg, torch.exp(-torch.exp(w)), wkv["wkv"], seq)

    def decoder_layer(self, i: int) -> dict[str, Tensor | None]:
        ly = self.layers[i]
        return {"maa_x": ly.maa_x, "maa": ly.maa, "decay": ly.decay, "u": ly.u, "lnx_w": ly.lnx_w, "lnx_b": ly.lnx_b,
                "ffn_mix_k": ly.ffn_maa_k, "ffn_mix_r": ly.ffn_maa_r}

    def channel_mix(self, i: int, x: Tensor, sx: Tensor) -> Tensor:
        ly = self.layers[i]
        return channel_mix(x, sx, ly.ffn_maa_k, ly.ffn_maa_r, ly.ffn_K, ly.ffn_R, ly.ffn_V, lerp_from_prev=True)
