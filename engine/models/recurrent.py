"""What RWKV-4, -5 and -6 share: reading weights, the embedding, the layer loop, channel mixing.

The three generations differ in their time mixing (and RWKV-6 in how the channel mix blends the
previous token); everything else is one stack:

    x = LN0(emb[token])                                  (folded into the table at load)
    per layer:  x += TimeMix(LN1 x);  x += ChannelMix(LN2 x)
    logits = LN_out(x) head

Both mixes read the LayerNorm'ed input of the previous token ("token shift"), which the state keeps
per layer as ``att_x_prev`` and ``ffn_x_prev``. Loading follows BlinkDL's ``rwkv`` package, the
oracle: ``ln0`` is folded into the embedding in the file's dtype before any cast, decays and bonuses
are float32, ``ln_x`` is float32, everything else is in the compute dtype.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

import kernels
from engine.errors import EngineError, IncompatibleStateError, UnknownLayoutError
from engine.host.hardware import bf16_gemm_fast
from engine.models.checkpoint import Checkpoint
from engine.models.model import LogitsPool, Model, ModelInfo
from engine.models.packed import Packed, pack
from engine.models.state import State
from kernels import cpu

LN_EPS = 1e-5
GN_EPS = 64e-5   # GroupNorm eps of ln_x (RWKV-5 and -6)


def native_gemv(device: torch.device, dtype: torch.dtype):
    """The compiled library (``kernels.cpu``) when it can run this model's decode step and WKV
    (CPU, fp32 or bf16 weights), else None (torch computes everything)."""
    if device.type != "cpu" or dtype not in (torch.float32, torch.bfloat16):
        return None
    return cpu if cpu.available() else None


class Weights:
    """Reads one checkpoint's tensors onto a device and dtype, each as an owned copy.

    With the compiled CPU library (:func:`native_gemv`) matrices stay ``[out, in]`` in memory, as
    the library reads them, and :meth:`mat` hands out their transposed views: torch's prompt GEMMs
    on such a view run as fast as on an ``[in, out]`` copy, and there is no second copy.
    """

    def __init__(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype,
                 pack: torch.dtype | None = None):
        self.z, self.device, self.dtype = ckpt.tensors, device, dtype
        self.native = native_gemv(device, dtype) is not None
        # ``pack`` (int8, or bf16 computed in float32): :meth:`mat` keeps each matrix in that format
        # (int8 rows with a float32 scale each, engine.models.packed), per layer and role in ``packed``; torch
        # reads them through ``scratch``, one float32 buffer per role that a layer's matrices are
        # expanded into before it runs.
        self.pack = pack
        self.packed: dict[int, dict[str, Packed]] = {}
        self.scratch: dict[str, Tensor] = {}
        self.head_packed: Packed | None = None

    def get(self, key: str, dtype: torch.dtype | None = None) -> Tensor:
        # Own every weight: a tensor still backed by the memory-mapped file would keep the whole
        # file's pages resident beside our copies.
        src = self.z[key]
        t = src.to(device=self.device, dtype=dtype or self.dtype)
        return t.clone() if t.data_ptr() == src.data_ptr() else t

    def vec(self, key: str, dtype: torch.dtype | None = None) -> Tensor:
        """A ``[1, 1, C]`` / ``[C]`` parameter as ``[C]``."""
        return self.get(key, dtype).reshape(-1).contiguous()

    def mat(self, key: str, layer: int = -1, role: str = "head") -> Tensor:
        """A linear weight, stored ``[out, in]``, as ``[in, out]`` for ``x @ W``: a transposed view of
        the file's layout with the compiled library (which reads ``[out, in]``), else a contiguous copy.
        With ``pack``, layer ``layer``'s weight ``role`` (the compiled decode step's pointer name) is
        packed and the view is of the role's scratch buffer (the head: of the packed rows)."""
        if self.pack is not None:
            p = pack(self.z[key], self.pack)
            if layer < 0:
                self.head_packed = p
                return p.w.t()
            self.packed.setdefault(layer, {})[role] = p
            if role not in self.scratch:
                self.scratch[role] = torch.empty(p.w.shape, dtype=torch.float32, device=self.device)
            return self.scratch[role].t()
        if self.native:
            return self.get(key).contiguous().t()
        return self.get(key).t().contiguous()

    def in_out(self, key: str) -> Tensor:
        """A weight the file stores ``[..., in, out]`` (used as ``x @ W``: RWKV-6's LoRAs), as such;
        with the compiled library its memory is ``[..., out, in]`` (a view with the last two dims
        swapped), the layout the library's GEMV reads."""
        t = self.get(key)
        return t.transpose(-1, -2).contiguous().transpose(-1, -2) if self.native else t.contiguous()

    def embedding(self) -> Tensor:
        """``LN0(emb)`` computed in the file's dtype, then cast, exactly as the oracle does for v4-6."""
        emb, w, b = self.z["emb.weight"], self.z["blocks.0.ln0.weight"], self.z["blocks.0.ln0.bias"]
        try:
            folded = F.layer_norm(emb, (emb.shape[1],), w.to(emb.dtype), b.to(emb.dtype), LN_EPS)
        except RuntimeError:   # a dtype this torch cannot normalise on the CPU
            folded = F.layer_norm(emb.float(), (emb.shape[1],), w.float(), b.float(), LN_EPS)
        return folded.to(device=self.device, dtype=self.dtype).contiguous()


