"""Models in q4 and q5 (4- or 5-bit blocks for the linear matrices, int8 head and LoRAs;
engine/models/packed.py): quality against fp32 on a random RWKV-7 and on the trained demo model, where
each stands against int8 (and q5 against q4), every generation loading and decoding in them, the
compiled path against the torch fallback, the formats each matrix is kept in, and the errors.

Measured when written (the bounds below leave room for other seeds and machines):
- random RWKV-7 L4 D256 (the int8 tests' model, logits of std ~3), 64 greedy steps: max |logit diff|
  3.2 (int8 0.29), greedy agreement 50/64 (int8 63/64). Random weights have no outliers and their
  logits no confident peaks, so every rounding shows: the demo model is the better measure.
- demo model, 512 held-out tokens decoded (``python -m engine quality --model demo``): KL(fp32 || q4)
  1.16e-3 nats (int8 2.2e-5, ~50x less), greedy agreement 97.9 % (int8 99.8 %), cross-entropy
  +0.0014 nats (int8 -0.0003); after prompts KL 1.3e-3, agreement 95.6 % (int8 100 %). q4 is
  plainly worse than int8 on every measure; it is the memory and speed choice.
- q5 (5.5 bits a weight) halves q4's step: on the demo model KL 3.3e-4 nats (a third of q4's), greedy
  agreement 99.2 %, cross-entropy +0.0003; on the random model it lies between int8 and q4 likewise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import engine
from engine.errors import EngineError
from engine.models.packed import Q4, Q5, Packed, dequantize_q4_rows, quantize_q5
from kernels import cpu
from tests.fixtures.checkpoints import Rwkv7Spec, random_tokens
from tests.fixtures.legacy_checkpoints import LegacySpec

SPEC = Rwkv7Spec(n_layer=4, n_embd=256, vocab_size=1000)
DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo"
STEPS = 64
MAX_LOGIT_DIFF = 5.0
MIN_GREEDY_AGREEMENT = 0.65
DEMO_TOKENS = 256
DEMO_MAX_KL = 3e-3
DEMO_MIN_AGREEMENT = 0.95
DEMO_MAX_DCE = 0.01
DEMO_MAX_KL_Q5 = 1e-3
DEMO_MIN_AGREEMENT_Q5 = 0.97

compiled = pytest.mark.skipif(not cpu.available(), reason="compiled CPU kernels not built")
blocks = pytest.mark.parametrize("precision", ["q4", "q5"])
FORMATS = {"q4": Q4, "q5": Q5}


def _quality(fp32, other) -> tuple[float, float]:
    """Max |logit diff| and greedy agreement, both models fed the fp32 model's greedy tokens."""
    s_f, s_q = fp32.new_state(), other.new_state()
    prompt = random_tokens(32, SPEC.vocab_size, seed=5)
    a, _ = fp32.forward(prompt, s_f)
    b, _ = other.forward(prompt, s_q)
    worst, agree = (a - b).abs().max().item(), 0
    for _ in range(STEPS):
        agree += int(a.argmax()) == int(b.argmax())
        tok = int(a.argmax())
        a, _ = fp32.forward([tok], s_f)
        b, _ = other.forward([tok], s_q)
        worst = max(worst, (a - b).abs().max().item())
    return worst, agree / STEPS


def test_q4_and_q5_quality_against_fp32_on_a_random_model(rwkv7_checkpoint):
    path = rwkv7_checkpoint(SPEC)
    fp32 = engine.load(path)
    worst, agree = _quality(fp32, engine.load(path, precision="q4"))
    assert worst <= MAX_LOGIT_DIFF and agree >= MIN_GREEDY_AGREEMENT, (worst, agree)
    worst5, agree5 = _quality(fp32, engine.load(path, precision="q5"))
    assert worst5 <= MAX_LOGIT_DIFF and agree5 >= MIN_GREEDY_AGREEMENT, (worst5, agree5)
    worst8, agree8 = _quality(fp32, engine.load(path, precision="int8"))
    assert worst8 < worst5 < worst, (worst8, worst5, worst)  # every bit taken off shows


