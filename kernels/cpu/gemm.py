"""Prompt products for packed weights: ``x @ W^T`` for our int8 weights (``src/gemm_int8.cpp``), q4
and q5 weights (:func:`gemm_q4`, :func:`gemm_q5`, ``src/gemv_q4.cpp``), multiplied as integers.

``W`` is the int8 format of ``engine/models/packed.py`` (``[out, in]``, one float32 scale per output
row). Each token's row of ``x`` is quantised to uint8 with its own scale and zero point, the products
are summed exactly in int32 (AVX-512 VNNI ``vpdpbusd``, else ``vpmaddwd`` on AVX-512 / AVX2, else
portable C++), and the result is scaled back to float32. Every instruction set gives the same bits,
and so does the decode GEMV (``kernels.cpu.gemv``, ``src/gemv_int8.cpp``) for the same row.
Nothing is precomputed per matrix and no float copy of ``W`` is made: the kernel repacks the
weights panel by panel as it goes.

Error: the weights' int8 rounding (as the float path has) plus the inputs' 8-bit rounding, about
``(max(x, 0) - min(x, 0)) / 255 / sqrt(12)`` per input value of a token.

fp32 and bf16 weights have their own register-tiled float GEMM (:func:`gemm_float`,
``src/gemm_float.cpp``), repacking the weights panel by panel in the same way (bf16 widened to fp32
as it is packed).
"""

from __future__ import annotations

import ctypes
import math

import torch
from torch import Tensor

from kernels.cpu import INT8_MAX_IN, Q_BITS, WTYPES, library, q4_padded, sync_threads

MAX_IN = INT8_MAX_IN   # the int32 sums overflow beyond this many inputs (255 * 128 * 65536 < 2^31)

_p, _L = ctypes.c_void_p, ctypes.c_long
_SIGNATURES = {   # name -> (result, arguments), as kernels/cpu/__init__.py's table for the rest of the library
    "rwkv_gemm_i8": (ctypes.c_int, [_L, _L, _L, _p, _p, _p, _p]),
    "rwkv_quantize_u8": (None, [_L, _L, _p, _p, _p, _p]),
    "rwkv_gemm_q4": (ctypes.c_int, [_L, _L, _L, _p, _p, _p, _p]),
    "rwkv_gemm_q5": (ctypes.c_int, [_L, _L, _L, _p, _p, _p, _p]),
    "rwkv_quantize_q4_input": (None, [_L, _L, _p, _p, _p]),
    "rwkv_gemm_float": (ctypes.c_int, [_L, _L, _L, _p, _p, ctypes.c_int, _p]),
}
_lib: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        lib = library()
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        _lib = lib
    return _lib


def _output(x: Tensor, n_out: int, out: Tensor | None) -> Tensor:
    """The float32 result ``[..., n_out]`` for ``x`` ``[..., in]``: ``out`` checked, or a new tensor."""
    shape = (*x.shape[:-1], n_out)
    if out is None:
        return torch.empty(shape, dtype=torch.float32)
    if out.dtype != torch.float32 or not out.is_contiguous() or out.shape != shape:
        raise ValueError(f"out must be a contiguous float32 tensor of shape {shape}")
    return out


def _rows(x: Tensor) -> Tensor:
    """``x`` as contiguous float32 rows ``[T, in]`` (a copy only when it is not already)."""
    if x.device.type != "cpu":
        raise ValueError("the int8 GEMM runs on CPU tensors")
    return x.reshape(-1, x.shape[-1]).to(torch.float32).contiguous()


