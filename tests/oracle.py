"""BlinkDL's ``rwkv`` package (the oracle) run in a subprocess, for comparisons with our engine.

The package must run out of process: it reads ``RWKV_V7_ON`` at import time, rebinds its model
class to RWKV-7 for good and keeps the dtype in module globals. Each subprocess costs a few
seconds of start-up (torch import and TorchScript compilation), so ask for many call sequences at
once with :func:`run_oracle_many` / :func:`run_oracle_batch`, or through :class:`OracleCache`,
which runs each (checkpoint, calls) pair once per test session.

A *call sequence* is a list of forward calls chained through the state: ``[[1, 2, 3, 4]]`` is one
call (the package's sequence mode), ``[[1], [2], [3], [4]]`` four calls of one token (its RNN mode).

RWKV-7 files and RWKV-4/5/6 files need different processes (``RWKV_V7_ON`` decides, at import,
which class the package uses); a batch holding both kinds runs as two subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

ORACLE_ENV = {"RWKV_V7_ON": "1", "RWKV_JIT_ON": "1", "RWKV_CUDA_ON": "0"}
DEFAULT_STRATEGY = "cpu fp32"
_WORKER = Path(__file__).with_name("_oracle_worker.py")
_TAIL_CHARS = 6000

Calls = tuple[tuple[int, ...], ...]


class OracleError(RuntimeError):
    """The oracle subprocess failed; the message carries its exit status and stderr."""


@dataclass(frozen=True)
class OracleRequest:
    """One call sequence to run on one checkpoint (a ``.pth`` file)."""

    ckpt: Path
    calls: Calls
    full_output: bool = False

    @classmethod
    def make(cls, ckpt: str | Path, calls: Sequence[Sequence[int]], full_output: bool = False):
        return cls(_pth_path(ckpt), normalize_calls(calls), bool(full_output))


@dataclass(frozen=True)
class OracleResult:
    """What the oracle returned for one call sequence.

    ``logits[i]`` is the fp32 output of call ``i``: ``[V]`` for the last token, or ``[T_i, V]``
    with ``full_output``. ``state`` is the package's flat final state, per layer
    ``[att_x_prev (C), att_kv (H, N, N), ffn_x_prev (C)]`` for RWKV-5/6/7 (``att_kv`` indexed
    ``[h, key, value]`` for 5/6 and ``[h, value, key]`` for 7) and
    ``[att_x_prev, aa, bb, pp, ffn_x_prev]`` for RWKV-4 (``generation == 4``).
    """

    logits: list[torch.Tensor]
    state: list[torch.Tensor]
    generation: int = 7

    @property
    def last_logits(self) -> torch.Tensor:
        return self.logits[-1]

    @property
    def _stride(self) -> int:
        return 5 if self.generation == 4 else 3

    @property
    def n_layer(self) -> int:
        return len(self.state) // self._stride

    def _part(self, index: int) -> torch.Tensor:
        return torch.stack(self.state[index :: self._stride])

    @property
    def att_x_prev(self) -> torch.Tensor:
        """``[L, C]``: the LayerNorm'ed input of the last token to each time-mix."""
        return self._part(0)

    @property
    def wkv(self) -> torch.Tensor:
        """``[L, H, N, N]`` fp32 (RWKV-5/6/7; see the class docstring for the index order)."""
        if self.generation == 4:
            raise AttributeError("RWKV-4 has no matrix state; use aa, bb, pp")
        return self._part(1)

    @property
    def ffn_x_prev(self) -> torch.Tensor:
        """``[L, C]``: the LayerNorm'ed input of the last token to each channel-mix."""
        return self._part(self._stride - 1)

    @property
    def parts(self) -> dict[str, torch.Tensor]:
        """The state by our engine's part names (``engine.State.parts``)."""
        names = (("att_x_prev", "aa", "bb", "pp", "ffn_x_prev") if self.generation == 4
                 else ("att_x_prev", "wkv", "ffn_x_prev"))
        return {name: self._part(i) for i, name in enumerate(names)}


