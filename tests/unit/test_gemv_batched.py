"""The batched GEMV (``kernels.cpu.gemv`` with ``x [B, cols]``; the decode steps' ``MultiGemv`` with
B inputs) on every instruction set this machine runs.

fp32 and bf16 weights run register tiles of rows x inputs (``DEFINE_SIMD_TILE`` in
``kernels/cpu/src/rwkv_cpu.cpp``) whose outputs do not depend on the tile's shape: every batch size
(1..17: one pass of inputs, two, three; AVX2's tiles take fewer inputs, so more passes), every row
count (whole tiles, then two rows, then one) and every column count (a zero-padded last k-step) gives
each input the bits of its own one-input GEMV, and that within float32 rounding of float64 (the sum
of the terms' magnitudes times 2e-6: chains of cols / 16 additions, then a tree of 4). int8, q4 and q5
rows, and the portable code, equal the one-input rows bit for bit too. The model's head in
``forward_prompts`` is one batched GEMV for all prompts, each row that prompt's own head.
"""

from __future__ import annotations

import pytest
import torch

import engine
from engine.models.packed import quantize_int8, quantize_q4, quantize_q5
from kernels import cpu

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

SHAPES = [(1, 1), (3, 7), (5, 16), (7, 17), (13, 100), (37, 64), (301, 773), (9, 2200)]   # (rows, cols)
BATCHES = range(1, 18)


def _matrix(wtype: str, rows: int, cols: int, seed: int):
    """(w, scale) as ``gemv`` takes them, and the float64 matrix they stand for."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * torch.rand(rows, 1, generator=g) * 2
    if wtype == "fp32":
        return w, None, w.double()
    if wtype == "bf16":
        return w.bfloat16(), None, w.bfloat16().double()
    if wtype == "int8":
        p = quantize_int8(w)
        return p.w, p.scale, p.w.double() * p.scale.double().unsqueeze(1)
    p = (quantize_q4 if wtype == "q4" else quantize_q5)(w)
    return p.w, p.scale, None


@pytest.mark.parametrize("rows,cols", SHAPES)
@pytest.mark.parametrize("wtype", ["fp32", "bf16"])
def test_batched_gemv_is_float32_rounding_of_float64(isa, rows, cols, wtype):
    w, scale, wd = _matrix(wtype, rows, cols, seed=rows + cols)
    x = torch.randn(17, cols, generator=torch.Generator().manual_seed(cols))
    for B in BATCHES:
        y = cpu.gemv(w, x[:B], torch.empty(B, rows), scale)
        ref = x[:B].double() @ wd.t()
        terms = x[:B].double().abs() @ wd.abs().t()
        assert ((y.double() - ref).abs() <= 2e-6 * terms + 1e-30).all(), (B, (y.double() - ref).abs().max())


@pytest.mark.parametrize("rows,cols", SHAPES)
@pytest.mark.parametrize("wtype", ["fp32", "bf16", "int8", "q4", "q5"])
def test_batched_rows_are_the_single_rows_bit_for_bit(isa, threads, rows, cols, wtype):
    w, scale, _ = _matrix(wtype, rows, cols, seed=3 * rows + cols)
    x = torch.randn(17, cols, generator=torch.Generator().manual_seed(rows))
    single = torch.stack([cpu.gemv(w, x[b], torch.empty(rows), scale).clone() for b in range(17)])
    for B in BATCHES:
        # a batch from any row of x: the inputs' offsets in memory do not matter either
        lo = (B * 5) % (18 - B)
        y = cpu.gemv(w, x[lo:lo + B], torch.empty(B, rows), scale)
        assert torch.equal(y, single[lo:lo + B]), (B, lo)


def test_batched_gemv_checks_its_shapes():
    w = torch.randn(6, 10)
    with pytest.raises(ValueError, match="shapes"):
        cpu.gemv(w, torch.randn(3, 10), torch.empty(6))          # a batch into one row
    with pytest.raises(ValueError, match="shapes"):
        cpu.gemv(w, torch.randn(3, 10), torch.empty(2, 6))       # another batch size
    with pytest.raises(ValueError, match="shapes"):
        cpu.gemv(w, torch.randn(3, 11), torch.empty(3, 6))
    with pytest.raises(ValueError, match="shapes"):
        cpu.gemv(w, torch.randn(2, 3, 10), torch.empty(2, 3, 6))
    assert cpu.gemv(w, torch.randn(0, 10), torch.empty(0, 6)).shape == (0, 6)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8", "q4"])
def test_forward_prompts_takes_every_prompt_through_one_head_gemv(isa, rwkv7_checkpoint, precision,
                                                                  monkeypatch):
    model = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=128), precision=precision)
    assert model.weights.decoder is not None
    model.compiled_prompts = False      # torch's prompt path (the compiled prefill's head: one batched GEMV in C++)
    calls = []
    logits = type(model.weights).logits

    def spy(weights, x):
        out = logits(weights, x)
        calls.append((x.clone(), out.clone()))
        return out

    monkeypatch.setattr(type(model.weights), "logits", spy)
    g = torch.Generator().manual_seed(1)
    chunks = [(torch.randint(0, model.info.vocab_size, (n,), generator=g).tolist(), model.new_state())
              for n in (5, 2, 9, 3)]
    together = model.forward_prompts(chunks)
    assert len(calls) == 1
    rows, out = calls[0]
    assert rows.shape == (4, model.info.n_embd) and torch.equal(out, together)
    monkeypatch.undo()
    for s in range(4):
        assert torch.equal(model.weights.logits(rows[s]), together[s]), s


@pytest.mark.parametrize("cols", [1, 2, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 95, 1023, 1025])
def test_bf16_rows_around_the_split_k_step(isa, cols):
    """AVX-512 takes bf16 rows 32 columns a step, the input split once per call into even and odd
    halves and zero-padded to whole steps: every tail length against float64, the caller's input
    left as it was, and each row of a batch (rows at unaligned offsets) its own one-input row."""
    w, _, wd = _matrix("bf16", 11, cols, seed=cols)
    x = torch.randn(7, cols, generator=torch.Generator().manual_seed(cols))
    before = x.clone()
    y = cpu.gemv(w, x, torch.empty(7, 11))
    assert torch.equal(x, before)
    ref, terms = x.double() @ wd.t(), x.double().abs() @ wd.abs().t()
    assert ((y.double() - ref).abs() <= 2e-6 * terms + 1e-30).all(), (y.double() - ref).abs().max()
    for b in range(7):
        assert torch.equal(cpu.gemv(w, x[b], torch.empty(11)), y[b]), b
