"""Batched decode on the torch path (GPUs, the torch CPU backend) for RWKV-4, -5.2 and -6 equals
decoding each sequence alone.

One step stacks the sequences' states, multiplies each weight once for all of them and runs the WKV
step of every row on its own state (RWKV-5/6: the single-step kernel on B*H heads; RWKV-4: the
elementwise step on ``[B, A]``). A GEMM may sum in another order than one row's product, so rows
match within rounding, not bit for bit: in fp32 (and int8, computed in fp32) logits within 1e-4
(absolute) and every state part within 1e-5 of its scale (``max(1, max |part|)``; the parts here
reach ~10, where a float32 ulp is ~1e-6), for 1 to 5 and 11 sequences joining and leaving between
chained steps. bf16 rounds each GEMM's output to 8 bits: within 1/16 of the values' scale. fp16 with
the every-6-layers rescaling (a 7-layer model): within 1/100 of it.
"""

from __future__ import annotations

import dataclasses
import os
import random

import pytest
import torch

import engine
from engine.errors import EmptyPromptError, EngineError, IncompatibleStateError
from engine.models.recurrent import RecurrentModel
from engine.service import EngineService
from engine.service import commands as C
from engine.service import events as E
from tests.fixtures.legacy_checkpoints import LegacySpec

from .conftest import GREEDY

GENS = (4, 5, 6)
SPEC = {g: LegacySpec(g, n_layer=2, n_embd=128, head_size=32, vocab_size=1000, seed=g) for g in GENS}
DEEP = {g: LegacySpec(g, n_layer=7, n_embd=64, head_size=16, vocab_size=500, seed=g) for g in GENS}
# (logits, states), relative to max(1, the values' largest magnitude) except fp32 and int8 logits (absolute)
BOUNDS = {"fp32": (1e-4, 1e-5), "int8": (1e-4, 1e-5), "bf16": (1 / 16, 1 / 16), "fp16": (1e-2, 1e-2)}
TRITON = pytest.mark.skipif(not os.environ.get("TRITON_INTERPRET"),
                            reason="Triton runs on this CPU only under TRITON_INTERPRET=1 (set before the session)")


@pytest.fixture(scope="module")
def models(legacy_checkpoint):
    cache: dict[tuple, engine.Model] = {}

    def get(gen: int, precision: str = "fp32", backend: str = "torch", deep: bool = False) -> engine.Model:
        key = (gen, precision, backend, deep)
        if key not in cache:
            spec = (DEEP if deep else SPEC)[gen]
            cache[key] = engine.load(legacy_checkpoint(spec), precision=precision, backend=backend)
        return cache[key]

    return get


def _diff(a: torch.Tensor, b: torch.Tensor, relative: bool) -> float:
    a, b = a.float(), b.float()
    d = (a - b).abs().max().item()
    return d / max(1.0, b.abs().max().item()) if relative else d


def _chained_steps(model, precision: str, sizes, seed: int, pool: int = 11) -> tuple[float, float]:
    """Batched steps of ``sizes`` sequences (joining and leaving between steps) against one solo step
    each, on copies that start equal and run on; asserts the bounds, returns the largest differences."""
    logit_bound, state_bound = BOUNDS[precision]
    low = precision in ("bf16", "fp16")
    V = model.info.vocab_size
    rng = random.Random(seed)
    solo = [model.forward([rng.randrange(V) for _ in range(rng.randint(2, 5))])[1] for _ in range(pool)]
    batch = [s.clone() for s in solo]
    active: list[int] = []
    worst = [0.0, 0.0]
    for size in sizes:
        keep = [i for i in active if rng.random() < 0.7][:size]
        joiners = [i for i in range(pool) if i not in keep]
        rng.shuffle(joiners)
        active = keep + joiners[: size - len(keep)]
        rng.shuffle(active)
        tokens = [rng.randrange(V) for _ in active]
        logits = model.forward_batch(tokens, [batch[i] for i in active])
        assert logits.shape == (len(active), V) and logits.dtype == torch.float32
        for row, (i, tok) in enumerate(zip(active, tokens, strict=True)):
            want, _ = model.forward([tok], solo[i])
            d = _diff(logits[row], want, relative=low)
            assert d <= logit_bound, f"B={size}, sequence {i}: logits differ by {d:.3g}"
            worst[0] = max(worst[0], d)
            for name, part in batch[i].parts.items():
                assert part.dtype == solo[i].parts[name].dtype
                d = _diff(part, solo[i].parts[name], relative=True)
                assert d <= state_bound, f"B={size}, sequence {i}, state part {name}: differs by {d:.3g}"
                worst[1] = max(worst[1], d)
            assert batch[i].tokens_seen == solo[i].tokens_seen
            assert torch.equal(batch[i].last_logits, logits[row])
    return worst[0], worst[1]


SIZES = [1, 2, 3, 4, 5, 11, 3, 5, 1, 4, 2]


@pytest.mark.parametrize("backend", ["torch", "reference", pytest.param("triton", marks=TRITON)])
@pytest.mark.parametrize("gen", GENS)
def test_batched_steps_match_single_steps_in_fp32(models, gen, backend):
    if backend == "triton" and gen == 4:
        pytest.skip("there is no Triton kernel for RWKV-4's WKV")
    model = models(gen, "fp32", backend)
    assert model.weights.decoder is None and model.kernels.backend == backend
    _chained_steps(model, "fp32", SIZES, seed=gen)


