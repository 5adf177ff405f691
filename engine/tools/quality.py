"""``python -m engine quality``: how far bf16, int8, q5 and q4 move a model's predictions from fp32.

Speed numbers say nothing about whether a smaller precision still predicts the same text, and
random-init weights say little about trained ones (their rows have no outliers, their logits no
confident peaks). So the same held-out token stream goes through the fp32 model and through each
asked precision, one token at a time through ``Model.forward`` (the decode path that generation
runs), and every position's logits are compared: cross-entropy on the real next token, |logit
diff|, KL(fp32 || p) and greedy (top-1) agreement.

Prompts run other kernels (int8, q5 and q4 ones quantise activations too), so each precision, fp32 included,
also reads the stream as a chain of short prompts (:data:`PROMPT_CHUNKS` tokens each, in turn) and
its logits after each prompt's last token are compared with the fp32 decode's at that position:
the rows marked ``prompt``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.errors import EngineError

# The demo model's held-out chats (200 valid-split chats, resources/models/demo/README.md): present in
# a source checkout, not in an installed package.
DEMO_HELDOUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "demo_heldout.jsonl"
PROMPT_CHUNKS = (2, 3, 5, 8, 13, 21, 32)   # prompt lengths, in turn: odd and even, short and long


@dataclass(frozen=True, slots=True)
class Quality:
    """One precision against the fp32 reference, over the same ``tokens`` positions."""

    precision: str
    tokens: int
    cross_entropy: float          # nats/token on the real next token
    perplexity: float
    cross_entropy_delta: float    # minus fp32's
    max_abs_logit_diff: float
    mean_abs_logit_diff: float
    kl_from_fp32: float           # mean KL(fp32 || p), nats
    greedy_agreement: float       # share of positions whose argmax equals fp32's
    path: str = "decode"          # "decode": token by token; "prompt": the last token of each prompt


def compare_logits(precision: str, ref: Tensor, logits: Tensor, targets: Tensor, path: str = "decode") -> Quality:
    """Metrics of ``logits`` ``[N, V]`` against the reference ``ref`` ``[N, V]``; ``targets`` ``[N]``
    are the tokens that really came next."""
    ref, logits = ref.double(), logits.double()
    ref_logp, logp = F.log_softmax(ref, dim=-1), F.log_softmax(logits, dim=-1)
    ce = F.nll_loss(logp, targets).item()
    ref_ce = F.nll_loss(ref_logp, targets).item()
    diff = (logits - ref).abs()
    kl = (ref_logp.exp() * (ref_logp - logp)).sum(dim=-1).mean().item()
    agree = (logits.argmax(dim=-1) == ref.argmax(dim=-1)).double().mean().item()
    return Quality(precision, int(targets.numel()), ce, math.exp(ce), ce - ref_ce, diff.max().item(),
                   diff.mean().item(), kl, agree, path)


def decode_logits(model, tokens: list[int]) -> Tensor:
    """The logits after each of ``tokens`` ``[len, V]``, fed one at a time from a fresh state."""
    state = model.new_state()
    out = torch.empty(len(tokens), model.info.vocab_size)
    for i, t in enumerate(tokens):
        logits, state = model.forward([t], state)
        out[i] = logits
    return out


def prompt_logits(model, tokens: list[int]) -> tuple[Tensor, list[int]]:
    """``tokens`` fed as a chain of prompts (:data:`PROMPT_CHUNKS` long, in turn) from a fresh state:
    the logits after each prompt ``[n, V]``, and the position of each prompt's last token."""
    state, outs, positions, start, i = model.new_state(), [], [], 0, 0
    while len(tokens) - start >= 2:          # a one-token call would take the decode path
        n = PROMPT_CHUNKS[i % len(PROMPT_CHUNKS)]
        part = tokens[start:start + n]
        logits, state = model.forward(part, state)
        outs.append(logits.clone())
        start += len(part)
        positions.append(start - 1)
        i += 1
    return torch.stack(outs), positions


def read_text(path: Path) -> str:
    """A ``.jsonl`` of ``{"text": ...}`` documents, each followed by ``\\n\\n`` as the trainer reads
    them, or any other file as plain UTF-8 text."""
    if not path.is_file():
        raise EngineError(f"Text file '{path}' does not exist.")
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".jsonl":
        return raw
    try:
        return "".join(json.loads(line)["text"] + "\n\n" for line in raw.splitlines() if line.strip())
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise EngineError(f"'{path}' is not a JSON-lines file of {{\"text\": ...}} objects: {e}") from None


