"""Big matrices kept for the compiled CPU kernels, and int8, q4 and q5 weight-only quantisation.

``int8`` is our own format, made at load time from any file: each output row of a matrix keeps
``round(w / s)`` in int8 with ``s = max|row| / 127`` in float32. The matrices (R, K, V, O, FFN
key/value, head, and RWKV-7's LoRAs) are quantised; vectors and the embedding keep float32.
The compiled library quantises each token's activations to 8 bits too (uint8 with its own scale and
zero point) and multiplies integers, in decode (the GEMV) and prompts (:class:`Int8Product`,
``kernels.cpu.gemm``) alike, the same bits for the same row.

``q4`` is our 4-bit format (llama.cpp's q4_0 math, our own layout): each row of a matrix in blocks
of 32 inputs, a block kept as ``q = round(w / d)`` in -8..7 with one fp16 scale ``d = m / -8``, ``m``
the block's value of largest magnitude (so it is exactly ``-8 d``, and the other side reaches
``7 d``: measured 8.6 % relative RMS error on the demo model's matrices against 9.7 % for a
symmetric -7..7 with ``d = max|w| / 7``; fp32 scales would gain nothing measurable and cost 0.5 bit).
4.5 bits a weight. A row of ``in`` inputs is padded with zeros to a multiple of 256 (whole groups of
8 blocks; RWKV widths are multiples of 256) and kept as ``uint8`` ``[out, padded / 2]``, each group
of 8 blocks in 128 bytes, ``q + 8`` in nibbles in the order the compiled kernels' integer dot
products read (``kernels/cpu/src/gemv_q4.cpp`` says which nibble is which); the scales fp16
``[out, padded / 32]``. q4 models keep the linear matrices in q4, the LoRAs and the head in int8
(:data:`Q4_SMALL`): see :func:`engine.models.weights.plan` for why.

``q5`` is the same with 5-bit values (llama.cpp's q5_0 math): ``q`` in -16..15, ``d = m / -16``, 5.5
bits a weight, half q4's error (4.3 % relative RMS against 8.6 % on random matrices). Each group
of 8 blocks is 160 bytes: q4's 128 bytes of nibbles (the low 4 bits of ``q + 16``), then a plane of
32 bytes holding bit 4 of ``q + 16``: bit ``s`` of byte ``128 + 4 i + j`` is that bit of value
``4 s + j`` of block ``i`` (byte ``k`` of the plane serves byte ``k`` of each of the 8 steps' 32
nibble bytes, so one shift and mask of the plane gives a step's 32 high bits in place). Its bytes
are kept viewed as ``torch.uint5``, the dtype that names the format (:data:`Q5`). The scales,
padding, head and LoRAs are q4's.

Torch's code writes ``x @ W`` with ``W`` ``[in, out]``. For a matrix kept in another dtype than
torch computes in, ``W`` is one of the small classes below, whose ``__rmatmul__`` does the product
without a float copy of the layer: the int8 GEMM, the compiled float GEMM, or one shared fp32 scratch
matrix filled just before each product (:class:`ExpandedProduct`: int8 without the compiled library,
bf16 for a model that does not ask for float products). fp32 matrices, and bf16 ones computed in
fp32 (a CPU without bf16 GEMMs), are a :class:`FloatProduct` for a model that asks for it (every
generation with the compiled library): the compiled float GEMM for prompts (fp32: from a few tokens
on, torch below that).
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

_ROWS_PER_CHUNK = 4096  # quantise a big head in slices: no full-size float temporaries


Q4 = torch.uint8          # the dtype a q4 matrix is kept in (packed nibbles); its name in a Plan
Q4_BLOCK = 32
Q4_SMALL = torch.int8     # what a q4 or q5 model keeps its LoRAs and head in
Q5 = torch.uint5          # q5: its bytes viewed as this dtype, which names the format (in a Plan too)
Q4_GROUP = 256            # the values of one group of 8 blocks (kp / 2 bytes of nibbles in q4, 5 kp / 8 in q5)


_Q4_GROUP_BLOCKS = 8      # blocks in one of the layout's groups
_Q4_VALUES_PER_CHUNK = 1 << 16


def q4_padded(n_in: int) -> int:
    """The inputs of a q4 row, padded with zeros to whole groups of 8 blocks (256)."""
    return (n_in + 255) // 256 * 256


@dataclass(slots=True)
class Packed:
    """One big matrix ``[out, in]`` in fp32, bf16, int8 with a float32 ``scale`` per output row, or q4
    or q5 (``w`` uint8 nibbles or uint5-viewed bytes, ``scale`` fp16 per block, ``n_in`` the true
    input count; see the module)."""

    w: Tensor
    scale: Tensor | None = None
    n_in: int | None = None

    @property
    def bits(self) -> int | None:
        """4 for q4, 5 for q5, else None."""
        return 4 if self.w.dtype == Q4 else 5 if self.w.dtype == Q5 else None

    @property
    def is_q4(self) -> bool:
        """Whether ``w`` is in 32-value blocks with fp16 scales: q4 or q5."""
        return self.bits is not None

    def dense_into(self, out: Tensor) -> Tensor:
        """Write the fp32 matrix ``[out, in]`` into ``out`` (a reused scratch buffer) and return it."""
        if self.is_q4:
            for i in range(0, self.w.shape[0], _ROWS_PER_CHUNK):
                out[i:i + _ROWS_PER_CHUNK] = dequantize_q4_rows(self, i, i + _ROWS_PER_CHUNK)
            return out
        if self.scale is None:
            return out.copy_(self.w)
        return torch.mul(self.w, self.scale.unsqueeze(1), out=out)

    @property
    def shape(self) -> tuple[int, int]:
        """``[in, out]``, as torch's code sees the matrix (``x @ W``)."""
        return self.n_in if self.is_q4 else self.w.shape[1], self.w.shape[0]

    def matvec_rows(self, x: Tensor) -> Tensor:
        """``x @ W^T`` for ``x`` ``[..., in]`` without materialising the whole fp32 matrix (the torch
        fallback for an int8, q4 or q5 head)."""
        outs = []
        for i in range(0, self.w.shape[0], _ROWS_PER_CHUNK):
            if self.is_q4:
                w = dequantize_q4_rows(self, i, i + _ROWS_PER_CHUNK)
            else:
                w = self.w[i:i + _ROWS_PER_CHUNK].float()
                if self.scale is not None:
                    w.mul_(self.scale[i:i + _ROWS_PER_CHUNK].unsqueeze(1))
            outs.append(x @ w.t())
        return torch.cat(outs, dim=-1)


