"""Time the compiled decode GEMV alone on matrices of a model's shapes, in GB/s of weights read.

    PYTHONPATH=. python scripts/bench_gemv.py --shape 1.5b --precision int8,q4,q5 --rounds 15

One input per call (a decode token), random weights packed as the engine packs them (the big ones
in 2 MiB pages, ``engine.models.packed.kept_empty``; ``--small-pages`` adds a copy of each in
torch's own memory, timed alternately, for the huge pages' ratio), rounds
alternating over the matrices so that the VM's bandwidth weather hits them alike; medians. The head
(vocabulary x width) is larger than any cache and shows the streaming speed; the layers' matrices
of the small shapes fit in L3, so their figures are cache speeds, not memory's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as engine sets it (torch's workers would spin)
import torch  # noqa: E402

from engine.models.model import DTYPES  # noqa: E402
from engine.models.packed import Q5, Packed, pack  # noqa: E402
from kernels import cpu  # noqa: E402

SHAPES = {"0.1b": 768, "0.4b": 1024, "1.5b": 2048}
FORMATS = {"q5": Q5, **DTYPES}   # q5 before the engine names it a precision


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=SHAPES, default="1.5b")
    ap.add_argument("--precision", default="int8,q4", help="comma-separated: fp32, bf16, int8, q4, q5")
    ap.add_argument("--vocab", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--small-pages", action="store_true",
                    help="also time a copy of each matrix in torch.empty's memory (4 KiB pages where THP is "
                         "'madvise'), alternating with the engine's huge-page one, and print their ratio")
    args = ap.parse_args()
    if not cpu.available():
        raise SystemExit("the compiled CPU library is not built (pip install -e .)")
    torch.set_num_threads(args.threads)
    d = SHAPES[args.shape]
    g = torch.Generator().manual_seed(0)
    mats = []
    for prec in args.precision.split(","):
        for role, rows, cols in (("head", args.vocab, d), ("ffn key", 4 * d, d), ("ffn value", d, 4 * d),
                                 ("att", d, d), ("lora out", d, 64)):
            p = pack(torch.randn(rows, cols, generator=g), FORMATS[prec])
            size = p.w.numel() * p.w.element_size()
            size += 0 if p.scale is None else p.scale.numel() * p.scale.element_size()
            mats.append((f"{prec} {role} {rows}x{cols}", p, rows, cols, size))
            if args.small_pages:
                small = Packed(torch.empty_like(p.w).copy_(p.w), p.scale, p.n_in)
                mats.append((f"{prec} {role} {rows}x{cols} 4K", small, rows, cols, size))
    times: dict[str, list[float]] = {m[0]: [] for m in mats}
    for _ in range(args.rounds):
        for name, p, rows, cols, size in mats:
            x, out = torch.randn(cols, generator=g), torch.empty(rows)
            reps = max(3, int(3e8 // size))
            cpu.gemv(p.w, x, out, p.scale)
            t = time.perf_counter()
            for _ in range(reps):
                cpu.gemv(p.w, x, out, p.scale)
            times[name].append((time.perf_counter() - t) / reps)
    print(f"{args.shape} shape, {args.threads} threads, kernels {cpu.kernels_name()}, medians of {args.rounds} rounds")
    for name, _, _, _, size in mats:
        dt = statistics.median(times[name])
        line = f"{name:31s} {dt * 1e6:9.1f} us  {size / dt / 1e9:6.1f} GB/s"
        if name + " 4K" in times:
            line += f"  huge / 4K pages {statistics.median(times[name + ' 4K']) / dt:.3f}x"
        print(line)


if __name__ == "__main__":
    main()
