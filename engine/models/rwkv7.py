"""RWKV-7 "Goose" (x070): one file, read line by line against the paper and BlinkDL's reference.

Per layer, time mixing (attention's place) and channel mixing (the MLP's):

    TMix:  xx = x_prev - x;  x_* = x + xx * mix_*            (token shift, for r w k v a g)
           r, k, v = x_r R, x_k K, x_v V
           w = exp(-e^-0.5 * sigmoid(w0 + tanh(x_w w1) w2))   (decay, in (0.545, 1))
           a = sigmoid(a0 + x_a a1 a2);  g = sigmoid(x_g g1) g2
           kk = normalize(k * k_k) per head;  k = k * (1 + (a - 1) k_a)
           v += (v_first - v) * sigmoid(v0 + x_v v1 v2)        (layers > 0; layer 0 sets v_first)
           y = WKV(r, w, k, v, -kk, kk * a)                    (kernels: the state recurrence)
           y = GroupNorm(y) + (sum_head r * k * r_k) v;  out = (y * g) O
    CMix:  k = x + (x_prev - x) * mix_k;  out = relu(k K)^2 V

Weights are kept as ``[in, out]`` so a token's vector multiplies them as ``x @ W``; on CPU that
GEMV runs ~1.6x faster than ``F.linear`` with the file's ``[out, in]`` layout (measured on the head).
With the compiled CPU kernels (``kernels/cpu/__init__.py``) the matrices stay ``[out, in]`` instead: one
call per token runs the whole model in C++ (:meth:`RWKV7._forward_one`), and the ``Layer`` fields
are transposed views for the torch GEMMs of prompts (as fast as ``[in, out]`` there). bf16 and int8
keep only the compressed matrix; prompts dequantise one layer at a time into shared scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

import kernels
from engine.errors import EngineError, UnknownLayoutError
from engine.host.hardware import bf16_gemm_fast
from engine.models import cuda_graphs
from engine.models.checkpoint import Checkpoint
from engine.models.model import DTYPES, LogitsPool, Model, ModelInfo
from engine.models.packed import Packed, pack
from engine.models.state import State

DECAY_SCALE = 0.606531  # e^-0.5, truncated exactly as the reference implementation does
GN_EPS = 64e-5

_TMIX = ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "w1", "w2", "a0", "a1", "a2", "v0", "v1", "v2",
         "g1", "g2", "k_k", "k_a", "r_k", "receptance.weight", "key.weight", "value.weight",
         "output.weight", "ln_x.weight", "ln_x.bias")
_CMIX = ("x_k", "key.weight", "value.weight")


@dataclass(slots=True)
class Layer:
    """One block's weights, already transposed/flattened and in the compute dtype."""

    ln1_w: Tensor
    ln1_b: Tensor
    ln2_w: Tensor
    ln2_b: Tensor
    mix: Tensor          # [6, C]: x_r, x_w, x_k, x_v, x_a, x_g
    w0: Tensor
    w1: Tensor
    w2: Tensor
    a0: Tensor
    a1: Tensor
    a2: Tensor
    v0: Tensor | None
    v1: Tensor | None
    v2: Tensor | None
    g1: Tensor
    g2: Tensor
    k_k: Tensor
    k_a: Tensor
    r_k: Tensor          # [C]
    R: Tensor            # [C, C] as [in, out]
    K: Tensor
    V: Tensor
    O: Tensor
    lnx_w: Tensor
    lnx_b: Tensor
    ffn_mix: Tensor
    ffn_K: Tensor        # [C, F]
    ffn_V: Tensor        # [F, C]


