"""The int8 decode GEMV (``kernels.cpu.gemv`` with int8 weights; ``src/gemv_int8.cpp``) on every
instruction set this machine runs. It computes the int8 prompt GEMM's math: each input row rounded
to uint8 with its own scale s and zero point z (``kernels.cpu.gemm.quantize_rows``), exact integer
sums, ``y[o] = float32(sum_k (u[k] - z) * w[o, k]) * float32(s * scale[o])``. Checked here: that
float32 expression evaluated by torch on the quantised values, bit for bit, and so within three
float32 roundings of float64; a batch of any size (1..17, several passes of the AVX512-VNNI tile's
inputs) row for row the single input's bits; the same bits from every instruction set and from the
prompt GEMM. Shapes: rows not a multiple of the VNNI tile's 3 (or its decode's 2), columns not a
multiple of 64 (a masked last step), the LoRAs' 32-128 inputs, the FFN's 3072.
"""

from __future__ import annotations

import pytest
import torch

from kernels import cpu

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

from kernels.cpu.gemm import gemm_int8, quantize_rows  # noqa: E402

SHAPES = [(1, 1), (2, 63), (4, 64), (5, 65), (7, 127), (64, 32), (100, 768), (301, 773), (13, 3072), (3, 4230)]
BATCHES = range(1, 18)
ROUNDING = 3 * 2.0**-24   # float(int32 sum), s * scale and their product: one rounding each


def _problem(rows: int, cols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """int8 weights (the full range, -128 too), row scales, and 17 inputs of several kinds:
    symmetric, all >= 0 (as after relu^2), all <= 0, shifted away from 0, and one all zeros."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randint(-128, 128, (rows, cols), generator=g, dtype=torch.int8)
    scale = torch.rand(rows, generator=g) / 64 + 1e-3
    x = torch.randn(17, cols, generator=g)
    x[1::4] = x[1::4].relu().square()
    x[2::4] = -x[2::4].abs()
    x[3::4] += 3.0
    x[16] = 0.0
    return w, scale, x


def _float32_reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    u, s, z = quantize_rows(x)
    acc = (u.long() - z.long()[:, None]) @ w.long().t()          # exact
    assert acc.abs().max() < 2**31
    return acc.float() * (s[:, None] * scale[None, :])


def _float64_reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    u, s, z = quantize_rows(x)
    acc = (u.long() - z.long()[:, None]) @ w.long().t()
    return acc.double() * s.double()[:, None] * scale.double()[None, :]


@pytest.mark.parametrize("rows,cols", SHAPES)
def test_int8_gemv_is_the_quantised_math(isa, threads, rows, cols):
    w, scale, x = _problem(rows, cols, seed=rows * 7 + cols)
    single = torch.stack([cpu.gemv(w, x[b], torch.empty(rows), scale).clone() for b in range(17)])
    assert torch.equal(single, _float32_reference(x, w, scale))
    ref = _float64_reference(x, w, scale)
    assert ((single.double() - ref).abs() <= ROUNDING * ref.abs()).all()
    assert torch.equal(single[16], torch.zeros(rows))


@pytest.mark.parametrize("rows,cols", SHAPES)
def test_int8_batches_are_the_single_rows_and_the_prompt_gemm_rows(isa, threads, rows, cols):
    w, scale, x = _problem(rows, cols, seed=rows + 5 * cols)
    single = torch.stack([cpu.gemv(w, x[b], torch.empty(rows), scale).clone() for b in range(17)])
    for B in BATCHES:
        lo = (B * 5) % (18 - B)
        y = cpu.gemv(w, x[lo:lo + B], torch.empty(B, rows), scale)
        assert torch.equal(y, single[lo:lo + B]), (B, lo)
    assert torch.equal(gemm_int8(x, w, scale), single)


def test_every_instruction_set_gives_the_same_bits():
    w, scale, x = _problem(301, 773, seed=11)
    before, before_vnni = cpu.isa(), cpu.avx_vnni()
    try:
        outs = {}
        for name in cpu.supported_isas():
            for vnni in (False, True) if name == "avx2" else (before_vnni,):   # AVX2 with and without AVX-VNNI
                if cpu.set_avx_vnni(vnni) == vnni:
                    cpu.set_isa(name)
                    outs[cpu.kernels_name()] = (cpu.gemv(w, x[0], torch.empty(301), scale).clone(),
                                                cpu.gemv(w, x, torch.empty(17, 301), scale))
    finally:
        cpu.set_isa(before)
        cpu.set_avx_vnni(before_vnni)
    first = next(iter(outs.values()))
    assert all(torch.equal(first[0], a) and torch.equal(first[1], b) for a, b in outs.values()), list(outs)


def test_nonfinite_inputs_give_nan_rows_only(isa):
    """An inf or a NaN in an input makes that input's outputs NaN (as a float product would be
    non-finite), and leaves the batch's other rows their own bits."""
    w, scale, x = _problem(37, 130, seed=3)
    x[4, 7], x[9, 100] = float("inf"), float("nan")
    y = cpu.gemv(w, x, torch.empty(17, 37), scale)
    assert y[4].isnan().all() and y[9].isnan().all()
    for b in (0, 5, 16):
        assert torch.equal(y[b], cpu.gemv(w, x[b], torch.empty(37), scale))