@pytest.mark.skipif(not (DEMO / "model.safetensors").exists(), reason="the demo model is not in this tree")
def test_q4_and_q5_quality_on_the_demo_model_and_against_int8():
    from engine.text.tokenizer import tokenizer_for
    from engine.tools import quality

    ref = engine.load(DEMO)
    tokens = tokenizer_for(ref).encode(quality.read_text(quality.default_text()))[:DEMO_TOKENS + 1]
    res = quality.measure(str(DEMO), ["q4", "q5", "int8"], tokens, fp32_model=ref)
    rows = {(r["precision"], r["path"]): r for r in res["results"]}
    q4, q5, int8 = rows["q4", "decode"], rows["q5", "decode"], rows["int8", "decode"]
    assert q4["kl_from_fp32"] <= DEMO_MAX_KL and q4["greedy_agreement"] >= DEMO_MIN_AGREEMENT, q4
    assert q4["cross_entropy_delta"] <= DEMO_MAX_DCE, q4
    assert rows["q4", "prompt"]["kl_from_fp32"] <= DEMO_MAX_KL, rows["q4", "prompt"]
    assert q5["kl_from_fp32"] <= DEMO_MAX_KL_Q5 and q5["greedy_agreement"] >= DEMO_MIN_AGREEMENT_Q5, q5
    assert q5["cross_entropy_delta"] <= DEMO_MAX_DCE, q5
    assert rows["q5", "prompt"]["kl_from_fp32"] <= DEMO_MAX_KL_Q5, rows["q5", "prompt"]
    # each format between its neighbours: what the extra bit buys shows in KL
    assert int8["kl_from_fp32"] < q5["kl_from_fp32"] < q4["kl_from_fp32"], (int8, q5, q4)


@compiled
@blocks
def test_blocks_keep_linear_matrices_in_4_or_5_bits_and_head_and_loras_in_int8(rwkv7_checkpoint, precision):
    model = engine.load(rwkv7_checkpoint(SPEC), precision=precision)
    assert model.precision == precision and model.dtype == torch.float32
    w = model.weights
    assert w.decoder is not None and w.head_packed.w.dtype == torch.int8
    assert all(w.packed[1][n].w.dtype == FORMATS[precision] and w.packed[1][n].scale.dtype == torch.float16
               for n in ("R", "K", "V", "O", "fK", "fV"))
    assert all(w.packed[1][n].w.dtype == torch.int8 for n in ("w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"))
    assert type(model.layers[1].R).__name__ == precision.upper() + "Product"


@compiled
@blocks
def test_compiled_path_stays_near_the_torch_fallback(rwkv7_checkpoint, precision):
    """The torch fallback expands the same 4- or 5-bit weights to fp32; the compiled kernels also round
    each block of inputs to int8 (~1/254 of its largest value): close, not equal."""
    path = rwkv7_checkpoint(SPEC)
    fast = engine.load(path, precision=precision)
    slow = engine.load(path, precision=precision, backend="torch")
    assert fast.weights.decoder is not None and slow.weights.decoder is None
    s_f, s_s = fast.new_state(), slow.new_state()
    for t in random_tokens(6, SPEC.vocab_size, seed=9):
        a, _ = fast.forward([t], s_f)
        b, _ = slow.forward([t], s_s)
        assert (a - b).abs().max() <= 0.05 * b.abs().max(), (a - b).abs().max()
    a, _ = fast.forward(list(range(3, 20)), s_f)             # prompts: the block product against fp32 GEMMs
    b, _ = slow.forward(list(range(3, 20)), s_s)
    assert (a - b).abs().max() <= 0.05 * b.abs().max()


@compiled
@blocks
def test_prompt_equals_its_decode_closely(rwkv7_checkpoint, precision):
    """A prompt runs the block GEMM (from 16 tokens; the same block sums as the decode GEMV) on every
    q4 or q5 matrix, but its int8 LoRAs go through the int8 prompt GEMM (8-bit activations per token,
    1-2 % here) and its WKV through the sequence kernel."""
    model = engine.load(rwkv7_checkpoint(SPEC), precision=precision)
    toks = random_tokens(24, SPEC.vocab_size, seed=2)
    a, _ = model.forward(toks)
    s = model.new_state()
    for t in toks:
        b, s = model.forward([t], s)
    assert (a - b).abs().max() <= 0.03 * b.abs().max()