class IntegerProduct:
    """``x @ W`` for a :class:`Packed` by a compiled product that multiplies integers
    (``kernels.cpu.gemm``): no float copy of ``W`` at all. ``x`` ``[..., in]``; the result is
    float32 ``[..., out]``. Subclasses name the product."""

    __slots__ = ("p",)
    product = ""

    def __init__(self, p: Packed):
        self.p = p

    @property
    def shape(self) -> tuple[int, int]:
        return self.p.shape

    def __rmatmul__(self, x: Tensor) -> Tensor:
        from kernels.cpu import gemm

        return getattr(gemm, self.product)(x, self.p.w, self.p.scale)


class Int8Product(IntegerProduct):
    """int8 weights: each token's activations quantised to 8 bits, the int8 GEMM (``gemm_int8``)."""

    __slots__ = ()
    product = "gemm_int8"


class Q4Product(IntegerProduct):
    """q4 weights: each token's inputs quantised per block of 32 to int8, integer dot products with
    the 4-bit blocks (``gemm_q4``)."""

    __slots__ = ()
    product = "gemm_q4"


class Q5Product(IntegerProduct):
    """q5 weights: as :class:`Q4Product`, with the 5-bit blocks (``gemm_q5``)."""

    __slots__ = ()
    product = "gemm_q5"


FLOAT_GEMM_MIN_TOKENS = 8   # shorter fp32 products stay torch's (see FloatProduct)


class FloatProduct:
    """``x @ W`` in fp32 for an fp32 or bf16 :class:`Packed` on the compiled CPU path, by the compiled
    float GEMM (``gemm_float``, the weights repacked panel by panel as it goes, bf16 widened on the
    way). fp32 weights: from :data:`FLOAT_GEMM_MIN_TOKENS` tokens on, fewer by torch on a view of the
    same memory. bf16 weights: every product, however short (torch would first need an fp32 copy of
    the whole matrix, :class:`ExpandedProduct`, and its scratch buffer). No copy of ``W`` is made:
    the compiled decode step reads the same tensor."""

    __slots__ = ("p", "wt")

    def __init__(self, p: Packed):
        self.p, self.wt = p, p.w.t()

    @property
    def shape(self) -> tuple[int, int]:
        return self.p.shape

    def __rmatmul__(self, x: Tensor) -> Tensor:
        if self.p.w.dtype == torch.float32 and (x.dim() < 2 or x.dtype != torch.float32
                                                or x.numel() < FLOAT_GEMM_MIN_TOKENS * x.shape[-1]):
            return x @ self.wt
        from kernels.cpu import gemm

        return gemm.gemm_float(x, self.p.w)


