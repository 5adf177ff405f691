"""Micro benchmark of the int8 GEMM for prompts (``kernels/cpu/gemm.py``) at RWKV-7 prompt shapes.

  python scripts/bench_gemm_int8.py [--tokens 512] [--threads 2] [--rounds 5] [--peak-gflops G] [--e2e]

Three ways to multiply a prompt's ``x [T, in]`` by one int8 matrix ``[out, in]`` (per-row scales):

- ``today``: the int8 prompt path of the models now: dequantise into a reused fp32 scratch
  (``Packed.dense_into``), then torch's fp32 GEMM on it;
- ``int8``: ``gemm_int8`` (per-token uint8 activations, integer dot products, no fp32 copy);
- ``fp32``: torch's fp32 GEMM on a matrix that is already fp32 (what ``today`` would cost without
  its dequantisation).

Rounds alternate the three ways on every shape and each figure is the median over rounds of the
best of ``--reps`` calls, so that the machine's swings (other work, memory bandwidth) hit all three
alike. ``--peak-gflops`` (the ``gemm_fp32_GFLOPs`` of ``../shared/tools/machine_limits.py``,
run before and after) adds each figure as a share of it. ``--e2e [MODEL]`` also times a prompt of
an RWKV-7 (the file given, else a random 0.1B: L12 D768 V65536) in int8 and estimates it with the
int8 GEMM in place of today's path: measured time - the matrices' time today + their time with
``gemm_int8`` (LoRAs included, as int8 prompts dequantise them too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable

import torch

from engine.models.packed import quantize_int8
from kernels import cpu
from kernels.cpu.gemm import gemm_int8

SHAPES = {  # name -> (in, out)
    "0.1B att R/K/V/O": (768, 768), "0.1B ffn key": (768, 3072), "0.1B ffn value": (3072, 768),
    "1.5B att R/K/V/O": (2048, 2048), "1.5B ffn key": (2048, 7168), "1.5B ffn value": (7168, 2048),
}
WAYS = ("today", "int8", "fp32")


def best_of(fn: Callable[[], object], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


class Case:
    """One matrix and a prompt for it, with the buffers each way reuses between calls."""

    def __init__(self, T: int, n_in: int, n_out: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(T, n_in, generator=g)
        self.packed = quantize_int8(torch.randn(n_out, n_in, generator=g) / n_in**0.5)
        self.scratch = torch.empty(n_out, n_in)
        self.dense = self.packed.dense_into(torch.empty(n_out, n_in))
        self.out = torch.empty(T, n_out)
        self.ops = 2 * T * n_in * n_out

    def run(self, way: str) -> None:
        if way == "today":
            torch.matmul(self.x, self.packed.dense_into(self.scratch).t(), out=self.out)
        elif way == "int8":
            gemm_int8(self.x, self.packed.w, self.packed.scale, out=self.out)
        else:
            torch.matmul(self.x, self.dense.t(), out=self.out)


def measure(cases: dict[str, Case], rounds: int, reps: int) -> dict[str, dict[str, float]]:
    """Seconds per call: name -> way -> median over rounds of the best of ``reps``."""
    seen: dict[str, dict[str, list[float]]] = {n: {w: [] for w in WAYS} for n in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            for way in WAYS:
                seen[name][way].append(best_of(lambda c=case, w=way: c.run(w), reps))
    return {n: {w: statistics.median(ts) for w, ts in d.items()} for n, d in seen.items()}


def layer_matrices(n_embd: int, n_ffn: int, loras: dict[str, int]) -> list[tuple[int, int, int]]:
    """(in, out, count) of every int8 matrix of one RWKV-7 layer (value LoRA counted as in layers >= 1)."""
    mats = [(n_embd, n_embd, 4), (n_embd, n_ffn, 1), (n_ffn, n_embd, 1)]
    for d in loras.values():
        mats += [(n_embd, d, 1), (d, n_embd, 1)]
    return mats


def e2e(T: int, rounds: int, reps: int, source: str) -> dict[str, float]:
    """A T-token prompt of an RWKV-7 0.1B (``source``, or a random one) in int8: measured now, and
    estimated with gemm_int8."""
    import engine
    from tests.fixtures.checkpoints import make_rwkv7_checkpoint, random_tokens

    with tempfile.TemporaryDirectory() as d:
        if source == "random":
            source = make_rwkv7_checkpoint(f"{d}/rwkv7-0.1b", n_layer=12, n_embd=768, vocab_size=65536)
        model = engine.load(source, precision="int8")
    L, C, V = model.info.n_layer, model.info.n_embd, model.info.vocab_size
    tokens = random_tokens(T, V)
    prompt = statistics.median(best_of(lambda: model.forward(tokens, None), 1) for _ in range(rounds))
    ly = model.layers[min(1, L - 1)]      # LoRAs [in, out]; layer 0 has no value LoRA
    mats = layer_matrices(C, model.info.dim_ffn, {n: getattr(ly, n + "1").shape[1] for n in "wavg"})
    cases = {f"{i}->{o}": Case(T, i, o) for i, o, _ in mats}
    counts = {f"{i}->{o}": n for i, o, n in mats}
    t = measure(cases, rounds, reps)
    today = L * sum(counts[n] * t[n]["today"] for n in cases)
    ours = L * sum(counts[n] * t[n]["int8"] for n in cases)
    return {"prompt_s": prompt, "tok_s_now": T / prompt, "matrices_today_s": today, "matrices_int8_s": ours,
            "tok_s_estimated": T / (prompt - today + ours)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--peak-gflops", type=float, default=0.0, help="machine_limits.py's gemm_fp32_GFLOPs")
    p.add_argument("--e2e", nargs="?", const="random", metavar="MODEL",
                   help="also estimate a prompt of an RWKV-7 (this file, or a random 0.1B)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"{a.threads} threads, T={a.tokens}, kernels {cpu.kernels_name()}, torch {torch.__version__}")

    cases = {name: Case(a.tokens, n_in, n_out) for name, (n_in, n_out) in SHAPES.items()}
    res = measure(cases, a.rounds, a.reps)
    def cell(seconds: float, ops: int) -> str:
        g = ops / seconds / 1e9
        return f"{1e3 * seconds:8.2f} {g:5.0f}" + (f" {100 * g / a.peak_gflops:4.0f}%" if a.peak_gflops else "")

    head = " | ".join(f"{w + ' ms':>8s} {'G/s':>5s}" + (" peak" if a.peak_gflops else "") for w in WAYS)
    print(f"{'shape':18s} {'in->out':>10s} | {head} | int8 vs today")
    rows = []
    for name, case in cases.items():
        n_in, n_out = SHAPES[name]
        t = res[name]
        cells = " | ".join(cell(t[w], case.ops) for w in WAYS)
        print(f"{name:18s} {f'{n_in}->{n_out}':>10s} | {cells} | {t['today'] / t['int8']:5.2f}x")
        rows.append({"shape": name, "in": n_in, "out": n_out, **{f"{w}_ms": 1e3 * t[w] for w in WAYS},
                     **{f"{w}_gops": case.ops / t[w] / 1e9 for w in WAYS}})
    out = {"threads": a.threads, "tokens": a.tokens, "isa": cpu.kernels_name(), "rows": rows}
    if a.e2e:
        est = e2e(a.tokens, a.rounds, a.reps, a.e2e)
        print(f"int8 prompt of {a.tokens}: {est['tok_s_now']:.0f} tok/s now ({1e3 * est['prompt_s']:.0f} ms, "
              f"of which int8 matrices today {1e3 * est['matrices_today_s']:.0f} ms); with gemm_int8 "
              f"{1e3 * est['matrices_int8_s']:.0f} ms -> ~{est['tok_s_estimated']:.0f} tok/s")
        out["e2e"] = est
    print(json.dumps(out))


if __name__ == "__main__":
    main()