@compiled
@blocks
@pytest.mark.parametrize("gen", [4, 5, 6])
def test_every_generation_decodes_in_blocks_as_its_torch_fallback_does(legacy_checkpoint, gen, precision):
    """RWKV-4/5/6 in q4 or q5 through the fused decode step against torch on the same weights expanded
    (measured in q4: 0.06-0.11 apart on logits of max ~10, where fp32 is 0.8-1.6 away on these random
    weights)."""
    spec = LegacySpec(gen, n_layer=2, n_embd=128, head_size=32, vocab_size=1000) if gen > 4 else \
        LegacySpec(4, n_layer=2, n_embd=128)
    path = legacy_checkpoint(spec)
    fast, slow = engine.load(path, precision=precision), engine.load(path, precision=precision, backend="torch")
    assert fast.precision == precision and fast.weights.decoder is not None and slow.weights.decoder is None
    a, sa = fast.forward([1, 2, 3, 4])
    b, sb = slow.forward([1, 2, 3, 4])
    for t in (5, 6, 7):
        a, sa = fast.forward([t], sa)
        b, sb = slow.forward([t], sb)
        assert torch.isfinite(a).all() and (a - b).abs().max() <= 0.03 * b.abs().max()


@blocks
def test_blocks_are_refused_off_the_cpu(rwkv7_checkpoint, precision):
    from engine.models.checkpoint import read_checkpoint
    from engine.models.rwkv7 import SCHEMA
    from engine.models.weights import Weights

    ckpt = read_checkpoint(Path(rwkv7_checkpoint(SPEC)))
    with pytest.raises(EngineError, match=f"{precision} runs on the CPU only"):
        Weights(ckpt, SCHEMA, torch.device("meta"), FORMATS[precision])


def test_an_unknown_precision_names_the_cpu_formats():
    with pytest.raises(EngineError, match="int8, q5 or q4"):
        engine.load(DEMO, precision="q3")


def _q5_twin(decoder_args):
    """A decoder like the captured q4 one, its q4 matrices re-packed as q5 holding the very same weights
    (each block's extreme is -8 d, so q5's scale is d / 2, exact in fp16, and its values 2 q)."""
    dims, layers, glob = decoder_args
    twin_layers = []
    for d in layers:
        d = dict(d)
        for k, w in list(d.items()):
            if w is not None and w.dtype == Q4:
                p = quantize_q5(dequantize_q4_rows(Packed(w, d[k + "_s"], w.shape[1] * 2), 0, w.shape[0]))
                assert torch.equal(p.scale, (d[k + "_s"].float() / 2).half())
                d[k], d[k + "_s"] = p.w, p.scale
        twin_layers.append(d)
    return {**dims, "wtype": Q5}, twin_layers, glob


@compiled
@pytest.mark.parametrize("gen", [7, 4, 5, 6])
def test_q5_decode_step_gives_the_q4_steps_bits_on_the_same_weights(rwkv7_checkpoint, legacy_checkpoint, gen,
                                                                  monkeypatch):
    """The fused decode step with q5 matrices (wtype torch.uint5) against the q4 step, on q4 weights
    written exactly in q5: the integer sums double and the scales halve, so every float operation
    gives the same bits. Checks that the steps take q5 and that its kernels read the layout right."""
    from kernels.cpu import _Decoder

    seen = []
    init = _Decoder.__init__

    def spy(self, dims, layers, globals_):
        seen.append((dict(dims), [dict(d) for d in layers], dict(globals_)))
        init(self, dims, layers, globals_)

    monkeypatch.setattr(_Decoder, "__init__", spy)
    if gen == 7:
        path = rwkv7_checkpoint(SPEC)
    else:
        path = legacy_checkpoint(LegacySpec(gen, n_layer=2, n_embd=128, head_size=32, vocab_size=1000) if gen > 4
                                 else LegacySpec(4, n_layer=2, n_embd=128))
    model = engine.load(path, precision="q4")
    q4_decoder = model.weights.decoder
    dims, layers, glob = _q5_twin(seen[-1])
    q5_decoder = type(q4_decoder)(dims, layers, glob)
    runs = []
    for decoder in (q4_decoder, q5_decoder):
        model.weights.decoder = decoder
        logits, s = model.forward([1, 2, 3])                     # the prompt: q4's GEMM both times
        out = []
        for t in (5, 6, 7, 8):
            logits, s = model.forward([t], s)
            out.append(logits.clone())
        runs.append(torch.stack(out))
    assert torch.isfinite(runs[0]).all() and torch.equal(runs[0], runs[1])
