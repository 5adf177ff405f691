"""Training RWKV-7 with the engine's own layer code (``rwkv7.time_mix`` / ``channel_mix``) and the
differentiable chunked WKV: what is trained is exactly what the engine runs.

``python -m engine train --data DIR --out DIR`` trains a model from scratch on ``DIR/train.jsonl``
(one ``{"text": ...}`` document per line), reports held-out loss on ``DIR/valid.jsonl``, and writes
the official RWKV-7 key layout as safetensors next to a ``tokenizer.json`` and a ``config.json``.
AdamW, linear warm-up then cosine decay, gradient clipping, periodic checkpoints that a later run
resumes from. Kept general on purpose: state tuning will reuse the model and loop.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.atomic import atomic_write_bytes
from engine.models.rwkv7 import Layer, channel_mix, time_mix
from kernels.chunked import wkv7_chunked_fn


@dataclass
class TrainConfig:
    n_layer: int = 4
    n_embd: int = 256
    head_size: int = 64
    ctx: int = 256
    batch: int = 8
    steps: int = 2000
    lr: float = 3e-3
    lr_final: float = 3e-4
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_batches: int = 16
    seed: int = 0
    threads: int = 0


def _lora(mult: float, C: int) -> int:
    return max(32, round(mult * C**0.5 / 32) * 32)


def init_rwkv7(n_layer: int, n_embd: int, head_size: int, vocab_size: int, dim_ffn: int | None = None,
               seed: int = 0) -> dict[str, Tensor]:
    """Fresh weights in the official key layout, after RWKV-LM's initialisation recipe (token-shift
    ratios by depth, a spread of decay speeds across channels, zero-initialised output paths)."""
    g = torch.Generator().manual_seed(seed)
    C, H, F_ = n_embd, n_embd // head_size, dim_ffn or 4 * n_embd
    V = vocab_size
    Dw, Da, Dv, Dg = _lora(2.5, C), _lora(2.5, C), _lora(1.7, C), _lora(5.0, C)

    def uniform(shape, bound):
        return (torch.rand(shape, generator=g) * 2 - 1) * bound

    def ortho(rows, cols, scale):
        q = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=g))[0]
        return (q if rows >= cols else q.t())[:rows, :cols].contiguous() * scale

    z: dict[str, Tensor] = {"emb.weight": uniform((V, C), 1e-4)}
    ddd = torch.arange(C) / C
    for i in range(n_layer):
        p, a, f = f"blocks.{i}.", f"blocks.{i}.att.", f"blocks.{i}.ffn."
        r01 = i / max(1, n_layer - 1)
        r10 = 1.0 - i / n_layer
        if i == 0:
            z[p + "ln0.weight"], z[p + "ln0.bias"] = torch.ones(C), torch.zeros(C)
        for ln in ("ln1", "ln2"):
            z[p + ln + ".weight"], z[p + ln + ".bias"] = torch.ones(C), torch.zeros(C)
        for name, power in (("x_r", 0.2), ("x_w", 0.9), ("x_k", 0.7), ("x_v", 0.7), ("x_a", 0.9), ("x_g", 0.2)):
            z[a + name] = (1.0 - ddd ** (power * r10)).view(1, 1, C)
        decay = -7 + 5 * (torch.arange(C) / (C - 1)) ** (0.85 + r01**0.5)
        z[a + "w1"], z[a + "w2"], z[a + "w0"] = torch.zeros(C, Dw), ortho(Dw, C, 0.1), (decay + 0.5).view(1, 1, C)
        z[a + "a1"], z[a + "a2"], z[a + "a0"] = torch.zeros(C, Da), ortho(Da, C, 0.1), torch.zeros(1, 1, C)
        z[a + "v1"], z[a + "v2"], z[a + "v0"] = torch.zeros(C, Dv), ortho(Dv, C, 0.1), torch.ones(1, 1, C)
        z[a + "g1"], z[a + "g2"] = torch.zeros(C, Dg), ortho(Dg, C, 0.1)
        z[a + "k_k"], z[a + "k_a"] = torch.full((1, 1, C), 0.85), torch.ones(1, 1, C)
        z[a + "r_k"] = torch.zeros(H, head_size)
        z[a + "receptance.weight"] = uniform((C, C), 0.5 / C**0.5)
        z[a + "key.weight"] = uniform((C, C), 0.05 / C**0.5)
        z[a + "value.weight"] = uniform((C, C), 0.5 / C**0.5)
        z[a + "output.weight"] = torch.zeros(C, C)
        z[a + "ln_x.weight"] = torch.full((C,), ((1 + i) / n_layer) ** 0.7)
        z[a + "ln_x.bias"] = torch.zeros(C)
        z[f + "x_k"] = (1.0 - ddd ** (r10**4)).view(1, 1, C)
        z[f + "key.weight"] = uniform((F_, C), 0.5 / C**0.5)
        z[f + "value.weight"] = torch.zeros(C, F_)
    z["ln_out.weight"], z["ln_out.bias"] = torch.ones(C), torch.zeros(C)
    z["head.weight"] = ortho(V, C, 0.5 * (V / C) ** 0.5 / V**0.5)
    return z


class TrainableRWKV7(nn.Module):
    """RWKV-7 as trainable parameters named by the official keys (``.`` stored as ``__``)."""

    def __init__(self, tensors: dict[str, Tensor]):
        super().__init__()
        self.p = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v.float().clone()) for k, v in tensors.items()})
        self.n_head, self.head_size = tensors["blocks.0.att.r_k"].shape
        self.n_layer = 1 + max(int(k.split(".")[1]) for k in tensors if k.startswith("blocks."))
        self.n_embd = tensors["emb.weight"].shape[1]

    def w(self, key: str) -> Tensor:
        return self.p[key.replace(".", "__")]

    def official(self) -> dict[str, Tensor]:
        return {k.replace("__", "."): v.detach().clone() for k, v in self.p.items()}

    def _layer(self, i: int) -> Layer:
        p, a, f = f"blocks.{i}.", f"blocks.{i}.att.", f"blocks.{i}.ffn."
        w, C = self.w, self.n_embd
        return Layer(
            ln1_w=w(p + "ln1.weight"), ln1_b=w(p + "ln1.bias"), ln2_w=w(p + "ln2.weight"), ln2_b=w(p + "ln2.bias"),
            mix=torch.cat([w(a + n).view(1, C) for n in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")]),
            w0=w(a + "w0").view(C), w1=w(a + "w1"), w2=w(a + "w2"),
            a0=w(a + "a0").view(C), a1=w(a + "a1"), a2=w(a + "a2"),
            v0=w(a + "v0").view(C) if i else None, v1=w(a + "v1") if i else None, v2=w(a + "v2") if i else None,
            g1=w(a + "g1"), g2=w(a + "g2"), k_k=w(a + "k_k").view(C), k_a=w(a + "k_a").view(C),
            r_k=w(a + "r_k").reshape(C),
            R=w(a + "receptance.weight").t(), K=w(a + "key.weight").t(), V=w(a + "value.weight").t(),
            O=w(a + "output.weight").t(), lnx_w=w(a + "ln_x.weight"), lnx_b=w(a + "ln_x.bias"),
            ffn_mix=w(f + "x_k").view(C), ffn_K=w(f + "key.weight").t(), ffn_V=w(f + "value.weight").t())

    def forward(self, idx: Tensor) -> Tensor:
        """Logits ``[B, T, V]`` for token ids ``[B, T]``, from a zero state."""
        B, T = idx.shape
        C, H, N = self.n_embd, self.n_head, self.head_size
        x = F.embedding(idx, self.w("emb.weight"))
        x = F.layer_norm(x, (C,), self.w("blocks.0.ln0.weight"), self.w("blocks.0.ln0.bias"))
        zeros_x = x.new_zeros(B, C)
        zeros_s = x.new_zeros(B, H, N, N)
        v_first = x
        for i in range(self.n_layer):
            ly = self._layer(i)
            xx = F.layer_norm(x, (C,), ly.ln1_w, ly.ln1_b)
            out, v_first = time_mix(i, ly, xx, zeros_x, v_first, H, N, _train_wkv, zeros_s)
            x = x + out
            x = x + channel_mix(ly, F.layer_norm(x, (C,), ly.ln2_w, ly.ln2_b), zeros_x)
        x = F.layer_norm(x, (C,), self.w("ln_out.weight"), self.w("ln_out.bias"))
        return x @ self.w("head.weight").t()


def _train_wkv(r, w, k, v, a, b, state):
    return wkv7_chunked_fn(r, w, k, v, a, b, state)[0]


# -- data ---------------------------------------------------------------------------------------


def load_tokens(path: Path, tokenizer) -> Tensor:
    """All documents of a ``.jsonl`` file as one token stream, each followed by the turn separator
    ``\\n\\n`` so the model learns to end its reply there."""
    ids: list[int] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ids += tokenizer.encode(json.loads(line)["text"] + "\n\n")
    return torch.tensor(ids, dtype=torch.long)


def batches(tokens: Tensor, batch: int, ctx: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    starts = torch.randint(0, len(tokens) - ctx - 1, (batch,), generator=g)
    window = torch.stack([tokens[s:s + ctx + 1] for s in starts.tolist()])
    return window[:, :-1], window[:, 1:]


@torch.no_grad()
def evaluate(model: TrainableRWKV7, tokens: Tensor, cfg: TrainConfig) -> float:
    """Mean cross-entropy (nats/token) on fixed windows of the held-out stream."""
    g = torch.Generator().manual_seed(1234)
    losses = []
    for _ in range(cfg.eval_batches):
        x, y = batches(tokens, cfg.batch, cfg.ctx, g)
        losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
    return sum(losses) / len(losses)


# -- loop ---------------------------------------------------------------------------------------


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * min(1.0, t)))


def save_model(model: TrainableRWKV7, out: Path, meta: dict) -> None:
    from safetensors.torch import save

    tensors = {k: v.contiguous() for k, v in model.official().items()}
    atomic_write_bytes(out / "model.safetensors", save(tensors, metadata={"format": "pt"}))
    atomic_write_bytes(out / "config.json", json.dumps(meta, indent=2).encode())


def train(data: Path, out: Path, tokenizer_path: Path, cfg: TrainConfig, resume: bool = False) -> dict:
    from engine.text.tokenizer import load_tokenizer

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer(str(tokenizer_path))
    train_tokens, valid_tokens = load_tokens(data / "train.jsonl", tok), load_tokens(data / "valid.jsonl", tok)
    V = tok.vocab_size
    model = TrainableRWKV7(init_rwkv7(cfg.n_layer, cfg.n_embd, cfg.head_size, V, seed=cfg.seed))
    decay = [p for n, p in model.p.items() if p.dim() == 2 and not n.endswith(("w1", "a1", "v1", "g1"))]
    rest = [p for p in model.p.values() if all(p is not d for d in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99), eps=1e-8)
    ckpt_path, step, log = out / "train-checkpoint.pt", 0, []
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, log = ck["step"], json.loads(ck["log"])
    g = torch.Generator().manual_seed(cfg.seed + step)
    print(f"train {len(train_tokens):,} tokens, valid {len(valid_tokens):,}; "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters", flush=True)
    t0, seen = time.perf_counter(), 0
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        x, y = batches(train_tokens, cfg.batch, cfg.ctx, g)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        seen += x.numel()
        if step % 20 == 0:
            rate = seen / (time.perf_counter() - t0)
            print(f"step {step:5d}  loss {loss.item():.3f}  lr {lr_at(step, cfg):.2e}  {rate:,.0f} tok/s", flush=True)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val = evaluate(model, valid_tokens, cfg)
            log.append({"step": step, "train_loss": loss.item(), "valid_loss": val,
                        "seconds": time.perf_counter() - t0})
            print(f"step {step:5d}  valid loss {val:.3f} (ppl {math.exp(val):.1f})", flush=True)
            buf = __import__("io").BytesIO()
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "log": json.dumps(log)}, buf)
            atomic_write_bytes(ckpt_path, buf.getvalue())
    final = log[-1]["valid_loss"]
    meta = {"name": "demo", "architecture": "rwkv7", "tokenizer": "tokenizer.json", "train": asdict(cfg),
            "valid_loss": final, "valid_ppl": math.exp(final), "log": log}
    save_model(model, out, meta)
    shutil.copyfile(tokenizer_path, out / "tokenizer.json")
    return meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder with train.jsonl and valid.jsonl")
    p.add_argument("--out", type=Path, required=True, help="folder for model.safetensors, tokenizer.json, config")
    p.add_argument("--tokenizer", type=Path, help="tokenizer.json (default: DATA/tokenizer.json)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/train-checkpoint.pt")
    for f, default in asdict(TrainConfig()).items():
        p.add_argument("--" + f.replace("_", "-"), type=type(default), default=default)
    a = p.parse_args(argv)
    cfg = TrainConfig(**{f: getattr(a, f) for f in asdict(TrainConfig())})
    meta = train(a.data, a.out, a.tokenizer or a.data / "tokenizer.json", cfg, a.resume)
    print(json.dumps({k: meta[k] for k in ("valid_loss", "valid_ppl")}))
    return 0
