"""Decoding one token on a GPU as one replay of a captured CUDA graph.

On a GPU a small RWKV decodes a token in far less time than it takes Python to launch the step's
kernels one by one (the torch path of RWKV-7 is ~1300 aten calls per token at 12 layers), so the
step is captured once as a CUDA graph and replayed. A graph reads and writes fixed addresses: the
step runs on this module's own buffers (the token id, the three state tensors, the logits), and
:meth:`StaticStep.step` copies the caller's state in and out around each replay (three device
copies: a few microseconds, and every ``State`` stays its own). The returned logits are a copy,
since the next replay overwrites the graph's.

A graph is used only after it matched the eager step on that device (:meth:`StaticStep.check`),
once per model; any failure to capture or to match is logged and the eager path stays in use.
``RWKV_CUDA_GRAPHS=0`` switches graphs off. Elsewhere (CPU tests) the same buffers run the step
eagerly, which is how the plumbing is tested without a GPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import torch
from torch import Tensor

from engine.models.state import State

log = logging.getLogger(__name__)
CHECK_RTOL = 1e-3     # relative to the largest logit: a wrong buffer or a stale read is far off

# step(token [1] long, parts {name: tensor}) -> logits [V]: advances parts in place
Step = Callable[[Tensor, dict[str, Tensor]], Tensor]


def wanted(device: torch.device) -> bool:
    return device.type == "cuda" and os.environ.get("RWKV_CUDA_GRAPHS", "1") != "0"


class StaticStep:
    """One model's decode step over buffers of its own; a CUDA graph of it when ``capture``."""

    def __init__(self, step: Step, proto: State, capture: bool):
        self._step = step
        self.parts = {k: torch.zeros_like(v) for k, v in proto.parts.items()}
        self.token = torch.zeros(1, dtype=torch.long, device=next(iter(self.parts.values())).device)
        self.logits: Tensor | None = None
        self.graph = None
        if capture:
            self._capture()

    def _eager(self) -> None:
        self.logits = self._step(self.token, self.parts)

    def _capture(self) -> None:
        # Warm up on a side stream (lazy initialisation, autotuning) as torch's documentation asks,
        # then record one step; its allocations come from the graph's private pool.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._eager()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._eager()
        self.graph = graph

    def step(self, token: int, state: State) -> Tensor:
        """Decode ``token`` from ``state`` (advanced in place, as ``Model.forward`` promises)."""
        self.token.fill_(token)
        for k, t in state.parts.items():
            self.parts[k].copy_(t)
        if self.graph is not None:
            self.graph.replay()
        else:
            self._eager()
        for k, t in state.parts.items():
            t.copy_(self.parts[k])
        return self.logits.clone()

    def check(self, state: State, tokens: list[int]) -> str:
        """Run ``tokens`` from a copy of ``state`` through this and through the eager step; "" when
        every token's logits and the final state agree, else what differed."""
        mine, ref = state.clone(), state.clone()
        ref_parts = ref.parts
        worst = 0.0
        for t in tokens:
            ours = self.step(t, mine)
            theirs = self._step(torch.tensor([t], device=self.token.device), ref_parts)
            worst = max(worst, float((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-30)))
        for k in ref_parts:
            scale = float(ref_parts[k].abs().max().clamp_min(1e-30))
            worst = max(worst, float((mine.parts[k].float() - ref_parts[k].float()).abs().max()) / scale)
        return "" if worst <= CHECK_RTOL else f"graph replay differs from the eager step by {worst:.2e}"


def make(step: Step, proto: State, device: torch.device) -> StaticStep | None:
    """A checked CUDA-graph step for ``device``, or None (graphs off, not a GPU, or a failure: logged)."""
    if not wanted(device):
        return None
    try:
        static = StaticStep(step, proto, capture=True)
        problem = static.check(proto, [0, 1, 2])
    except Exception as exc:   # capture refused (an op that syncs, an allocator setting): stay eager
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        log.warning("CUDA graphs not used on %s, decoding eagerly: %s", device, problem)
        return None
    log.info("decoding on %s through a captured CUDA graph", device)
    return static
