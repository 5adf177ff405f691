"""The compiled load-time quantiser (kernels/cpu/src/quantize.cpp) against packed.py's torch code,
which defines the int8, q4 and q5 formats: the same bytes, bit for bit, on every instruction set,
one and two threads, from float32, bf16 and fp16 sources, contiguous and strided (a transposed
LoRA), odd sizes (padding), and the values where rounding decides: ties of magnitude with opposite
signs (torch's argmax takes the first), all-zero and negative-zero blocks, scales that are fp16
subnormals or round to zero, scales clamped at fp16's largest, values halfway between two steps;
then fp16 rounding of the scales over the whole float range; refused arguments."""

from __future__ import annotations

import pytest
import torch

from engine.models.packed import Packed, quantize_int8, quantize_q4, quantize_q5
from kernels import cpu

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

QUANTISERS = {"int8": quantize_int8, "q4": quantize_q4, "q5": quantize_q5}
SIZES = [(1, 1), (3, 31), (17, 33), (5, 256), (9, 257), (70, 1000), (64, 768)]   # (out, in)


def _bits(t: torch.Tensor) -> torch.Tensor:
    """A tensor's bytes, so that equal means equal bit for bit (fp16 -0.0 and NaNs included)."""
    return t.contiguous().view(torch.uint8)


def _same(a: Packed, b: Packed) -> bool:
    return (a.w.dtype == b.w.dtype and a.n_in == b.n_in and torch.equal(_bits(a.w), _bits(b.w))
            and torch.equal(_bits(a.scale), _bits(b.scale)))


def _hard_weights(n_out: int, n_in: int, seed: int, source: torch.dtype = torch.float32) -> torch.Tensor:
    """Random rows of very different scales, with the cases rounding decides planted in them, finite
    in ``source``."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_out, n_in, generator=g) * torch.rand(n_out, 1, generator=g).pow(4) * 3
    if n_out > 6 and n_in >= 8:
        w[0] = 0.0                                             # all-zero rows and blocks
        w[1, :] = -0.0                                         # negative zeros only
        w[2, 3], w[2, 7] = 0.25, -0.25                         # +a and -a tie: the first one counts
        w[3, 5], w[3, 1] = 0.25, -0.25                         # the same, the negative one first
        w[4] *= 1e-35                                          # scales that are fp16 subnormals or 0
        w[5] *= 1e6 if source != torch.float16 else 1e4       # scales clamped at 65504 (fp16 sources: large)
        w[6, :8] = torch.tensor([-8.0, 2.5, -2.5, 0.5, 1.5, 3.5, -0.5, 7.0])   # exact halves: to even
    return w.to(source)


@pytest.mark.parametrize("fmt", sorted(QUANTISERS))
@pytest.mark.parametrize("source", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_compiled_quantiser_gives_the_torch_codes_bytes(isa, threads, fmt, source):
    quantise = QUANTISERS[fmt]
    for i, (n_out, n_in) in enumerate(SIZES):
        w = _hard_weights(n_out, n_in, seed=i, source=source)
        assert _same(quantise(w), quantise(w, compiled=False)), (n_out, n_in)


@pytest.mark.parametrize("fmt", sorted(QUANTISERS))
def test_strided_sources_are_read_where_they_lie(fmt):
    quantise = QUANTISERS[fmt]
    lora = _hard_weights(96, 40, seed=7)                       # stored [in, out]: quantised as its transpose
    every_other = _hard_weights(30, 600, seed=8)[::2, ::3]
    for w in (lora.t(), every_other, lora.to(torch.bfloat16).t(), _hard_weights(96, 40, 7, torch.float16).t()):
        assert not w.is_contiguous()
        assert _same(quantise(w), quantise(w.contiguous(), compiled=False))


def test_many_rows_split_between_threads_equal_one_thread(threads):
    w = _hard_weights(333, 520, seed=9)                         # 333 rows: uneven shares
    for quantise in QUANTISERS.values():
        assert _same(quantise(w), quantise(w, compiled=False))


def test_fp16_scales_round_as_torch_over_the_whole_float_range():
    """The block scale is fp16(m / -8): blocks whose only non-zero value m sweeps float32's
    exponents (fp16 subnormals, normals, past 65504 * 8, the overflow boundary) and mantissas."""
    g = torch.Generator().manual_seed(11)
    mags = torch.exp2(torch.empty(4096).uniform_(-140, 24, generator=g))
    special = torch.tensor([65504.0 * 8, 65519.0 * 8, 65520.0 * 8, 65536.0 * 8, 2.0 ** -14 * 8, 2.0 ** -24 * 8,
                            2.0 ** -25 * 8, 2.0 ** -25 * 8 * 1.0000001, 3.0 * 2.0 ** -26 * 8, 1.0])
    m = torch.cat([mags, -mags, special, -special])
    # halfway cases for fp16's 10-bit mantissa: bit 12 of the float mantissa set, lower bits clear or not
    halves = (torch.randint(0x38800000, 0x477f0000, (1024,), generator=g, dtype=torch.int32) & ~0x1fff) | 0x1000
    m = torch.cat([m, halves.view(torch.float32) * 8, (halves | 1).view(torch.float32) * 8])
    w = torch.zeros(m.numel(), 32)
    w[:, 0] = m
    for quantise in (quantize_q4, quantize_q5):
        a, b = quantise(w), quantise(w, compiled=False)
        assert torch.equal(_bits(a.scale), _bits(b.scale))
        assert _same(a, b)


def test_a_nan_weight_makes_its_scale_nan_as_torchs_code_does():
    """So a model with NaN weights computes NaN, which generation reports, not quiet garbage."""
    w = _hard_weights(8, 300, seed=12)
    w[1, 5] = float("nan")                                     # row 1 / its first block
    w[3, 290] = float("nan")                                   # row 3 / its last block (in the padding's group)
    for quantise in QUANTISERS.values():
        a, b = quantise(w), quantise(w, compiled=False)
        assert torch.equal(a.scale.isnan(), b.scale.isnan()) and a.scale.isnan().sum() == 2
        fine = ~a.scale.isnan().any(dim=-1) if a.scale.dim() == 2 else ~a.scale.isnan()
        assert torch.equal(_bits(a.w)[fine], _bits(b.w)[fine])     # the other rows: the same bytes


def test_refused_arguments_say_what_is_wrong():
    w = torch.randn(4, 64)
    with pytest.raises(ValueError, match="float32, bf16 or fp16"):
        cpu.quantize(w.double(), torch.empty(4, 64, dtype=torch.int8), torch.empty(4))
    with pytest.raises(ValueError, match="needs q"):
        cpu.quantize(w, torch.empty(4, 63, dtype=torch.int8), torch.empty(4))
    with pytest.raises(ValueError, match="needs q"):
        cpu.quantize(w, torch.empty(4, 32, dtype=torch.uint8), torch.empty(4, 8, dtype=torch.float16))
    with pytest.raises(ValueError, match="int8, q4"):
        cpu.quantize(w, torch.empty(4, 64), torch.empty(4))
    # float64 (a test's precision) is not the library's: packed.py quantises it with torch
    assert _same(quantize_q4(w.double()), quantize_q4(w, compiled=False))