class Scratch:
    """One fp32 buffer that every :class:`ExpandedProduct` of a model shares, as big as its largest
    matrix, allocated when first needed (a model whose prompts never expand a matrix has none)."""

    __slots__ = ("numel", "device", "buf")

    def __init__(self, numel: int, device: torch.device):
        self.numel, self.device, self.buf = numel, device, None

    def take(self, shape: torch.Size) -> Tensor:
        if self.buf is None:
            self.buf = torch.empty(self.numel, dtype=torch.float32, device=self.device)
        return self.buf[:shape.numel()].view(shape)


class ExpandedProduct:
    """``x @ W`` for a :class:`Packed` kept int8 or bf16 while torch computes in fp32: the matrix
    is expanded into the model's :class:`Scratch` just before torch's GEMM reads it."""

    __slots__ = ("p", "scratch")

    def __init__(self, p: Packed, scratch: Scratch):
        self.p, self.scratch = p, scratch

    @property
    def shape(self) -> tuple[int, int]:
        return self.p.shape

    def __rmatmul__(self, x: Tensor) -> Tensor:
        n_in, n_out = self.p.shape
        return x @ self.p.dense_into(self.scratch.take(torch.Size((n_out, n_in)))).t()


HUGE_PAGE = 2 << 20


def kept_empty(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> Tensor:
    """An uninitialised CPU tensor for a matrix the model keeps for its whole life.

    From 2 MiB on, on Linux, it gets its own anonymous mapping, 2 MiB-aligned, advised into
    transparent huge pages: each token streams every matrix from memory, and with the matrices in
    2 MiB pages decode ran up to 1.1x faster in paired runs (q4 most; ``docs/engine.md``); freeing
    the model unmaps them at once. Only kept matrices: asked for every allocation (torch's
    ``THP_MEM_ALLOC_ENABLE``), each prompt's short-lived activations paid for fresh huge pages too
    (int8 prompts ran ~0.7x).
    Elsewhere, or smaller, or where the system says no: ``torch.empty``."""
    numel = math.prod(shape)
    size = numel * dtype.itemsize
    if size < HUGE_PAGE or not hasattr(mmap, "MADV_HUGEPAGE") or not hasattr(mmap, "MAP_ANONYMOUS"):
        return torch.empty(shape, dtype=dtype)
    # Private and anonymous (Python's default, shared, is shmem: no huge pages there); the slack of
    # one huge page aligns the start and is never touched.
    try:
        area = mmap.mmap(-1, size + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except OSError:                              # no address space or overcommit left: torch says it as OOM
        return torch.empty(shape, dtype=dtype)
    start = -torch.frombuffer(area, dtype=torch.uint8, count=1).data_ptr() % HUGE_PAGE
    try:
        area.madvise(mmap.MADV_HUGEPAGE, start, size // mmap.PAGESIZE * mmap.PAGESIZE)
    except OSError:                              # a kernel without THP: 4 KiB pages, as torch's
        pass
    return torch.frombuffer(area, dtype=dtype, count=numel, offset=start).view(shape)


def _compiled_quantize(w: Tensor, q: Tensor, scale: Tensor) -> bool:
    """``w`` into ``q`` and ``scale`` by the compiled library (the same bytes as the torch code
    below, on both threads: ~10x faster, so a q4 1.5B loads in seconds); False where it cannot."""
    from kernels import cpu

    if w.dtype not in (torch.float32, torch.bfloat16, torch.float16) or w.device.type != "cpu" or not cpu.available():
        return False
    cpu.quantize(w, q, scale)
    return True


def quantize_int8(w: Tensor, compiled: bool = True) -> Packed:
    """Per-output-row symmetric int8 of ``w`` ``[out, in]`` (any float dtype); ``compiled=False``:
    torch's code, the format's definition."""
    q = kept_empty(w.shape, torch.int8)
    scale = torch.empty(w.shape[0], dtype=torch.float32)
    if compiled and _compiled_quantize(w, q, scale):
        return Packed(q, scale)
    for i in range(0, w.shape[0], _ROWS_PER_CHUNK):
        rows = w[i:i + _ROWS_PER_CHUNK].float()
        s = rows.abs().amax(dim=1).clamp_min(1e-30) / 127.0
        q[i:i + _ROWS_PER_CHUNK] = torch.round(rows / s.unsqueeze(1)).clamp_(-127, 127).to(torch.int8)
        scale[i:i + _ROWS_PER_CHUNK] = s
    return Packed(q, scale)


def quantize_q4(w: Tensor, compiled: bool = True) -> Packed:
    """``w`` ``[out, in]`` (any float dtype) in q4 (see the module); ``compiled=False``: torch's code,
    a slice of rows at a time (the format's definition)."""
    return _quantize_blocks(w, 4, compiled)


def quantize_q5(w: Tensor, compiled: bool = True) -> Packed:
    """``w`` ``[out, in]`` (any float dtype) in q5 (see the module), as :func:`quantize_q4`."""
    return _quantize_blocks(w, 5, compiled)


def _quantize_blocks(w: Tensor, bits: int, compiled: bool) -> Packed:
    n_out, n_in = w.shape
    kp = q4_padded(n_in)
    half = 1 << (bits - 1)                    # values -half .. half - 1, kept as q + half
    q = kept_empty((n_out, kp * bits // 8), torch.uint8)
    kept = q if bits == 4 else q.view(Q5)     # the same bytes, under the dtype that names the format
    scale = torch.empty(n_out, kp // Q4_BLOCK, dtype=torch.float16)
    if compiled and _compiled_quantize(w, kept, scale):
        return Packed(kept, scale, n_in)
    # Slices of 64K values: with 1M (~4 MiB float temporaries, several per slice) the allocator kept
    # freed ones resident: quantising 96 MiB of q4 peaked at +276 MiB RSS against +140 MiB, as fast.
    step = max(1, _Q4_VALUES_PER_CHUNK // kp)
    for i in range(0, n_out, step):
        rows = F.pad(w[i:i + step].float(), (0, kp - n_in)).view(-1, kp // Q4_BLOCK, Q4_BLOCK)
        m = rows.gather(2, rows.abs().argmax(dim=2, keepdim=True))          # the block's largest |w|, signed
        d = (m / -half).clamp(-65504.0, 65504.0).to(torch.float16)
        df = d.float()
        u = torch.round(rows / torch.where(df == 0, 1.0, df)).clamp_(-half, half - 1).add_(half).to(torch.uint8)
        n = u.shape[0]
        u = u.view(n, -1, _Q4_GROUP_BLOCKS, Q4_BLOCK)                        # [rows, group, block i, value]
        # [rows, group, block i, half h, chunk c, j] (value 16 h + 4 c + j) -> byte 32 c + 4 i + j of the group
        lo = (u & 15).view(n, -1, _Q4_GROUP_BLOCKS, 2, 4, 4).permute(0, 1, 3, 4, 2, 5)
        nib = (lo[:, :, 0] | (lo[:, :, 1] << 4)).reshape(n, -1, Q4_GROUP // 2)
        if bits == 5:
            # bit 4 of value 4 s + j of block i -> bit s of byte 4 i + j past the nibbles
            hb = (u >> 4).view(n, -1, _Q4_GROUP_BLOCKS, 8, 4).transpose(3, 4)    # [rows, group, i, j, s]
            hb = (hb << _BIT_PLACES).sum(dim=4, dtype=torch.uint8).view(n, -1, Q4_GROUP // 8)
            nib = torch.cat((nib, hb), dim=2)
        q[i:i + step] = nib.view(n, -1)
        scale[i:i + step] = d.squeeze(2)
    return Packed(kept, scale, n_in)


_BIT_PLACES = torch.arange(8, dtype=torch.uint8)


def dequantize_q4_rows(p: Packed, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of a q4 or q5 :class:`Packed` as fp32 ``[rows, in]``."""
    bits = p.bits
    b = p.w[start:stop].view(torch.uint8)
    rows = b.shape[0]
    b = b.view(rows, -1, Q4_GROUP * bits // 8)
    g = b[:, :, :Q4_GROUP // 2].reshape(rows, -1, 1, 4, _Q4_GROUP_BLOCKS, 4)    # [rows, group, h, c, i, j]
    u = torch.cat((g & 15, g >> 4), dim=2).permute(0, 1, 4, 2, 3, 5)         # [rows, group, i, h, c, j]
    u = u.reshape(rows, -1, _Q4_GROUP_BLOCKS, Q4_BLOCK)
    if bits == 5:
        hb = (b[:, :, Q4_GROUP // 2:].unsqueeze(3) >> _BIT_PLACES) & 1         # [rows, group, byte, s]
        hb = hb.reshape(rows, -1, _Q4_GROUP_BLOCKS, 4, 8).transpose(3, 4)       # [rows, group, i, s, j]
        u = u | (hb.reshape(rows, -1, _Q4_GROUP_BLOCKS, Q4_BLOCK) << 4)
    half = 1 << (bits - 1)
    w = (u.float() - half).reshape(rows, -1, Q4_BLOCK) * p.scale[start:stop].float().unsqueeze(2)
    return w.view(rows, -1)[:, :p.n_in]


def pack(w: Tensor, fmt: torch.dtype) -> Packed:
    """``w`` ``[out, in]`` (from the file, possibly memory-mapped) as an owned :class:`Packed` in ``fmt``."""
    if fmt == torch.int8:
        return quantize_int8(w)
    if fmt == Q4:
        return quantize_q4(w)
    if fmt == Q5:
        return quantize_q5(w)
    return Packed(kept_empty(w.shape, fmt).copy_(w))
