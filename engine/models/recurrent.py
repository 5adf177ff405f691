"""What RWKV-4, -5 and -6 share: the embedding, the layer loop, channel mixing, the decode step's inputs.

The three generations differ in their time mixing (and RWKV-6 in how the channel mix blends the
previous token); everything else is one stack:

    x = LN0(emb[token])                                  (folded into the table at load)
    per layer:  x += TimeMix(LN1 x);  x += ChannelMix(LN2 x)
    logits = LN_out(x) head

Both mixes read the LayerNorm'ed input of the previous token ("token shift"), which the state keeps
per layer as ``att_x_prev`` and ``ffn_x_prev``. The layers run on rows ``x`` ``[R, C]`` of two kinds
(:meth:`RecurrentModel._run`): the R tokens of one sequence (a prompt), or one token for each of R
sequences (a decode step: one sequence's token is a batch of one); the mixes see only the rows and
each row's previous token ``sx`` ``[R, C]``, so their math is written once for both.

Loading (:mod:`engine.models.weights`) follows BlinkDL's ``rwkv`` package, the oracle: ``ln0`` is
folded into the embedding in the file's dtype before any cast, decays and bonuses are float32,
``ln_x`` is float32, everything else is in the compute dtype.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.errors import IncompatibleStateError, UnknownLayoutError
from engine.models.checkpoint import Checkpoint
from engine.models.embedding import LN_EPS, Embedding
from engine.models.model import Model
from engine.models.schema import BLOCK_NORMS, Expect, Schema, linear, vec
from engine.models.state import State
from engine.models.weights import Weights

GN_EPS = 64e-5   # GroupNorm eps of ln_x (RWKV-5 and -6)


def channel_mix_schema(mix_k: str, mix_r: str) -> dict[str, Expect]:
    """The block tensors RWKV-4/5/6 share: the LayerNorms and the channel mix (its two token-shift
    mixes are named ``time_mix_*`` up to RWKV-5, ``time_maa_*`` in RWKV-6)."""
    return {**BLOCK_NORMS, f"ffn.{mix_k}": vec("C"), f"ffn.{mix_r}": vec("C"), "ffn.key.weight": linear("F", "C", "fK"),
            "ffn.receptance.weight": linear("C", "C", "fR"), "ffn.value.weight": linear("C", "F", "fV")}


def shift(x: Tensor, x_prev: Tensor) -> Tensor:
    """Each position's previous token: ``x_prev`` for the first, then ``x`` shifted by one."""
    if x.shape[0] == 1:
        return x_prev.unsqueeze(0)
    return torch.cat((x_prev.unsqueeze(0), x[:-1]))


def channel_mix(x: Tensor, sx: Tensor, mix_k: Tensor, mix_r: Tensor, K: Tensor, R: Tensor, V: Tensor,
                lerp_from_prev: bool) -> Tensor:
    """``sigmoid(x_r R) * relu(x_k K)^2 V`` on rows ``x`` ``[R, C]`` whose previous tokens are ``sx``.

    RWKV-4/5 blend ``x * mix + prev * (1 - mix)``; RWKV-6 writes ``x + (prev - x) * maa``. Equal in
    exact arithmetic, not in float; each follows its own reference.
    """
    if lerp_from_prev:
        sx = sx - x
        kx, rx = x + sx * mix_k, x + sx * mix_r
    else:
        kx, rx = x * mix_k + sx * (1 - mix_k), x * mix_r + sx * (1 - mix_r)
    return torch.sigmoid(rx @ R) * (torch.relu(kx @ K).square() @ V)


def group_norm_heads(y: Tensor, H: int, weight: Tensor, bias: Tensor) -> Tensor:
    """``ln_x``: a GroupNorm over each head of each row of ``y`` ``[R, H, N]`` (float32), as ``[R, H*N]``."""
    R = y.shape[0]
    return F.group_norm(y.reshape(R, -1), num_groups=H, weight=weight, bias=bias, eps=GN_EPS)


