"""What quantising activations to 8 bits (the int8 GEMM for prompts) adds to int8's error.

  python scripts/quality_gemm_int8.py [--model PATH] [--tokens 1024] [--chunk 32]

Today's int8 prompts are weight-only (int8 weights, fp32 activations); ``gemm_int8`` also rounds
each token's activations to uint8 with a per-token scale and zero point. This compares, on a
trained RWKV-7's real activations (by default the bundled demo model, L4 D256 trained on WordNet:
small, so a toy check; ``--model`` takes a real checkpoint, with the World tokenizer):

- per matrix role: the relative error of one layer's output ``x @ W`` against fp32, mean over
  layers and prompt chunks, for weight-only int8 (today), ``gemm_int8`` itself, and simulated
  alternatives: symmetric int8 per token, and symmetric int8 per block of 64 or 32 inputs
  (llama.cpp's q8_0 uses blocks of 32);
- end to end: the logits after every ``--chunk`` tokens (the prompt fed in chunks with the state
  carried over), as relative error and KL divergence against the fp32 model (the schemes above on
  the six big matrices only; for scale, the engine's own bf16 and int8 precisions, which also
  round the LoRAs and the head);
- a synthetic matrix whose inputs have a few outlier channels (x30), as large models' activations do.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

import engine
from engine.models.packed import quantize_int8
from kernels.cpu.gemm import gemm_int8

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("R", "K", "V", "O", "ffn_K", "ffn_V")


def fake_quant(x: torch.Tensor, block: int) -> torch.Tensor:
    """Symmetric int8 of ``x`` ``[T, in]``, one scale per token (block 0) or per block of inputs."""
    T, n = x.shape
    b = block or n
    xb = torch.nn.functional.pad(x, (0, (-n) % b)).view(T, -1, b)
    s = xb.abs().amax(-1, keepdim=True).clamp_min(1e-30) / 127
    return (torch.round(xb / s).clamp(-127, 127) * s).view(T, -1)[:, :n]


def product(scheme: str, x: torch.Tensor, w_int8: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x @ W^T`` the way ``scheme`` computes it (float64 where simulated)."""
    if scheme == "gemm_int8":
        return gemm_int8(x, w_int8, scale).double()
    w = w_int8.double() * scale.double()[:, None]
    xs = {"weight-only": x.double(), "sym/token": fake_quant(x.double(), 0),
          "sym/64": fake_quant(x.double(), 64), "sym/32": fake_quant(x.double(), 32)}[scheme]
    return xs @ w.t()


SCHEMES = ("weight-only", "gemm_int8", "sym/token", "sym/64", "sym/32")


class Int8Matmuls(TorchFunctionMode):
    """Every ``x @ W`` of a layer matrix computed by ``scheme`` (None: fp32 as is); records the
    per-role error of each scheme against float64 when ``record``."""

    def __init__(self, model, scheme: str | None, record: dict | None = None):
        super().__init__()
        self.scheme, self.record = scheme, record
        self.mats = {}
        for ly in model.layers:
            for role in ROLES:
                w = getattr(ly, role)                    # [in, out] view of the fp32 [out, in]
                self.mats[w.data_ptr()] = (role, w, quantize_int8(w.t().contiguous()))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("matmul", "__matmul__") and isinstance(args[1], torch.Tensor) \
                and args[1].data_ptr() in self.mats and args[0].dim() == 2:
            role, w, p = self.mats[args[1].data_ptr()]
            x = args[0].float().contiguous()
            if self.record is not None:
                ref = x.double() @ w.double()
                for s in SCHEMES:
                    err = (product(s, x, p.w, p.scale) - ref).norm() / ref.norm()
                    self.record.setdefault(s, {}).setdefault(role, []).append(err.item())
            if self.scheme is not None:
                return product(self.scheme, x, p.w, p.scale).float()
        return func(*args, **(kwargs or {}))


def logits_along(model, tokens: list[int], chunk: int, mode: TorchFunctionMode | None = None) -> torch.Tensor:
    out, state = [], None
    with torch.no_grad(), mode or contextlib.nullcontext():
        for i in range(0, len(tokens), chunk):
            logits, state = model.forward(tokens[i:i + chunk], state)
            out.append(logits.double())
    return torch.stack(out)


def outliers(T: int = 512, n_in: int = 768, n_out: int = 768) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, n_in, generator=g)
    x[:, torch.randperm(n_in, generator=g)[:8]] *= 30
    w = torch.randn(n_out, n_in, generator=g) / n_in**0.5
    p = quantize_int8(w)
    ref = x.double() @ w.double().t()
    return {s: ((product(s, x, p.w, p.scale) - ref).norm() / ref.norm()).item() for s in SCHEMES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="an RWKV-7 checkpoint (default: the demo model)")
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=32)
    a = ap.parse_args()
    source = a.model or ROOT / "resources/models/demo"
    model = engine.load(source, precision="fp32")
    tok = engine.load_tokenizer("world" if a.model else str(ROOT / "resources/models/demo/tokenizer.json"))
    text = "".join((ROOT / f).read_text() for f in ("resources/models/demo/README.md", "docs/engine.md", "README.md"))
    tokens = tok.encode(text)[: a.tokens]

    record: dict = {}
    ref = logits_along(model, tokens, a.chunk, Int8Matmuls(model, None, record))
    print(f"{Path(source).name}, {len(tokens)} tokens in chunks of {a.chunk}")
    print("one layer's output, relative error vs fp32 (mean over layers and chunks):")
    print(f"  {'scheme':12s}" + "".join(f"{r:>9s}" for r in ROLES))
    for s in SCHEMES:
        print(f"  {s:12s}" + "".join(f"{sum(v) / len(v):9.2e}" for v in record[s].values()))
    print("logits after every chunk vs fp32: relative error (mean / max), KL divergence (mean / max):")
    p = ref.log_softmax(-1)
    for s in SCHEMES:
        lg = logits_along(model, tokens, a.chunk, Int8Matmuls(model, s))
        rel = (lg - ref).norm(dim=-1) / ref.norm(dim=-1)
        kl = (p.exp() * (p - lg.log_softmax(-1))).sum(-1)
        print(f"  {s:12s} {rel.mean():.2e} / {rel.max():.2e}   KL {kl.mean():.2e} / {kl.max():.2e}")
    for precision in ("bf16", "int8"):
        lg = logits_along(engine.load(source, precision=precision), tokens, a.chunk)
        rel = (lg - ref).norm(dim=-1) / ref.norm(dim=-1)
        kl = (p.exp() * (p - lg.log_softmax(-1))).sum(-1)
        print(f"  engine {precision:5s} {rel.mean():.2e} / {rel.max():.2e}   KL {kl.mean():.2e} / {kl.max():.2e}")
    print("synthetic 768x768, inputs with 8 outlier channels (x30): relative error of x @ W^T")
    for s, e in outliers().items():
        print(f"  {s:12s} {e:.2e}")


if __name__ == "__main__":
    main()
