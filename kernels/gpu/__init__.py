"""Triton WKV kernels for GPUs, behind an import guard so a CPU-only install never breaks.

``available()`` says whether the kernels can run here at all (triton importable, and a CUDA/ROCm
device or ``TRITON_INTERPRET=1``); ``reason()`` says why not. ``check(device, dtype)`` then
compares them with :mod:`kernels.reference` on that device and dtype once per process, so a
kernel the compiler gets wrong on some GPU is reported and not used (DESIGN.md: a kernel is only
used after it was compared with the reference on that device and dtype).

Entry points share the contracts of :mod:`kernels.reference` and :mod:`kernels.wkv6`: inputs
``[..., T, H, N]`` (float32, bfloat16 or float16), a float32 state ``[..., H, N, N]`` advanced in
place, ``y`` returned in float32. Head sizes that are not powers of two >= 16 run the torch path.
"""

from __future__ import annotations

import functools
import logging
import os

import torch
from torch import Tensor

from kernels import chunked, reference, wkv6

try:
    import triton  # noqa: F401  (the kernel modules import it again; this is the guard)
except Exception as exc:  # ImportError, or a broken install that fails while importing
    _IMPORT_ERROR: str | None = f"triton is not importable ({type(exc).__name__}: {exc})"
else:
    _IMPORT_ERROR = None

# Prompts shorter than this run through the recurrent kernel, longer ones chunked. One chunk's
# worth; not yet measured on a GPU.
SHORT_T = 16
CHECK_RTOL = 1e-4
log = logging.getLogger(__name__)
_torch_head_sizes: set[int] = set()
_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def reason() -> str:
    """Why the Triton kernels cannot run here; empty when they can."""
    if _IMPORT_ERROR:
        return _IMPORT_ERROR
    if not torch.cuda.is_available() and not _interpreting():
        return "no CUDA/ROCm device visible to torch (and TRITON_INTERPRET is not set)"
    return ""


def available() -> bool:
    """True when triton imports and has a GPU (or the interpreter) to run on; see :func:`reason`."""
    return not reason()


def _supported(head_size: int) -> bool:
    """Triton's block shapes are powers of two and ``tl.dot`` needs 16; other head sizes (tiny test
    models) take the torch path, logged once."""
    ok = head_size >= 16 and not head_size & (head_size - 1)
    if not ok and head_size not in _torch_head_sizes:
        _torch_head_sizes.add(head_size)
        log.info("head size %d has no Triton WKV kernel; using the torch path", head_size)
    return ok


def wkv7_seq(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor) -> Tensor:
    """RWKV-7, a prompt or a batch of them: recurrent below :data:`SHORT_T` tokens, chunked above."""
    from kernels.gpu import triton_wkv7
    if not _supported(r.shape[-1]):
        return chunked.wkv7_chunked(r, w, k, v, a, b, state)
    if r.shape[-3] < SHORT_T:
        return triton_wkv7.wkv7_recurrent(r, w, k, v, a, b, state)
    return triton_wkv7.wkv7_chunked(r, w, k, v, a, b, state)


def wkv7_one(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, state: Tensor) -> Tensor:
    """RWKV-7, one token: inputs ``[..., H, N]``, returns ``y`` ``[..., H, N]``."""
    from kernels.gpu import triton_wkv7
    if not _supported(r.shape[-1]):
        return reference.wkv7_one(r, w, k, v, a, b, state)
    y = triton_wkv7.wkv7_recurrent(*(t.unsqueeze(-3) for t in (r, w, k, v, a, b)), state)
    return y.squeeze(-3)


def wkv6_seq(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor) -> Tensor:
    """RWKV-5.2 / RWKV-6, ``[..., T, H, N]`` (recurrent; there is no chunked Triton form yet)."""
    from kernels.gpu import triton_wkv6
    if not _supported(r.shape[-1]):
        return wkv6.wkv6_chunked(r, w, k, v, u, state)
    return triton_wkv6.wkv6_recurrent(r, w, k, v, u, state)