def n_layers(z: dict[str, Tensor]) -> int:
    return 1 + max(int(k.split(".")[1]) for k in z if k.startswith("blocks.") and k.split(".")[1].isdigit())


def check_keys(z: dict[str, Tensor], n_layer: int, att: Sequence[str], ffn: Sequence[str], name: str,
               generation: str) -> None:
    """Refuse a file that lacks tensors of this generation, naming what is missing."""
    needed = ["emb.weight", "blocks.0.ln0.weight", "blocks.0.ln0.bias", "ln_out.weight", "ln_out.bias",
              "head.weight"]
    for i in range(n_layer):
        needed += [f"blocks.{i}.{n}" for n in ("ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias")]
        needed += [f"blocks.{i}.att.{n}" for n in att]
        needed += [f"blocks.{i}.ffn.{n}" for n in ffn]
    missing = [k for k in needed if k not in z]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise UnknownLayoutError(f"'{name}' looks like {generation} but {len(missing)} tensors are missing "
                                 f"({shown}); the file is incomplete or from an unsupported variant.")


def make_info(ckpt: Checkpoint, generation: int, n_head: int, head_size: int) -> ModelInfo:
    z = ckpt.tensors
    vocab, C = z["emb.weight"].shape
    return ModelInfo(
        generation=generation, n_layer=n_layers(z), n_embd=C, n_head=n_head, head_size=head_size,
        vocab_size=vocab, dim_ffn=z["blocks.0.ffn.key.weight"].shape[0],
        n_params=sum(t.numel() for t in z.values()),
        file_dtype=str(z["emb.weight"].dtype).removeprefix("torch."), path=ckpt.path, fingerprint=ckpt.fingerprint)


def shift(x: Tensor, x_prev: Tensor) -> Tensor:
    """Each position's previous token: ``x_prev`` for the first, then ``x`` shifted by one."""
    if x.shape[0] == 1:
        return x_prev.unsqueeze(0)
    return torch.cat((x_prev.unsqueeze(0), x[:-1]))


def channel_mix(x: Tensor, prev: Tensor, mix_k: Tensor, mix_r: Tensor, K: Tensor, R: Tensor, V: Tensor,
                lerp_from_prev: bool) -> Tensor:
    """``sigmoid(x_r R) * relu(x_k K)^2 V`` on ``x`` ``[T, C]`` after ``prev`` ``[C]`` (token shift).

    RWKV-4/5 blend ``x * mix + prev * (1 - mix)``; RWKV-6 writes ``x + (prev - x) * maa``. Equal in
    exact arithmetic, not in float; each follows its own reference.
    """
    sx = shift(x, prev)
    if lerp_from_prev:
        sx = sx - x
        kx, rx = x + sx * mix_k, x + sx * mix_r
    else:
        kx, rx = x * mix_k + sx * (1 - mix_k), x * mix_r + sx * (1 - mix_r)
    return torch.sigmoid(rx @ R) * (torch.relu(kx @ K).square() @ V)


