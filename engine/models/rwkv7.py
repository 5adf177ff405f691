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

The ``Layer`` fields are ``[in, out]`` for ``x @ W``; how they are stored and which kernels run
them (one C++ call per token with the compiled CPU library) is decided by :mod:`engine.models.weights`,
the same way for every generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.models import cuda_graphs
from engine.models.checkpoint import Checkpoint
from engine.models.model import Model
from engine.models.schema import BLOCK_NORMS, Schema, Sizes, linear, lora, vec
from engine.models.state import State
from engine.models.weights import Weights

DECAY_SCALE = 0.606531  # e^-0.5, truncated exactly as the reference implementation does
GN_EPS = 64e-5


def _sizes(t: Sizes) -> dict[str, int]:
    V, C = t.dims("emb.weight", 2)
    H, N = t.dims("blocks.0.att.r_k", 2)
    t.require(H * N == C, f"'blocks.0.att.r_k' gives {H} heads of {N}, but 'emb.weight' is {C} wide")
    v1 = "blocks.1.att.v1" if t.has("blocks.1.att.v1") else "blocks.0.att.v1"   # layer 0 needs none
    return {"V": V, "C": C, "H": H, "N": N, "F": t.dims("blocks.0.ffn.key.weight", 2)[0],
            "Dw": t.dims("blocks.0.att.w1", 2)[1], "Da": t.dims("blocks.0.att.a1", 2)[1],
            "Dv": t.dims(v1, 2)[1] if t.has(v1) else 32, "Dg": t.dims("blocks.0.att.g1", 2)[1]}


