"""Several sequences' prompts in one call (``Model.forward_prompts``) equal one ``forward`` each.

RWKV-7 puts the rows side by side, so each matrix product reads the weights once for all of them;
the token shift and the WKV recurrence stay within each sequence (a one-token prompt takes the
decode step, as ``forward`` does). A GEMM of another shape may sum in another order, so rows match within
rounding: fp32 logits within 1e-4 and state parts within 1e-5 (measured up to 2e-5 / 7e-6 at the
0.1B shape); bf16 within 1/16 of the values' scale. Other generations run the prompts one after
another through the same call. Everything is checked before a state is touched.
"""

from __future__ import annotations

import pytest
import torch

import engine
from engine.errors import EmptyPromptError, EngineError
from tests.fixtures.legacy_checkpoints import LegacySpec

LENGTHS = [9, 1, 4, 17, 2, 9]
BOUNDS = {"fp32": (1e-4, 1e-5), "int8": (1e-4, 1e-5), "bf16": (1 / 16, 1 / 16)}


def _chunks(vocab: int, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (n,), generator=g).tolist() for n in LENGTHS]


def _started(model: engine.Model) -> list[engine.State]:
    """Each sequence a few tokens in, so the states it starts from differ from zeros and each other."""
    return [model.forward([3 + i, 5, 7 + i], model.new_state())[1] for i in range(len(LENGTHS))]


def _scale(t: torch.Tensor) -> float:
    return max(1.0, t.float().abs().max().item())


def _check_equals_one_by_one(model: engine.Model, precision: str, vocab: int) -> None:
    chunks = _chunks(vocab)
    starts = _started(model)
    alone = []
    for tokens, start in zip(chunks, starts, strict=True):
        state = start.clone()
        logits, _ = model.forward(tokens, state)
        alone.append((logits.clone(), state))
    states = [s.clone() for s in starts]
    together = model.forward_prompts(list(zip(chunks, states, strict=True)))
    assert together.shape == (len(LENGTHS), vocab) and together.dtype == torch.float32
    tol_logits, tol_state = BOUNDS[precision]
    for row, (tokens, state, (logits, expected)) in enumerate(zip(chunks, states, alone, strict=True)):
        scale = 1.0 if precision != "bf16" else _scale(logits)
        assert (together[row] - logits).abs().max().item() <= tol_logits * scale, (row, len(tokens))
        for k, part in expected.parts.items():
            assert (state.parts[k].float() - part.float()).abs().max().item() <= tol_state * _scale(part), (row, k)
        assert state.tokens_seen == expected.tokens_seen
        assert torch.equal(state.last_logits, together[row])


@pytest.mark.parametrize(("precision", "backend"), [("fp32", "auto"), ("fp32", "torch"), ("int8", "auto"),
                                                    ("bf16", "auto")])
def test_rwkv7_prompts_side_by_side_equal_one_forward_each(rwkv7_checkpoint, precision, backend):
    model = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=128), precision=precision, backend=backend)
    _check_equals_one_by_one(model, precision, model.info.vocab_size)


@pytest.mark.parametrize("compiled", [True, False])
def test_rwkv7_puts_the_rows_side_by_side(rwkv7_checkpoint, monkeypatch, compiled):
    model = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=128), precision="fp32")
    chunks = list(zip(_chunks(model.info.vocab_size), _started(model), strict=True))
    rows = sum(n for n in LENGTHS if n > 1)                   # a one-token prompt takes the decode step
    shapes = []
    if compiled:        # one call of the library's prefill for every row of the others
        decoder = model.weights.decoder
        real_prefill = decoder.prefill
        monkeypatch.setattr(decoder, "prefill", lambda x, lens, *a: (shapes.append((tuple(x.shape), list(lens))),
                                                                    real_prefill(x, lens, *a)))
        model.forward_prompts(chunks)
        assert shapes == [((rows, model.info.n_embd), [n for n in LENGTHS if n > 1])]
        return
    monkeypatch.setattr(type(model), "compiled_prompts", False)
    layer = model.layers[0]
    real = layer.R

    class Spy:
        shape = real.shape

        def __rmatmul__(self, x):
            shapes.append(tuple(x.shape))
            return x @ real

    monkeypatch.setattr(layer, "R", Spy())
    model.forward_prompts(chunks)
    assert shapes == [(rows, model.info.n_embd)]              # one product for every row of the others


@pytest.mark.parametrize("generation", [5, 6])
def test_other_generations_run_the_prompts_one_after_another(legacy_checkpoint, generation):
    spec = LegacySpec(generation, n_layer=2, n_embd=128, head_size=32, vocab_size=1000, seed=generation)
    model = engine.load(legacy_checkpoint(spec), precision="fp32")
    _check_equals_one_by_one(model, "fp32", 1000)


def test_bad_calls_are_refused_and_change_nothing(rwkv7_checkpoint):
    model = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=128), precision="fp32")
    vocab = model.info.vocab_size
    states = _started(model)
    before = [s.clone() for s in states]
    bad_calls = [
        ([[1, 2], [vocab]], states[:2], EngineError),          # a token outside the vocabulary
        ([[1, 2], []], states[:2], EmptyPromptError),          # an empty prompt
        ([[1, 2], [3, 4]], [states[0], states[0]], EngineError),   # the same state twice
    ]
    for chunks, chosen, error in bad_calls:
        with pytest.raises(error):
            model.forward_prompts(list(zip(chunks, chosen, strict=True)))
    with pytest.raises(EmptyPromptError):
        model.forward_prompts([])
    for state, kept in zip(states, before, strict=True):
        assert state.tokens_seen == kept.tokens_seen
        assert all(torch.equal(state.parts[k], kept.parts[k]) for k in kept.parts)
