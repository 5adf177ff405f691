"""One random RWKV-7 model in every format the peer comparison needs, all the same weights.

Writes, under ``--out``:

* ``rwkv7-<shape>-s<seed>.pth``: the official RWKV-LM layout (our engine, BlinkDL's ``rwkv``);
* ``rwkv7-<shape>-s<seed>-hf/``: the same tensors as a fla-hub ``RWKV7ForCausalLM`` folder, with
  the World vocabulary file that llama.cpp's converter insists on;
* ``rwkv7-<shape>-s<seed>-<class>.gguf``: f32 and f16 from ``convert_hf_to_gguf.py`` (run in the
  peer venv, so ours is not polluted), q8_0 / q5_0 / q5_K / q4_0 / q4_K from the f32 file by ``llama-quantize``.

The weights come from the test fixtures (``make_rwkv7_state_dict``), which scale them like a
trained model (decays over (0.545, 1), mixes inside (0, 1), logits with a std of a few units), so
logits are finite and not degenerate. Files that exist are kept: a second run only fills gaps.

Run from the repo root with the project venv:
    .venv/bin/python scripts/peers/make_models.py --shape 0.1b --out ../peers/models
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_dirs import LLAMA, VENV  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SHAPES = {  # name: (n_layer, n_embd); head size 64, vocab 65,536 (World), ffn 4*C
    "0.1b": (12, 768),
    "0.4b": (24, 1024),
    "1.5b": (24, 2048),
}
CONVERTED = ("f32", "f16")             # written by convert_hf_to_gguf.py
QUANTIZED = ("q8_0", "q5_0", "q5_K", "q4_0", "q4_K")   # written by llama-quantize from the f32 GGUF
VOCAB = REPO / "resources" / "tokenizers" / "rwkv_vocab_v20230424.txt"


def paths(out: Path, shape: str, seed: int) -> dict[str, Path]:
    """Where each format of one model lives; bench_peers.py and check_logits.py use the same names."""
    stem = out / f"rwkv7-{shape}-s{seed}"
    files = {"pth": stem.with_name(stem.name + ".pth"), "hf": stem.with_name(stem.name + "-hf")}
    files.update({c: stem.with_name(f"{stem.name}-{c}.gguf") for c in CONVERTED + QUANTIZED})
    return files


def _run(cmd: list[str]) -> None:
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    print(f"  ({time.perf_counter() - t:.0f} s) {' '.join(cmd[:3])} ...")


def make(shape: str, out: Path, seed: int, llama: Path, venv: Path, classes: list[str],
         pth_only: bool = False) -> dict[str, Path]:
    """``pth_only``: the ``.pth`` alone (our engine and ``rwkv`` need nothing else; no llama.cpp build)."""
    import torch

    from tests.fixtures.checkpoints import make_rwkv7_state_dict
    from tests.fixtures.hf_layouts import write_fla_rwkv7

    files = paths(out, shape, seed)
    out.mkdir(parents=True, exist_ok=True)
    if not files["pth"].exists() or not (pth_only or (files["hf"] / "model.safetensors").exists()):
        n_layer, n_embd = SHAPES[shape]
        print(f"random weights L{n_layer} D{n_embd} V65536 seed {seed}")
        sd = make_rwkv7_state_dict(n_layer=n_layer, n_embd=n_embd, head_size=64, vocab_size=65536, seed=seed)
        if not files["pth"].exists():
            torch.save(sd, files["pth"])
        if not pth_only:
            write_fla_rwkv7(files["hf"], sd)
        del sd
    if pth_only:
        classes = []
    else:
        shutil.copy(VOCAB, files["hf"] / VOCAB.name)

    for c in CONVERTED:
        if c in classes and not files[c].exists():
            _run([str(venv / "bin" / "python"), str(llama / "src" / "convert_hf_to_gguf.py"), str(files["hf"]),
                  "--outtype", c, "--outfile", str(files[c])])
    for c in QUANTIZED:
        if c in classes and not files[c].exists():
            _run([str(llama / "bin" / "llama-quantize"), str(files["f32"]), str(files[c]), c.upper(), "2"])
    for name, p in files.items():
        if p.exists():
            size = sum(f.stat().st_size for f in p.iterdir()) if p.is_dir() else p.stat().st_size
            print(f"{name:5s} {size / 2**20:8.0f} MiB  {p}")
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=SHAPES, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--llama", type=Path, default=LLAMA, help="build_llama_cpp.sh's DEST")
    ap.add_argument("--venv", type=Path, default=VENV, help="peer venv (converter deps)")
    ap.add_argument("--classes", default=",".join(CONVERTED + QUANTIZED),
                    help="GGUF classes to write (f32 is always kept: the others come from it)")
    ap.add_argument("--pth-only", action="store_true",
                    help="write only the .pth (no HF folder, no GGUF: needs no llama.cpp build)")
    args = ap.parse_args()
    classes = sorted(set(args.classes.split(",")) | {"f32"})
    make(args.shape, args.out, args.seed, args.llama, args.venv, classes, args.pth_only)


if __name__ == "__main__":
    main()
