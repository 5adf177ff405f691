"""The compiled CPU kernels (``kernels/cpu/*.cpp``), called through ctypes on tensors' memory.

The library holds no torch: it sees raw contiguous arrays. It is built by setuptools as the
extension ``kernels.cpu._rwkv_cpu`` (``pip install -e .``, or ``python setup.py build_ext --inplace``)
and found through importlib, so it works from a source tree, a wheel and a bundle alike.
:func:`library` raises :class:`Unavailable` with the reason when it cannot be used, and
``kernels.select`` then falls back to the torch kernels. Models reach this module only through
``kernels.select``.

Environment: ``RWKV_CPU_ISA=scalar|avx2|avx512|avx512vnni`` forces a lower instruction set than the CPU's best
(tests use it to cover every path); ``RWKV_CPU_KERNELS=0`` disables the library altogether.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

import kernels

ABI_VERSION = 16
MAX_HEAD_SIZE = 1024   # the kernels keep a head's sums in fixed arrays
ISAS = ("scalar", "avx2", "avx512", "avx512vnni")   # each includes the ones before
# uint8: q4, uint5: q5 (its bytes viewed as torch.uint5; gemv_q4.cpp)
WTYPES = {torch.float32: 0, torch.bfloat16: 1, torch.int8: 2, torch.uint8: 3, torch.uint5: 4}
Q_BITS = {torch.uint8: 4, torch.uint5: 5}   # the block formats' bits a value, by the dtype that names them
INT8_MAX_IN = 65536   # int8 products' int32 sums overflow beyond this many inputs (255 * 128 * 65536 < 2^31)


class Unavailable(kernels.Unavailable):
    """The compiled library cannot be used here; the message says why."""


_lib: ctypes.CDLL | None = None
_error: str | None = None


def _find() -> str:
    spec = importlib.util.find_spec("kernels.cpu._rwkv_cpu")
    if spec is None or not spec.origin:
        raise Unavailable("the compiled library kernels.cpu._rwkv_cpu is not built (run `pip install -e .` "
                          "or `python setup.py build_ext --inplace`)")
    return spec.origin


_p, _i, _L = ctypes.c_void_p, ctypes.c_int, ctypes.c_long
_SIGNATURES = {   # the C API (see the API functions in kernels/cpu/*.cpp): name -> (result, arguments)
    "rwkv_cpu_get_isa": (_i, []),
    "rwkv_cpu_isa_max": (_i, []),
    "rwkv_cpu_set_isa": (_i, [_i]),
    "rwkv_cpu_get_avx_vnni": (_i, []),
    "rwkv_cpu_set_avx_vnni": (_i, [_i]),
    "rwkv_cpu_get_threads": (_i, []),
    "rwkv_cpu_set_threads": (None, [_i]),
    "rwkv_act": (None, [_i, _p, _L]),
    "rwkv_gemv": (None, [_p, _i, _p, _L, _L, _i, _p, _p]),
    "rwkv_wkv7_seq": (None, [_i, _i, _i, _p, _p, _p, _p, _p, _p, _p, _p]),
    "rwkv_wkv4_seq": (None, [_i, _L, _p, _p, _p, _p, _p, _p, _p, _p]),
    "rwkv_wkv6_seq": (None, [_i, _i, _i, _p, _p, _i, _p, _p, _p, _p, _p]),
    "rwkv7_create": (_p, [_p, _i, _p, _i]),
    "rwkv7_destroy": (None, [_p]),
    "rwkv7_decode": (None, [_p, _i, _p, _p, _p, _p]),
    "rwkv7_decode_batch": (None, [_p, _i, _p, _p, _p, _p, _p]),
    "rwkv7_prefill": (_i, [_p, _i, _p, _p, _p, _p, _p, _p]),
    "rwkv456_create": (_p, [_p, _i, _p, _i]),
    "rwkv456_destroy": (None, [_p]),
    "rwkv456_decode": (None, [_p, _i, _p, _p, _p, _p, _p, _p]),
    "rwkv456_decode_batch": (None, [_p, _i, _p, _p, _p, _p, _p, _p, _p]),
    "rwkv_cpu_table": (ctypes.c_char_p, [ctypes.c_char_p]),
    "rwkv_quantize": (_i, [_p, _i, _L, _L, _L, _L, _i, _p, _p]),
}


def _load(path: str) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise Unavailable(f"cannot load {path}: {e}") from e
    if lib.rwkv_cpu_abi_version() != ABI_VERSION:
        raise Unavailable(f"{path} is a stale build (ABI {lib.rwkv_cpu_abi_version()}, need {ABI_VERSION}); "
                          "rebuild it")
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def library() -> ctypes.CDLL:
    """The loaded library, or :class:`Unavailable` (the first failure is remembered)."""
    global _lib, _error
    if _lib is not None:
        return _lib
    if _error is not None:
        raise Unavailable(_error)
    try:
        if os.environ.get("RWKV_CPU_KERNELS", "1") == "0":
            raise Unavailable("disabled by RWKV_CPU_KERNELS=0")
        if sys.byteorder != "little":
            raise Unavailable("big-endian CPUs are not supported")
        _lib = _load(_find())
    except Unavailable as e:
        _error = str(e)
        raise
    return _lib


def available() -> bool:
    try:
        library()
    except Unavailable:
        return False
    return True


_build_id: str | None = None


def build_id() -> str:
    """A short hash of the loaded library file: another build (a new release, a rebuild with changed
    kernels) has another, so a speed measured with one build is not taken for the next."""
    global _build_id
    if _build_id is None:
        library()
        digest = hashlib.sha256()
        with open(_find(), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _build_id = digest.hexdigest()[:12]
    return _build_id


def isa() -> str:
    """The instruction set the kernels use now."""
    return ISAS[library().rwkv_cpu_get_isa()]


def supported_isas() -> tuple[str, ...]:
    """Every instruction set this CPU can run, lowest first."""
    return ISAS[: library().rwkv_cpu_isa_max() + 1]


def set_isa(name: str) -> str:
    """Use ``name`` (clamped to what the CPU supports); returns the one now in use."""
    return ISAS[library().rwkv_cpu_set_isa(ISAS.index(name))]


def avx_vnni() -> bool:
    """Whether the AVX2 kernels (the int8, q4 and q5 prompt GEMMs and decode GEMVs) use AVX-VNNI: on
    a CPU that has it (Intel's from Alder Lake on, without AVX-512) unless turned off
    (``RWKV_CPU_AVXVNNI=0``, :func:`set_avx_vnni`). The same bits either way; the AVX-512 kernels
    have their own VNNI."""
    return bool(library().rwkv_cpu_get_avx_vnni())


def set_avx_vnni(on: bool) -> bool:
    """Turn the AVX2 kernels' AVX-VNNI versions on or off (on only where the CPU has it); returns
    :func:`avx_vnni`."""
    return bool(library().rwkv_cpu_set_avx_vnni(int(on)))


def kernels_name() -> str:
    """The instruction set in use, as benchmarks print it: ``avx2+avxvnni`` where AVX2's kernels use
    AVX-VNNI."""
    name = isa()
    return name + "+avxvnni" if name == "avx2" and avx_vnni() else name


_threads = 0


def sync_threads() -> None:
    """Size the library's pool like torch's: the user's one thread setting governs both. Called
    before every kernel call (a cached comparison when nothing changed)."""
    global _threads
    n = torch.get_num_threads()
    if n != _threads:
        library().rwkv_cpu_set_threads(n)
        _threads = n


def _check(*tensors: Tensor) -> None:
    for t in tensors:
        if t.device.type != "cpu" or not t.is_contiguous():
            raise ValueError("CPU kernels need contiguous CPU tensors")


def q4_padded(cols: int) -> int:
    """A q4 or q5 row's inputs padded to whole groups of 8 blocks of 32 (``gemv_q4.cpp``); it is kept
    in ``q4_padded(cols) * bits // 8`` bytes (q4: ``// 2``, q5: ``5 * ... // 8``) and
    ``q4_padded(cols) // 32`` fp16 block scales."""
    return (cols + 255) // 256 * 256


def gemv(w: Tensor, x: Tensor, out: Tensor, scale: Tensor | None = None) -> Tensor:
    """``out = w @ x`` for ``w`` ``[rows, cols]`` (fp32, bf16, or int8 with fp32 ``scale`` per row), or
    q4 (``w`` uint8 ``[rows, q4_padded(cols) // 2]`` with fp16 ``scale`` ``[rows, q4_padded(cols) // 32]``,
    ``cols`` = ``x.shape[-1]``), or q5 (``w`` torch.uint5 ``[rows, 5 * q4_padded(cols) // 8]``, the same
    scales; ``engine/models/packed.py``). ``x`` ``[cols]`` and ``out`` ``[rows]``, or a batch: ``x`` ``[B, cols]``
    and ``out`` ``[B, rows]`` (``out[b] = w @ x[b]``), the weights read once for all B, each row
    equal bit for bit to that input's own product. int8 rounds each input to 8 bits as the int8
    prompt GEMM does (``gemm.gemm_int8``: the same bits for the same row, on every instruction set),
    q4 and q5 to int8 per block of 32."""
    _check(w, x, out)
    if x.dtype != torch.float32 or out.dtype != torch.float32:
        raise ValueError("gemv computes in float32")
    if w.dtype == torch.int8 and (scale is None or scale.dtype != torch.float32 or not scale.is_contiguous()):
        raise ValueError("int8 weights need a contiguous float32 scale per row")
    if w.dtype == torch.int8 and x.shape[-1] > INT8_MAX_IN:
        raise ValueError(f"int8 weights take at most {INT8_MAX_IN} inputs, not {x.shape[-1]}")
    if w.dim() != 2 or x.dim() not in (1, 2) or out.dim() != x.dim():
        raise ValueError(f"gemv shapes: w {tuple(w.shape)}, x {tuple(x.shape)}, out {tuple(out.shape)}")
    rows, cols = w.shape
    B = x.shape[0] if x.dim() == 2 else 1
    if w.dtype in Q_BITS:
        cols, bits = x.shape[-1], Q_BITS[w.dtype]
        kp = q4_padded(cols)
        if (w.shape[1] != kp * bits // 8 or scale is None or scale.dtype != torch.float16
                or not scale.is_contiguous() or scale.shape != (rows, kp // 32)):
            raise ValueError(f"q{bits} weights for {cols} inputs need [rows, {kp * bits // 8}] {w.dtype} and fp16 "
                             f"scales [rows, {kp // 32}]")
    if x.shape[-1] != cols or out.shape[-1] != rows or (x.dim() == 2 and out.shape[0] != B):
        raise ValueError(f"gemv shapes: w {tuple(w.shape)}, x {tuple(x.shape)}, out {tuple(out.shape)}")
    sync_threads()
    library().rwkv_gemv(w.data_ptr(), WTYPES[w.dtype], None if scale is None else scale.data_ptr(), rows,
                        cols, B, x.data_ptr(), out.data_ptr())
    return out


_SOURCE_TYPES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}   # quantize.cpp's SType


def quantize(w: Tensor, q: Tensor, scale: Tensor) -> None:
    """``w`` ``[rows, cols]`` (float32, bf16 or fp16, any strides: a view of a memory-mapped
    checkpoint is read where it lies) quantised into ``q`` and ``scale`` on the pool's threads:
    int8 (``q`` int8 ``[rows, cols]``, ``scale`` float32 ``[rows]``), q4 (``q`` uint8
    ``[rows, q4_padded(cols) // 2]``) or q5 (``q`` torch.uint5 ``[rows, 5 * q4_padded(cols) // 8]``),
    those with fp16 ``scale`` ``[rows, q4_padded(cols) // 32]``: the bytes of
    ``engine.models.packed``'s torch quantisers, which define the formats."""
    if w.device.type != "cpu" or w.dim() != 2 or w.dtype not in _SOURCE_TYPES:
        raise ValueError(f"quantize takes a 2-D float32, bf16 or fp16 CPU tensor, not {w.dtype} {tuple(w.shape)}")
    _check(q, scale)
    rows, cols = w.shape
    if q.dtype == torch.int8:
        want_q, want_s, s_dtype = (rows, cols), (rows,), torch.float32
    elif q.dtype in Q_BITS:
        kp = q4_padded(cols)
        want_q, want_s, s_dtype = (rows, kp * Q_BITS[q.dtype] // 8), (rows, kp // 32), torch.float16
    else:
        raise ValueError(f"quantize makes int8, q4 (uint8) or q5 (uint5), not {q.dtype}")
    if tuple(q.shape) != want_q or tuple(scale.shape) != want_s or scale.dtype != s_dtype:
        raise ValueError(f"quantize of {rows}x{cols} into {q.dtype} needs q {list(want_q)} and "
                         f"{s_dtype} scale {list(want_s)}, not {list(q.shape)} and {scale.dtype} {list(scale.shape)}")
    sync_threads()
    rc = library().rwkv_quantize(w.data_ptr(), _SOURCE_TYPES[w.dtype], rows, cols, w.stride(0), w.stride(1),
                                 WTYPES[q.dtype], q.data_ptr(), scale.data_ptr())
    if rc != 0:
        raise ValueError("the compiled library refused the quantize arguments")


ACTIVATIONS = {"tanh": 1, "sigmoid": 2, "relu_sq": 3, "silu": 4}   # core.h's Act


def activation(name: str, y: Tensor) -> Tensor:
    """``y`` (fp32, contiguous) through one of the decode step's activations in place, on the
    selected instruction set: ``tanh``, ``sigmoid``, ``relu_sq`` (``relu(y) ** 2``; NaN gives 0) or
    ``silu`` (``y * sigmoid(y)``)."""
    _check(y)
    if y.dtype != torch.float32:
        raise ValueError("activations compute in float32")
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; one of {', '.join(ACTIVATIONS)}")
    library().rwkv_act(ACTIVATIONS[name], y.data_ptr(), y.numel())
    return y


def wkv7_seq(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor) -> Tensor:
    """WKV-7 over ``[T, H, N]`` inputs (any float dtype, computed in fp32); ``state`` ``[H, N, N]``
    (fp32, contiguous) is advanced in place; returns ``y`` ``[T, H, N]`` fp32."""
    T, H, N = r.shape
    if state.dtype != torch.float32 or not state.is_contiguous() or state.shape != (H, N, N):
        raise ValueError("the WKV state must be a contiguous float32 [H, N, N] tensor")
    if N > MAX_HEAD_SIZE:
        raise ValueError(f"head size {N} is over the CPU kernels' {MAX_HEAD_SIZE}")
    ins = [t.contiguous().float() for t in (r, w, k, v, a, b)]
    y = torch.empty(T, H, N, dtype=torch.float32)
    sync_threads()
    library().rwkv_wkv7_seq(T, H, N, *(t.data_ptr() for t in ins), state.data_ptr(), y.data_ptr())
    return y


def wkv7_one(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor) -> Tensor:
    """One token: inputs ``[H, N]``; ``state`` advanced in place; returns ``y`` ``[H, N]``."""
    return wkv7_seq(*(t.unsqueeze(0) for t in (r, w, k, v, a, b)), state)[0]


def _f32(t: Tensor) -> Tensor:
    return t.contiguous().float()


def wkv4_seq(w: Tensor, u: Tensor, k: Tensor, v: Tensor, aa: Tensor, bb: Tensor, pp: Tensor) -> Tensor:
    """WKV-4 over ``k``, ``v`` ``[T, A]`` (any float dtype); ``w``, ``u`` ``[A]``; the state ``aa``, ``bb``,
    ``pp`` (``[A]`` fp32, contiguous) advanced in place; returns ``y`` ``[T, A]`` fp32."""
    T, A = k.shape
    for t in (aa, bb, pp):
        if t.dtype != torch.float32 or not t.is_contiguous() or t.shape != (A,):
            raise ValueError("the WKV-4 state must be contiguous float32 [A] tensors")
    w, u, k, v = _f32(w), _f32(u), _f32(k), _f32(v)
    y = torch.empty(T, A, dtype=torch.float32)
    sync_threads()
    library().rwkv_wkv4_seq(T, A, w.data_ptr(), u.data_ptr(), k.data_ptr(), v.data_ptr(), aa.data_ptr(),
                            bb.data_ptr(), pp.data_ptr(), y.data_ptr())
    return y


def wkv6_seq(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor) -> Tensor:
    """WKV-5.2/6 over ``r``, ``k``, ``v`` ``[T, H, N]``; decay ``w`` ``[T, H, N]`` or ``[H, N]`` (the same
    for every token: RWKV-5.2); ``u`` ``[H, N]``; ``state`` ``[H, N, N]`` (key, value; fp32, contiguous)
    advanced in place; returns ``y`` ``[T, H, N]`` fp32."""
    T, H, N = r.shape
    if state.dtype != torch.float32 or not state.is_contiguous() or state.shape != (H, N, N):
        raise ValueError("the WKV state must be a contiguous float32 [H, N, N] tensor")
    if N > MAX_HEAD_SIZE:
        raise ValueError(f"head size {N} is over the CPU kernels' {MAX_HEAD_SIZE}")
    if w.dim() == 3 and w.stride(0) == 0:       # RWKV-5.2's constant decay, expanded over tokens
        w = w[0]
    per_token = w.dim() == 3
    r, w, k, v, u = _f32(r), _f32(w), _f32(k), _f32(v), _f32(u)
    y = torch.empty(T, H, N, dtype=torch.float32)
    sync_threads()
    library().rwkv_wkv6_seq(T, H, N, r.data_ptr(), w.data_ptr(), int(per_token), k.data_ptr(), v.data_ptr(),
                            u.data_ptr(), state.data_ptr(), y.data_ptr())
    return y


def table(name: str) -> tuple[str, ...]:
    """A decode step's layout as the library reads it (``kernels/cpu/src/layouts.h``): the names of
    the per-layer pointers (``"rwkv7.layer"``, ``"rwkv456.layer"``), of the global ones
    (``"global"``) or of the sizes (``"rwkv7.dims"``, ``"rwkv456.dims"``), in the library's order."""
    if name not in _tables:
        raw = library().rwkv_cpu_table(name.encode())
        if raw is None:
            raise ValueError(f"the CPU library has no table {name!r}")
        _tables[name] = tuple(n for n in raw.decode().split(",") if n)
    return _tables[name]


_tables: dict[str, tuple[str, ...]] = {}


def _in_order(what: str, given: Mapping[str, object], names: tuple[str, ...], complete: bool) -> list:
    """``given``'s values in the order of ``names``; a name the library does not know is a bug in
    the caller (and so is a missing one, where ``complete``): refuse rather than pass a wrong pointer."""
    unknown = sorted(set(given) - set(names))
    missing = sorted(set(names) - set(given)) if complete else []
    if unknown or missing:
        raise ValueError(f"{what} do not match the CPU library's table: unknown {unknown}, missing {missing}")
    return [given.get(n) for n in names]


class _Decoder:
    """A model's weights handed to one of the library's fused decode steps, once: the library keeps
    pointers, this object keeps the tensors (and frees the library's side when it goes).

    ``dims``: the sizes by the names of the library's ``{prefix}.dims`` table (weight types as
    torch dtypes); ``layers``: one dict per layer by the names of ``{prefix}.layer`` (vectors fp32,
    matrices ``[out, in]`` contiguous, ``*_s`` the int8 scales; an absent name is passed as null);
    ``globals_``: by the names of ``global``.
    """

    _prefix = ""                     # the C functions' prefix: {prefix}_create / _decode / _destroy

    def __init__(self, dims: Mapping[str, int | torch.dtype], layers: Sequence[Mapping[str, Tensor | None]],
                 globals_: Mapping[str, Tensor | None]):
        lib = library()
        self._keep = [t for d in (*layers, globals_) for t in d.values() if t is not None]
        _check(*self._keep)
        layer_names = table(f"{self._prefix}.layer")
        ptrs = [t if t is None else t.data_ptr()
                for d in layers for t in _in_order("layer tensors", d, layer_names, complete=False)]
        ptrs += [t if t is None else t.data_ptr()
                 for t in _in_order("global tensors", globals_, table("global"), complete=False)]
        sizes = [WTYPES[v] if isinstance(v, torch.dtype) else int(v)
                 for v in _in_order("dims", dims, table(f"{self._prefix}.dims"), complete=True)]
        c_dims = (ctypes.c_int64 * len(sizes))(*sizes)
        c_ptrs = (ctypes.c_void_p * len(ptrs))(*ptrs)
        handle = getattr(lib, self._prefix + "_create")(c_dims, len(sizes), c_ptrs, len(ptrs))
        if not handle:
            raise Unavailable("the CPU library rejected this model's shapes")
        self._handle = handle
        self._decode = getattr(lib, self._prefix + "_decode")
        self._decode_batch = getattr(lib, self._prefix + "_decode_batch")
        self._prefill = getattr(lib, self._prefix + "_prefill", None)
        self._arrays: tuple = ()
        self._ensure(1)
        self._destroy = getattr(lib, self._prefix + "_destroy")

    def _ensure(self, n: int) -> None:
        """The pointer arrays handed to the batched step, sized for ``n`` sequences (grown rarely)."""
        if self._arrays and len(self._arrays[0]) >= n:
            return
        n = max(n, 2 * len(self._arrays[0]) if self._arrays else 8)
        self._arrays = ((ctypes.c_int * n)(), *((ctypes.c_void_p * n)() for _ in range(5)))

    def step_batch(self, tokens: Sequence[int], att_x_prev: Sequence[Tensor], wkv: Sequence[Sequence[Tensor]],
                   ffn_x_prev: Sequence[Tensor], logits: Tensor) -> None:
        """Decode ``tokens[b]`` for each sequence ``b`` in one pass over the weights: sequence ``b``'s
        state tensors (``att_x_prev[b]``, ``wkv[b]``, ``ffn_x_prev[b]``, as :meth:`step` takes them)
        advance in place, ``logits`` ``[B, V]`` (contiguous fp32) is overwritten. Each row equals what
        :meth:`step` gives for that sequence, bit for bit."""
        B = len(tokens)
        if not (len(att_x_prev) == len(wkv) == len(ffn_x_prev) == B) or B == 0:
            raise ValueError("step_batch needs one token and one state per sequence")
        if logits.dim() != 2 or logits.shape[0] != B or logits.dtype != torch.float32 or not logits.is_contiguous():
            raise ValueError("step_batch writes contiguous float32 logits [B, V]")
        if torch.get_num_threads() != _threads:
            sync_threads()
        self._ensure(B)
        toks, att, s0, s1, s2, ffn = self._arrays
        for b in range(B):
            toks[b] = tokens[b]
            att[b], ffn[b] = att_x_prev[b].data_ptr(), ffn_x_prev[b].data_ptr()
            w = wkv[b]
            s0[b] = w[0].data_ptr()
            if len(w) == 3:
                s1[b], s2[b] = w[1].data_ptr(), w[2].data_ptr()
        self._call_batch(B, toks, att, s0, s1, s2, ffn, logits)

    def _call_batch(self, B, toks, att, s0, s1, s2, ffn, logits) -> None:
        raise NotImplementedError

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._destroy(handle)


class Rwkv456Decoder(_Decoder):
    """One RWKV-4, -5.2 or -6 model for the fused decode step of ``rwkv456.cpp``."""

    _prefix = "rwkv456"

    def step(self, token: int, att_x_prev: Tensor, wkv: Sequence[Tensor], ffn_x_prev: Tensor,
             logits: Tensor) -> None:
        """Decode ``token``: the state tensors (contiguous; ``wkv`` = RWKV-4's ``aa, bb, pp`` or
        RWKV-5/6's ``wkv``, fp32) advance in place, ``logits`` is overwritten. No allocation."""
        if torch.get_num_threads() != _threads:
            sync_threads()
        s = [t.data_ptr() for t in wkv] + [None] * (3 - len(wkv))
        self._decode(self._handle, token, att_x_prev.data_ptr(), s[0], s[1], s[2], ffn_x_prev.data_ptr(),
                     logits.data_ptr())

    def _call_batch(self, B, toks, att, s0, s1, s2, ffn, logits) -> None:
        self._decode_batch(self._handle, B, toks, att, s0, s1, s2, ffn, logits.data_ptr())


class Rwkv7Decoder(_Decoder):
    """One RWKV-7 model for the fused decode step of ``rwkv7.cpp`` (layer 0's v0/v1/v2 are absent)."""

    _prefix = "rwkv7"

    def step(self, token: int, att_x_prev: Tensor, wkv: Sequence[Tensor], ffn_x_prev: Tensor,
             logits: Tensor) -> None:
        """Decode ``token``: the three state tensors (contiguous; ``wkv`` = ``[wkv]``, fp32; the shifts
        in the dtype given at creation) advance in place, ``logits`` is overwritten. No allocation."""
        if torch.get_num_threads() != _threads:
            sync_threads()
        self._decode(self._handle, token, att_x_prev.data_ptr(), wkv[0].data_ptr(), ffn_x_prev.data_ptr(),
                     logits.data_ptr())

    def _call_batch(self, B, toks, att, s0, s1, s2, ffn, logits) -> None:
        self._decode_batch(self._handle, B, toks, att, s0, ffn, logits.data_ptr())

    def prefill(self, x: Tensor, lengths: Sequence[int], att_x_prev: Sequence[Tensor], wkv: Sequence[Tensor],
                ffn_x_prev: Sequence[Tensor], logits: Tensor) -> None:
        """Prompts: sequence ``s``'s ``lengths[s]`` tokens, their embeddings side by side in ``x``
        ``[sum(lengths), C]`` (contiguous fp32, used as scratch: overwritten), through the whole model
        in one call (``rwkv7_prefill``); sequence ``s``'s state tensors (as :meth:`step` takes them)
        advance in place, ``logits`` ``[S, V]`` (contiguous fp32) gets each one's last row's. Raises
        MemoryError when the library runs out of memory (the states may be part way then)."""
        S = len(lengths)
        if not (len(att_x_prev) == len(wkv) == len(ffn_x_prev) == S) or S == 0 or min(lengths) < 1:
            raise ValueError("prefill needs one state and at least one token per sequence")
        if x.dtype != torch.float32 or not x.is_contiguous() or x.dim() != 2 or x.shape[0] != sum(lengths):
            raise ValueError("prefill takes the embeddings as one contiguous float32 [tokens, C] tensor")
        if logits.dim() != 2 or logits.shape[0] != S or logits.dtype != torch.float32 or not logits.is_contiguous():
            raise ValueError("prefill writes contiguous float32 logits [S, V]")
        if torch.get_num_threads() != _threads:
            sync_threads()
        lens = (ctypes.c_int * S)(*lengths)
        att = (ctypes.c_void_p * S)(*(t.data_ptr() for t in att_x_prev))
        ffn = (ctypes.c_void_p * S)(*(t.data_ptr() for t in ffn_x_prev))
        w = (ctypes.c_void_p * S)(*(t.data_ptr() for t in wkv))
        rc = self._prefill(self._handle, S, lens, x.data_ptr(), att, w, ffn, logits.data_ptr())
        if rc == -2:
            raise MemoryError(f"the CPU library ran out of memory running {sum(lengths)} prompt tokens")
        if rc != 0:
            raise ValueError(f"the CPU library refused the prompt (lengths {list(lengths)})")
