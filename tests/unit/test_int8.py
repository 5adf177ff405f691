"""int8 weight-only precision: the quantiser's error bound, the quality against fp32 on a random
model (measured when written: max |logit diff| 0.25 with logits of std ~3, greedy agreement 62/64 on
L4 D256; 0.29 and 63/64 since the LoRAs are int8 too; 0.37 and 60/64 since decode rounds the GEMVs'
inputs to 8 bits as prompts do, the torch fallback still 0.29 and 63/64; the bounds below leave
room for other seeds), and the compiled path near the torch fallback."""

from __future__ import annotations

import pytest
import torch

import engine
from engine.host.hardware import CPU_PRECISIONS
from engine.models.packed import quantize_int8
from kernels import cpu
from tests.fixtures.checkpoints import Rwkv7Spec, random_tokens

SPEC = Rwkv7Spec(n_layer=4, n_embd=256, vocab_size=1000)
MAX_LOGIT_DIFF = 0.55
MIN_GREEDY_AGREEMENT = 0.9
STEPS = 64
# The compiled int8 GEMV also rounds each input vector to 8 bits (uint8 with a scale and zero point,
# as int8 prompts do): on this random model that costs about what the weights' rounding does (the
# torch fallback, float activations, is 0.34-0.61 from fp32). Measured over 20 decoded tokens, 4
# token seeds: max |logit diff| 0.25-0.88 (logits of std ~3; 0.001-0.007 with the int16 inputs
# before), max |state diff| 0.11-0.12, greedy choices 20/20 equal.
PATHS_TOL = 1.2
STATE_TOL = 0.25


def test_quantiser_error_is_at_most_half_a_step_per_row():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(300, 77, generator=g) * torch.rand(300, 1, generator=g) * 5
    p = quantize_int8(w)
    assert p.w.dtype == torch.int8 and p.scale.shape == (300,)
    err = (p.dense_into(torch.empty(300, 77)) - w).abs()
    assert (err <= p.scale.unsqueeze(1) * 0.5 + 1e-7).all()
    assert (p.w.abs().amax(dim=1) == 127).all()        # every row uses its whole range


def _quality(fp32, int8) -> tuple[float, float]:
    """Max |logit diff| and greedy agreement, both models fed the fp32 model's greedy tokens."""
    s_f, s_q = fp32.new_state(), int8.new_state()
    prompt = random_tokens(32, SPEC.vocab_size, seed=5)
    a, _ = fp32.forward(prompt, s_f)
    b, _ = int8.forward(prompt, s_q)
    worst, agree = (a - b).abs().max().item(), 0
    for _ in range(STEPS):
        agree += int(a.argmax()) == int(b.argmax())
        tok = int(a.argmax())
        a, _ = fp32.forward([tok], s_f)
        b, _ = int8.forward([tok], s_q)
        worst = max(worst, (a - b).abs().max().item())
    return worst, agree / STEPS


def test_int8_quality_against_fp32(rwkv7_checkpoint):
    path = rwkv7_checkpoint(SPEC)
    worst, agree = _quality(engine.load(path), engine.load(path, precision="int8"))
    assert worst <= MAX_LOGIT_DIFF and agree >= MIN_GREEDY_AGREEMENT, (worst, agree)


@pytest.mark.skipif(not cpu.available(), reason="compiled CPU kernels not built")
def test_int8_compiled_path_equals_torch_fallback(rwkv7_checkpoint):
    path = rwkv7_checkpoint(SPEC)
    fast = engine.load(path, precision="int8")
    slow = engine.load(path, precision="int8", backend="torch")
    assert fast.weights.decoder is not None and slow.weights.decoder is None
    tokens = random_tokens(20, SPEC.vocab_size, seed=9)
    s_f, s_s = fast.new_state(), slow.new_state()
    agree = 0
    for t in tokens:      # decoded: each GEMV's exact math is tested in test_gemv_batched.py
        a, _ = fast.forward([t], s_f)
        b, _ = slow.forward([t], s_s)
        assert (a - b).abs().max() <= PATHS_TOL
        agree += int(a.argmax()) == int(b.argmax())
    assert agree >= MIN_GREEDY_AGREEMENT * len(tokens)
    for name, part in s_f.parts.items():
        assert (part - s_s.parts[name]).abs().max() <= STATE_TOL, name


def test_int8_is_a_cpu_precision_with_its_own_name(rwkv7_checkpoint):
    model = engine.load(rwkv7_checkpoint(SPEC), precision="int8")
    assert model.precision == "int8" and model.dtype == torch.float32
    packed = model.weights.packed
    assert model.weights.head_packed.w.dtype == torch.int8
    assert all(packed[1][n].w.dtype == torch.int8 for n in ("w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"))
    assert "v1" not in packed[0]                        # layer 0 has no value LoRA
    assert "int8" in CPU_PRECISIONS


def test_bf16_compiled_path_stays_near_fp32(rwkv7_checkpoint):
    path = rwkv7_checkpoint(SPEC)
    worst, agree = _quality(engine.load(path), engine.load(path, precision="bf16"))
    assert worst <= MAX_LOGIT_DIFF and agree >= MIN_GREEDY_AGREEMENT, (worst, agree)


def test_a_state_from_another_precision_of_the_same_file_is_converted(rwkv7_checkpoint):
    path = rwkv7_checkpoint(SPEC)
    fp32, bf16 = engine.load(path), engine.load(path, precision="bf16")
    state = fp32.new_state()
    fp32.forward([1, 2, 3], state)
    logits, state = bf16.forward([4], state)
    assert state.att_x_prev.dtype == torch.bfloat16 and state.ffn_x_prev.dtype == torch.bfloat16
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("fast", [True, False], ids=["bf16-gemm", "fp32-gemm"])
def test_bf16_prompts_use_bf16_gemms_where_the_cpu_has_them(rwkv7_checkpoint, monkeypatch, fast):
    """Where the CPU multiplies bf16 in hardware, a bf16 model's prompts run bf16 GEMMs straight on
    its packed weights (views, no copy); elsewhere the compiled float GEMM on the same bf16 weights
    (widened as it packs them). Either stays near fp32."""
    import engine.models.weights as weights

    monkeypatch.setattr(weights, "bf16_gemm_fast", lambda: fast)
    path = rwkv7_checkpoint(SPEC)
    model = engine.load(path, precision="bf16")
    if not model.kernels.name.startswith("cpu-"):
        pytest.skip("the compiled CPU kernels are not built")
    assert (model._prompt_layers is not None) == fast
    if fast:
        ly, pk = model._prompt_layers[1], model.weights.packed[1]
        assert ly.R.dtype == torch.bfloat16 and ly.R.data_ptr() == pk["R"].w.data_ptr()
        assert ly.w1.data_ptr() == pk["w1"].w.data_ptr() and ly.ln1_w.dtype == torch.bfloat16
    fp32 = engine.load(path, precision="fp32")
    toks = list(range(5, 45))
    a, sa = model.forward(toks)
    b, sb = fp32.forward(toks)
    assert (a - b).abs().max().item() < 0.15 * b.std().item() and a.argmax() == b.argmax()
    c, _ = model.forward([7], sa)                    # decoding continues from the prompt's state
    d, _ = fp32.forward([7], sb)
    assert (c - d).abs().max().item() < 0.15 * d.std().item()
