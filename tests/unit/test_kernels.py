"""Every WKV-7 implementation equals the plain loop in kernels.reference; kernels.select names what runs."""

from __future__ import annotations

import os

import pytest
import torch

import engine
import kernels
from engine.errors import EngineError
from kernels import chunked, reference


def _inputs(T: int, H: int, N: int, seed: int, min_decay: bool = False):
    g = torch.Generator().manual_seed(seed)
    r, k, v = (torch.randn(T, H, N, generator=g) for _ in range(3))
    if min_decay:   # the fastest decay RWKV-7 can produce: the worst case for chunked scaling
        w = torch.full((T, H, N), 0.5455)
    else:
        w = torch.exp(-0.606531 * torch.sigmoid(2 * torch.randn(T, H, N, generator=g)))
    kk = torch.nn.functional.normalize(torch.randn(T, H, N, generator=g), dim=-1)
    gate = torch.sigmoid(torch.randn(T, H, N, generator=g))
    state = 0.5 * torch.randn(H, N, N, generator=g)
    return (r, w, k, v, -kk, kk * gate), state


@pytest.mark.parametrize("T,H,N", [(1, 1, 8), (2, 2, 16), (31, 3, 32), (32, 2, 64), (33, 2, 64),
                                   (100, 4, 64), (257, 2, 32)])
@pytest.mark.parametrize("min_decay", [False, True])
def test_chunked_equals_reference(T, H, N, min_decay):
    args, s0 = _inputs(T, H, N, seed=T * 7 + N, min_decay=min_decay)
    s_ref, s_chk = s0.clone(), s0.clone()
    y_ref = reference.wkv7_seq(*args, s_ref)
    y_chk = chunked.wkv7_chunked(*args, s_chk)
    scale = y_ref.abs().max()
    assert (y_ref - y_chk).abs().max() <= 2e-6 * scale
    assert (s_ref - s_chk).abs().max() <= 2e-6 * s_ref.abs().max()


def test_chunked_calls_chain_like_one_call():
    args, s0 = _inputs(90, 2, 32, seed=3)
    s_one, s_parts = s0.clone(), s0.clone()
    y_one = chunked.wkv7_chunked(*args, s_one)
    ys = [chunked.wkv7_chunked(*(a[i:j] for a in args), s_parts) for i, j in ((0, 5), (5, 70), (70, 90))]
    torch.testing.assert_close(torch.cat(ys), y_one, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(s_parts, s_one, rtol=1e-5, atol=1e-5)


def test_one_step_equals_sequence_of_one():
    args, s0 = _inputs(1, 3, 16, seed=5)
    s_a, s_b = s0.clone(), s0.clone()
    y_seq = reference.wkv7_seq(*args, s_a)
    y_one = reference.wkv7_one(*(a[0] for a in args), s_b)
    assert torch.equal(y_seq[0], y_one)
    assert torch.equal(s_a, s_b)


def test_bf16_inputs_compute_in_fp32():
    args, s0 = _inputs(40, 2, 32, seed=9)
    low = [a.bfloat16() for a in args]
    s_ref, s_chk = s0.clone(), s0.clone()
    y_ref = reference.wkv7_seq(*(a.float() for a in low), s_ref)
    y_chk = chunked.wkv7_chunked(*low, s_chk)
    assert y_chk.dtype == torch.float32 and s_chk.dtype == torch.float32
    assert (y_ref - y_chk).abs().max() <= 2e-6 * y_ref.abs().max()


def test_select_names_a_tested_implementation():
    # The compiled CPU kernels (tested in test_cpu_kernels.py) when built, else torch's chunked form.
    compiled = {f"cpu-{isa}" for isa in ("scalar", "avx2", "avx2+avxvnni", "avx512", "avx512vnni")}
    assert kernels.select(7, "cpu", "fp32").name in {"torch-chunked", *compiled}
    assert kernels.select(7, "cpu", "fp32", backend="torch").name == "torch-chunked"
    assert kernels.select(7, "cpu", "fp32", backend="reference").seq is reference.wkv7_seq


def test_a_backend_asked_for_by_name_runs_or_is_an_error_never_a_silent_fallback(rwkv7_checkpoint):
    path = rwkv7_checkpoint(n_layer=1, n_embd=64, head_size=32)
    model = engine.load(path, backend="reference")
    assert model.kernels.name == "reference" and model.kernels.seq is reference.wkv7_seq
    assert model.weights.decoder is None
    with pytest.raises(EngineError, match="Unknown kernel backend 'fast': use one of auto, cpu, triton"):
        engine.load(path, backend="fast")
    with pytest.raises(EngineError, match="The 'cpu' kernels cannot run RWKV-7 on cpu in fp16"):
        engine.load(path, precision="fp16", backend="cpu")
    if not os.environ.get("TRITON_INTERPRET"):
        with pytest.raises(EngineError, match="The 'triton' kernels cannot run RWKV-7 on cpu"):
            engine.load(path, backend="triton")