@pytest.mark.parametrize("precision", ["int8", "bf16"])
@pytest.mark.parametrize("gen", GENS)
def test_batched_steps_match_single_steps_in_other_precisions(models, gen, precision):
    _chained_steps(models(gen, precision), precision, SIZES, seed=gen + 10)


@pytest.mark.parametrize("gen", GENS)
def test_fp16_batches_rescale_as_single_steps_do(models, gen):
    """A 7-layer fp16 model halves its residual stream after layer 6 in the batch too."""
    model = models(gen, "fp16", deep=True)
    assert model.dtype == torch.float16 and model.rescale_every == 6
    _chained_steps(model, "fp16", [3, 5, 2], seed=gen + 20, pool=6)


@pytest.mark.parametrize("gen", GENS)
def test_one_batched_step_runs_each_layer_once_for_all_rows(models, gen, monkeypatch):
    """Not a loop over sequences: every layer's WKV step is one call covering all B rows."""
    model = models(gen)
    calls = []
    real = model.kernels.one

    def spy(*args):
        calls.append(tuple(args[2 if gen == 4 else 0].shape))   # RWKV-4: k [B, A]; RWKV-5/6: r [B*H, N]
        return real(*args)

    monkeypatch.setattr(model, "kernels", dataclasses.replace(model.kernels, one=spy))
    B, info = 5, model.info
    model.forward_batch(list(range(B)), [model.new_state() for _ in range(B)])
    rows = (B, info.n_embd) if gen == 4 else (B * info.n_head, info.head_size)
    assert calls == [rows] * info.n_layer


@pytest.mark.parametrize("gen", (4, 6))
def test_bad_batches_are_refused_and_change_no_state(models, legacy_checkpoint, gen):
    model = models(gen)
    V = model.info.vocab_size
    a, b = model.forward([1, 2, 3])[1], model.forward([4, 5])[1]
    before = [a.clone(), b.clone()]
    other_gen = models(5 if gen == 4 else 4).new_state()
    narrower = engine.load(legacy_checkpoint(dataclasses.replace(SPEC[gen], n_embd=64, head_size=16)),
                           backend="torch").new_state()
    refused = [
        (EngineError, "one state per token", [1, 2], [a]),
        (EngineError, "same state twice", [1, 2], [a, a]),
        (EngineError, "outside this model's vocabulary", [1, V], [a, b]),
        (EngineError, "outside this model's vocabulary", [-1, 2], [a, b]),
        (IncompatibleStateError, "another model", [1, 2, 3], [a, b, other_gen]),
        (IncompatibleStateError, "another model", [1, 2, 3], [a, b, narrower]),
        (EmptyPromptError, "empty", [], []),
    ]
    for error, match, tokens, states in refused:
        with pytest.raises(error, match=match):
            model.forward_batch(tokens, states)
    for s, old in zip((a, b), before, strict=True):
        assert all(torch.equal(s.parts[k], old.parts[k]) for k in s.parts)
        assert s.tokens_seen == old.tokens_seen and torch.equal(s.last_logits, old.last_logits)


@pytest.mark.parametrize("gen", GENS)
def test_a_state_in_another_precision_is_converted_as_forward_converts_it(models, gen):
    """A state made by the same file in another precision joins a batch: its parts are converted
    once to this model's dtypes (as ``forward`` and the compiled step do), then it runs as any other."""
    fp32, bf16 = models(gen), models(gen, "bf16")
    for model, other in ((fp32, bf16), (bf16, fp32)):
        states = [model.forward([1, 2, 3])[1], other.forward([4, 5])[1]]
        solo = [s.clone() for s in states]
        logits = model.forward_batch([9, 10], states)
        relative = model.dtype == torch.bfloat16
        bound = BOUNDS["bf16" if relative else "fp32"][0]
        for row, s in enumerate(solo):
            want, s = model.forward([9 + row], s)
            assert _diff(logits[row], want, relative) <= bound
            for k, part in states[row].parts.items():
                assert part.dtype == s.parts[k].dtype == model.new_state().parts[k].dtype


def test_a_rwkv6_model_on_torch_batches_through_the_service(legacy_checkpoint, tmp_path, monkeypatch):
    """Replies written together by the service's scheduler (batched decode steps on the torch path)
    are, greedy, token for token their solo replies."""
    real_load, real_batch = engine.load, RecurrentModel._forward_batch
    monkeypatch.setattr(engine, "load", lambda *a, **k: real_load(*a, **{**k, "backend": "torch"}))
    batches = []

    def counted(model, tokens, states):
        assert model.kernels.backend == "torch" and model.weights.decoder is None
        batches.append(len(tokens))
        return real_batch(model, tokens, states)

    monkeypatch.setattr(RecurrentModel, "_forward_batch", counted)
    path = legacy_checkpoint(LegacySpec(6, n_layer=2, n_embd=64, head_size=16, vocab_size=65536, seed=7))
    prompts = [f'What does "{w}" mean?' for w in ("harbor", "anchor", "lighthouse", "bay", "shore")]

    def complete(prompt: str) -> C.Complete:
        return C.Complete((f"User: {prompt}\n\nAssistant:",), GREEDY, max_tokens=16, cache=False)

    svc = EngineService(tmp_path, state_cache_mb=0)
    try:
        assert isinstance(svc.call(C.LoadModel(str(path), precision="fp32"), 60), E.ModelLoaded)
        solo = [svc.call(complete(p), 60).text for p in prompts]
        assert batches == [] and all(solo)
        asked = [svc.submit(complete(p)) for p in prompts]
        assert [f.result(120).text for _, f in asked] == solo
        assert max(batches) == len(prompts)       # they really were decoded together
    finally:
        svc.shutdown()
