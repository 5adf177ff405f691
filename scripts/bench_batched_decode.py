"""The compiled RWKV-7 decode step of this tree's library against another build of it, in one process.

  PYTHONPATH=. python scripts/bench_batched_decode.py OTHER_LIBRARY [-m MODEL] [--precision fp32] [--batches 1,4,8,16]
                                         [--threads 2] [--rounds 5] [--steps 8]

``OTHER_LIBRARY``: another build's ``_rwkv_cpu*.so`` (e.g. the main checkout's). Both step the same
weights (the model is loaded once; a second decoder is made on the other library with the very
tensors the first one points at) and the same kind of states, B sequences at a time. Rounds
alternate the two libraries on every batch size, so that the machine's swings (other work, memory
bandwidth) hit both alike; each figure is the median over rounds of a round's mean step: wall
time, the process's CPU time (all threads), and the matrices' GFLOP/s (2 x weights x B per step
over the wall time; the per-sequence work is counted as matrix time, so this is a lower bound);
``paired``: the median over rounds of that round's other / this wall-time ratio.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch

import engine
from kernels import cpu

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from peer_dirs import MODELS  # noqa: E402  (the shared models folder: $RWKV_PEERS_DIR, else ../peers)


def load_other(path: str, names=("rwkv_cpu_set_threads", "rwkv7_create", "rwkv7_destroy", "rwkv7_decode",
                                   "rwkv7_decode_batch", "rwkv_cpu_table", "rwkv_cpu_get_isa")) -> ctypes.CDLL:
    """Another build, with the signatures of ``names`` (by default what a decoder calls: its ABI may
    differ elsewhere, the GEMV's arguments say)."""
    lib = ctypes.CDLL(path)
    for name in names:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = cpu._SIGNATURES[name]
    return lib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other")
    ap.add_argument("-m", "--model", default=str(MODELS / "rwkv7-0.1b-s0.pth"))
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batches", default="1,4,8,16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--this", help="this side's library, if not this tree's build (same ABI)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.this:
        cpu._lib = load_other(args.this, tuple(cpu._SIGNATURES))

    made = []
    init = cpu._Decoder.__init__

    def keep_args(self, *a):                      # the decoder's tensors, to hand to the other library too
        made.append(a)
        init(self, *a)

    cpu._Decoder.__init__ = keep_args
    model = engine.load(args.model, precision=args.precision)
    cpu._Decoder.__init__ = init
    ours = model.weights.decoder
    if not isinstance(ours, cpu.Rwkv7Decoder):
        raise SystemExit("needs an RWKV-7 model on the compiled CPU backend")
    other_lib = load_other(args.other)
    mine_lib = cpu.library()
    cpu._lib = other_lib                          # the second decoder's functions come from the other build
    try:
        other = cpu.Rwkv7Decoder(*made[-1])
    finally:
        cpu._lib = mine_lib
    for lib in (mine_lib, other_lib):
        lib.rwkv_cpu_set_threads(args.threads)
    cpu._threads = args.threads

    weights = sum(t.numel() for d in made[-1][1] for k, t in d.items()
                  if t is not None and t.dim() == 2 and not k.endswith("_s"))
    weights += made[-1][2]["head"].numel()
    V = model.info.vocab_size
    print(f"{args.model} {args.precision}, {args.threads} threads, isa {cpu.kernels_name()}, "
          f"{weights / 1e6:.1f}M matrix weights\nthis: {args.this or cpu._find()}\nother: {args.other}")
    print(" B   other ms  this ms  ratio | other cpu  this cpu  ratio | other GF/s this GF/s | paired")
    for B in (int(b) for b in args.batches.split(",")):
        states = [model.new_state() for _ in range(B)]
        parts = [s.parts for s in states]
        rows = model.weights.emb.stage([(7 + 13 * b) % V for b in range(B)])
        logits = torch.empty(B, V)
        call = (rows, [p["att_x_prev"] for p in parts], [[p["wkv"]] for p in parts],
                [p["ffn_x_prev"] for p in parts], logits)
        step = {"other": partial(other.step_batch, *call), "this": partial(ours.step_batch, *call)}
        for run in step.values():
            run()
        wall: dict[str, list[float]] = {"other": [], "this": []}
        cpu_t: dict[str, list[float]] = {"other": [], "this": []}
        for _ in range(args.rounds):
            for name in ("other", "this"):
                t, c = time.perf_counter(), time.process_time()
                for _ in range(args.steps):
                    step[name]()
                wall[name].append((time.perf_counter() - t) / args.steps)
                cpu_t[name].append((time.process_time() - c) / args.steps)
        w = {k: statistics.median(v) * 1e3 for k, v in wall.items()}
        c = {k: statistics.median(v) * 1e3 for k, v in cpu_t.items()}
        gf = {k: 2 * weights * B / (w[k] * 1e-3) / 1e9 for k in w}
        paired = statistics.median(o / t for o, t in zip(wall["other"], wall["this"], strict=True))
        print(f"{B:2d} {w['other']:9.2f} {w['this']:8.2f} {w['other'] / w['this']:6.2f} | {c['other']:9.2f} "
              f"{c['this']:9.2f} {c['other'] / c['this']:6.2f} | {gf['other']:9.1f} {gf['this']:9.1f} | "
              f"{paired:6.2f}", flush=True)


if __name__ == "__main__":
    main()