def wkv6_one(r: Tensor, w: Tensor, k: Tensor, v: Tensor, u: Tensor, state: Tensor) -> Tensor:
    """RWKV-5.2 / RWKV-6, one token: r, w, k, v ``[..., H, N]``, returns ``y`` ``[..., H, N]``."""
    from kernels.gpu import triton_wkv6
    if not _supported(r.shape[-1]):
        return wkv6.wkv6_one(r, w.expand(r.shape), k, v, u, state)
    w = w.expand(r.shape)
    return triton_wkv6.wkv6_recurrent(*(t.unsqueeze(-3) for t in (r, w, k, v)), u, state).squeeze(-3)


def _self_check(name: str, device: str, dtype: str, run) -> str:
    """"" when ``run(torch_dtype)`` (returning ``(y, y_ref, state, state_ref)``, the kernels' results
    on ``device`` and the reference's on the CPU) agrees within CHECK_RTOL, else what went wrong."""
    if not available():
        return reason()
    if dtype not in _DTYPES:
        return f"no Triton WKV path for dtype {dtype!r}"
    try:
        y_dev, y_ref, s_dev, s_ref = run(_DTYPES[dtype])
        err_y = float((y_dev.cpu() - y_ref).abs().max() / y_ref.abs().max())
        err_s = float((s_dev.cpu() - s_ref).abs().max() / s_ref.abs().max())
    except Exception as exc:  # a compiler or driver failure: report it, the caller falls back
        return f"Triton {name} failed on {device}/{dtype}: {type(exc).__name__}: {exc}"
    if not (err_y <= CHECK_RTOL and err_s <= CHECK_RTOL):
        return f"Triton {name} differs from the reference on {device}/{dtype}: y {err_y:.2e}, state {err_s:.2e}"
    return ""


@functools.cache
def check_wkv6(device: str = "cuda", dtype: str = "fp32") -> str:
    """The same as :func:`check` for the RWKV-5.2/6 kernels (against :func:`kernels.wkv6.wkv6_seq`)."""
    def run(dt):
        g = torch.Generator().manual_seed(0)
        T, H, N = 24, 2, 64           # a prompt of 23 tokens, then one step
        r, k, v = (torch.randn(T, H, N, generator=g) for _ in range(3))
        w = torch.exp(-torch.exp(torch.randn(T, H, N, generator=g) - 1))
        u = torch.randn(H, N, generator=g)
        args = [t.to(dt) for t in (r, w, k, v)]
        s0 = 0.5 * torch.randn(H, N, N, generator=g)
        s_ref = s0.clone()
        y_ref = wkv6.wkv6_seq(*(t.float() for t in args), u, s_ref)
        s_dev, u_dev = s0.to(device), u.to(device)
        dev = [t.to(device) for t in args]
        y_dev = torch.cat([wkv6_seq(*(t[:-1] for t in dev), u_dev, s_dev),
                           wkv6_one(*(t[-1] for t in dev), u_dev, s_dev)[None]])
        return y_dev, y_ref, s_dev, s_ref

    return _self_check("WKV-6", device, dtype, run)


@functools.cache
def check(device: str = "cuda", dtype: str = "fp32") -> str:
    """Compare the RWKV-7 kernels with the reference on ``device`` for ``dtype`` inputs, once per
    process. Returns "" when they agree (relative max error <= CHECK_RTOL), else what went wrong."""
    def run(dt):
        g = torch.Generator().manual_seed(0)
        T, H, N = 40, 2, 64           # chunked over 39 tokens (2 full chunks + 7), then one step
        r, k, v, kk, gate, z = (torch.randn(T, H, N, generator=g) for _ in range(6))
        kk = torch.nn.functional.normalize(kk, dim=-1)
        w = torch.exp(-0.606531 * torch.sigmoid(z))
        args = [t.to(dt) for t in (r, w, k, v, -kk, kk * torch.sigmoid(gate))]
        s0 = 0.5 * torch.randn(H, N, N, generator=g)
        s_ref = s0.clone()
        y_ref = reference.wkv7_seq(*(t.float() for t in args), s_ref)
        s_dev = s0.to(device)
        dev = [t.to(device) for t in args]
        y_dev = torch.cat([wkv7_seq(*(t[:-1] for t in dev), s_dev), wkv7_one(*(t[-1] for t in dev), s_dev)[None]])
        return y_dev, y_ref, s_dev, s_ref

    return _self_check("WKV-7", device, dtype, run)