SCHEMA = Schema(7, "RWKV-7", _sizes, {
    **BLOCK_NORMS,
    **{f"att.{n}": vec("C") for n in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")},
    "att.w0": vec("C"), "att.w1": lora("C", "Dw", role="w1"), "att.w2": lora("Dw", "C", role="w2"),
    "att.a0": vec("C"), "att.a1": lora("C", "Da", role="a1"), "att.a2": lora("Da", "C", role="a2"),
    "att.v0": vec("C"), "att.v1": lora("C", "Dv", role="v1"), "att.v2": lora("Dv", "C", role="v2"),
    "att.g1": lora("C", "Dg", role="g1"), "att.g2": lora("Dg", "C", role="g2"),
    "att.k_k": vec("C"), "att.k_a": vec("C"), "att.r_k": vec("H", "N"),
    **{f"att.{n}.weight": linear("C", "C", r) for n, r in (("receptance", "R"), ("key", "K"), ("value", "V"),
                                                           ("output", "O"))},
    "att.ln_x.weight": vec("C"), "att.ln_x.bias": vec("C"),
    "ffn.x_k": vec("C"), "ffn.key.weight": linear("F", "C", "fK"), "ffn.value.weight": linear("C", "F", "fV"),
}, block0={"att.v0": vec("C", optional=True), "att.v1": lora("C", "Dv", role="v1", optional=True),  # no value
           "att.v2": lora("Dv", "C", role="v2", optional=True)})                                     # residual

_ROLES = {"ffn_K": "fK", "ffn_V": "fV"}   # Layer fields whose compiled-step pointer has another name


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
    # Prompts by the compiled library's prefill where the model has the compiled decode step (and the
    # CPU no bf16 GEMMs for a bf16 model); False: torch's path on the same kept matrices (tests compare).
    compiled_prompts = True

    def __init__(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, backend: str = "auto"):
        w = self.weights = Weights(ckpt, SCHEMA, device, dtype, backend, fp32_tables=True)
        self.kernels, self.device, self.dtype = w.kernels, device, w.plan.compute
        self.info = w.info()
        self.emb = w.embedding(fold_in_file_dtype=False)
        self.ln_out = (w.vec("ln_out.weight"), w.vec("ln_out.bias"))
        self.head = w.head()
        self.layers = [self._layer(w, i) for i in range(self.info.n_layer)]
        s = w.sizes
        w.make_decoder({"lora_w": s["Dw"], "lora_a": s["Da"], "lora_v": s["Dv"], "lora_g": s["Dg"],
                        "lora_type": w.packed[0]["w1"].w.dtype if w.compiled else self.dtype},
                       [self._decoder_vectors(ly) for ly in self.layers], self.emb, self.ln_out)
        # bf16 prompts: straight bf16 GEMMs on the packed weights where the CPU multiplies bf16 in
        # hardware (2.3-2.5x torch's fp32 GEMM on AVX512-BF16 here), else fp32 GEMMs on scratch.
        self._prompt_layers = self._bf16_layers() if w.plan.prompt != self.dtype else None
        w.release_file()
        self._graph = _UNTRIED if cuda_graphs.wanted(device) else None   # cuda_graphs.StaticStep, made lazily

    @staticmethod
    def _layer(w: Weights, i: int) -> Layer:
        p, att, ffn = f"blocks.{i}.", f"blocks.{i}.att.", f"blocks.{i}.ffn."
        return Layer(
            ln1_w=w.vec(p + "ln1.weight"), ln1_b=w.vec(p + "ln1.bias"),
            ln2_w=w.vec(p + "ln2.weight"), ln2_b=w.vec(p + "ln2.bias"),
            mix=torch.stack([w.vec(att + n) for n in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")]),
            w0=w.vec(att + "w0"), w1=w.mat(att + "w1"), w2=w.mat(att + "w2"),
            a0=w.vec(att + "a0"), a1=w.mat(att + "a1"), a2=w.mat(att + "a2"),
            v0=w.vec(att + "v0") if i else None, v1=w.mat(att + "v1") if i else None,
            v2=w.mat(att + "v2") if i else None,
            g1=w.mat(att + "g1"), g2=w.mat(att + "g2"),
            k_k=w.vec(att + "k_k"), k_a=w.vec(att + "k_a"), r_k=w.vec(att + "r_k"),
            R=w.mat(att + "receptance.weight"), K=w.mat(att + "key.weight"),
            V=w.mat(att + "value.weight"), O=w.mat(att + "output.weight"),
            lnx_w=w.vec(att + "ln_x.weight"), lnx_b=w.vec(att + "ln_x.bias"),
            ffn_mix=w.vec(ffn + "x_k"), ffn_K=w.mat(ffn + "key.weight"),
            ffn_V=w.mat(ffn + "value.weight"))

    @staticmethod
    def _decoder_vectors(ly: Layer) -> dict[str, Tensor | None]:
        """A layer's vectors for the compiled decode step (its matrices go by their roles)."""
        return {n: getattr(ly, n) for n in ("ln1_w", "ln1_b", "ln2_w", "ln2_b", "mix", "w0", "a0", "v0", "k_k",
                                             "k_a", "r_k", "lnx_w", "lnx_b", "ffn_mix")}

    def _bf16_layers(self) -> list[Layer]:
        """The layers for bf16 prompts: vectors as bf16 copies, matrices and LoRAs as ``[in, out]``
        views of their packed bf16 memory (no copy)."""
        out = []
        for ly, pk in zip(self.layers, self.weights.packed, strict=True):
            fields = {}
            for name in Layer.__slots__:
                t, role = getattr(ly, name), _ROLES.get(name, name)
                fields[name] = pk[role].w.t() if role in pk else None if t is None else t.bfloat16()
            out.append(Layer(**fields))
        return out

    def new_state(self) -> State:
        i = self.info
        parts = {
            "att_x_prev": torch.zeros(i.n_layer, i.n_embd, dtype=self.weights.plan.shift, device=self.device),
            "wkv": torch.zeros(i.n_layer, i.n_head, i.head_size, i.head_size, dtype=torch.float32,
                               device=self.device),
            "ffn_x_prev": torch.zeros(i.n_layer, i.n_embd, dtype=self.weights.plan.shift, device=self.device),
        }
        return State(parts, generation=7, fingerprint=i.fingerprint)

    def tuning_to_wkv(self, time_state: Tensor) -> Tensor:
        # RWKV-7 tuning files store the state in the runtime's own [head, value, key] order.
        return time_state.to(device=self.device, dtype=torch.float32)

    # -- forward ---------------------------------------------------------------------------------

    def _forward_one(self, token: int, state: State) -> Tensor:
        if self.weights.decoder is not None:   # one C++ call for the whole token
            return self.weights.decode(token, state, ("wkv",))
        if self._graph is _UNTRIED:    # a GPU: one CUDA graph replay per token, once checked
            self._graph = cuda_graphs.make(self._torch_step, self.new_state(), self.device)
        if self._graph is not None:
            return self._graph.step(token, state)
        return self._torch_step(torch.tensor([token], device=self.device), state.parts)

    def _forward_batch(self, tokens: list[int], states: Sequence[State]) -> Tensor:
        """One token for each of B sequences through the torch layers at once (GPUs, the torch CPU
        path): the states stacked, one matmul per weight for all, the single-step kernel on B*H heads,
        the states written back. Within fp32 rounding of one sequence at a time, not bit-identical."""
        C, H, N, B = self.info.n_embd, self.info.n_head, self.info.head_size, len(tokens)
        shift = self.weights.plan.shift
        att_prev, wkv, ffn_prev = (torch.stack([s.parts[k].to(dt) for s in states], dim=1)   # [L, B, ...]
                                   for k, dt in (("att_x_prev", shift), ("wkv", torch.float32), ("ffn_x_prev", shift)))
        kernel = self.kernels.one

        def one(r, w, k, v, a, b, s):  # [B, 1, H, N], state [B, H, N, N] -> the kernel on B*H heads
            y = kernel(*(t.reshape(B * H, N) for t in (r, w, k, v, a, b)), s.view(B * H, N, N))
            return y.view(B, 1, H, N)

        x = self.emb.rows(torch.tensor(tokens, device=self.device)).to(self.dtype).unsqueeze(1)   # [B, 1, C]
        v_first = x
        for i, ly in enumerate(self.layers):
            xx = F.layer_norm(x, (C,), ly.ln1_w, ly.ln1_b)
            out, v_first = time_mix(i, ly, xx, att_prev[i], v_first, H, N, one, wkv[i])
            att_prev[i].copy_(xx[:, -1])
            x = x + out
            xx = F.layer_norm(x, (C,), ly.ln2_w, ly.ln2_b)
            out = channel_mix(ly, xx, ffn_prev[i])
            ffn_prev[i].copy_(xx[:, -1])
            x = x + out
        for b, s in enumerate(states):
            s.parts["att_x_prev"].copy_(att_prev[:, b])
            s.parts["wkv"].copy_(wkv[:, b])
            s.parts["ffn_x_prev"].copy_(ffn_prev[:, b])
        return self.weights.logits(F.layer_norm(x[:, -1], (C,), *self.ln_out)).float()

    def _torch_step(self, token: Tensor, parts: dict[str, Tensor]) -> Tensor:
        """One token through the torch layers: ``token`` a ``[1]`` long tensor on the device (what a
        CUDA graph can replay), ``parts`` the state's tensors, advanced in place; returns the logits."""
        att_prev, wkv, ffn_prev = parts["att_x_prev"], parts["wkv"], parts["ffn_x_prev"]
        C, H, N = self.info.n_embd, self.info.n_head, self.info.head_size
        kernel = self.kernels.one

        def one(r, w, k, v, a, b, s):  # [1, H, N] -> the single-step kernel on [H, N]
            return kernel(r[0], w[0], k[0], v[0], a[0], b[0], s).unsqueeze(0)

        x = self.emb.rows(token).to(self.dtype)
        v_first = x
        for i, ly in enumerate(self.layers):
            xx = F.layer_norm(x, (C,), ly.ln1_w, ly.ln1_b)
            out, v_first = time_mix(i, ly, xx, att_prev[i], v_first, H, N, one, wkv[i])
            att_prev[i].copy_(xx[-1])
            x = x + out
            xx = F.layer_norm(x, (C,), ly.ln2_w, ly.ln2_b)
            out = channel_mix(ly, xx, ffn_prev[i])
            ffn_prev[i].copy_(xx[-1])
            x = x + out
        return self.weights.logits(F.layer_norm(x[-1], (C,), *self.ln_out))

    def _forward_seq(self, tokens: Sequence[int], state: State) -> Tensor:
        return self._forward_prompts([(tokens, state)])[0]

    def _forward_prompts(self, chunks: Sequence[tuple[list[int], State]]) -> Tensor:
        """Several sequences' prompts side by side (one is :meth:`_forward_seq`): their rows
        concatenated, so each GEMM reads the weights once for all of them at a better shape than one
        short prompt's; the token shift and the WKV recurrence stay within each sequence. Row ``s``
        of the result is sequence ``s``'s logits; equal to each one alone within GEMM rounding."""
        if self.compiled_prompts and self.weights.decoder is not None and self._prompt_layers is None:
            return self._prefill(chunks)
        C, H, N = self.info.n_embd, self.info.n_head, self.info.head_size
        bf16 = self._prompt_layers is not None
        layers = self._prompt_layers if bf16 else self.layers
        spans, at = [], 0
        for tokens, _ in chunks:
            spans.append((at, at + len(tokens)))
            at += len(tokens)
        parts = [state.parts for _, state in chunks]
        rows = torch.tensor([t for tokens, _ in chunks for t in tokens], device=self.device)
        x = self.emb.rows(rows).to(torch.bfloat16 if bf16 else self.dtype)

        def previous(xx: Tensor, name: str, i: int) -> Tensor:   # each row's previous token, within its sequence
            if len(parts) == 1:
                return parts[0][name][i]                           # time_mix / channel_mix shift it in
            return torch.cat([_shift(xx[lo:hi], p[name][i]) for (lo, hi), p in zip(spans, parts, strict=True)])

        def keep_last(xx: Tensor, name: str, i: int) -> None:
            for (_, hi), p in zip(spans, parts, strict=True):
                p[name][i].copy_(xx[hi - 1])

        v_first = x
        for i, ly in enumerate(layers):
            def wkv(r, w, k, v, a, b, _state, i=i):   # each sequence's rows on its own state
                if len(parts) == 1:
                    return self.kernels.seq(r, w, k, v, a, b, parts[0]["wkv"][i])
                return torch.cat([self.kernels.seq(r[lo:hi], w[lo:hi], k[lo:hi], v[lo:hi], a[lo:hi], b[lo:hi],
                                                   p["wkv"][i]) for (lo, hi), p in zip(spans, parts, strict=True)])

            xx = F.layer_norm(x, (C,), ly.ln1_w, ly.ln1_b)
            out, v_first = time_mix(i, ly, xx, previous(xx, "att_x_prev", i), v_first, H, N, wkv, None)
            keep_last(xx, "att_x_prev", i)
            x = x + out
            xx = F.layer_norm(x, (C,), ly.ln2_w, ly.ln2_b)
            out = channel_mix(ly, xx, previous(xx, "ffn_x_prev", i))
            keep_last(xx, "ffn_x_prev", i)
            x = x + out
        last = torch.tensor([hi - 1 for _, hi in spans], device=self.device)
        out = F.layer_norm(x[last].to(self.ln_out[0].dtype), (C,), *self.ln_out)
        return self.weights.logits(out)     # one pass over the head for every sequence's last row

    def _prefill(self, chunks: Sequence[tuple[list[int], State]]) -> Tensor:
        """:meth:`_forward_prompts` by the compiled library in one call (``rwkv7_prefill``: the decode
        step's code on the prompt's rows, each product a GEMM, everything between on the library's
        threads). Where the CPU multiplies bf16 in hardware, bf16 prompts keep torch's bf16 GEMMs."""
        rows = torch.tensor([t for tokens, _ in chunks for t in tokens], device=self.device)
        x = self.emb.rows(rows).float().contiguous()
        logits = torch.empty(len(chunks), self.info.vocab_size, dtype=torch.float32)
        parts = [state.parts for _, state in chunks]
        self.weights.decoder.prefill(x, [len(tokens) for tokens, _ in chunks], [p["att_x_prev"] for p in parts],
                                     [p["wkv"] for p in parts], [p["ffn_x_prev"] for p in parts], logits)
        return logits


_UNTRIED = object()
Wkv = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


def _shift(x: Tensor, x_prev: Tensor) -> Tensor:
    """Each position's previous token: ``x_prev`` for the first, then ``x`` shifted by one. An
    ``x_prev`` of ``x``'s own shape is every row's previous token already (the prompts of several
    sequences side by side: :meth:`RWKV7._forward_prompts`)."""
    if x_prev.shape == x.shape:
        return x_prev
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