class RWKV7(Model):
    def __init__(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype):
        z = ckpt.tensors
        n_head, head_size = z["blocks.0.att.r_k"].shape
        vocab, C = z["emb.weight"].shape
        L = 1 + max(int(k.split(".")[1]) for k in z if k.startswith("blocks."))
        _check_keys(z, L, ckpt.path.name)
        # int8 = weight-only int8 computed in fp32; with the compiled kernels bf16 also computes in fp32.
        self._precision = next((name for name, t in DTYPES.items() if t == dtype), str(dtype))
        if dtype == torch.int8 and device.type != "cpu":
            raise EngineError("Precision int8 runs on the CPU only; use fp16 or bf16 on a GPU.")
        self.kernels = kernels.select(device.type, self._precision)
        native = self.kernels.native
        packed_fmt = dtype if (native is not None or dtype == torch.int8) else None
        if dtype == torch.int8 or native is not None:
            dtype = torch.float32
        # The token-shift states keep the precision's dtype (a bf16 model's states are bf16 on every path).
        self._shift_dtype = torch.bfloat16 if self._precision == "bf16" else dtype
        self.device, self.dtype = device, dtype
        self.info = ModelInfo(
            generation=7, n_layer=L, n_embd=C, n_head=n_head, head_size=head_size, vocab_size=vocab,
            dim_ffn=z["blocks.0.ffn.key.weight"].shape[0], n_params=sum(t.numel() for t in z.values()),
            file_dtype=str(z["emb.weight"].dtype).removeprefix("torch."), path=ckpt.path,
            fingerprint=ckpt.fingerprint)

        def get(key: str) -> Tensor:
            # Own every weight: a tensor still backed by the memory-mapped file would keep the
            # whole file's pages resident beside our copies (doubling the memory in use).
            t = z[key].to(device=device, dtype=dtype)
            return t.clone() if t.data_ptr() == z[key].data_ptr() else t

        def vec(key: str) -> Tensor:
            return get(key).reshape(-1).contiguous()

        F_ = self.info.dim_ffn
        self._packed: list[dict[str, Packed]] = [{} for _ in range(L)]
        self._scratch: dict[str, Tensor] = {}
        if packed_fmt is not None and packed_fmt != torch.float32:   # shared by every layer's prompt GEMMs
            shapes = {"R": (C, C), "K": (C, C), "V": (C, C), "O": (C, C), "ffn_K": (F_, C), "ffn_V": (C, F_)}
            self._scratch = {n: torch.empty(sh, dtype=torch.float32) for n, sh in shapes.items()}

        def mat(key: str, i: int | None = None, role: str = "") -> Tensor:  # file [out, in] -> [in, out]
            if packed_fmt is None:
                return get(key).t().contiguous()
            p = pack(z[key], packed_fmt)
            if i is None:
                self._head = p
                return p.w.t()
            self._packed[i][role] = p
            return (p.w if packed_fmt == torch.float32 else self._scratch[role]).t()

        # int8 and bf16 also compress the LoRAs (at 0.1B their fp32 bytes were ~15% of int8's):
        # int8 per output row like the big matrices, and prompts dequantise them into scratch too.
        lora_fmt = packed_fmt if packed_fmt in (torch.int8, torch.bfloat16) else None

        def lora(key: str, i: int, role: str) -> Tensor:  # [in, out] in the file; [out, in] for C
            if lora_fmt is not None:
                p = pack(z[key].t(), lora_fmt)
                self._packed[i][role] = p
                if role not in self._scratch:
                    self._scratch[role] = torch.empty(p.w.shape, dtype=torch.float32)
                return self._scratch[role].t()
            return get(key) if native is None else get(key).t().contiguous().t()

        emb = get("emb.weight") if packed_fmt is None else z["emb.weight"].float()
        self.emb = F.layer_norm(emb, (C,), vec("blocks.0.ln0.weight"), vec("blocks.0.ln0.bias"))
        if packed_fmt == torch.bfloat16:
            self.emb = self.emb.bfloat16()
        self.ln_out = (vec("ln_out.weight"), vec("ln_out.bias"))
        self._head: Packed | None = None
        self.head = mat("head.weight")
        self.layers: list[Layer] = []
        for i in range(L):
            p, att, ffn = f"blocks.{i}.", f"blocks.{i}.att.", f"blocks.{i}.ffn."
            self.layers.append(Layer(
                ln1_w=vec(p + "ln1.weight"), ln1_b=vec(p + "ln1.bias"),
                ln2_w=vec(p + "ln2.weight"), ln2_b=vec(p + "ln2.bias"),
                mix=torch.stack([vec(att + n) for n in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")]),
                w0=vec(att + "w0"), w1=lora(att + "w1", i, "w1"), w2=lora(att + "w2", i, "w2"),
                a0=vec(att + "a0"), a1=lora(att + "a1", i, "a1"), a2=lora(att + "a2", i, "a2"),
                v0=vec(att + "v0") if i else None, v1=lora(att + "v1", i, "v1") if i else None,
                v2=lora(att + "v2", i, "v2") if i else None,
                g1=lora(att + "g1", i, "g1"), g2=lora(att + "g2", i, "g2"),
                k_k=vec(att + "k_k"), k_a=vec(att + "k_a"), r_k=vec(att + "r_k"),
                R=mat(att + "receptance.weight", i, "R"), K=mat(att + "key.weight", i, "K"),
                V=mat(att + "value.weight", i, "V"), O=mat(att + "output.weight", i, "O"),
                lnx_w=vec(att + "ln_x.weight"), lnx_b=vec(att + "ln_x.bias"),
                ffn_mix=vec(ffn + "x_k"), ffn_K=mat(ffn + "key.weight", i, "ffn_K"),
                ffn_V=mat(ffn + "value.weight", i, "ffn_V")))
        self._decoder = self._make_decoder(native) if native is not None else None
        self._logits = LogitsPool(vocab)
        # bf16 prompts: straight bf16 GEMMs on the packed weights where the CPU multiplies bf16 in
        # hardware (2.3-2.5x torch's fp32 GEMM on AVX512-BF16 here), else fp32 GEMMs on scratch.
        self._prompt_layers = (self._bf16_layers() if packed_fmt == torch.bfloat16 and native is not None
                               and bf16_gemm_fast() else None)
        self._graph = _UNTRIED if cuda_graphs.wanted(device) else None   # cuda_graphs.StaticStep, made lazily

    @property
    def precision(self) -> str:
        return self._precision

    def _make_decoder(self, native):
        """Hand every weight to the fused C++ decode step, once (it keeps pointers, we keep tensors)."""
        i = self.info
        lay = []
        for ly, pk in zip(self.layers, self._packed, strict=True):
            d = {"ln1_w": ly.ln1_w, "ln1_b": ly.ln1_b, "ln2_w": ly.ln2_w, "ln2_b": ly.ln2_b, "mix": ly.mix,
                 "w0": ly.w0, "a0": ly.a0, "v0": ly.v0, "k_k": ly.k_k, "k_a": ly.k_a, "r_k": ly.r_k,
                 "lnx_w": ly.lnx_w, "lnx_b": ly.lnx_b, "ffn_mix": ly.ffn_mix}
            for n in ("w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"):
                t = getattr(ly, n)
                if n in pk:                                 # compressed LoRA (int8, bf16)
                    d[n], d[n + "_s"] = pk[n].w, pk[n].scale
                else:
                    d[n], d[n + "_s"] = (None if t is None else t.t()), None   # contiguous [out, in]
            for n, role in (("R", "R"), ("K", "K"), ("V", "V"), ("O", "O"), ("fK", "ffn_K"), ("fV", "ffn_V")):
                d[n], d[n + "_s"] = pk[role].w, pk[role].scale
            lay.append(d)
        glob = {"emb": self.emb, "lnout_w": self.ln_out[0], "lnout_b": self.ln_out[1], "head": self._head.w,
                "head_s": self._head.scale}
        ly0, lyv = self.layers[0], self.layers[min(1, i.n_layer - 1)]
        d_v = lyv.v1.shape[1] if lyv.v1 is not None else 32
        dims = dict(n_layer=i.n_layer, n_embd=i.n_embd, n_head=i.n_head, head_size=i.head_size, dim_ffn=i.dim_ffn,
                    vocab_size=i.vocab_size, lora_w=ly0.w1.shape[1], lora_a=ly0.a1.shape[1], lora_v=d_v,
                    lora_g=ly0.g1.shape[1], wtype=self._head.w.dtype, emb_type=self.emb.dtype,
                    shift_type=self._shift_dtype,
                    lora_type=self._packed[0]["w1"].w.dtype if "w1" in self._packed[0] else torch.float32)
        return native.Rwkv7Decoder(dims, lay, glob)

    def _bf16_layers(self) -> list[Layer]:
        """The layers for bf16 prompts: vectors as bf16 copies, matrices and LoRAs as ``[in, out]``
        views of their packed bf16 memory (no copy)."""
        out = []
        for ly, pk in zip(self.layers, self._packed, strict=True):
            fields = {}
            for name in Layer.__slots__:          # packed roles are named as the fields
                t = getattr(ly, name)
                fields[name] = pk[name].w.t() if name in pk else None if t is None else t.bfloat16()
            out.append(Layer(**fields))
        return out

    def _dense(self, i: int) -> None:
        """Before torch runs layer ``i`` of compressed weights: dequantise them into the scratch."""
        if self._scratch:
            for role, p in self._packed[i].items():
                p.dense_into(self._scratch[role])

    def _head_logits(self, x: Tensor) -> Tensor:
        """``x`` ``[C]`` (after ln_out) to fp32 logits."""
        native = self.kernels.native
        if native is not None and self._head is not None:
            return native.gemv(self._head.w, x.float().contiguous(), self._logits.take(), self._head.scale)
        if self._head is not None and self._head.w.dtype != torch.float32:
            return self._head.matvec_rows(x.float())
        return (x @ self.head).float()

    def new_state(self) -> State:
        i = self.info
        parts = {
            "att_x_prev": torch.zeros(i.n_layer, i.n_embd, dtype=self._shift_dtype, device=self.device),
            "wkv": torch.zeros(i.n_layer, i.n_head, i.head_size, i.head_size, dtype=torch.float32,
                               device=self.device),
            "ffn_x_prev": torch.zeros(i.n_layer, i.n_embd, dtype=self._shift_dtype, device=self.device),
        }
        return State(parts, generation=7, fingerprint=i.fingerprint)

    def tuning_to_wkv(self, time_state: Tensor) -> Tensor:
        # RWKV-7 tuning files store the state in the runtime's own [head, value, key] order.
        return time_state.to(device=self.device, dtype=torch.float32)

    # -- forward ---------------------------------------------------------------------------------

    def _forward_one(self, token: int, state: State) -> Tensor:
        att_prev, wkv, ffn_prev = state.parts["att_x_prev"], state.parts["wkv"], state.parts["ffn_x_prev"]
        if self._decoder is not None and self.kernels.native is not None:   # (tests may swap kernels)
            # One C++ call for the whole token; the logits buffer comes from a pool that never hands
            # out a buffer a caller still holds (see LogitsPool).
            if att_prev.dtype != self._shift_dtype or ffn_prev.dtype != self._shift_dtype:
                # A state made by this file loaded in another precision: convert it once, in the State.
                for k in ("att_x_prev", "ffn_x_prev"):
                    state.parts[k] = state.parts[k].to(self._shift_dtype).contiguous()
                att_prev, ffn_prev = state.parts["att_x_prev"], state.parts["ffn_x_prev"]
            logits = self._logits.take()
            self._decoder.step(token, att_prev, [wkv], ffn_prev, logits)
            return logits
        if self._graph is _UNTRIED:    # a GPU: one CUDA graph replay per token, once checked
            self._graph = cuda_graphs.make(self._torch_step, self.new_state(), self.device)
        if self._graph is not None:
            return self._graph.step(token, state)
        return self._torch_step(torch.tensor([token], device=self.device), state.parts)

    def _torch_step(self, token: Tensor, parts: dict[str, Tensor]) -> Tensor:
        """One token through the torch layers: ``token`` a ``[1]`` long tensor on the device (what a
        CUDA graph can replay), ``parts`` the state's tensors, advanced in place; returns the logits."""
        att_prev, wkv, ffn_prev = parts["att_x_prev"], parts["wkv"], parts["ffn_x_prev"]
        C, H, N = self.info.n_embd, self.info.n_head, self.info.head_size
        kernel = self.kernels.one

        def one(r, w, k, v, a, b, s):  # [1, H, N] -> the single-step kernel on [H, N]
            return kernel(r[0], w[0], k[0], v[0], a[0], b[0], s).unsqueeze(0)

        x = self.emb.index_select(0, token).to(self.dtype)
        v_first = x
        for i, ly in enumerate(self.layers):
            self._dense(i)
            xx = F.layer_norm(x, (C,), ly.ln1_w, ly.ln1_b)
            out, v_first = time_mix(i, ly, xx, att_prev[i], v_first, H, N, one, wkv[i])
            att_prev[i].copy_(xx[-1])
            x = x + out
            xx = F.layer_norm(x, (C,), ly.ln2_w, ly.ln2_b)
            out = channel_mix(ly, xx, ffn_prev[i])
            ffn_prev[i].copy_(xx[-1])
            x = x + out
        return self._head_logits(F.layer_norm(x[-1], (C,), *self.ln_out))

    def _forward_seq(self, tokens: Sequence[int], state: State) -> Tensor:
        C, H, N = self.info.n_embd, self.info.n_head, self.info.head_size
        att_prev, wkv, ffn_prev = state.parts["att_x_prev"], state.parts["wkv"], state.parts["ffn_x_prev"]
        bf16 = self._prompt_layers is not None and self.kernels.native is not None   # (tests may swap kernels)
        layers = self._prompt_layers if bf16 else self.layers
        x = self.emb[torch.tensor(tokens, device=self.device)].to(torch.bfloat16 if bf16 else self.dtype)
        v_first = x
        for i, ly in enumerate(layers):
            if not bf16:
                self._dense(i)
            xx = F.layer_norm(x, (C,), ly.ln1_w, ly.ln1_b)
            out, v_first = time_mix(i, ly, xx, att_prev[i], v_first, H, N, self.kernels.seq, wkv[i])
            att_prev[i].copy_(xx[-1])
            x = x + out
            xx = F.layer_norm(x, (C,), ly.ln2_w, ly.ln2_b)
            out = channel_mix(ly, xx, ffn_prev[i])
            ffn_prev[i].copy_(xx[-1])
            x = x + out
        return self._head_logits(F.layer_norm(x[-1].to(self.ln_out[0].dtype), (C,), *self.ln_out))


_UNTRIED = object()
Wkv = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


def _shift(x: Tensor, x_prev: Tensor) -> Tensor:
    """Each position's previous token: ``x_prev`` for the first, then ``x`` shifted by one."""
    if x.shape[-2] == 1:
        return x_prev.unsqueeze(-2)
    return torch.cat((x_prev.unsqueeze(-2), x[..., :-1, :]), dim=-2)


def time_mix(i: int, ly: Layer, x: Tensor, x_prev: Tensor, v_first: Tensor, H: int, N: int,
             wkv: Wkv, wkv_state: Tensor) -> tuple[Tensor, Tensor]:
    """Time mixing of ``x`` ``[..., T, C]`` (LayerNorm'ed) after ``x_prev`` ``[..., C]``.

    ``wkv(r, w, k, v, a, b, wkv_state)`` runs the recurrence on ``[..., T, H, N]``: inference
    passes a kernel that advances the state in place, training a differentiable one, and both
    share this function, which is otherwise pure.
    """
    *lead, T, C = x.shape
    xx = _shift(x, x_prev) - x
    xr, xw, xk, xv, xa, xg = (x.unsqueeze(0) + xx.unsqueeze(0) * ly.mix.view(6, *[1] * len(lead), 1, C)
                              ).unbind(0)
    r = xr @ ly.R
    k = xk @ ly.K
    v = xv @ ly.V
    w = torch.tanh(xw @ ly.w1) @ ly.w2
    a = torch.sigmoid(ly.a0 + (xa @ ly.a1) @ ly.a2)
    g = torch.sigmoid(xg @ ly.g1) @ ly.g2
    kk = F.normalize((k * ly.k_k).view(*lead, T, H, N), dim=-1, p=2.0).view(*lead, T, C)
    k = k * (1 + (a - 1) * ly.k_a)
    if i == 0:
        v_first = v
    else:
        v = v + (v_first - v) * torch.sigmoid(ly.v0 + (xv @ ly.v1) @ ly.v2)
    w = torch.exp(-DECAY_SCALE * torch.sigmoid((ly.w0 + w).float()))

    y = wkv(*(t.view(*lead, T, H, N) for t in (r, w, k, v, -kk, kk * a)), wkv_state)
    y = F.group_norm(y.reshape(-1, C).to(x.dtype), num_groups=H, weight=ly.lnx_w, bias=ly.lnx_b,
                     eps=GN_EPS).view(*lead, T, C)
    y = y + ((r * k * ly.r_k).view(*lead, T, H, N).sum(dim=-1, keepdim=True)
             * v.view(*lead, T, H, N)).view(*lead, T, C)
    return (y * g) @ ly.O, v_first


def channel_mix(ly: Layer, x: Tensor, x_prev: Tensor) -> Tensor:
    """Channel mixing (RWKV-7's MLP) of ``x`` ``[..., T, C]`` after ``x_prev`` ``[..., C]``. Pure."""
    k = x + (_shift(x, x_prev) - x) * ly.ffn_mix
    return torch.relu(k @ ly.ffn_K).square() @ ly.ffn_V


def _check_keys(z: dict[str, Tensor], n_layer: int, name: str) -> None:
    needed = ["emb.weight", "blocks.0.ln0.weight", "blocks.0.ln0.bias", "ln_out.weight", "ln_out.bias",
              "head.weight"]
    for i in range(n_layer):
        needed += [f"blocks.{i}.{n}" for n in ("ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias")]
        needed += [f"blocks.{i}.att.{n}" for n in _TMIX if not (i == 0 and n in ("v0", "v1", "v2"))]
        needed += [f"blocks.{i}.ffn.{n}" for n in _CMIX]
    missing = [k for k in needed if k not in z]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise UnknownLayoutError(f"'{name}' looks like RWKV-7 but {len(missing)} tensors are missing "
                                 f"({shown}); the file is incomplete or from an unsupported variant.")
