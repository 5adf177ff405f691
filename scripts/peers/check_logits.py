"""Do our engine and llama.cpp compute the same model? Logits on one fixed token list, compared.

Speed figures mean nothing if the peer runs a different network, so before benchmarking we feed
the same tokens to our engine (``engine.load(pth, precision="fp32")``) and to llama.cpp's GGUF of
the same weights, and report the max |diff| of the logits and how often the top-1 token agrees.
llama.cpp's logits come from ``dump_logits.c`` (ours, next to this file, compiled against the built
libllama, outside the repo): the server's ``n_probs`` only gives softmaxed top-k, not logits.

Both runners are compared in both forms: ``seq`` (the whole list in one call: chunked/parallel
kernels) and ``step`` (one token per call: the recurrent form), at every position. With
``--oracle`` BlinkDL's ``rwkv`` package (cpu fp32) joins as the referee.

    .venv/bin/python scripts/peers/check_logits.py --shape 0.1b --models ../peers/models
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_models import SHAPES, paths  # noqa: E402
from peer_dirs import LLAMA, MODELS  # noqa: E402

# A fixed list: a few common World tokens ("\n\n", " the", "The"...) then ids spread over the vocabulary.
TOKENS = [261, 33, 3330, 4600, 41693, 59, 1181, 21265, 11, 54, 41, 17, 3990, 65000, 8, 32, 1,
          12345, 40000, 60000, 23456, 777, 4096, 2048, 513, 101, 9999, 31337, 50000, 65535, 300, 42]


def build_dumper(llama: Path) -> Path:
    """Compile dump_logits.c against DEST's libllama (once; rebuilt when the source is newer)."""
    src = Path(__file__).with_name("dump_logits.c")
    exe = llama / "dump_logits"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        lib = (llama / "bin").resolve()
        subprocess.run(["gcc", "-O2", "-o", str(exe), str(src), f"-I{llama / 'src' / 'include'}",
                        f"-I{llama / 'src' / 'ggml' / 'include'}", f"-L{lib}", "-lllama",
                        f"-Wl,-rpath,{lib}"], check=True)
    return exe


def llama_logits(exe: Path, gguf: Path, tokens: list[int], mode: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "logits.f32"
        res = subprocess.run([str(exe), str(gguf), str(out), mode, *map(str, tokens)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"dump_logits failed:\n{res.stderr[-3000:]}")
        n, vocab = map(int, res.stdout.split())
        return np.fromfile(out, dtype=np.float32).reshape(n, vocab)


def engine_logits(pth: Path, tokens: list[int], threads: int) -> dict[str, np.ndarray]:
    """Ours: ``step`` (every position, one token per call) and ``seq`` (the last position)."""
    import engine

    torch.set_num_threads(threads)
    model = engine.load(pth, precision="fp32")
    state = model.new_state()
    step = np.stack([model.forward([t], state)[0].float().numpy().copy() for t in tokens])
    seq = model.forward(tokens)[0].float().numpy()[None]
    return {"step": step, "seq": seq}


def compare(name: str, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Max |diff| over every logit and position, and the share of positions whose argmax agrees."""
    diff = float(np.abs(a - b).max())
    top1 = float((a.argmax(-1) == b.argmax(-1)).mean())
    finite = bool(np.isfinite(a).all() and np.isfinite(b).all())
    print(f"| {name} | {a.shape[0]} | {diff:.3g} | {top1:.0%} | {a.std():.2f} | {finite} |")
    return diff, top1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=SHAPES, default="0.1b")
    ap.add_argument("--models", type=Path, default=MODELS, help="make_models.py --out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--llama", type=Path, default=LLAMA)
    ap.add_argument("--classes", default="f32", help="GGUF classes to compare with our fp32 (f32,f16,q8_0...)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--oracle", action="store_true", help="also compare with BlinkDL's rwkv package")
    ap.add_argument("--tol", type=float, default=1e-3, help="f32 max |diff| above which the check fails")
    args = ap.parse_args()

    files = paths(args.models, args.shape, args.seed)
    exe = build_dumper(args.llama)
    ours = engine_logits(files["pth"], TOKENS, args.threads)
    print(f"{args.shape} seed {args.seed}, {len(TOKENS)} tokens, our engine fp32 vs:\n")
    print("| pair | positions | max abs diff | top-1 agree | logit std | finite |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for c in args.classes.split(","):
        for mode in ("seq", "step"):
            theirs = llama_logits(exe, files[c], TOKENS, mode)
            # our seq form gives only the last position; compare llama's seq at every position
            # with our step form as well, so the parallel kernels are checked everywhere
            d, _ = compare(f"llama.cpp {c} {mode} / ours {mode}", ours[mode], theirs[-ours[mode].shape[0]:])
            if mode == "seq":
                compare(f"llama.cpp {c} seq / ours step", ours["step"], theirs)
            if c == "f32":
                worst = max(worst, d)
    if args.oracle:
        from tests.oracle import run_oracle

        ref = run_oracle(files["pth"], [TOKENS], full_output=True).logits[0].float().numpy()
        compare("rwkv (oracle) seq / ours step", ours["step"], ref)
        compare("rwkv (oracle) seq / llama.cpp f32 step",
                llama_logits(exe, files["f32"], TOKENS, "step"), ref)
    if "f32" in args.classes.split(","):
        print(f"\nf32 worst max |diff| {worst:.3g}: {'PASS' if worst <= args.tol else 'FAIL'} (tol {args.tol})")
        sys.exit(0 if worst <= args.tol else 1)


if __name__ == "__main__":
    main()