class RecurrentModel(Model):
    """The layer loop of RWKV-4/5/6; subclasses supply the time mix and the channel mix."""

    emb: Embedding
    ln_out: tuple[Tensor, Tensor]
    head: Tensor
    ln: list[tuple[Tensor, Tensor, Tensor, Tensor]]   # per layer: ln1 w, b, ln2 w, b

    rescale_every = 0   # see rescale_for_fp16

    def start(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, backend: str,
              schema: Schema) -> Weights:
        """What every generation's loading begins with: the checked weights' reader (dtypes, kernels),
        the info, then the embedding, the norms and the head."""
        w = self.weights = Weights(ckpt, schema, device, dtype, backend)
        self.kernels, self.device, self.dtype = w.kernels, device, w.plan.compute
        self.info = w.info()
        self.emb = w.embedding(fold_in_file_dtype=True)      # bf16 stays bf16 (half the table)
        self.ln_out = (w.vec("ln_out.weight"), w.vec("ln_out.bias"))
        self.head = w.head()
        self.ln = [tuple(w.vec(f"blocks.{i}.{n}") for n in ("ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"))
                   for i in range(self.info.n_layer)]
        return w

    def finish(self, layers: Sequence) -> None:
        """What every generation's loading ends with, once its layers are built: fp16 rescaling, the
        hand-over to the compiled decode step, and letting go of the file."""
        self.rescale_for_fp16(layers)
        self.make_decoder()
        self.weights.release_file()

    def rescale_for_fp16(self, layers: Sequence) -> None:
        """In fp16, halve the residual stream every 6 layers, as the reference does, so that deep
        RWKV-4/5/6 models do not overflow: layer i's output projections (``O``, ``ffn_V``) are
        divided by ``2**(i // 6)`` and ``x`` by 2 after every 6th layer. Powers of two are exact,
        and every block reads ``x`` through a LayerNorm, so nothing else changes."""
        if self.dtype != torch.float16:
            return
        self.rescale_every = 6
        for i, ly in enumerate(layers):
            ly.O.div_(2 ** (i // self.rescale_every))
            ly.ffn_V.div_(2 ** (i // self.rescale_every))

    @abstractmethod
    def time_mix(self, i: int, x: Tensor, sx: Tensor, wkv: dict[str, Tensor], seq: bool) -> Tensor:
        """Layer ``i``'s time mix of rows ``x`` ``[R, C]`` (LN1'ed) whose previous tokens are ``sx``
        ``[R, C]``; advances the layer's WKV state parts ``wkv`` in place (see :meth:`_run`)."""

    @abstractmethod
    def channel_mix(self, i: int, x: Tensor, sx: Tensor) -> Tensor:
        """Layer ``i``'s channel mix of rows ``x`` ``[R, C]`` (LN2'ed) whose previous tokens are ``sx``."""

    def _run(self, x: Tensor, parts: dict[str, Tensor], seq: bool) -> Tensor:
        """The layers over rows ``x`` ``[R, C]``; returns the residual stream after the last one.

        ``seq``: the R tokens of one sequence in order, ``parts`` its state's (``[L, ...]``): each
        token's previous one is the row above it (the first's, the state's), and the WKV reads the
        rows in order. Otherwise one token for each of R sequences, ``parts`` their states stacked
        ``[L, R, ...]``: each row's previous token and WKV state are its own. Advances ``parts``.
        """
        C = self.info.n_embd
        att_prev, ffn_prev = parts["att_x_prev"], parts["ffn_x_prev"]
        for i, (w1, b1, w2, b2) in enumerate(self.ln):
            wkv = {k: parts[k][i] for k in self._wkv_parts}
            xx = F.layer_norm(x, (C,), w1, b1, LN_EPS)
            out = self.time_mix(i, xx, shift(xx, att_prev[i]) if seq else att_prev[i], wkv, seq)
            att_prev[i].copy_(xx[-1] if seq else xx)
            x = x + out
            xx = F.layer_norm(x, (C,), w2, b2, LN_EPS)
            out = self.channel_mix(i, xx, shift(xx, ffn_prev[i]) if seq else ffn_prev[i])
            ffn_prev[i].copy_(xx[-1] if seq else xx)
            x = x + out
            if self.rescale_every and (i + 1) % self.rescale_every == 0:
                x = x / 2
        return x

    def _logits(self, x: Tensor) -> Tensor:
        """float32 logits of the residual stream ``x`` (``[C]``, or rows ``[B, C]``)."""
        return self.weights.logits(F.layer_norm(x, (self.info.n_embd,), *self.ln_out, LN_EPS)).float()

    @abstractmethod
    def decoder_layer(self, i: int) -> dict[str, Tensor | None]:
        """Layer ``i``'s vectors for the fused decode step, by its pointer names (``kernels/cpu/src/
        layouts.h``); the matrices are handed over by :class:`Weights`, under their roles."""

    def make_decoder(self) -> None:
        """Hand every weight to the compiled decode step once (when the library runs this model)."""
        w, i = self.weights, self.info
        layers = []
        for n in range(i.n_layer):
            ln1_w, ln1_b, ln2_w, ln2_b = self.ln[n]
            layers.append({**self.decoder_layer(n), "ln1_w": ln1_w, "ln1_b": ln1_b, "ln2_w": ln2_w, "ln2_b": ln2_b})
        lora = w.packed[0].get("maa_w1")
        dims = {"generation": i.generation, "dim_att": w.sizes["A"], "lora_maa": w.sizes.get("D", 0),
                "lora_decay": w.sizes.get("Dd", 0), "lora_type": lora.w.dtype if lora is not None else self.dtype}
        w.make_decoder(dims, layers, self.emb, self.ln_out)

    def _forward_one(self, token: int, state: State) -> Tensor:
        if self.weights.decoder is not None:
            return self.weights.decode(token, state, self._wkv_parts)
        rows = {k: t.unsqueeze(1) for k, t in state.parts.items()}   # a batch of one: views, advanced in place
        x = self.emb.rows(torch.tensor([token], device=self.device)).to(self.dtype)
        return self._logits(self._run(x, rows, seq=False)[-1])

    def _forward_seq(self, tokens: Sequence[int], state: State) -> Tensor:
        x = self._run(self.emb.rows(torch.tensor(tokens, device=self.device)).to(self.dtype), state.parts, seq=True)
        return self._logits(x[-1])

    def _forward_batch(self, tokens: list[int], states: Sequence[State]) -> Tensor:
        """One token for each of B sequences through the torch layers at once (GPUs, the torch CPU
        path): the states stacked ``[L, B, ...]``, one matmul per weight for all rows, the WKV step
        of every row on its own state, the states written back. Within fp32 rounding of one
        sequence at a time (a GEMM sums in another order than a GEMV), not bit-identical."""
        rows = {k: torch.stack([s.parts[k] for s in states], dim=1) for k in states[0].parts}
        x = self._run(self.emb.rows(torch.tensor(tokens, device=self.device)).to(self.dtype), rows, seq=False)
        logits = self._logits(x)
        for b, s in enumerate(states):
            for k, t in s.parts.items():
                t.copy_(rows[k][:, b])
        return logits

    def _shift_parts(self) -> dict[str, Tensor]:
        i = self.info
        return {name: torch.zeros(i.n_layer, i.n_embd, dtype=self.weights.plan.shift, device=self.device)
                for name in ("att_x_prev", "ffn_x_prev")}


class MatrixStateModel(RecurrentModel):
    """RWKV-5/6: a ``[head, key, value]`` matrix state per layer, which state-tuning files set."""

    initial_wkv: Tensor | None = None

    def load_merged_state(self, z: dict[str, Tensor]) -> None:
        """A checkpoint with a tuned state merged in (``blocks.N.att.time_state``, as ChatRWKV's
        ``rwkv_state_merger.py`` writes it) starts every new state from it, as the reference does."""
        i = self.info
        keys = [f"blocks.{n}.att.time_state" for n in range(i.n_layer)]
        if not any(k in z for k in keys):
            return
        bad = [k for k in keys if k not in z or tuple(z[k].shape) != (i.n_head, i.head_size, i.head_size)]
        if bad:
            raise UnknownLayoutError("'{name}' has a merged tuned state, but '{bad}' is missing or not "
                                     "[{heads}, {head_size}, {head_size}]; the merge is broken.",
                                     name=i.path.name, bad=bad[0], heads=i.n_head, head_size=i.head_size)
        self.initial_wkv = torch.stack([self.tuning_to_wkv(z[k]) for k in keys]).contiguous()

    def new_state(self) -> State:
        """Zeros, or the tuned state merged into the checkpoint (:meth:`load_merged_state`)."""
        i = self.info
        shift = self._shift_parts()
        if self.initial_wkv is not None:
            wkv = self.initial_wkv.clone()
        else:
            wkv = torch.zeros(i.n_layer, i.n_head, i.head_size, i.head_size, dtype=torch.float32,
                              device=self.device)
        return State({"att_x_prev": shift["att_x_prev"], "wkv": wkv, "ffn_x_prev": shift["ffn_x_prev"]},
                     generation=i.generation, fingerprint=i.fingerprint)

    def attend(self, ly, x: Tensor, xr: Tensor, xk: Tensor, xv: Tensor, xg: Tensor, w: Tensor,
               wkv: Tensor, seq: bool) -> Tensor:
        """What RWKV-5.2 and -6 share after their mixing: r, k, v and the SiLU gate, the matrix-state
        recurrence with decay ``w`` ``[R, H, N]`` and bonus ``u``, GroupNorm per head, gate, output.

        ``wkv``: the sequence's state ``[H, N, N]`` (``seq``), or each row's own ``[R, H, N, N]``: then
        the single-step kernel runs on R*H heads, the bonus repeated for each row."""
        R, H, N = x.shape[0], self.info.n_head, self.info.head_size
        r = (xr @ ly.R).float().view(R, H, N)
        k = (xk @ ly.K).float().view(R, H, N)
        v = (xv @ ly.V).float().view(R, H, N)
        g = F.silu(xg @ ly.G)
        if seq:
            y = self.kernels.seq(r, w, k, v, ly.u, wkv)
        else:
            heads = (t.reshape(R * H, N) for t in (r, w, k, v))
            y = self.kernels.one(*heads, ly.u.repeat(R, 1), wkv.view(R * H, N, N)).view(R, H, N)
        y = group_norm_heads(y, H, ly.lnx_w, ly.lnx_b)
        return (y.to(x.dtype) * g) @ ly.O

    def tuning_to_wkv(self, time_state: Tensor) -> Tensor:
        # Tuning files store [head, value, key] (the trainer's order); the runtime keeps [head, key, value].
        return time_state.to(device=self.device, dtype=torch.float32).transpose(-1, -2)


def no_tuning(generation: int) -> IncompatibleStateError:
    return IncompatibleStateError("RWKV-{generation} models have no matrix state, so state-tuning files "
                                  "(which set one) cannot be used with them.", generation=generation)