def group_norm_heads(y: Tensor, H: int, weight: Tensor, bias: Tensor) -> Tensor:
    """``ln_x``: a GroupNorm over each head of ``y`` ``[T, H, N]`` (float32), as ``[T, H*N]``."""
    T = y.shape[0]
    return F.group_norm(y.reshape(T, -1), num_groups=H, weight=weight, bias=bias, eps=GN_EPS)


@dataclass(frozen=True)
class KernelChoice:
    """Which implementation a model runs (reported by ``bench``, like RWKV-7's kernel sets)."""

    name: str


def kernel_choice(model: RecurrentModel) -> KernelChoice:
    """What a loaded RWKV-4/5/6 runs: the WKV kernels for prompts, and whether a decoded token is
    one call of the compiled step."""
    fused = " + fused decode" if model._decoder is not None else ""
    if model.info.generation == 4:
        return KernelChoice(f"cpu-{cpu.isa()} wkv4{fused}" if fused else "torch wkv4 (token loop)")
    return KernelChoice(f"{model.wkv6.name} wkv6{fused}")


_MATRICES = {"R", "K", "V", "G", "O", "fK", "fR", "fV", "maa_w1", "maa_w2", "decay_w1", "decay_w2"}


def _f32(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.float().contiguous()


def _out_in(t: Tensor | None) -> Tensor | None:
    """A ``[in, out]`` view of ``[out, in]`` memory back to that memory (what the library reads)."""
    if t is None:
        return None
    u = t.transpose(-1, -2)
    if not u.is_contiguous():
        raise ValueError("a matrix for the compiled decode step is not stored [out, in]")
    return u


class RecurrentModel(Model):
    """The layer loop of RWKV-4/5/6; subclasses supply the time mix and the channel mix."""

    emb: Tensor
    ln_out: tuple[Tensor, Tensor]
    head: Tensor
    ln: list[tuple[Tensor, Tensor, Tensor, Tensor]]   # per layer: ln1 w, b, ln2 w, b

    rescale_every = 0   # see rescale_for_fp16
    _precision: str | None = None   # "int8" or "bf16" with float32 compute (see compute_dtype); else the dtype's
    _pack: torch.dtype | None = None   # the matrices' format when it is not the compute dtype
    _weights: Weights | None = None
    _decoder = None     # kernels.cpu.Rwkv456Decoder: the fused decode step, when the library runs this model
    _wkv_parts: tuple[str, ...] = ("wkv",)   # the state parts the decode step advances besides the shifts

    @property
    def precision(self) -> str:
        return self._precision or super().precision

    def compute_dtype(self, device: torch.device, dtype: torch.dtype) -> torch.dtype:
        """The dtype torch computes in. int8 weights compute in float32 (CPU only). bf16 on a CPU
        without bf16 GEMMs in hardware keeps its matrices bf16 (the compiled decode step reads them)
        but runs prompts in float32: there torch's bf16 GEMM is emulated, ~4x slower than fp32."""
        if dtype == torch.int8:
            if device.type != "cpu":
                raise EngineError("Precision int8 runs on the CPU only; use fp16 or bf16 on a GPU.")
            self._precision, self._pack = "int8", torch.int8
            return torch.float32
        if dtype == torch.bfloat16 and native_gemv(device, dtype) is not None and not bf16_gemm_fast():
            self._precision, self._pack = "bf16", torch.bfloat16
            return torch.float32
        return dtype

    @property
    def _shift_dtype(self) -> torch.dtype:
        """The token-shift states keep the precision's dtype (bf16 for bf16 on every path)."""
        return torch.bfloat16 if self.precision == "bf16" else self.dtype

    def start(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, generation: int,
              n_head: int = 0, head_size: int = 0) -> Weights:
        """What every generation's loading begins with: the compute dtype, the info, the weights'
        reader, then the embedding, the norms and the head (:meth:`load_common`)."""
        self.device, self.dtype = device, self.compute_dtype(device, dtype)
        self.info = make_info(ckpt, generation, n_head, head_size)
        w = Weights(ckpt, device, self.dtype, pack=self._pack)
        self.load_common(w)
        return w

    def load_common(self, w: Weights) -> None:
        self._weights = w
        self.emb = w.embedding().to(self._shift_dtype)      # bf16 stays bf16 (half the table)
        self.ln_out = (w.vec("ln_out.weight"), w.vec("ln_out.bias"))
        self.head = w.mat("head.weight")
        self.ln = [tuple(w.vec(f"blocks.{i}.{n}") for n in ("ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"))
                   for i in range(self.info.n_layer)]

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
    def time_mix(self, i: int, x: Tensor, state: State, seq: bool) -> Tensor:
        """Layer ``i``'s time mix of ``x`` ``[T, C]`` (LN1'ed); advances the state's parts in place."""

    @abstractmethod
    def channel_mix(self, i: int, x: Tensor, prev: Tensor) -> Tensor:
        """Layer ``i``'s channel mix of ``x`` ``[T, C]`` (LN2'ed) after ``prev`` ``[C]``."""

    def _run(self, x: Tensor, state: State, seq: bool) -> Tensor:
        C = self.info.n_embd
        att_prev, ffn_prev = state.parts["att_x_prev"], state.parts["ffn_x_prev"]
        packed = self._weights.packed if self._weights is not None else {}
        for i, (w1, b1, w2, b2) in enumerate(self.ln):
            for role, p in packed.get(i, {}).items():        # packed (int8, bf16): this layer, expanded
                p.dense_into(self._weights.scratch[role])
            xx = F.layer_norm(x, (C,), w1, b1, LN_EPS)
            out = self.time_mix(i, xx, state, seq)
            att_prev[i].copy_(xx[-1])
            x = x + out
            xx = F.layer_norm(x, (C,), w2, b2, LN_EPS)
            out = self.channel_mix(i, xx, ffn_prev[i])
            ffn_prev[i].copy_(xx[-1])
            x = x + out
            if self.rescale_every and (i + 1) % self.rescale_every == 0:
                x = x / 2
        x = F.layer_norm(x[-1], (C,), *self.ln_out, LN_EPS)
        hp = self._weights.head_packed if self._weights is not None else None
        if self._decoder is not None:   # the compiled library: the one row through its GEMV
            w, scale = (hp.w, hp.scale) if hp is not None else (self.head.t(), None)
            return cpu.gemv(w, x.float().contiguous(), torch.empty(w.shape[0]), scale)
        if hp is not None:
            return hp.matvec_rows(x.float())
        return (x @ self.head).float()

    @abstractmethod
    def decoder_layer(self, i: int) -> dict[str, Tensor | None]:
        """Layer ``i``'s weights for the fused decode step, by ``cpu.table("rwkv456.layer")`` name
        (vectors as they are, matrices as their ``[in, out]`` views; converted by :meth:`make_decoder`)."""

    def make_decoder(self, w: Weights, n_head: int = 0, head_size: int = 0, maa: int = 0, decay: int = 0) -> None:
        """Hand every weight to the compiled decode step once (it keeps pointers, we keep tensors):
        vectors as fp32 copies (small), matrices as the ``[out, in]`` memory they already have."""
        if not w.native:
            return
        i = self.info
        layers = []
        for n in range(i.n_layer):
            d = self.decoder_layer(n)
            ln = self.ln[n]
            d.update(ln1_w=ln[0], ln1_b=ln[1], ln2_w=ln[2], ln2_b=ln[3])
            ptrs = {k: _out_in(v) if k in _MATRICES else _f32(v) for k, v in d.items()}
            for role, p in w.packed.get(n, {}).items():      # packed: the int8/bf16 rows, not the scratch
                ptrs[role], ptrs[role + "_s"] = p.w, p.scale
            layers.append(ptrs)
        head = w.head_packed
        glob = {"emb": self.emb, "lnout_w": _f32(self.ln_out[0]), "lnout_b": _f32(self.ln_out[1]),
                "head": head.w if head is not None else _out_in(self.head),
                "head_s": head.scale if head is not None else None}
        att = layers[0]["R"].shape[0]
        wtype = w.pack or self.dtype
        lora = layers[0].get("maa_w1")
        dims = dict(generation=i.generation, n_layer=i.n_layer, n_embd=i.n_embd, dim_att=att, n_head=n_head,
                    head_size=head_size, dim_ffn=i.dim_ffn, vocab_size=i.vocab_size, lora_maa=maa, lora_decay=decay,
                    wtype=wtype, emb_type=self.emb.dtype, shift_type=self._shift_dtype,
                    lora_type=lora.dtype if lora is not None else self.dtype)
        self._decoder = cpu.Rwkv456Decoder(dims, layers, glob)
        self._logits = LogitsPool(i.vocab_size)

    def _forward_one(self, token: int, state: State) -> Tensor:
        if self._decoder is None:
            return self._run(self.emb[token].unsqueeze(0).to(self.dtype), state, seq=False)
        p = state.parts
        for k in ("att_x_prev", "ffn_x_prev", *self._wkv_parts):
            want = torch.float32 if k in self._wkv_parts else self._shift_dtype
            if p[k].dtype != want or not p[k].is_contiguous():
                # A state made by this file in another precision (or a view): converted once, in the State.
                p[k] = p[k].to(want).contiguous()
        logits = self._logits.take()
        self._decoder.step(token, p["att_x_prev"], [p[k] for k in self._wkv_parts], p["ffn_x_prev"], logits)
        return logits

    def _forward_seq(self, tokens: Sequence[int], state: State) -> Tensor:
        return self._run(self.emb[torch.tensor(tokens, device=self.device)].to(self.dtype), state, seq=True)

    def _shift_parts(self) -> dict[str, Tensor]:
        i = self.info
        return {name: torch.zeros(i.n_layer, i.n_embd, dtype=self._shift_dtype, device=self.device)
                for name in ("att_x_prev", "ffn_x_prev")}


class MatrixStateModel(RecurrentModel):
    """RWKV-5/6: a ``[head, key, value]`` matrix state per layer, which state-tuning files set."""

    initial_wkv: Tensor | None = None
    wkv6: kernels.Wkv6Kernels    # kernels.select_wkv6 for the device and dtype (see start)

    def start(self, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, generation: int,
              n_head: int = 0, head_size: int = 0) -> Weights:
        w = super().start(ckpt, device, dtype, generation, n_head, head_size)
        self.wkv6 = kernels.select_wkv6(device.type, self.precision)
        return w

    def load_merged_state(self, z: dict[str, Tensor]) -> None:
        """A checkpoint with a tuned state merged in (``blocks.N.att.time_state``, as ChatRWKV's
        ``rwkv_state_merger.py`` writes it) starts every new state from it, as the reference does."""
        i = self.info
        keys = [f"blocks.{n}.att.time_state" for n in range(i.n_layer)]
        if not any(k in z for k in keys):
            return
        bad = [k for k in keys if k not in z or tuple(z[k].shape) != (i.n_head, i.head_size, i.head_size)]
        if bad:
            raise UnknownLayoutError(f"'{i.path.name}' has a merged tuned state, but '{bad[0]}' is missing or not "
                                     f"[{i.n_head}, {i.head_size}, {i.head_size}]; the merge is broken.")
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

    def attend(self, i: int, ly, x: Tensor, xr: Tensor, xk: Tensor, xv: Tensor, xg: Tensor, w: Tensor,
               state: State, seq: bool) -> Tensor:
        """What RWKV-5.2 and -6 share after their mixing: r, k, v and the SiLU gate, the matrix-state
        recurrence with decay ``w`` ``[T, H, N]`` and bonus ``u``, GroupNorm per head, gate, output."""
        T, H, N = x.shape[0], self.info.n_head, self.info.head_size
        r = (xr @ ly.R).float().view(T, H, N)
        k = (xk @ ly.K).float().view(T, H, N)
        v = (xv @ ly.V).float().view(T, H, N)
        g = F.silu(xg @ ly.G)
        wkv = state.parts["wkv"][i]
        if seq:
            y = self.wkv6.seq(r, w, k, v, ly.u, wkv)
        else:
            y = self.wkv6.one(r[0], w[0], k[0], v[0], ly.u, wkv).unsqueeze(0)
        y = group_norm_heads(y, H, ly.lnx_w, ly.lnx_b)
        return (y.to(x.dtype) * g) @ ly.O

    def tuning_to_wkv(self, time_state: Tensor) -> Tensor:
        # Tuning files store [head, value, key] (the trainer's order); the runtime keeps [head, key, value].
        return time_state.to(device=self.device, dtype=torch.float32).transpose(-1, -2)


def no_tuning(generation: int) -> IncompatibleStateError:
    return IncompatibleStateError(f"RWKV-{generation} models have no matrix state, so state-tuning files "
                                  "(which set one) cannot be used with them.")
