"""The q4 format (engine/models/packed.py) and its compiled products (kernels/cpu/src/gemv_q4.cpp) on
every instruction set this machine runs: the quantiser's error bound and layout, the decode GEMV
against a float64 evaluation of the same quantised math (the block sums are exact integers, so only
float roundings remain), the prompt product (the GEMM from 16 tokens on AVX-512: within the same
bound; shorter prompts: the GEMV's rows bit for bit), odd sizes (padding), chained calls, non-finite
inputs and refused arguments."""

from __future__ import annotations

import pytest
import torch

from engine.models.packed import Packed, dequantize_q4_rows, q4_padded, quantize_q4
from kernels import cpu

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

from kernels.cpu.gemm import gemm_q4, quantize_q4_input  # noqa: E402

SIZES = [(1, 1), (3, 31), (17, 33), (5, 256), (9, 257), (33, 1000), (64, 768)]   # (out, in)


def _weights(n_out: int, n_in: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_out, n_in, generator=g) * torch.rand(n_out, 1, generator=g) * 3


def _reference(p: Packed, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x [T, in] @ W^T in float64 on the kernels' own roundings (x quantised per block as they do it,
    W dequantised exactly: an fp16 scale times a small integer), and the sums of the terms' magnitudes."""
    q, s = quantize_q4_input(x)
    T = x.shape[0]
    xd = (q.double().view(T, -1, 32) * s.double().unsqueeze(2)).view(T, -1)[:, :p.n_in]
    wd = dequantize_q4_rows(p, 0, p.w.shape[0]).double()
    return xd @ wd.t(), xd.abs() @ wd.abs().t()