def default_text() -> Path:
    if DEMO_HELDOUT.is_file():
        return DEMO_HELDOUT
    raise EngineError("No held-out text to measure on: give one with --text FILE (.jsonl of {\"text\": ...} "
                      "lines, or plain text). The demo model's held-out chats are only in a source checkout.")


def measure(source: str, precisions: list[str], tokens: list[int], fp32_model=None) -> dict:
    """Load ``source`` in fp32 and each of ``precisions`` on the CPU and compare them on ``tokens``
    (``len(tokens) - 1`` predicted positions). ``fp32_model`` skips loading the reference again."""
    from engine.models.model import load

    if len(tokens) < 2:
        raise EngineError(f"The text is {len(tokens)} token(s) long; at least 2 are needed.")
    inputs, targets = tokens[:-1], torch.tensor(tokens[1:])
    ref_model = fp32_model if fp32_model is not None else load(source, device="cpu", precision="fp32")
    ref = decode_logits(ref_model, inputs)
    rows = [compare_logits("fp32", ref, ref, targets)]
    kernels = {"fp32": ref_model.kernels.name}

    def prompt_row(model) -> Quality:
        logits, at = prompt_logits(model, inputs)
        return compare_logits(model.precision, ref[at], logits, targets[at], "prompt")

    prompt_rows = [prompt_row(ref_model)]
    for p in precisions:
        model = load(source, device="cpu", precision=p)
        kernels[model.precision] = model.kernels.name
        rows.append(compare_logits(model.precision, ref, decode_logits(model, inputs), targets))
        prompt_rows.append(prompt_row(model))
        del model       # before the next load: one quantised copy in memory at a time
    rows += prompt_rows
    i = ref_model.info
    return {"model": str(i.path), "name": i.name, "shape": f"L{i.n_layer} D{i.n_embd} V{i.vocab_size}",
            "tokens": len(inputs), "kernels": kernels, "results": [asdict(r) for r in rows]}


def _parse_precisions(text: str) -> list[str]:
    from engine.host.hardware import CPU_PRECISIONS

    asked = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in asked if p not in CPU_PRECISIONS]
    if bad or not asked:
        raise EngineError(f"Unknown CPU precision '{bad[0] if bad else text}': use a comma list of "
                          f"{', '.join(CPU_PRECISIONS)}.")
    return [p for p in dict.fromkeys(asked) if p != "fp32"]


def run_quality(args: argparse.Namespace) -> int:
    from engine.models.model import load
    from engine.text.tokenizer import tokenizer_for

    if args.tokens < 1:
        raise EngineError("--tokens must be at least 1.")
    if args.threads:
        torch.set_num_threads(args.threads)
    precisions = _parse_precisions(args.precision)
    text_path = Path(args.text) if args.text else default_text()
    ref_model = load(args.model, device="cpu", precision="fp32")
    tokens = tokenizer_for(ref_model, args.tokenizer).encode(read_text(text_path))[:args.tokens + 1]
    res = measure(args.model, precisions, tokens, fp32_model=ref_model)
    res["text"] = str(text_path)
    if args.json:
        print(json.dumps(res))
        return 0
    _print_table(res, sys.stdout)
    return 0


def _print_table(res: dict, out) -> None:
    print(f"model  {res['name']} ({res['shape']}), {res['tokens']} positions of "
          f"{Path(res['text']).name} on the CPU, decoded token by token (decode) and at the end of "
          f"each of a chain of prompts (prompt)", file=out)
    print(f"{'precision':<10}{'path':<8}{'kernels':<15}{'CE nats':>9}{'dCE':>9}{'ppl':>8}{'max|dl|':>9}{'mean|dl|':>10}"
          f"{'KL':>10}{'greedy':>8}", file=out)
    for r in res["results"]:
        print(f"{r['precision']:<10}{r['path']:<8}{res['kernels'][r['precision']]:<15}{r['cross_entropy']:9.4f}"
              f"{r['cross_entropy_delta']:+9.4f}{r['perplexity']:8.3f}{r['max_abs_logit_diff']:9.4f}"
              f"{r['mean_abs_logit_diff']:10.5f}{r['kl_from_fp32']:10.2e}{100 * r['greedy_agreement']:7.1f}%",
              file=out)
