"""Batched decode (``Model.forward_batch``) equals decoding each sequence alone.

The compiled step reads every weight matrix once for the whole batch but sums each output in the
single-sequence order, so every row of its logits and every state it advances must equal the
single-token path bit for bit: for RWKV-4, -5.2, -6 and -7, in fp32, bf16, int8, q5 and q4, on every
instruction set this CPU has, for batches of 1 to 17 sequences that join and leave between steps.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

import engine
from engine.errors import EmptyPromptError, EngineError
from kernels import cpu
from tests.fixtures.checkpoints import Rwkv7Spec
from tests.fixtures.legacy_checkpoints import LegacySpec

pytestmark = pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")

SPECS = {7: Rwkv7Spec(n_layer=2, n_embd=128, head_size=32, vocab_size=1000, seed=3),
         6: LegacySpec(6, n_layer=2, n_embd=128, head_size=32, vocab_size=1000),
         5: LegacySpec(5, n_layer=2, n_embd=128, head_size=32),
         4: LegacySpec(4, n_layer=2, n_embd=128)}
PRECISIONS = ("fp32", "bf16", "int8", "q5", "q4")
DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo"


def _isas():
    return cpu.supported_isas() if cpu.available() else ("scalar",)


@pytest.fixture(params=_isas())
def isa(request):
    before = cpu.isa()
    cpu.set_isa(request.param)
    yield request.param
    cpu.set_isa(before)


@pytest.fixture(scope="module")
def models(rwkv7_checkpoint, legacy_checkpoint):
    """(generation, precision) -> the model on the compiled backend, loaded once per module."""
    cache: dict[tuple[int, str], engine.Model] = {}

    def get(gen: int, precision: str, backend: str = "auto"):
        key = (gen, precision, backend)
        if key not in cache:
            spec = SPECS[gen]
            path = rwkv7_checkpoint(spec) if gen == 7 else legacy_checkpoint(spec)
            cache[key] = engine.load(path, precision=precision, backend=backend)
        return cache[key]

    return get


def _check_same(model, batch_states, solo_states, tokens, ids, tol=0.0):
    """One batched step over ``ids`` against one solo step each, on copies that start equal: equal
    bit for bit, or (``tol``) within ``tol`` times the values' scale."""

    def same(a, b):
        if not tol:
            return torch.equal(a, b)
        a, b = a.float(), b.float()
        return (a - b).abs().max().item() <= tol * max(1.0, b.abs().max().item())

    logits = model.forward_batch(tokens, [batch_states[i] for i in ids])
    assert logits.shape == (len(ids), model.info.vocab_size) and logits.dtype == torch.float32
    for row, (i, tok) in enumerate(zip(ids, tokens, strict=True)):
        solo, _ = model.forward([tok], solo_states[i])
        assert same(logits[row], solo), f"sequence {i}: max diff {(logits[row] - solo).abs().max()}"
        for name, part in batch_states[i].parts.items():
            assert same(part, solo_states[i].parts[name]), f"sequence {i}, state part {name}"
        assert batch_states[i].tokens_seen == solo_states[i].tokens_seen
        assert same(batch_states[i].last_logits, solo)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("gen", sorted(SPECS))
def test_batched_steps_equal_single_steps(models, gen, precision, isa):
    model = models(gen, precision)
    assert model.weights.decoder is not None
    V = model.info.vocab_size
    rng = random.Random(gen * 10 + len(isa))
    pool = 17
    # every sequence starts from its own prompt, so that the states differ from the first step
    solo = [model.forward([rng.randrange(V) for _ in range(rng.randint(2, 5))])[1] for _ in range(pool)]
    batch = [s.clone() for s in solo]
    active: list[int] = []
    # B from 1 to 17 and back down, chained, with sequences joining and leaving between steps
    sizes = list(range(1, pool + 1)) + [9, 3, 12, 1, 2]
    for size in sizes:
        keep = [i for i in active if rng.random() < 0.7][:size]
        joiners = [i for i in range(pool) if i not in keep]
        rng.shuffle(joiners)
        active = keep + joiners[: size - len(keep)]
        rng.shuffle(active)
        _check_same(model, batch, solo, [rng.randrange(V) for _ in active], active)


@pytest.mark.parametrize("backend", ["torch", "reference"])
@pytest.mark.parametrize("gen", sorted(SPECS))
def test_torch_backends_batch_too(models, gen, backend):
    """Without the compiled step every generation runs batched torch ops: within 1e-4 of one at a
    time, in fp32 (tests/unit/test_torch_batch.py checks RWKV-4/5/6's in detail)."""
    model = models(gen, "fp32", backend)
    assert model.weights.decoder is None
    V = model.info.vocab_size
    solo = [model.forward([3 + i, 7, 11 * i + 1])[1] for i in range(6)]
    batch = [s.clone() for s in solo]
    for step, ids in enumerate([[0, 1, 2, 3, 4], [0, 2, 4], [5, 1, 3, 0], [2], list(range(6))]):
        _check_same(model, batch, solo, [(step * 31 + i * 17) % V for i in ids], ids, tol=1e-4)


