"""``python -m engine quality``: int8 and bf16 stay close to fp32 on the trained demo model, the
command prints its fields, and the metrics do flag logits that disagree.

Measured when written (demo model, first 128 positions of tests/data/demo_heldout.jsonl, decoded
token by token, torch path): int8 cross-entropy -0.0007 nats against fp32, max |logit diff| 0.097,
KL 2.3e-5, greedy agreement 128/128; bf16 -0.0009, 0.091, 5.5e-5, 128/128. The bounds below leave
5-20x room for other CPUs and the compiled kernels. The same bounds hold the prompt rows (the
stream read as a chain of short prompts), where int8 also rounds activations to 8 bits: on 512
positions int8 prompts went from KL 2.2e-5, max |logit diff| 0.093 (int8 weights only) to 3.8e-5,
0.128 with the int8 GEMM, greedy agreement 100% both.
"""

from __future__ import annotations

import json

import pytest
import torch

import engine
from engine.text.tokenizer import tokenizer_for
from engine.tools import quality
from engine.tools.cli import main
from engine.tools.quality import compare_logits, measure, read_text

POSITIONS = 128
MAX_CE_INCREASE = 0.01      # nats/token
MAX_KL = 5e-4               # nats
MAX_LOGIT_DIFF = 0.5
MIN_GREEDY_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def demo_report():
    model = engine.load("demo")
    tokens = tokenizer_for(model).encode(read_text(quality.DEMO_HELDOUT))[:POSITIONS + 1]
    return measure("demo", ["int8", "bf16"], tokens, fp32_model=model)


def test_int8_and_bf16_predict_like_fp32_on_the_trained_demo_model(demo_report):
    rows = {(r["precision"], r["path"]): r for r in demo_report["results"]}
    assert set(rows) == {(p, path) for p in ("fp32", "int8", "bf16") for path in ("decode", "prompt")}
    assert demo_report["tokens"] == POSITIONS
    assert rows["fp32", "decode"]["kl_from_fp32"] == 0 and rows["fp32", "decode"]["greedy_agreement"] == 1
    assert rows["fp32", "decode"]["cross_entropy"] < 2.0    # the held-out text really is text the model knows
    assert rows["fp32", "prompt"]["max_abs_logit_diff"] < 1e-3    # the prompt path computes the same model
    assert rows["int8", "prompt"]["tokens"] >= POSITIONS // 16
    for key in [(p, path) for p in ("int8", "bf16") for path in ("decode", "prompt")]:
        r = rows[key]
        assert r["cross_entropy_delta"] < MAX_CE_INCREASE, r
        assert r["kl_from_fp32"] < MAX_KL, r
        assert r["max_abs_logit_diff"] < MAX_LOGIT_DIFF, r
        assert r["greedy_agreement"] >= MIN_GREEDY_AGREEMENT, r


def test_metrics_flag_perturbed_logits_that_a_bound_would_reject():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(200, 50, generator=g) * 4
    targets = ref.argmax(dim=-1)
    same = compare_logits("same", ref, ref.clone(), targets)
    assert same.kl_from_fp32 == pytest.approx(0, abs=1e-12) and same.greedy_agreement == 1
    assert same.max_abs_logit_diff == 0 and same.cross_entropy_delta == pytest.approx(0, abs=1e-12)
    noisy = compare_logits("noisy", ref, ref + torch.randn(200, 50, generator=g) * 3, targets)
    assert noisy.greedy_agreement < MIN_GREEDY_AGREEMENT
    assert noisy.kl_from_fp32 > MAX_KL and noisy.cross_entropy_delta > MAX_CE_INCREASE
    assert noisy.max_abs_logit_diff > MAX_LOGIT_DIFF
    assert noisy.mean_abs_logit_diff == pytest.approx(3 * (2 / torch.pi) ** 0.5, rel=0.05)


def test_quality_command_prints_one_json_object_with_every_metric(capsys):
    assert main(["quality", "--model", "demo", "--precision", "int8", "--tokens", "16", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip())
    assert res["tokens"] == 16 and res["text"].endswith("demo_heldout.jsonl")
    assert [(r["precision"], r["path"]) for r in res["results"]] == [
        ("fp32", "decode"), ("int8", "decode"), ("fp32", "prompt"), ("int8", "prompt")]
    assert set(res["results"][1]) == {"precision", "tokens", "cross_entropy", "perplexity", "cross_entropy_delta",
                                      "max_abs_logit_diff", "mean_abs_logit_diff", "kl_from_fp32",
                                      "greedy_agreement", "path"}


def test_quality_command_reads_plain_text_and_prints_a_table(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("User: What does \"harbor\" mean?\n\nAssistant: Harbor (noun) means a sheltered port.\n\n")
    assert main(["quality", "--model", "demo", "--precision", "bf16", "--text", str(text), "--tokens", "8"]) == 0
    out = capsys.readouterr().out
    assert "8 positions of notes.txt" in out
    assert [line.split()[:2] for line in out.splitlines()[-4:]] == [
        ["fp32", "decode"], ["bf16", "decode"], ["fp32", "prompt"], ["bf16", "prompt"]]


def test_quality_command_without_held_out_text_asks_for_one(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(quality, "DEMO_HELDOUT", tmp_path / "absent.jsonl")
    assert main(["quality", "--model", "demo", "--tokens", "4"]) == 2
    assert "--text FILE" in capsys.readouterr().err


def test_quality_command_rejects_a_precision_the_cpu_lacks(capsys):
    assert main(["quality", "--model", "demo", "--precision", "int8,fp16"]) == 2
    assert "fp16" in capsys.readouterr().err
