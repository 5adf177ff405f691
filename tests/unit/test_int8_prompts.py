"""int8 prompts on the compiled CPU library multiply integers (``kernels.cpu.gemm``): every layer's
matrices go through the int8 GEMM, no float copy of a matrix or a layer is made, and the logits stay
near both the dequantised path (the same int8 weights expanded to fp32, ``backend="torch"``) and
fp32, in every generation, for odd prompt lengths and for prompts chained through one state.

Measured when written (L2 D128 models, 2-31 token prompts, logits of std ~3): against the
dequantised path max |logit diff| 0.05-0.2 (the activations' 8-bit rounding costs about what the
weights' does: the dequantised path is 0.08-0.34 from fp32); against fp32 0.1-0.47, the worst a
2-token RWKV-5 prompt. The bounds leave ~1.5x room for other CPUs.
"""

from __future__ import annotations

import pytest
import torch

import engine
import kernels.cpu.gemm as gemm
from engine.models.packed import Int8Product
from kernels import cpu
from tests.fixtures.checkpoints import Rwkv7Spec, make_rwkv7_checkpoint, random_tokens
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

pytestmark = pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")

SPECS = {4: LegacySpec(4, n_layer=2, n_embd=128), 5: LegacySpec(5, n_layer=2, n_embd=128, head_size=32),
         6: LegacySpec(6, n_layer=2, n_embd=128, head_size=32, vocab_size=1000),
         7: Rwkv7Spec(n_layer=2, n_embd=128, vocab_size=1000)}
# Matrices each layer multiplies by in a prompt: R K V (G) O and the FFN's, RWKV-7 also its LoRAs
# (layer 0 has no value LoRA).
GEMMS_PER_LAYER = {4: 7, 5: 8, 6: 8, 7: 14}
MAX_DIFF_DEQUANTISED = 0.3    # |logit diff| against the same int8 weights multiplied in fp32
MAX_DIFF_FP32 = 0.7           # against the fp32 model (int8 weights and activations)
CHAINED_TOL = 1e-4


@pytest.fixture(scope="module")
def path_of(tmp_path_factory):
    root, made = tmp_path_factory.mktemp("int8-prompts"), {}

    def make(generation: int):
        if generation not in made:
            spec, out = SPECS[generation], root / f"rwkv{generation}.pth"
            made[generation] = (make_rwkv7_checkpoint(out, n_layer=spec.n_layer, n_embd=spec.n_embd,
                                                      vocab_size=spec.vocab_size)
                                if generation == 7 else make_legacy_checkpoint(out, spec))
        return made[generation]

    return make


@pytest.mark.parametrize("generation", SPECS)
def test_int8_prompts_run_every_matrix_through_the_int8_gemm_without_float_copies(path_of, generation,
                                                                                   monkeypatch):
    model = engine.load(path_of(generation), precision="int8")
    assert model.kernels.name.startswith("cpu-") and model.weights.scratch is None
    layer = model.layers[1]
    products = [v for v in (getattr(layer, n) for n in type(layer).__slots__) if isinstance(v, Int8Product)]
    kept = {id(p.w) for p in model.weights.packed[1].values() if p.scale is not None}
    assert products and {id(v.p.w) for v in products} == kept    # the kept int8 matrices themselves
    calls = []
    real = gemm.gemm_int8
    monkeypatch.setattr(gemm, "gemm_int8", lambda x, w, s: (calls.append(w.dtype), real(x, w, s))[1])
    if generation == 7:     # the compiled prefill (its int8 GEMMs inside the library); the same
        model.forward(random_tokens(9, SPECS[generation].vocab_size, seed=1))   # matrices without it:
        assert calls == []
        monkeypatch.setattr(type(model), "compiled_prompts", False)
    model.forward(random_tokens(9, SPECS[generation].vocab_size, seed=1))
    n = GEMMS_PER_LAYER[generation] * model.info.n_layer - (2 if generation == 7 else 0)
    assert calls == [torch.int8] * n


@pytest.mark.parametrize("length", [2, 3, 17, 31])
@pytest.mark.parametrize("generation", SPECS)
def test_int8_prompt_logits_stay_near_the_dequantised_path_and_fp32(path_of, generation, length):
    path = path_of(generation)
    int8, dequantised = engine.load(path, precision="int8"), engine.load(path, precision="int8", backend="torch")
    fp32 = engine.load(path)
    tokens = random_tokens(length, SPECS[generation].vocab_size, seed=length)
    a, sa = int8.forward(tokens)
    b, _ = dequantised.forward(tokens)
    c, sc = fp32.forward(tokens)
    assert (a - b).abs().max().item() <= MAX_DIFF_DEQUANTISED
    assert (a - c).abs().max().item() <= MAX_DIFF_FP32 and int(a.argmax()) == int(c.argmax())
    d, _ = int8.forward([5], sa)                     # decoding continues from the prompt's state
    e, _ = fp32.forward([5], sc)
    assert (d - e).abs().max().item() <= MAX_DIFF_FP32


@pytest.mark.parametrize("generation", SPECS)
def test_chained_int8_prompts_equal_one_long_prompt(path_of, generation):
    model = engine.load(path_of(generation), precision="int8")
    tokens = random_tokens(27, SPECS[generation].vocab_size, seed=3)
    whole, s_whole = model.forward(tokens)
    state = model.new_state()
    for part in (tokens[:5], tokens[5:16], tokens[16:]):
        chained, state = model.forward(part, state)
    scale = max(1.0, whole.abs().max().item())
    assert (chained - whole).abs().max().item() <= CHAINED_TOL * scale
    for name, part in state.parts.items():
        assert (part - s_whole.parts[name]).abs().max().item() <= CHAINED_TOL * scale, name