def test_a_state_in_another_precision_is_converted(models):
    fp32, bf16 = models(7, "fp32"), models(7, "bf16")
    states = [fp32.forward([1, 2, 3])[1], bf16.forward([4, 5])[1]]
    ref = [s.clone() for s in states]
    logits = bf16.forward_batch([9, 10], states)
    assert states[0].parts["att_x_prev"].dtype == torch.bfloat16
    for row, s in enumerate(ref):
        assert torch.equal(logits[row], bf16.forward([9 + row], s)[0])


def test_bad_batches_are_refused_and_change_nothing(models):
    model = models(7, "fp32")
    a, b = model.new_state(), model.new_state()
    before = a.clone()
    with pytest.raises(EngineError, match="one state per token"):
        model.forward_batch([1, 2], [a])
    with pytest.raises(EngineError, match="same state twice"):
        model.forward_batch([1, 2], [a, a])
    with pytest.raises(EngineError, match="outside this model's vocabulary"):
        model.forward_batch([1, model.info.vocab_size], [a, b])
    with pytest.raises(EmptyPromptError):
        model.forward_batch([], [])
    other = models(4, "fp32").new_state()
    with pytest.raises(EngineError, match="another model"):
        model.forward_batch([1, 2], [a, other])
    assert all(torch.equal(a.parts[k], before.parts[k]) for k in a.parts) and a.tokens_seen == 0


def test_step_batch_checks_its_arguments(models):
    model = models(7, "fp32")
    s = model.new_state()
    dec = model.weights.decoder
    parts = ([s.parts["att_x_prev"]], [[s.parts["wkv"]]], [s.parts["ffn_x_prev"]])
    with pytest.raises(ValueError, match="one token and one state"):
        dec.step_batch([1, 2], *parts, torch.empty(2, model.info.vocab_size))
    with pytest.raises(ValueError, match="logits"):
        dec.step_batch([1], *parts, torch.empty(model.info.vocab_size))


@pytest.mark.skipif(not (DEMO / "model.safetensors").exists(), reason="the demo model is not in this tree")
@pytest.mark.parametrize("precision", PRECISIONS)
def test_demo_model_greedy_outputs_are_identical(precision):
    model = engine.load(DEMO, precision=precision)
    tok = engine.load_tokenizer(str(DEMO))
    prompts = ["Once upon a time", "The capital of France", "User: hi\n\nAssistant:", "1, 2, 3,"]
    solo_out = []
    for p in prompts:
        logits, state = model.forward(tok.encode(p))
        out = []
        for _ in range(12):
            t = int(logits.argmax())
            out.append(t)
            logits, state = model.forward([t], state)
        solo_out.append(out)
    starts = [model.forward(tok.encode(p)) for p in prompts]
    states = [s for _, s in starts]
    nxt = [int(lg.argmax()) for lg, _ in starts]
    batch_out: list[list[int]] = [[] for _ in prompts]
    for _ in range(12):
        for i, t in enumerate(nxt):
            batch_out[i].append(t)
        logits = model.forward_batch(nxt, states)
        nxt = [int(row.argmax()) for row in logits]
    assert batch_out == solo_out


def test_bench_concurrency_rows(models):
    """``python -m engine bench --concurrency``'s measurements run (numbers are for benchmarks)."""
    from engine.tools.bench import concurrency

    rows = concurrency(models(7, "fp32"), [1, 3], steps=2, prompt_tokens=40)
    assert [r["streams"] for r in rows] == [1, 3]
    for r in rows:
        assert r["step_ms"] > 0 and r["ttft_ms"] > 0 and r["peak_rss_mib"] > 0
        assert r["aggregate_tok_s"] == pytest.approx(r["streams"] * r["per_stream_tok_s"])
    assert rows[0]["aggregate_x_single"] == 1.0


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("precision", ["fp32", "int8", "q5", "q4"])
def test_any_thread_count(models, precision, threads):
    """The threads' share of rows changes with their number; the batch still equals the single step."""
    model = models(7, precision)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        solo = [model.forward([5 + i, 9])[1] for i in range(6)]
        batch = [s.clone() for s in solo]
        for step in range(3):
            _check_same(model, batch, solo, [step * 7 + i for i in range(6)], list(range(6)))
    finally:
        torch.set_num_threads(before)
