"""RWKV-4/5/6 single-token decode through the compiled CPU GEMV equals the torch path.

With the library loaded, fp32 and bf16 models keep their matrices ``[out, in]`` (the ``Layer``
fields are transposed views, no second copy) and :func:`engine.legacy.matvec` hands single rows
to ``kernels.cpu.gemv``; prompts stay torch GEMMs on the views. The torch-only model is the same
file loaded with :func:`engine.legacy.native_gemv` switched off.
"""

from __future__ import annotations

import pytest
import torch

import engine
import engine.legacy as legacy
from kernels import cpu
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

pytestmark = pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")

SPECS = [LegacySpec(4, n_layer=2, n_embd=128), LegacySpec(5, n_layer=2, n_embd=128, head_size=32),
         LegacySpec(6, n_layer=2, n_embd=128, head_size=32, vocab_size=1000)]


def _pair(tmp_path, spec, precision, monkeypatch):
    path = make_legacy_checkpoint(tmp_path / f"{spec}.pth", spec)
    native = engine.load(path, device="cpu", precision=precision)
    with monkeypatch.context() as m:
        m.setattr(legacy, "native_gemv", lambda device, dtype: None)
        plain = engine.load(path, device="cpu", precision=precision)
    return native, plain


def _decode(model, prompt, steps):
    out, state = model.forward(prompt, None)
    outs = [out]
    for t in steps:
        out, state = model.forward([t], state)
        outs.append(out)
    return torch.stack(outs), state


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_compiled_gemv_decode_equals_torch(spec, tmp_path, monkeypatch):
    native, plain = _pair(tmp_path, spec, "fp32", monkeypatch)
    assert "cpu gemv" in native.kernels.name and "cpu gemv" not in plain.kernels.name
    ly = native.layers[0]
    assert ly.R.t().is_contiguous() and not ly.R.is_contiguous() and native.head.t().is_contiguous()
    assert plain.layers[0].R.is_contiguous()

    calls = []
    real = legacy._native.library().rwkv_gemv
    monkeypatch.setattr(legacy._native.library(), "rwkv_gemv", lambda *a: (calls.append(1), real(*a))[1])
    g = torch.Generator().manual_seed(spec.generation)
    toks = torch.randint(0, spec.vocab_size, (24,), generator=g).tolist()
    a, sa = _decode(native, toks[:7], toks[7:])
    n_prompt_calls = len(calls)
    b, sb = _decode(plain, toks[:7], toks[7:])
    assert len(calls) > 0 and len(calls) == n_prompt_calls   # decode used it; plain never did
    assert (a - b).abs().max().item() < 1e-5 * max(1.0, b.abs().max().item())
    for k in sa.parts:
        assert torch.allclose(sa.parts[k], sb.parts[k], atol=1e-5, rtol=1e-5), k


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_compiled_gemv_decode_bf16_close_to_torch(spec, tmp_path, monkeypatch):
    native, plain = _pair(tmp_path, spec, "bf16", monkeypatch)
    assert "cpu gemv" in native.kernels.name
    toks = list(range(3, 15))
    a, _ = _decode(native, toks[:4], toks[4:])
    b, _ = _decode(plain, toks[:4], toks[4:])
    # bf16 torch rounds every product to bf16; the GEMV accumulates in fp32: close, not equal.
    assert (a - b).abs().max().item() < 0.05 * b.abs().max().item()
