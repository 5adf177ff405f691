"""The one way into the kernels: :func:`select` picks what a model of one generation runs on a
device in a precision, once, when it loads.

Only the recurrences and the compiled decode steps live here; kernels never learn about files.
Four backends, each compared with the plain loops (:mod:`kernels.reference`, :mod:`kernels.wkv6`,
:mod:`kernels.wkv4`) by the tests, and on a GPU by :func:`kernels.gpu.check` before first use:

- ``cpu``: the compiled library (:mod:`kernels.cpu`): WKV sequence kernels for prompts, a fused
  decode step that runs a whole token in one call, and a GEMV for packed ``[out, in]`` weights.
  CPU only, for fp32, bf16, int8, q4 and q5.
- ``triton``: the Triton WKV kernels (:mod:`kernels.gpu`) for RWKV-5.2/6/7, used once they matched
  the reference on that device and dtype.
- ``torch``: chunked (parallel) torch forms for prompts, torch single steps for tokens.
- ``reference``: the plain loops themselves (tests use them as the oracle's stand-in).

``backend="auto"`` takes ``cpu`` on the CPU and ``triton`` on a GPU where they can run, else
``torch``, and says once (a warning) why the faster one could not be used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from kernels import chunked, reference, wkv4, wkv6

log = logging.getLogger(__name__)

BACKENDS = ("auto", "cpu", "triton", "torch", "reference")
CPU_PRECISIONS = ("fp32", "bf16", "int8", "q4", "q5")   # what the compiled library's decode steps take

Wkv = Callable[..., Tensor]


class Unavailable(RuntimeError):
    """A backend asked for by name cannot run here; the message says why."""


@dataclass(frozen=True)
class Kernels:
    """What one model runs, chosen by :func:`select`.

    ``seq`` and ``one``: the generation's WKV over a prompt ``[T, H, N]`` and over one token
    ``[H, N]`` (RWKV-4: ``[T, A]`` / ``[A]``, or ``[B, A]`` for B sequences), each advancing a
    float32 state in place; their contracts are those of :mod:`kernels.reference` (RWKV-7),
    :mod:`kernels.wkv6` (RWKV-5.2/6) and :mod:`kernels.wkv4` (RWKV-4). ``decoder``: the compiled
    fused decode step's class (``decoder(dims, layers, globals_)``, see :class:`kernels.cpu.Rwkv7Decoder`),
    and ``gemv`` the compiled matrix-vector product of packed weights; both only on the ``cpu``
    backend, else None (torch computes everything). ``name`` is what ``bench`` reports.
    """

    name: str
    backend: str
    seq: Wkv
    one: Wkv
    decoder: Callable[..., Any] | None = None
    gemv: Callable[..., Tensor] | None = None


def select(generation: int, device: str = "cpu", precision: str = "fp32", backend: str = "auto") -> Kernels:
    """The kernels for an RWKV-``generation`` model on ``device`` (a type: "cpu", "cuda") in
    ``precision`` ("fp32", "bf16", "fp16", "int8", "q4", "q5"). A named ``backend`` that cannot run here raises
    :class:`Unavailable`; "auto" falls back to torch instead. The choice is logged once."""
    if generation not in (4, 5, 6, 7):
        raise ValueError(f"no kernels for RWKV-{generation}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown kernel backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "auto":
        choice = _auto(generation, device, precision)
    else:
        choice = _MAKERS[backend](generation, device, precision)
    key = (generation, device, choice.name)
    if key not in _logged:
        _logged.add(key)
        log.info("RWKV-%d kernels for %s/%s: %s", generation, device, precision, choice.name)
    return choice


_logged: set[tuple[int, str, str]] = set()
_warned = False                      # the compiled library's absence, said once
_triton_refused: set[tuple[str, str]] = set()


def _auto(generation: int, device: str, precision: str) -> Kernels:
    global _warned
    if device == "cpu" and precision in CPU_PRECISIONS:
        try:
            return _cpu(generation, device, precision)
        except Unavailable as e:
            if not _warned:
                _warned = True
                log.warning("compiled CPU kernels unavailable, using the slower torch path: %s", e)
    if device == "cuda" and generation != 4:
        try:
            return _triton(generation, device, precision)
        except Unavailable as e:
            wkv = "WKV-7" if generation == 7 else "WKV-6"
            if (wkv, precision) not in _triton_refused:
                _triton_refused.add((wkv, precision))
                log.warning("Triton %s kernels not used for %s/%s, using the torch path: %s", wkv, device,
                            precision, e)
    return _torch(generation, device, precision)


def _cpu(generation: int, device: str, precision: str) -> Kernels:
    if device != "cpu" or precision not in CPU_PRECISIONS:
        raise Unavailable(f"the compiled kernels run on the CPU in {', '.join(CPU_PRECISIONS)}, "
                          f"not on {device} in {precision}")
    from kernels import cpu

    cpu.library()          # cpu.Unavailable (a kernels.Unavailable) says why it cannot load
    isa = f"cpu-{cpu.kernels_name()}"
    if generation == 7:
        return Kernels(isa, "cpu", cpu.wkv7_seq, cpu.wkv7_one, cpu.Rwkv7Decoder, cpu.gemv)
    if generation == 4:
        return Kernels(f"{isa} wkv4 + fused decode", "cpu", cpu.wkv4_seq, wkv4.wkv4_one, cpu.Rwkv456Decoder,
                       cpu.gemv)
    return Kernels(f"{isa} wkv6 + fused decode", "cpu", cpu.wkv6_seq, wkv6.wkv6_one, cpu.Rwkv456Decoder, cpu.gemv)


def _triton(generation: int, device: str, precision: str) -> Kernels:
    if generation == 4:
        raise Unavailable("there is no Triton kernel for RWKV-4's WKV")
    from kernels import gpu

    problem = gpu.check(device, precision) if generation == 7 else gpu.check_wkv6(device, precision)
    if problem:
        raise Unavailable(problem)
    if generation == 7:
        return Kernels("triton", "triton", gpu.wkv7_seq, gpu.wkv7_one)
    return Kernels("triton wkv6", "triton", gpu.wkv6_seq, gpu.wkv6_one)


def _torch(generation: int, device: str, precision: str) -> Kernels:
    if generation == 7:
        return Kernels("torch-chunked", "torch", chunked.wkv7_chunked, reference.wkv7_one)
    if generation == 4:
        return Kernels("torch wkv4 (token loop)", "torch", wkv4.wkv4_seq, wkv4.wkv4_one)
    return Kernels("torch-chunked wkv6", "torch", wkv6.wkv6_chunked, wkv6.wkv6_one)


def _reference(generation: int, device: str, precision: str) -> Kernels:
    if generation == 7:
        return Kernels("reference", "reference", reference.wkv7_seq, reference.wkv7_one)
    if generation == 4:
        return Kernels("reference wkv4", "reference", wkv4.wkv4_seq, wkv4.wkv4_one)
    return Kernels("reference wkv6", "reference", wkv6.wkv6_seq, wkv6.wkv6_one)


_MAKERS = {"cpu": _cpu, "triton": _triton, "torch": _torch, "reference": _reference}

__all__ = ["BACKENDS", "Kernels", "Unavailable", "select"]
