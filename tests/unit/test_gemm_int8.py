"""The int8 GEMM for prompts (kernels/cpu/gemm.py, src/gemm_int8.cpp) on every instruction set this
machine runs: its activation quantisation equals a numpy float32 rewrite of the same rule, its output
equals a float64 evaluation of the same quantised math up to three float32 roundings (the int32 sums
are exact), it stays within the activation-rounding bound of the float product with the dequantised
weights, and every instruction set gives the same bits."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from kernels import cpu

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

from kernels.cpu.gemm import MAX_IN, gemm_int8, quantize_rows  # noqa: E402

ROUNDING = 3 * 2.0**-24   # float(int32 sum), s_t * scale_o and their product: one rounding each


def _weights(n_out: int, n_in: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randint(-127, 128, (n_out, n_in), generator=g, dtype=torch.int8)
    return w, torch.rand(n_out, generator=g) / 64 + 1e-3


def _inputs(T: int, n_in: int, seed: int) -> torch.Tensor:
    """Rows of several kinds: symmetric, all positive (as after relu^2), all negative, shifted."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, n_in, generator=g)
    x[1::4] = x[1::4].relu().square()
    x[2::4] = -x[2::4].abs()
    x[3::4] += 3.0
    return x


def _quantise_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel's rule written out in float32 numpy (its documented contract)."""
    lo = np.minimum(x.min(axis=1), np.float32(0))
    hi = np.maximum(x.max(axis=1), np.float32(0))
    s = (hi - lo) / np.float32(255)
    inv = np.float32(1) / s
    z = np.clip(np.rint(-lo * inv), 0, 255).astype(np.int32)
    u = np.clip(np.rint(x * inv[:, None]).astype(np.int32) + z[:, None], 0, 255).astype(np.uint8)
    return u, s, z


def _reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """float64 of the quantised math: exact integer sums, then the two scales."""
    u, s, z = quantize_rows(x)
    acc = (u.long() - z.long()[:, None]) @ w.long().t()          # exact
    return acc.double() * s.double()[:, None] * scale.double()[None, :]


def _assert_matches_reference(y: torch.Tensor, ref: torch.Tensor) -> None:
    err = (y.double() - ref).abs()
    assert (err <= ROUNDING * ref.abs()).all(), f"worst relative error {(err / ref.abs()).nan_to_num().max():.3g}"


@pytest.mark.parametrize("T,n_in", [(1, 5), (7, 33), (33, 100), (512, 768), (6, 3073)])
def test_quantisation_follows_the_rule_exactly(isa, T, n_in):
    x = _inputs(T, n_in, seed=T + n_in)
    u, s, z = quantize_rows(x)
    u_np, s_np, z_np = _quantise_numpy(x.numpy())
    assert np.array_equal(s.numpy(), s_np) and np.array_equal(z.numpy(), z_np)
    assert np.array_equal(u.numpy(), u_np)


@pytest.mark.parametrize("T,n_in,n_out", [(1, 1, 1), (1, 7, 5), (7, 33, 70), (33, 100, 130), (512, 768, 200),
                                          (6, 770, 1001), (13, 3071, 65), (512, 129, 63)])
def test_gemm_equals_float64_of_the_quantised_math(isa, threads, T, n_in, n_out):
    x = _inputs(T, n_in, seed=T * 7 + n_in)
    w, scale = _weights(n_out, n_in, seed=n_out)
    _assert_matches_reference(gemm_int8(x, w, scale), _reference(x, w, scale))


@pytest.mark.parametrize("T,n_in,n_out", [(33, 768, 130), (512, 256, 96)])
def test_error_against_the_float_product_stays_within_the_activation_rounding(isa, T, n_in, n_out):
    """Each input moves by at most one quantisation step s_t (half of it, plus a clamp at the row's
    top), so |y - y_float| <= s_t * sum_k |w_float[o, k]| element by element; on Gaussian inputs
    the whole product's relative error is ~0.8 % (1/255 of a row's range over sqrt(12))."""
    g = torch.Generator().manual_seed(n_in)
    x = torch.randn(T, n_in, generator=g)
    w, scale = _weights(n_out, n_in, seed=3)
    w_float = w.float() * scale[:, None]
    y, y_float = gemm_int8(x, w, scale), x @ w_float.t()
    _, s, _ = quantize_rows(x)
    bound = s[:, None] * w_float.abs().sum(dim=1)[None, :]
    assert ((y - y_float).abs() <= bound).all()
    assert (y - y_float).norm() / y_float.norm() < 0.015


def test_every_instruction_set_gives_the_same_bits():
    x = _inputs(37, 301, seed=1)
    w, scale = _weights(131, 301, seed=2)
    before, before_vnni = cpu.isa(), cpu.avx_vnni()
    try:
        outs = {}
        for name in cpu.supported_isas():
            for vnni in (False, True) if name == "avx2" else (before_vnni,):
                if cpu.set_avx_vnni(vnni) == vnni:
                    cpu.set_isa(name)
                    outs[cpu.kernels_name()] = gemm_int8(x, w, scale)
    finally:
        cpu.set_isa(before)
        cpu.set_avx_vnni(before_vnni)
    first = next(iter(outs.values()))
    assert all(torch.equal(first, y) for y in outs.values()), list(outs)


