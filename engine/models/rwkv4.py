"""RWKV-4 (Pile, Raven, World, Novel): a vector state per layer, kept stable with the max trick.

Time mix of ``x`` (LN1'ed) after the previous token ``x_prev``:

    x_* = x mix_* + x_prev (1 - mix_*)                   (for k v r)
    r = sigmoid(x_r R);  k, v = x_k K, x_v V             (k and v in float32)
    y = WKV4(w = -exp(time_decay), u = time_first, k, v) (kernels.wkv4: state aa, bb, pp)
    out = (r y) O

Channel mix: ``sigmoid(x_r R) * relu(x_k K)^2 V`` with the same blend. State parts per layer:
``att_x_prev``, ``aa``, ``bb``, ``pp`` (``[L, A]`` float32; ``pp`` starts at -1e30), ``ffn_x_prev``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.models.checkpoint import Checkpoint
from engine.models.recurrent import RecurrentModel, channel_mix, channel_mix_schema, no_tuning
from engine.models.schema import Schema, Sizes, linear, vec
from engine.models.state import State
from kernels.wkv4 import PP_START


def _sizes(t: Sizes) -> dict[str, int]:
    V, C = t.dims("emb.weight", 2)
    return {"V": V, "C": C, "A": t.dims("blocks.0.att.key.weight", 2)[0], "F": t.dims("blocks.0.ffn.key.weight", 2)[0]}


SCHEMA = Schema(4, "RWKV-4", _sizes, {
    **channel_mix_schema("time_mix_k", "time_mix_r"),
    "att.time_mix_k": vec("C"), "att.time_mix_v": vec("C"), "att.time_mix_r": vec("C"),
    "att.time_decay": vec("A"), "att.time_first": vec("A"),
    "att.receptance.weight": linear("A", "C", "R"), "att.key.weight": linear("A", "C", "K"),
    "att.value.weight": linear("A", "C", "V"), "att.output.weight": linear("C", "A", "O")})


@dataclass(slots=True)
class Layer:
    mix: Tensor          # [3, C]: k, v, r
    w: Tensor            # [A] float32: -exp(time_decay), the log of the decay
    u: Tensor            # [A] float32: time_first, the log of the current token's bonus
    R: Tensor            # [C, A] as [in, out]
    K: Tensor
    V: Tensor
    O: Tensor            # [A, C]
    ffn_mix_k: Tensor
    ffn_mix_r: Tensor
    ffn_K: Tensor
    ffn_R: Tensor
    ffn_V: Tensor


class RWKV4(RecurrentModel):
    def __init__(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, backend: str = "auto"):
        w = self.start(ckpt, device, dtype, backend, SCHEMA)
        self.dim_att = w.sizes["A"]
        f32 = torch.float32
        self.layers: list[Layer] = []
        for i in range(self.info.n_layer):
            att, ffn = f"blocks.{i}.att.", f"blocks.{i}.ffn."
            self.layers.append(Layer(
                mix=torch.stack([w.vec(att + f"time_mix_{n}") for n in "kvr"]),
                w=-torch.exp(w.vec(att + "time_decay", f32)), u=w.vec(att + "time_first", f32),
                R=w.mat(att + "receptance.weight"), K=w.mat(att + "key.weight"),
                V=w.mat(att + "value.weight"),
                O=w.mat(att + "output.weight"),
                ffn_mix_k=w.vec(ffn + "time_mix_k"), ffn_mix_r=w.vec(ffn + "time_mix_r"),
                ffn_K=w.mat(ffn + "key.weight"), ffn_R=w.mat(ffn + "receptance.weight"),
                ffn_V=w.mat(ffn + "value.weight")))
        self.finish(self.layers)

    def new_state(self) -> State:
        L, A = self.info.n_layer, self.dim_att
        parts = self._shift_parts()

        def vector(fill: float) -> Tensor:
            return torch.full((L, A), fill, dtype=torch.float32, device=self.device)

        return State({"att_x_prev": parts["att_x_prev"], "aa": vector(0.0), "bb": vector(0.0),
                      "pp": vector(PP_START), "ffn_x_prev": parts["ffn_x_prev"]},
                     generation=4, fingerprint=self.info.fingerprint)

    _wkv_parts = ("aa", "bb", "pp")

    def tuning_to_wkv(self, time_state: Tensor) -> Tensor:
        raise no_tuning(4)

    def decoder_layer(self, i: int) -> dict[str, Tensor | None]:
        ly = self.layers[i]
        return {"mix": ly.mix, "decay": ly.w, "u": ly.u, "ffn_mix_k": ly.ffn_mix_k, "ffn_mix_r": ly.ffn_mix_r}

    def time_mix(self, i: int, x: Tensor, sx: Tensor, wkv: dict[str, Tensor], seq: bool) -> Tensor:
        ly = self.layers[i]
        xk, xv, xr = (x * ly.mix.unsqueeze(1) + sx * (1 - ly.mix.unsqueeze(1))).unbind(0)
        r = torch.sigmoid(xr @ ly.R)
        k = (xk @ ly.K).float()
        v = (xv @ ly.V).float()
        # seq: the rows in order on one aa, bb, pp [A]; else elementwise, each row on its own [R, A]
        wkv4 = self.kernels.seq if seq else self.kernels.one
        y = wkv4(ly.w, ly.u, k, v, wkv["aa"], wkv["bb"], wkv["pp"])
        return (r * y.to(x.dtype)) @ ly.O

    def channel_mix(self, i: int, x: Tensor, sx: Tensor) -> Tensor:
        ly = self.layers[i]
        return channel_mix(x, sx, ly.ffn_mix_k, ly.ffn_mix_r, ly.ffn_K, ly.ffn_R, ly.ffn_V, lerp_from_prev=False)
