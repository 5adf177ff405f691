"""One way for every RWKV generation to read its weights, place them and hand them to the kernels.

A model module (``rwkv4`` ... ``rwkv7``) keeps its math, its ``Layer`` table and its checkpoint
schema (each tensor's shape; for a matrix, how the file stores it and the compiled step's name for
it); it builds its layers by asking a :class:`Weights` for each tensor: ``vec`` (a parameter read
flat), ``mat`` (a matrix of the schema, for ``x @ W``), ``embedding``, ``head``. What comes back
depends on the precision and the kernels, never on the generation, and is decided here once:

- **Checks first.** The file's tensors are checked against the generation's schema (names, dtypes,
  shapes, layer count; :mod:`engine.models.schema`) before anything is allocated.
- **Kernels.** :func:`kernels.select` picks the backend (``backend`` of ``engine.load``).
- **Dtypes** (:func:`plan`). fp32, fp16: torch computes in that dtype. int8 (CPU only): our
  weight-only format (:mod:`engine.models.packed`), computed in fp32. q4 and q5 (CPU only): the
  linear matrices in 4- or 5-bit blocks, the LoRAs and the head in int8
  (:data:`~engine.models.packed.Q4_SMALL`), computed in fp32. bf16 with the compiled
  library: bf16 matrices read by the fused decode step; prompts run torch's bf16 GEMMs where the
  CPU multiplies bf16 in hardware (:func:`engine.host.hardware.bf16_gemm_fast`), else the compiled
  float GEMM on the bf16 matrices (torch emulates bf16 GEMMs ~4x slower than fp32). Token-shift
  states are bf16 for bf16 models.
- **Layout.** A file stores a linear weight ``[out, in]``; torch computes ``x @ W`` on ``[in, out]``.
  With the compiled library the matrices stay ``[out, in]`` (its GEMV streams rows) and torch gets
  transposed views, which its GEMMs read as fast: one copy of every weight. Without it, torch gets
  ``[in, out]`` copies (``x @ W`` runs ~1.6x faster than ``F.linear`` on a CPU GEMV).
- **Prompts on packed matrices.** Where a matrix is kept in another dtype than torch computes in,
  the model's ``x @ W`` reaches :mod:`engine.models.packed`: int8, q4 and q5 with the compiled
  library multiply integers (:class:`~engine.models.packed.Int8Product`,
  :class:`~engine.models.packed.Q4Product`, :class:`~engine.models.packed.Q5Product`, no float
  copy). fp32 matrices with the library go to the compiled float GEMM from a few tokens on
  (:class:`~engine.models.packed.FloatProduct`, the same memory; torch's matmul on the transposed
  view below that), and so do bf16 matrices computed in fp32 (a CPU without bf16 GEMMs), at any
  length: the GEMM widens them as it packs its panels. Otherwise (int8 without the library) the
  matrix is expanded just before its GEMM into one fp32 scratch buffer the whole model shares, as
  big as its largest matrix and made at its first use (:class:`~engine.models.packed.ExpandedProduct`).
- **The compiled decode step** gets every weight once (:meth:`Weights.make_decoder`) and runs a
  whole token per call (:meth:`Weights.decode`); logits come from a pool that never hands out a
  buffer a caller still holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial

import torch
import torch.nn.functional as F
from torch import Tensor

import kernels
from engine.errors import EngineError
from engine.host.hardware import bf16_gemm_fast
from engine.models.checkpoint import Checkpoint, release_pages, trim_heap
from engine.models.embedding import Embedding
from engine.models.model import DTYPES, LogitsPool, ModelInfo
from engine.models.packed import (
    Q4,
    Q4_SMALL,
    Q5,
    ExpandedProduct,
    FloatProduct,
    Int8Product,
    Packed,
    Q4Product,
    Q5Product,
    Scratch,
    pack,
)
from engine.models.schema import LINEAR, LORA, Schema
from engine.models.state import State

_PRECISIONS = {dtype: name for name, dtype in DTYPES.items()}
_PACKED = (torch.int8, torch.bfloat16, Q4, Q5)   # formats whose LoRAs are packed too (q4's, q5's: Q4_SMALL)
_INTEGER = (torch.int8, Q4, Q5)                  # CPU-only formats the compiled library multiplies as integers


@dataclass(frozen=True)
class Plan:
    """The dtypes of one loaded model."""

    precision: str               # "fp32", "bf16", "fp16", "int8", "q4", "q5" (a test's float64: "torch.float64")
    compute: torch.dtype         # torch's activations and the model's own tables
    store: torch.dtype | None    # the matrices, kept [out, in]; None: plain [in, out] copies in `compute`
    shift: torch.dtype           # the token-shift states (and the folded embedding)
    prompt: torch.dtype          # prompts' GEMMs: bf16 on views of bf16 matrices where that is fast
    small: torch.dtype | None = None   # the LoRAs and the head, where not in `store` (q4's, q5's: int8)


def plan(dtype: torch.dtype, compiled: bool, fp32_tables: bool = False) -> Plan:
    """The dtypes for a model loaded in ``dtype``, with or without the ``compiled`` CPU library.

    ``fp32_tables``: with the library, a bf16 model keeps its own tables fp32 (RWKV-7: its prompts
    use bf16 views of the packed matrices instead, where that is fast). Otherwise a bf16 model on a
    CPU with bf16 GEMMs computes in bf16 throughout (RWKV-4/5/6, as their oracle does).
    """
    f32, bf16 = torch.float32, torch.bfloat16
    if dtype == torch.int8:
        return Plan("int8", f32, torch.int8, f32, f32)
    if dtype == Q4:
        # The head and LoRAs in int8. A q4 head tripled the demo model's KL from fp32 (1.2e-3 ->
        # 3.4e-3, greedy agreement 97.9 % -> 95.5 %). q4 LoRAs changed little (KL 1.22e-3) but are
        # larger: their 32..128 inputs pad to a 256-input group (144 bytes a row against int8's 36).
        return Plan("q4", f32, Q4, f32, f32, Q4_SMALL)
    if dtype == Q5:                          # as q4, for the same reasons
        return Plan("q5", f32, Q5, f32, f32, Q4_SMALL)
    if compiled and dtype == bf16:
        fast = bf16_gemm_fast()
        if fast and not fp32_tables:
            return Plan("bf16", bf16, bf16, bf16, bf16)
        return Plan("bf16", f32, bf16, bf16, bf16 if fast else f32)
    if compiled:
        return Plan("fp32", f32, f32, f32, f32)
    return Plan(_PRECISIONS.get(dtype, str(dtype)), dtype, None, dtype, dtype)


class Weights:
    """One checkpoint's tensors, checked, then read for one model on one device in one precision.

    After the model has built its layers: ``packed[layer][role]`` holds each matrix as the compiled
    step reads it (``[out, in]``, with int8's scales), ``head_packed`` the head; ``decoder`` is the
    compiled step, or None when torch computes every token.
    """

    def __init__(self, ckpt: Checkpoint, schema: Schema, device: torch.device, dtype: torch.dtype,
                 backend: str = "auto", fp32_tables: bool = False):
        self.sizes = schema.check(ckpt.tensors, ckpt.path.name)      # before anything is allocated
        self.schema, self.ckpt, self.z, self.device = schema, ckpt, ckpt.tensors, device
        if dtype in _INTEGER and device.type != "cpu":
            raise EngineError("Precision {precision} runs on the CPU only; use fp16 or bf16 on a GPU.",
                              precision=_PRECISIONS[dtype])
        precision = _PRECISIONS.get(dtype, str(dtype))
        try:
            self.kernels = kernels.select(schema.generation, device.type, precision, backend)
        except (kernels.Unavailable, ValueError) as e:
            raise EngineError("The '{backend}' kernels cannot run RWKV-{generation} on {device} in "
                              "{precision}: {error}. Use backend 'auto'.",
                              backend=backend, generation=schema.generation, device=device, precision=precision,
                              error=e) from e
        self.plan = plan(dtype, self.kernels.decoder is not None, fp32_tables)
        L = self.sizes["L"]
        self.packed: list[dict[str, Packed]] = [{} for _ in range(L)]
        self.head_packed: Packed | None = None
        self.scratch: Scratch | None = None
        self._head: Tensor | None = None
        self.decoder = None
        self.emb: Embedding | None = None      # what the decode step stages its tokens' rows from
        self._trimmed = -2                     # the layer being packed when the heap was last trimmed
        self.logits_pool = LogitsPool(self.sizes["V"])
        self._reserve_scratch()

    @property
    def compiled(self) -> bool:
        """Whether the compiled CPU library runs this model (matrices kept ``[out, in]``)."""
        return self.kernels.decoder is not None

    @property
    def _bf16_products(self) -> bool:
        """Whether bf16 matrices computed in fp32 multiply prompts by the compiled float GEMM. (With
        bf16 GEMMs in hardware RWKV-7's prompts use bf16 views instead, and RWKV-4/5/6 compute in
        bf16: then these products serve only the torch single-token paths, which the decode step
        replaces.)"""
        return self.compiled and self.plan.compute == torch.float32

    def info(self) -> ModelInfo:
        s, z = self.sizes, self.z
        return ModelInfo(generation=self.schema.generation, n_layer=s["L"], n_embd=s["C"], n_head=s.get("H", 0),
                         head_size=s.get("N", 0), vocab_size=s["V"], dim_ffn=s["F"],
                         n_params=sum(t.numel() for t in z.values()),
                         file_dtype=str(z["emb.weight"].dtype).removeprefix("torch."), path=self.ckpt.path,
                         fingerprint=self.ckpt.fingerprint)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, key: str, dtype: torch.dtype | None = None) -> Tensor:
        """``key`` on the device in ``dtype`` (default: the compute dtype), as an owned copy: a tensor
        still backed by the memory-mapped file would keep the file's pages resident beside ours."""
        src = self.z[key]
        t = src.to(device=self.device, dtype=dtype or self.plan.compute)
        t = t.clone() if t.data_ptr() == src.data_ptr() else t
        self.ckpt.release(src)
        return t

    def vec(self, key: str, dtype: torch.dtype | None = None) -> Tensor:
        """A parameter stored ``[C]``, ``[1, 1, C]`` or ``[H, N]``, flat."""
        return self.get(key, dtype).reshape(-1).contiguous()

    def mat(self, key: str) -> Tensor | FloatProduct | Int8Product | Q4Product | Q5Product | ExpandedProduct:
        """A matrix of the schema as ``[in, out]`` for ``x @ W``.

        Where the matrices are kept ``[out, in]`` (the compiled library, int8) each is kept under
        its role in :attr:`packed`, and the result is a view of it, or, when it is int8 or bf16 and
        torch computes in fp32, an object whose ``x @ W`` multiplies the kept matrix (see the module's
        "Prompts on packed matrices"). LoRAs are int8 or bf16 like the linear
        weights (RWKV-7: in fp32 they were ~15% of an int8 token's bytes at 0.1B); RWKV-6's small
        ones stay in the compute dtype. Without the library: plain ``[in, out]`` copies.
        """
        layer, e = self.schema.entry(key)
        store, src = self.plan.store, self.z[key]
        if (layer < 0 or e.kind == LORA) and self.plan.small is not None:
            store = self.plan.small
        if e.kind == LINEAR and store is not None:
            p = pack(src, store)
            self.ckpt.release(src)
            return self._keep(p, layer, e.role)
        if e.kind == LINEAR:
            return self.get(key).t().contiguous()
        if e.kind == LORA and store in _PACKED:
            p = pack(src.t(), store)
            self.ckpt.release(src)
            return self._keep(p, layer, e.role)
        t = self.get(key)
        if not self.compiled:
            return t.contiguous()
        out_in = t.transpose(-1, -2).contiguous()
        p = self.packed[layer][e.role] = Packed(out_in)
        if out_in.dim() == 2 and out_in.dtype == torch.float32:
            return FloatProduct(p)               # 2-3x torch's thin GEMMs at 32..512 tokens (measured)
        return out_in.transpose(-1, -2)

    def head(self) -> Tensor:
        """The head as ``[in, out]`` (see :meth:`mat`); :meth:`logits` multiplies by it."""
        self._head = self.mat("head.weight")
        return self._head

    def embedding(self, fold_in_file_dtype: bool) -> Embedding:
        """The embedding with ``ln0`` applied (every token's first step), rows in the shift dtype: read
        from the file's memory map as tokens come (the CPU), else folded whole now (see
        :mod:`engine.models.embedding`).

        RWKV-4/5/6 fold in the file's dtype and then cast, exactly as their oracle does
        (``fold_in_file_dtype``); RWKV-7 folds in the compute dtype, as its reference does.
        """
        emb = self.z["emb.weight"]
        if fold_in_file_dtype:
            w, b = self.z["blocks.0.ln0.weight"], self.z["blocks.0.ln0.bias"]
            fold = emb.dtype if _can_normalise(emb.dtype) else torch.float32
            ln0 = (w.to(fold, copy=True), b.to(fold, copy=True))
            self.ckpt.release(w)
            self.ckpt.release(b)
        else:
            fold, ln0 = self.plan.compute, (self.vec("blocks.0.ln0.weight"), self.vec("blocks.0.ln0.bias"))
        lookup = Embedding(emb, ln0, fold, self.plan.compute, self.plan.shift, self.device,
                           partial(release_pages, mapped=self.ckpt.mapped))
        self.ckpt.release(emb)
        if self.device.type == "cpu" and self.ckpt.is_mapped(emb):
            return lookup
        return lookup.folded()

    def release_file(self) -> None:
        """Let go of the checkpoint once the model is built: its memory-mapped pages, all read by
        now, would otherwise stay resident beside the model's own copies for as long as it lives."""
        self.ckpt.release_all()
        trim_heap()
        self.z = {}
        self.ckpt = None

    def _reserve_scratch(self) -> None:
        """The shared scratch of the matrices torch reads expanded (int8 without the compiled library;
        bf16 computed in fp32 without float products), sized for the largest; not the head's (see
        :meth:`logits`)."""
        store = self.plan.store
        if store is None or store == self.plan.compute or (store in _INTEGER and self.compiled):
            return
        if store == torch.bfloat16 and self._bf16_products:
            return
        kinds = (LINEAR, LORA) if store in _PACKED else (LINEAR,)
        largest = max(torch.Size(self.schema.shape(e, self.sizes)).numel()
                      for e in self.schema.block.values() if e.kind in kinds)
        self.scratch = Scratch(largest, self.device)

    def _keep(self, p: Packed, layer: int,
              role: str) -> Tensor | FloatProduct | Int8Product | Q4Product | Q5Product | ExpandedProduct:
        if layer != self._trimmed:               # the last layer's float temporaries (see trim_heap)
            trim_heap()
            self._trimmed = layer
        if layer < 0:
            self.head_packed = p
            return p.w.t()
        self.packed[layer][role] = p
        if p.w.dtype == self.plan.compute:       # torch reads the kept memory itself
            if self.compiled and p.w.dtype == torch.float32:
                return FloatProduct(p)           # ... or, for prompts, the compiled float GEMM does
            return p.w.t()
        if self._bf16_products and p.w.dtype == torch.bfloat16:
            return FloatProduct(p)               # no fp32 copy: widened as the GEMM packs its panels
        if p.is_q4 and self.compiled:
            return Q4Product(p) if p.bits == 4 else Q5Product(p)
        if p.scale is not None and self.compiled:
            return Int8Product(p)
        return ExpandedProduct(p, self.scratch)

    # -- running ---------------------------------------------------------------------------------

    def logits(self, x: Tensor) -> Tensor:
        """float32 logits of ``x`` ``[C]``, or of B rows ``[B, C]`` at once (after ``ln_out``): the
        compiled GEMV (a batch in one pass over the head, each row the bits of its own GEMV), the
        int8 rows a slice at a time, or ``x @ head``."""
        hp = self.head_packed
        if self.kernels.gemv is not None:
            x = x.float().contiguous()
            out = self.logits_pool.take() if x.dim() == 1 else torch.empty(x.shape[0], self.sizes["V"])
            return self.kernels.gemv(hp.w, x, out, hp.scale)
        if hp is not None:
            return hp.matvec_rows(x.float())
        return (x @ self._head).float()

    def make_decoder(self, dims: Mapping[str, int | torch.dtype], layers: Sequence[Mapping[str, Tensor | None]],
                     emb: Embedding, ln_out: tuple[Tensor, Tensor]) -> None:
        """Hand every weight to the compiled decode step, once (it keeps pointers, we keep tensors).

        ``layers``: per layer, the vectors by the step's pointer names (fp32 copies are made of
        others); the matrices come from :attr:`packed`. ``dims``: the generation's own sizes (the
        common ones are added here). Without the compiled library this does nothing.
        """
        if not self.compiled:
            return
        ptrs = []
        for i, vectors in enumerate(layers):
            d = {k: None if v is None else v.float().contiguous() for k, v in vectors.items()}
            for role, p in self.packed[i].items():
                d[role] = p.w
                if p.scale is not None:
                    d[role + "_s"] = p.scale
            ptrs.append(d)
        hp, s = self.head_packed, self.sizes
        self.emb = emb
        glob = {"emb": emb.staging(), "lnout_w": ln_out[0].float().contiguous(),
                "lnout_b": ln_out[1].float().contiguous(), "head": hp.w, "head_s": hp.scale}
        common = {"n_layer": s["L"], "n_embd": s["C"], "n_head": s.get("H", 0), "head_size": s.get("N", 0),
                  "dim_ffn": s["F"], "vocab_size": s["V"], "wtype": self.plan.store, "emb_type": emb.dtype,
                  "shift_type": self.plan.shift, "head_type": hp.w.dtype}
        self.decoder = self.kernels.decoder({**common, **dims}, ptrs, glob)

    def decode(self, token: int, state: State, wkv_parts: tuple[str, ...]) -> Tensor:
        """``token`` through the compiled step: one call, the state advanced in place, no allocation.

        The state's parts are already in the dtypes the step reads (``Model.forward`` converts a state
        made by this file in another precision, or a view, once).
        """
        p = state.parts
        logits = self.logits_pool.take()
        row = self.emb.stage([token])[0]
        self.decoder.step(row, p["att_x_prev"], [p[k] for k in wkv_parts], p["ffn_x_prev"], logits)
        return logits


@cache
def _can_normalise(dtype: torch.dtype) -> bool:
    """Whether this torch runs a LayerNorm in ``dtype`` on the CPU (else the fold runs in float32)."""
    try:
        F.layer_norm(torch.ones(1, 2, dtype=dtype), (2,), torch.ones(2, dtype=dtype), torch.zeros(2, dtype=dtype))
    except RuntimeError:
        return False
    return True