def normalize_calls(calls: Sequence[Sequence[int]]) -> Calls:
    """Calls as a hashable tuple of tuples of ints; rejects empty sequences and empty calls."""
    if isinstance(calls, (str, bytes)) or not len(calls):
        raise ValueError("calls must be a non-empty list of token lists")
    out = []
    for call in calls:
        if isinstance(call, int) or not len(call):
            raise ValueError(f"each call must be a non-empty list of token ids, got {call!r}")
        out.append(tuple(int(t) for t in call))
    return tuple(out)


def run_oracle(
    ckpt: str | Path,
    calls: Sequence[Sequence[int]],
    *,
    full_output: bool = False,
    strategy: str = DEFAULT_STRATEGY,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> OracleResult:
    """Run one call sequence on ``ckpt`` (a ``.pth``) in a fresh oracle process."""
    return run_oracle_many(
        ckpt, [calls], full_output=full_output, strategy=strategy, env=env, timeout=timeout
    )[0]


def run_oracle_many(
    ckpt: str | Path,
    calls_list: Sequence[Sequence[Sequence[int]]],
    *,
    full_output: bool = False,
    strategy: str = DEFAULT_STRATEGY,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> list[OracleResult]:
    """Run several call sequences on one checkpoint in one oracle process, each from a zero state."""
    requests = [OracleRequest.make(ckpt, calls, full_output) for calls in calls_list]
    return run_oracle_batch(requests, strategy=strategy, env=env, timeout=timeout)


def run_oracle_batch(
    requests: Sequence[OracleRequest],
    *,
    strategy: str = DEFAULT_STRATEGY,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> list[OracleResult]:
    """Run any number of requests, over any checkpoints, in ONE oracle process.

    Each checkpoint is loaded once. ``env`` overrides :data:`ORACLE_ENV` (and the inherited
    environment) for the subprocess. Results come back in request order.
    """
    if not requests:
        return []
    generations = {req.ckpt: checkpoint_generation(req.ckpt) for req in requests}
    results: list[OracleResult | None] = [None] * len(requests)
    for v7 in (True, False):
        indices = [i for i, req in enumerate(requests) if (generations[req.ckpt] == 7) == v7]
        if indices:
            part = _run_batch([requests[i] for i in indices], generations, v7, strategy, env, timeout)
            for i, result in zip(indices, part, strict=True):
                results[i] = result
    return results  # type: ignore[return-value]


def checkpoint_generation(ckpt: Path) -> int:
    """7 for an RWKV-7 file, else 4, 5 or 6, from its keys (as our loader decides)."""
    from engine.models.checkpoint import detect_generation

    tensors = torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)
    return detect_generation(tensors, ckpt.name)


def _run_batch(
    requests: Sequence[OracleRequest],
    generations: Mapping[Path, int],
    v7: bool,
    strategy: str,
    env: Mapping[str, str] | None,
    timeout: float,
) -> list[OracleResult]:
    by_ckpt: dict[Path, list[int]] = {}
    for i, req in enumerate(requests):
        by_ckpt.setdefault(req.ckpt, []).append(i)
    jobs = [
        {
            "model": str(ckpt.with_suffix("")),  # the v7 loader appends ".pth" itself
            "runs": [
                {"calls": [list(c) for c in requests[i].calls], "full_output": requests[i].full_output}
                for i in indices
            ],
        }
        for ckpt, indices in by_ckpt.items()
    ]
    child_env = {**(env or {})}
    if not v7:
        child_env["RWKV_V7_ON"] = "0"
    raw = _run_worker({"strategy": strategy, "v7": v7, "jobs": jobs}, env=child_env, timeout=timeout)

    results: list[OracleResult | None] = [None] * len(requests)
    for (ckpt, indices), job_results in zip(by_ckpt.items(), raw["jobs"], strict=True):
        for i, r in zip(indices, job_results, strict=True):
            results[i] = OracleResult(logits=list(r["logits"]), state=list(r["state"]),
                                      generation=generations[ckpt])
    return results  # type: ignore[return-value]


class OracleCache:
    """Runs each (checkpoint, calls, full_output) once; batches whatever is missing into one process.

    Keys include the file's size and modification time, so a checkpoint rewritten at the same
    path is run again. A failed batch is remembered and re-raised for every request it covered,
    so one broken oracle does not cost one subprocess per test.
    """

    def __init__(self, *, strategy: str = DEFAULT_STRATEGY, env: Mapping[str, str] | None = None) -> None:
        self.strategy = strategy
        self.env = dict(env or {})
        self.subprocess_runs = 0
        self.subprocess_seconds = 0.0
        self._results: dict[tuple, OracleResult] = {}
        self._failures: dict[tuple, OracleError] = {}

    def prefetch(self, requests: Iterable[OracleRequest]) -> None:
        """Run every request not yet cached, all in one subprocess."""
        missing: dict[tuple, OracleRequest] = {}
        for req in requests:
            key = self._key(req)
            if key in self._failures:
                raise self._failures[key]
            if key not in self._results:
                missing.setdefault(key, req)
        if not missing:
            return
        t0 = time.perf_counter()
        self.subprocess_runs += 1
        try:
            results = run_oracle_batch(list(missing.values()), strategy=self.strategy, env=self.env)
        except OracleError as err:
            self._failures.update(dict.fromkeys(missing, err))
            raise
        finally:
            self.subprocess_seconds += time.perf_counter() - t0
        self._results.update(zip(missing, results, strict=True))

    def get(
        self, ckpt: str | Path, calls: Sequence[Sequence[int]], *, full_output: bool = False
    ) -> OracleResult:
        return self.get_many(ckpt, [calls], full_output=full_output)[0]

    def get_many(
        self,
        ckpt: str | Path,
        calls_list: Sequence[Sequence[Sequence[int]]],
        *,
        full_output: bool = False,
    ) -> list[OracleResult]:
        requests = [OracleRequest.make(ckpt, calls, full_output) for calls in calls_list]
        self.prefetch(requests)
        return [self._results[self._key(r)] for r in requests]

    @staticmethod
    def _key(req: OracleRequest) -> tuple:
        st = req.ckpt.stat()
        return (str(req.ckpt.resolve()), st.st_size, st.st_mtime_ns, req.calls, req.full_output)


def _pth_path(ckpt: str | Path) -> Path:
    path = Path(ckpt)
    if path.suffix != ".pth":
        raise ValueError(
            f"the oracle reads only .pth checkpoints, got {path.name!r}; "
            "compare a .safetensors file through its .pth twin"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def _tail(text: str) -> str:
    return text if len(text) <= _TAIL_CHARS else "..." + text[-_TAIL_CHARS:]


def _run_worker(request: dict, *, env: Mapping[str, str] | None, timeout: float) -> dict:
    child_env = {**os.environ, **ORACLE_ENV, **(env or {})}
    models = ", ".join(job["model"] + ".pth" for job in request["jobs"])
    with tempfile.TemporaryDirectory(prefix="rwkv-oracle-") as tmp:
        request_path, result_path = Path(tmp, "request.pt"), Path(tmp, "result.pt")
        torch.save(request, request_path)
        cmd = [sys.executable, str(_WORKER), str(request_path), str(result_path)]
        try:
            proc = subprocess.run(cmd, env=child_env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise OracleError(
                f"oracle timed out after {timeout:.0f} s on {models}\n"
                f"--- stderr ---\n{_tail(_text(err.stderr))}"
            ) from None
        if proc.returncode != 0 or not result_path.is_file():
            raise OracleError(
                f"oracle failed (exit {proc.returncode}) on {models}\n"
                f"--- stderr ---\n{_tail(proc.stderr)}\n--- stdout ---\n{_tail(proc.stdout)}"
            )
        return torch.load(result_path, weights_only=True)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
