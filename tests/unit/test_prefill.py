"""The compiled RWKV-7 prompt (``rwkv7_prefill`` in kernels/cpu/src/rwkv7.cpp, ``RWKV7._prefill``).

A prompt runs through the whole model in one library call, a window of rows at a time (256 at most),
several sequences side by side. It must equal torch's prompt path on the same kept matrices
(``compiled_prompts = False``: the same GEMMs per product from Python, the rest torch's ops) within
rounding: fp32 logits within 1e-5 of their largest and states within 1e-5 (the WKV's sums run in
the same kernel, the norms in double here and in torch's order there); int8 / q4 / q5 as near the
fp32 model as torch's path. Windows and sequences: windows cut a sequence anywhere, and a sequence's state carries
from one window to the next as from one call to the next.
"""

from __future__ import annotations

import pytest
import torch

import engine
from kernels import cpu
from tests.fixtures.checkpoints import make_rwkv7_checkpoint, random_tokens

pytestmark = pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")

FP32_RTOL = 1e-5
QUANT_TOL = 0.04         # int8 / q4 / q5: |logit diff| / largest (measured <= 0.013; a wrong weight: ~1)
BF16_WINDOWS_RTOL = 1e-3  # bf16 across windows (measured 7.5e-5)
WINDOW = 256    # PREFILL_MAX_ROWS in rwkv7.cpp


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return make_rwkv7_checkpoint(tmp_path_factory.mktemp("prefill") / "rwkv7.pth", n_layer=2, n_embd=256,
                                 vocab_size=1000, seed=7)


def _started(model: engine.Model, n: int) -> list[engine.State]:
    return [model.forward([3 + i, 5, 7 + i], model.new_state())[1] for i in range(n)]


def _compare(model, lengths, rtol, states_rtol, seed=0):
    """forward_prompts of sequences of these lengths (from distinct started states), compiled and by
    torch's path: logits and every state part within the bounds (relative to their largest)."""
    g = torch.Generator().manual_seed(seed)
    chunks = [torch.randint(0, model.info.vocab_size, (n,), generator=g).tolist() for n in lengths]
    starts = _started(model, len(lengths))
    a_states = [s.clone() for s in starts]
    a = model.forward_prompts(list(zip(chunks, a_states, strict=True)))
    model.compiled_prompts = False
    try:
        b_states = [s.clone() for s in starts]
        b = model.forward_prompts(list(zip(chunks, b_states, strict=True)))
    finally:
        del model.compiled_prompts
    scale = b.abs().max().item()
    assert (a - b).abs().max().item() <= rtol * scale
    for sa, sb in zip(a_states, b_states, strict=True):
        for k, part in sb.parts.items():
            tol = states_rtol * max(1.0, part.float().abs().max().item())
            assert (sa.parts[k].float() - part.float()).abs().max().item() <= tol, k
        assert sa.tokens_seen == sb.tokens_seen
    return a


@pytest.mark.parametrize("lengths", [[2], [7], [8], [70], [WINDOW], [WINDOW + 1], [2 * WINDOW + 37],
                                     [300, 1, 250, 40], [5, WINDOW - 3, 9]], ids=str)
def test_fp32_prefill_equals_torch_prompts(path, lengths):
    _compare(engine.load(path), lengths, FP32_RTOL, FP32_RTOL)


def test_fp32_prefill_on_each_instruction_set(path, isa):
    _compare(engine.load(path), [40, 3], FP32_RTOL, FP32_RTOL)


def test_one_thread_and_two_give_the_same_bits(path, monkeypatch):
    model = engine.load(path)
    tokens = random_tokens(300, 1000, seed=5)
    before = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            logits, state = model.forward(tokens)
            outs.append((logits, state))
    finally:
        torch.set_num_threads(before)
    (a, sa), (b, sb) = outs
    assert torch.equal(a, b)
    assert all(torch.equal(sa.parts[k], sb.parts[k]) for k in sa.parts)


@pytest.mark.parametrize("precision", ["int8", "q4", "q5"])
def test_quantised_prefill_is_as_near_fp32_as_torch_prompts(path, precision):
    """A last-bit difference in an activation may move its 8-bit rounding, and that grows through
    the layers: the two paths differ by ~1 % of the logits here (as each differs from fp32 by ~5 %).
    So: near each other, and the compiled one no farther from the fp32 model than torch's path."""
    model, fp32 = engine.load(path, precision=precision), engine.load(path)
    lengths = [40, 300, 2]
    a = _compare(model, lengths, QUANT_TOL, 1.0)
    g = torch.Generator().manual_seed(0)
    chunks = [torch.randint(0, 1000, (n,), generator=g).tolist() for n in lengths]
    ref = fp32.forward_prompts(list(zip(chunks, _started(fp32, len(lengths)), strict=True)))
    model.compiled_prompts = False
    b = model.forward_prompts(list(zip(chunks, _started(model, len(lengths)), strict=True)))
    del model.compiled_prompts
    assert (a - ref).abs().max().item() <= 1.25 * (b - ref).abs().max().item()


def test_bf16_prefill_without_bf16_gemms(path, monkeypatch):
    """bf16 token-shift states: a window's first row reads the previous window's last row rounded to
    bf16 (as a chained call does), where torch's single call keeps it in fp32."""
    import engine.models.weights as weights

    monkeypatch.setattr(weights, "bf16_gemm_fast", lambda: False)
    model = engine.load(path, precision="bf16")
    assert model._prompt_layers is None
    _compare(model, [33, 200], FP32_RTOL, 2**-7)                   # within one window
    _compare(model, [33, WINDOW + 10], BF16_WINDOWS_RTOL, 2**-7)     # across windows


def test_chained_prompts_equal_one_long_prompt(path):
    model = engine.load(path)
    tokens = random_tokens(WINDOW + 100, 1000, seed=3)
    whole, s_whole = model.forward(tokens)
    state = model.new_state()
    for part in (tokens[:5], tokens[5:200], tokens[200:]):
        chained, state = model.forward(part, state)
    scale = whole.abs().max().item()
    assert (chained - whole).abs().max().item() <= FP32_RTOL * scale
    for k, part in state.parts.items():
        assert (part - s_whole.parts[k]).abs().max().item() <= FP32_RTOL * max(1.0, part.abs().max().item()), k


def test_decoding_continues_from_a_compiled_prompt(path):
    model = engine.load(path)
    tokens = random_tokens(50, 1000, seed=9)
    _, state = model.forward(tokens)
    stepped = model.new_state()
    for t in tokens:
        _, stepped = model.forward([t], stepped)
    a, _ = model.forward([11], state)
    b, _ = model.forward([11], stepped)
    assert (a - b).abs().max().item() <= 1e-4 * b.abs().max().item()


def test_bad_calls_are_refused_before_the_library(path):
    model = engine.load(path)
    dec, C = model.weights.decoder, model.info.n_embd
    s = model.new_state().parts
    logits = torch.empty(1, model.info.vocab_size)
    ok = (torch.zeros(3, C), [3], [s["att_x_prev"]], [s["wkv"]], [s["ffn_x_prev"]], logits)
    for i, bad in [(0, torch.zeros(3, C).double()), (0, torch.zeros(4, C)), (0, torch.zeros(3, 2 * C)[:, :C]),
                   (1, [0]), (1, []), (2, []), (5, torch.empty(2, model.info.vocab_size))]:
        args = list(ok)
        args[i] = bad
        if i == 1 and bad == []:
            args[2:5] = [[], [], []]
        with pytest.raises(ValueError):
            dec.prefill(*args)
    assert all(not t.any() for t in s.values())            # nothing ran