def gemm_int8(x: Tensor, w: Tensor, scale: Tensor, out: Tensor | None = None) -> Tensor:
    """``x @ (w * scale[:, None]).T`` for ``x`` ``[..., in]`` (float), ``w`` int8 ``[out, in]`` and
    ``scale`` float32 ``[out]``, both contiguous. ``out`` (float32 ``[..., out]``, contiguous) is
    written in place and returned, so a caller can reuse one buffer; otherwise a new tensor."""
    if w.dtype != torch.int8 or w.dim() != 2 or not w.is_contiguous() or w.device.type != "cpu":
        raise ValueError("w must be a contiguous int8 [out, in] CPU tensor")
    n_out, n_in = w.shape
    if scale.dtype != torch.float32 or not scale.is_contiguous() or scale.numel() != n_out:
        raise ValueError(f"scale must be a contiguous float32 tensor of {n_out} values (one per row of w)")
    if x.shape[-1] != n_in:
        raise ValueError(f"x has {x.shape[-1]} inputs per token, w {n_in}")
    if n_in > MAX_IN:
        raise ValueError(f"the int8 GEMM takes at most {MAX_IN} inputs per token, not {n_in}")
    rows, out = _rows(x), _output(x, n_out, out)
    sync_threads()
    _library().rwkv_gemm_i8(rows.shape[0], n_in, n_out, rows.data_ptr(), w.data_ptr(), scale.data_ptr(),
                            out.data_ptr())
    return out


def gemm_q4(x: Tensor, w: Tensor, scale: Tensor, out: Tensor | None = None) -> Tensor:
    """``x @ W^T`` for ``x`` ``[..., in]`` (float) and ``W`` q4 (``w`` uint8 ``[out, q4_padded(in) // 2]``,
    ``scale`` fp16 ``[out, q4_padded(in) // 32]``; ``engine/models/packed.py``): each token's inputs are
    quantised per block of 32 to int8 and multiplied as integers with the 4-bit blocks
    (``src/gemv_q4.cpp``): from 16 tokens on AVX-512 and AVX2 a blocked GEMM (AVX-512: 16 tokens per
    vector, 4 rows x 32 tokens a register tile; AVX2: 8 per vector, 4 rows x 16 tokens, the same bits),
    whose rows have the decode GEMV's exact block sums, accumulated over blocks in another order
    (within a few float32 roundings of the terms' magnitudes, ~1e-7 of them); fewer tokens, or portable
    code, the batched GEMV, up to four tokens sharing each weight load, whose rows equal the decode
    GEMV's bit for bit. ``out`` as for :func:`gemm_int8`."""
    return _gemm_blocks(x, w, scale, out, torch.uint8)


def gemm_q5(x: Tensor, w: Tensor, scale: Tensor, out: Tensor | None = None) -> Tensor:
    """:func:`gemm_q4` for ``W`` q5 (``w`` torch.uint5 ``[out, 5 * q4_padded(in) // 8]``, the same fp16
    ``scale``; ``engine/models/packed.py``): the same kernels, the same bounds, the weights' 5-bit
    values unpacked where q4's 4-bit ones are."""
    return _gemm_blocks(x, w, scale, out, torch.uint5)