def test_quantiser_error_is_at_most_one_step_and_the_extreme_value_is_kept():
    w = _weights(40, 77)
    p = quantize_q4(w)
    kp = q4_padded(77)
    assert p.w.dtype == torch.uint8 and p.w.shape == (40, kp // 2) and p.scale.shape == (40, kp // 32)
    assert p.scale.dtype == torch.float16 and p.shape == (77, 40) and p.n_in == 77
    d = p.scale.float().abs().repeat_interleave(32, dim=1)[:, :77]
    err = (dequantize_q4_rows(p, 0, 40) - w).abs()
    # -8 d is the block's largest |w|, so every value is within one step; all but the few rounded
    # up past 7 d (on the other side of zero) within half a step
    assert (err <= d * (1 + 1e-3)).all()
    assert (err <= d * 0.5 * (1 + 1e-3)).float().mean() > 0.99
    blocks = torch.nn.functional.pad(w, (0, kp - 77)).view(40, -1, 32)
    extreme = blocks.gather(2, blocks.abs().argmax(dim=2, keepdim=True)).squeeze(2)
    assert torch.allclose(p.scale.float() * -8, extreme, rtol=2**-10, atol=0)


def test_quantiser_relative_error_is_that_of_4_bits():
    w = _weights(64, 512, seed=3)
    rel = ((dequantize_q4_rows(quantize_q4(w), 0, 64) - w).norm() / w.norm()).item()
    assert 0.05 < rel < 0.12, rel        # ~0.086 measured; int8's is ~0.005


def test_quantiser_works_a_slice_of_rows_at_a_time():
    w = _weights(5, 20000)                   # 64K values a slice: 3 rows (20224 padded), then 2
    p = quantize_q4(w)
    for i in (0, 2, 3, 4):
        row = quantize_q4(w[i:i + 1])
        assert torch.equal(p.w[i], row.w[0]) and torch.equal(p.scale[i], row.scale[0]), i


def test_layout_of_one_group():
    """The layout gemv_q4.cpp reads: byte 32 c + 4 i + j of a group = q_i[4c + j] + 8 | (q_i[4c + 16 + j] + 8) << 4."""
    q = torch.randint(-8, 8, (8, 32), generator=torch.Generator().manual_seed(1))
    q[:, 0] = -8                                             # each block's extreme value: scale exactly 1
    p = quantize_q4(q.float().reshape(1, 256))
    assert (p.scale.float() == 1).all()
    b = p.w[0]
    for c, i, j in [(0, 0, 0), (3, 7, 3), (1, 5, 2), (2, 2, 1)]:
        byte = int(b[32 * c + 4 * i + j])
        assert byte & 15 == q[i, 4 * c + j] + 8 and byte >> 4 == q[i, 4 * c + 16 + j] + 8


def test_zero_blocks_and_padding_are_zero():
    w = torch.zeros(3, 40)
    w[1, 35] = 2.0
    p = quantize_q4(w)
    dense = dequantize_q4_rows(p, 0, 3)
    assert torch.equal(dense, w) and p.scale[0].abs().max() == 0
    assert torch.equal(p.dense_into(torch.empty(3, 40)), w)


@pytest.mark.parametrize("n_out,n_in", SIZES)
def test_gemv_equals_the_quantised_math(isa, n_out, n_in):
    p = quantize_q4(_weights(n_out, n_in, seed=n_in))
    x = torch.randn(n_in, generator=torch.Generator().manual_seed(n_out))
    y = cpu.gemv(p.w, x, torch.empty(n_out), p.scale)
    ref, terms = (r[0] for r in _reference(p, x.unsqueeze(0)))
    # per block: float(int sum) * (d * s) and the float accumulation: a few float32 roundings of the
    # terms' magnitudes, not of the (smaller) result
    assert ((y.double() - ref).abs() <= 1e-6 * terms + 1e-30).all(), (y.double() - ref).abs().max()
    dense = x @ dequantize_q4_rows(p, 0, n_out).t()     # the inputs' own rounding: ~1/254 of each block's max
    assert ((y - dense).abs() <= 0.01 * terms.float() + 1e-6).all()


@pytest.mark.parametrize("n_out,n_in", SIZES)
def test_prompt_rows_are_the_quantised_math_and_short_prompts_the_decode_rows(isa, n_out, n_in):
    """Prompts of 16 tokens and more run the prompt GEMM on AVX-512 (the GEMV's block sums, accumulated
    over blocks in another order): within the GEMV's bound of the float64 evaluation. Fewer tokens
    (and every prompt on AVX2 and portable code) run the batched GEMV: the decode rows, bit for bit."""
    p = quantize_q4(_weights(n_out, n_in, seed=7))
    g = torch.Generator().manual_seed(n_in)
    # chained: buffers grow, then are reused; 16..70: the GEMM's whole and partial tiles of tokens
    for T in (1, 4, 40, 9, 2, 16, 17, 70, 33, 15, 48):
        x = torch.randn(T, n_in, generator=g)
        y = gemm_q4(x, p.w, p.scale)
        assert y.shape == (T, n_out)
        ref, terms = _reference(p, x)
        assert ((y.double() - ref).abs() <= 1e-6 * terms + 1e-30).all(), (T, (y.double() - ref).abs().max())
        for t in range(T):
            row = cpu.gemv(p.w, x[t].contiguous(), torch.empty(n_out), p.scale)
            if T < 16 or isa in ("scalar", "avx2"):
                assert torch.equal(y[t], row), (T, t)
            else:
                assert ((y[t].double() - row.double()).abs() <= 2e-6 * terms[t] + 1e-30).all(), (T, t)


def test_prompt_product_takes_any_leading_shape_and_an_out_buffer():
    p = quantize_q4(_weights(10, 300))
    x = torch.randn(2, 3, 300)
    out = torch.empty(2, 3, 10)
    assert gemm_q4(x, p.w, p.scale, out=out) is out
    assert torch.equal(out.view(6, 10), gemm_q4(x.view(6, 300), p.w, p.scale))
    assert gemm_q4(torch.empty(0, 300), p.w, p.scale).shape == (0, 10)


@pytest.mark.parametrize("T", [5, 20])                  # the GEMV, the GEMM (its last tile partial)
def test_non_finite_inputs_give_nan_rows_and_zero_inputs_zero(isa, T):
    p = quantize_q4(_weights(6, 100))
    x = torch.zeros(T, 100)
    x[1, 50] = float("inf")
    x[2, 3] = float("nan")
    x[T - 1, 99] = float("-inf")
    y = gemm_q4(x, p.w, p.scale)
    assert torch.equal(y[0], torch.zeros(6)) and y[1:3].isnan().all() and y[T - 1].isnan().all()
    assert torch.equal(y[3:T - 1], torch.zeros(T - 4, 6))


def test_bad_arguments_are_refused():
    p = quantize_q4(_weights(4, 64))
    with pytest.raises(ValueError, match="inputs per token"):
        gemm_q4(torch.randn(2, 300), p.w, p.scale)
    with pytest.raises(ValueError, match="float16"):
        gemm_q4(torch.randn(2, 64), p.w, p.scale.float())
    with pytest.raises(ValueError, match="uint8"):
        gemm_q4(torch.randn(2, 64), p.w.to(torch.int8), p.scale)
    with pytest.raises(ValueError, match="q4 weights"):
        cpu.gemv(p.w, torch.randn(300), torch.empty(4), p.scale)
    with pytest.raises(ValueError, match="q4 weights"):
        cpu.gemv(p.w, torch.randn(64), torch.empty(4), None)