_SUBPROCESS = """
import sys, torch
from kernels import cpu
from kernels.cpu.gemm import gemm_int8
g = torch.Generator().manual_seed(0)
x = torch.randn(19, 97, generator=g)
w = torch.randint(-127, 128, (45, 97), generator=g, dtype=torch.int8)
scale = torch.rand(45, generator=g)
torch.save(gemm_int8(x, w, scale), sys.argv[1])
print(cpu.isa())
"""


def test_each_instruction_set_forced_by_the_environment(tmp_path):
    results = {}
    for name in cpu.supported_isas():
        path = tmp_path / f"{name}.pt"
        env = dict(os.environ, RWKV_CPU_ISA=name)
        out = subprocess.run([sys.executable, "-c", _SUBPROCESS, str(path)], env=env, capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == name
        results[name] = torch.load(path)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(19, 97, generator=g)
    w = torch.randint(-127, 128, (45, 97), generator=g, dtype=torch.int8)
    scale = torch.rand(45, generator=g)
    ref = _reference(x, w, scale)
    for y in results.values():
        _assert_matches_reference(y, ref)
        assert torch.equal(y, results[cpu.supported_isas()[0]])


def test_chained_calls_of_changing_shapes_reuse_buffers_safely(isa):
    """The library keeps its quantised input and weight panels between calls: growing, shrinking
    and alternating shapes must not leak one call's data into the next."""
    shapes = [(512, 3071, 70), (1, 5, 3), (33, 770, 129), (512, 3071, 70), (7, 33, 1001), (2, 4, 4)]
    out = torch.empty(33, 129)
    for i, (T, n_in, n_out) in enumerate(shapes):
        x = _inputs(T, n_in, seed=i)
        w, scale = _weights(n_out, n_in, seed=i)
        buf = out if (T, n_out) == tuple(out.shape) else None
        y = gemm_int8(x, w, scale, out=buf)
        if buf is not None:
            assert y is out
        _assert_matches_reference(y, _reference(x, w, scale))


def test_leading_dimensions_and_strided_inputs():
    x = _inputs(24, 65, seed=5)
    w, scale = _weights(17, 65, seed=6)
    flat = gemm_int8(x, w, scale)
    assert torch.equal(gemm_int8(x.view(2, 3, 4, 65), w, scale), flat.view(2, 3, 4, 17))
    assert torch.equal(gemm_int8(x.t().contiguous().t(), w, scale), flat)
    assert torch.equal(gemm_int8(x.double(), w, scale), flat)


def test_special_rows():
    """A zero row gives zeros; a row with inf or NaN gives NaN (as a float GEMM would, not numbers
    made up from the clamped rest); a constant row is exact up to the weights' rounding."""
    x = torch.randn(5, 40)
    x[0] = 0
    x[1, 3] = float("inf")
    x[2, 7] = float("nan")
    x[3] = 2.5
    w, scale = _weights(9, 40, seed=7)
    y = gemm_int8(x, w, scale)
    assert torch.equal(y[0], torch.zeros(9))
    assert y[1].isnan().all() and y[2].isnan().all()
    w_float = w.float() * scale[:, None]
    assert torch.allclose(y[3], x[3] @ w_float.t(), rtol=1e-5, atol=1e-6)
    assert torch.isfinite(y[4]).all()


@pytest.mark.parametrize("n_in", [4096, MAX_IN])
def test_int32_sums_do_not_overflow(isa, n_in):
    """The worst case: every input at 255 against weights of -128 (below our format's -127)."""
    x = torch.ones(2, n_in)
    x[1] = -1
    w = torch.full((3, n_in), -128, dtype=torch.int8)
    w[1] = 127
    scale = torch.ones(3)
    y = gemm_int8(x, w, scale)
    _assert_matches_reference(y, _reference(x, w, scale))
    assert torch.allclose(y, x @ w.float().t(), rtol=1e-6)


def test_bad_arguments_are_refused():
    w, scale = _weights(4, 8, seed=0)
    x = torch.randn(3, 8)
    with pytest.raises(ValueError, match="int8"):
        gemm_int8(x, w.float(), scale)
    with pytest.raises(ValueError, match="scale"):
        gemm_int8(x, w, scale[:3])
    with pytest.raises(ValueError, match="inputs per token"):
        gemm_int8(torch.randn(3, 9), w, scale)
    with pytest.raises(ValueError, match="out must be"):
        gemm_int8(x, w, scale, out=torch.empty(3, 5))
    with pytest.raises(ValueError, match="at most"):
        gemm_int8(torch.randn(1, MAX_IN + 1), torch.zeros(1, MAX_IN + 1, dtype=torch.int8), torch.ones(1))