def _gemm_blocks(x: Tensor, w: Tensor, scale: Tensor, out: Tensor | None, dtype: torch.dtype) -> Tensor:
    """:func:`gemm_q4` (``dtype`` uint8) or :func:`gemm_q5` (uint5): the checks and the call."""
    n_in = x.shape[-1]
    kp, bits = q4_padded(n_in), Q_BITS[dtype]
    if w.dtype != dtype or w.dim() != 2 or not w.is_contiguous() or w.device.type != "cpu":
        raise ValueError(f"w must be a contiguous {dtype} (q{bits}) [out, {bits} * in / 8] CPU tensor")
    n_out = w.shape[0]
    if w.shape[1] != kp * bits // 8:
        raise ValueError(f"x has {n_in} inputs per token: q{bits} rows of {kp * bits // 8} bytes, not {w.shape[1]}")
    if scale.dtype != torch.float16 or not scale.is_contiguous() or scale.shape != (n_out, kp // 32):
        raise ValueError(f"scale must be a contiguous float16 tensor [{n_out}, {kp // 32}] (one per block)")
    rows, out = _rows(x), _output(x, n_out, out)
    if rows.shape[0] == 0 or n_out == 0:
        return out
    sync_threads()
    fn = _library().rwkv_gemm_q4 if bits == 4 else _library().rwkv_gemm_q5
    if fn(rows.shape[0], n_in, n_out, rows.data_ptr(), w.data_ptr(), scale.data_ptr(), out.data_ptr()) != 0:
        raise ValueError(f"the q{bits} product cannot take x {tuple(x.shape)}")
    return out


def quantize_q4_input(x: Tensor) -> tuple[Tensor, Tensor]:
    """The quantisation :func:`gemm_q4` and :func:`gemm_q5` (and their decode GEMVs) apply to ``x`` ``[T, in]``:
    ``(q, scale)``, ``q`` int8 ``[T, q4_padded(in)]``, ``scale`` float32 ``[T, blocks]`` with
    ``x ~= q * scale`` per block of 32. (For tests and error studies.)"""
    rows = _rows(x)
    T, n_in = rows.shape
    kp = q4_padded(n_in)
    q = torch.empty(T, kp, dtype=torch.int8)
    s = torch.empty(T, kp // 32, dtype=torch.float32)
    _library().rwkv_quantize_q4_input(T, n_in, rows.data_ptr(), q.data_ptr(), s.data_ptr())
    return q, s


def quantize_rows(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The quantisation :func:`gemm_int8` applies to ``x`` ``[T, in]``: ``(u, scale, zero)`` with ``u``
    uint8 ``[T, in]``, ``scale`` float32 ``[T]``, ``zero`` int32 ``[T]``; ``x ~= scale * (u - zero)``
    row by row. (For tests and error studies; the GEMM quantises internally.)"""
    rows = _rows(x)
    T, n_in = rows.shape
    u = torch.empty(T, n_in, dtype=torch.uint8)
    s = torch.empty(T, dtype=torch.float32)
    z = torch.empty(T, dtype=torch.int32)
    _library().rwkv_quantize_u8(T, n_in, rows.data_ptr(), u.data_ptr(), s.data_ptr(), z.data_ptr())
    return u, s, z


def gemm_float(x: Tensor, w: Tensor, out: Tensor | None = None) -> Tensor:
    """``x @ w.T`` in float32 for ``x`` ``[..., in]`` (float) and ``w`` float32 or bf16 ``[out, in]``,
    contiguous, by the register-tiled float GEMM (``src/gemm_float.cpp``): the weights repacked panel
    by panel as it goes (no copy of ``w`` kept; bf16 widened exactly to fp32 on the way, so bf16 and
    fp32 weights of the same values give the same bits), 8 tokens x 48 outputs a tile on AVX-512.
    Each output is one fused multiply-add per term in input order, so it is within float32 rounding
    of any other order (a few ulp of ``|x| @ |w|.T`` per ``sqrt(in)``). ``out`` as for
    :func:`gemm_int8`."""
    if (w.dtype not in (torch.float32, torch.bfloat16) or w.dim() != 2 or not w.is_contiguous()
            or w.device.type != "cpu"):
        raise ValueError("w must be a contiguous float32 or bfloat16 [out, in] CPU tensor")
    n_out, n_in = w.shape
    if x.shape[-1] != n_in:
        raise ValueError(f"x has {x.shape[-1]} inputs per token, w {n_in}")
    if x.device.type != "cpu":
        raise ValueError("the float GEMM runs on CPU tensors")
    rows = x.reshape(math.prod(x.shape[:-1]), n_in).to(torch.float32).contiguous()
    out = _output(x, n_out, out)
    if rows.shape[0] == 0 or n_out == 0:
        return out
    sync_threads()
    _library().rwkv_gemm_float(rows.shape[0], n_in, n_out, rows.data_ptr(), w.data_ptr(), WTYPES[w.dtype],
                               out.data_ptr())
    return out
