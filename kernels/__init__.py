"""WKV kernels behind one interface, picked per device and dtype.

Only the recurrences live here; kernels never learn what a model is. ``wkv7_seq`` handles a prompt
(many tokens), ``wkv7_one`` a single decoding step; both update the float32 state in place.
Compiled CPU and Triton GPU implementations slot in through :func:`select` once they exist and have
been compared with :mod:`kernels.reference` on that device and dtype.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from torch import Tensor

from kernels import chunked, reference

log = logging.getLogger(__name__)

Wkv7 = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Wkv7Kernels:
    name: str
    seq: Wkv7
    one: Wkv7
    native: ModuleType | None = None  # kernels.cpu when the compiled CPU library runs these


_REFERENCE = Wkv7Kernels("reference", reference.wkv7_seq, reference.wkv7_one)
_TORCH_CHUNKED = Wkv7Kernels("torch-chunked", chunked.wkv7_chunked, reference.wkv7_one)
_logged: set[tuple[str, ...]] = set()


def select(device: str = "cpu", dtype: str = "fp32", prefer: str | None = None) -> Wkv7Kernels:
    """The WKV-7 implementation to use for this device and dtype; the choice is logged once."""
    choice = _REFERENCE if prefer == "reference" else _TORCH_CHUNKED
    if device == "cpu" and prefer is None and dtype in _CPU_DTYPES:
        choice = _compiled_cpu() or choice
    if device == "cuda" and prefer is None:
        choice = _triton(device, dtype) or choice
    key = (device, choice.name)
    if key not in _logged:
        _logged.add(key)
        log.info("WKV-7 kernels for %s/%s: %s", device, dtype, choice.name)
    return choice


_CPU_DTYPES = ("fp32", "bf16", "int8")  # what kernels/cpu/__init__.py's fused decode step handles
_warned = False


def _compiled_cpu() -> Wkv7Kernels | None:
    """The compiled CPU kernels, or None (with one warning saying why) when they cannot load."""
    global _warned
    from kernels import cpu

    try:
        cpu.library()
    except cpu.Unavailable as e:
        if not _warned:
            _warned = True
            log.warning("compiled CPU kernels unavailable, using the slower torch path: %s", e)
        return None
    return Wkv7Kernels(f"cpu-{cpu.isa()}", cpu.wkv7_seq, cpu.wkv7_one, native=cpu)


_triton_refused: set[str | tuple[str, str]] = set()


def _triton(device: str, dtype: str) -> Wkv7Kernels | None:
    """The Triton kernels once they ran on this device and matched the reference (kernels.gpu.check),
    else None, with one warning per dtype saying why."""
    from kernels import gpu

    problem = gpu.check(device, dtype)
    if problem:
        if dtype not in _triton_refused:
            _triton_refused.add(dtype)
            log.warning("Triton WKV kernels not used for %s/%s, using the torch path: %s", device, dtype, problem)
        return None
    return Wkv7Kernels("triton", gpu.wkv7_seq, gpu.wkv7_one)


Wkv6 = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Wkv6Kernels:
    """RWKV-5.2/6's WKV: ``seq`` for prompts ``[T, H, N]``, ``one`` for a token ``[H, N]`` (see
    :mod:`kernels.wkv6` for the contract). On the CPU with the compiled library a decoded token
    runs inside the fused decode step instead, and ``one`` only serves the torch path."""

    name: str
    seq: Wkv6
    one: Wkv6


def select_wkv6(device: str = "cpu", dtype: str = "fp32") -> Wkv6Kernels:
    """The RWKV-5.2/6 WKV implementation for this device and dtype; the choice is logged once."""
    from kernels import wkv6

    choice = Wkv6Kernels("torch-chunked", wkv6.wkv6_chunked, wkv6.wkv6_one)
    if device == "cpu" and dtype in ("fp32", "bf16", "int8"):
        from kernels import cpu

        if cpu.available():
            choice = Wkv6Kernels(f"cpu-{cpu.isa()}", cpu.wkv6_seq, wkv6.wkv6_one)
    if device == "cuda":
        from kernels import gpu

        problem = gpu.check_wkv6(device, dtype)
        if not problem:
            choice = Wkv6Kernels("triton", gpu.wkv6_seq, gpu.wkv6_one)
        elif ("wkv6", dtype) not in _triton_refused:
            _triton_refused.add(("wkv6", dtype))
            log.warning("Triton WKV-6 kernels not used for %s/%s, using the torch path: %s", device, dtype, problem)
    key = ("wkv6", device, choice.name)
    if key not in _logged:
        _logged.add(key)
        log.info("WKV-5/6 kernels for %s/%s: %s", device, dtype, choice.name)
    return choice


__all__ = ["Wkv7Kernels", "Wkv6Kernels", "select", "select_wkv6", "reference", "chunked"]
