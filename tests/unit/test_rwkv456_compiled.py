"""RWKV-4/5/6 on the compiled CPU kernels equal the torch path.

With the library loaded, fp32 and bf16 models keep their matrices ``[out, in]`` (the ``Layer``
fields are transposed views, no second copy): a decoded token is one call of the fused step
(``rwkv456.cpp``), a prompt runs torch GEMMs on the views with the library's WKV-4 / WKV-5/6
sequence kernels. The kernels alone are compared with
``kernels/wkv4.py`` and ``kernels/wkv6.py`` on every instruction set this CPU has.
The torch-only model is the same file loaded with ``backend="torch"``.
"""

from __future__ import annotations

import pytest
import torch

import engine
from engine.models.packed import FloatProduct
from kernels import cpu
from kernels.wkv4 import PP_START, wkv4_seq
from kernels.wkv6 import wkv6_seq
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

pytestmark = pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")

SPECS = [LegacySpec(4, n_layer=2, n_embd=128), LegacySpec(5, n_layer=2, n_embd=128, head_size=32),
         LegacySpec(6, n_layer=2, n_embd=128, head_size=32, vocab_size=1000)]


def _isas():
    return cpu.supported_isas() if cpu.available() else ("scalar",)


@pytest.fixture(params=_isas())
def isa(request):
    before = cpu.isa()
    cpu.set_isa(request.param)
    yield request.param
    cpu.set_isa(before)


def _pair(tmp_path, spec, precision):
    path = make_legacy_checkpoint(tmp_path / f"{spec}.pth", spec)
    native = engine.load(path, device="cpu", precision=precision)
    plain = engine.load(path, device="cpu", precision=precision, backend="torch")
    return native, plain


def _decode(model, prompt, steps):
    out, state = model.forward(prompt, None)
    outs = [out.clone()]
    for t in steps:
        out, state = model.forward([t], state)
        outs.append(out.clone())
    return torch.stack(outs), state


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fp32_prompts_run_the_compiled_float_gemm_and_equal_torch(spec, tmp_path, monkeypatch, isa):
    from kernels.cpu import gemm

    native, plain = _pair(tmp_path, spec, "fp32")
    calls = []
    real = gemm.gemm_float
    monkeypatch.setattr(gemm, "gemm_float", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    toks = torch.randint(0, spec.vocab_size, (37,), generator=torch.Generator().manual_seed(7)).tolist()
    a, sa = native.forward(toks)
    b, sb = plain.forward(toks)
    assert len(calls) >= 7 * spec.n_layer           # R K V O and the FFN's (RWKV-5/6 G and LoRAs too)
    assert (a - b).abs().max().item() < 2e-5 * max(1.0, b.abs().max().item())
    for part in sb.parts:
        assert torch.allclose(sa.parts[part].float(), sb.parts[part].float(), rtol=1e-4, atol=1e-5), part
    calls.clear()
    native.forward(toks[:5])                      # short prompts stay torch's
    assert calls == []


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fused_decode_equals_torch(spec, tmp_path, monkeypatch, isa):
    native, plain = _pair(tmp_path, spec, "fp32")
    assert native.kernels.name.startswith(f"cpu-{isa}") and native.kernels.name.endswith("+ fused decode")
    assert plain.kernels.name.startswith("torch")
    assert native.weights.decoder is not None and plain.weights.decoder is None
    assert native.kernels.name != plain.kernels.name
    ly = native.layers[0]
    # the compiled step's [out, in] matrices, which prompts multiply by the compiled float GEMM
    assert isinstance(ly.R, FloatProduct) and ly.R.p.w.is_contiguous() and ly.R.shape == (spec.n_embd, spec.n_embd)
    assert native.head.t().is_contiguous()
    assert plain.layers[0].R.is_contiguous()

    calls = []
    real = native.weights.decoder.step
    monkeypatch.setattr(native.weights.decoder, "step", lambda *a: (calls.append(1), real(*a))[1])
    g = torch.Generator().manual_seed(spec.generation)
    toks = torch.randint(0, spec.vocab_size, (24,), generator=g).tolist()
    a, sa = _decode(native, toks[:7], toks[7:])
    b, sb = _decode(plain, toks[:7], toks[7:])
    assert len(calls) == 17                                   # every decoded token, one call each
    assert (a - b).abs().max().item() < 2e-5 * max(1.0, b.abs().max().item())
    for k in sa.parts:
        assert torch.allclose(sa.parts[k], sb.parts[k], atol=2e-5, rtol=1e-5), k


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fused_decode_bf16_close_to_torch(spec, tmp_path):
    native, plain = _pair(tmp_path, spec, "bf16")
    assert native.weights.decoder is not None
    toks = list(range(3, 15))
    a, sa = _decode(native, toks[:4], toks[4:])
    b, _ = _decode(plain, toks[:4], toks[4:])
    assert sa.parts["att_x_prev"].dtype == torch.bfloat16
    # bf16 torch rounds every product to bf16; the C step accumulates in fp32: close, not equal.
    assert (a - b).abs().max().item() < 0.05 * b.abs().max().item()


def test_a_fp32_state_continues_in_a_bf16_model(tmp_path, monkeypatch):
    spec = SPECS[2]
    path = make_legacy_checkpoint(tmp_path / "m.pth", spec)
    fp32, bf16 = engine.load(path, precision="fp32"), engine.load(path, precision="bf16")
    _, state = fp32.forward([1, 2, 3], None)
    out, state = bf16.forward([4], state)            # converted once, in the State
    assert state.parts["att_x_prev"].dtype == torch.bfloat16
    ref, _ = fp32.forward([4], fp32.forward([1, 2, 3], None)[1])
    assert (out - ref).abs().max().item() < 0.05 * ref.abs().max().item()


# -- the kernels alone --------------------------------------------------------------------------

@pytest.mark.parametrize("T,A", [(1, 64), (7, 200), (33, 1024)])
def test_wkv4_sequence_equals_reference(T, A, isa):
    g = torch.Generator().manual_seed(T * A)
    w = -torch.exp(torch.randn(A, generator=g))
    u = torch.randn(A, generator=g)
    k, v = torch.randn(T, A, generator=g) * 3, torch.randn(T, A, generator=g)
    s_ref = [torch.zeros(A), torch.zeros(A), torch.full((A,), PP_START)]
    s_ours = [t.clone() for t in s_ref]
    for half in (slice(0, T // 2), slice(T // 2, T)):             # chained calls carry the state
        if half.stop == half.start:
            continue
        ref = wkv4_seq(w, u, k[half], v[half], *s_ref)
        ours = cpu.wkv4_seq(w, u, k[half], v[half], *s_ours)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(s_ours, s_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("T,H,N,per_token", [(1, 2, 64, True), (9, 3, 32, True), (20, 2, 64, False),
                                             (5, 1, 48, True)])
def test_wkv6_sequence_equals_reference(T, H, N, per_token, isa):
    g = torch.Generator().manual_seed(T * H * N)
    r, k, v = (torch.randn(T, H, N, generator=g) for _ in range(3))
    w = torch.rand(T, H, N, generator=g) if per_token else torch.rand(H, N, generator=g)
    u = torch.randn(H, N, generator=g)
    s0 = torch.randn(H, N, N, generator=g)
    s_ref, s_ours = s0.clone(), s0.clone()
    ref = wkv6_seq(r, w if per_token else w.expand(T, H, N), k, v, u, s_ref)
    cut = T // 2                                             # two chained calls carry the state
    parts = [(0, cut), (cut, T)] if cut else [(0, T)]
    ours = torch.cat([cpu.wkv6_seq(r[a:b], w[a:b] if per_token else w, k[a:b], v[a:b], u, s_ours)
                      for a, b in parts])
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(s_ours, s_ref, atol=2e-5, rtol=1e-5)


def test_wkv6_sequence_takes_rwkv5s_broadcast_decay():
    """RWKV-5.2 passes its constant decay expanded to [T, H, N] (a stride-0 view): read once per head."""
    g = torch.Generator().manual_seed(5)
    r, k, v = (torch.randn(6, 2, 16, generator=g) for _ in range(3))
    w, u = torch.rand(2, 16, generator=g), torch.randn(2, 16, generator=g)
    s_a, s_b = torch.zeros(2, 16, 16), torch.zeros(2, 16, 16)
    torch.testing.assert_close(cpu.wkv6_seq(r, w.expand(6, 2, 16), k, v, u, s_a), cpu.wkv6_seq(r, w, k, v, u, s_b))
    torch.testing.assert_close(s_a, s_b)


def test_wkv_kernels_refuse_a_state_of_the_wrong_shape():
    with pytest.raises(ValueError, match="WKV state"):
        cpu.wkv6_seq(*(torch.zeros(2, 2, 8) for _ in range(4)), torch.zeros(2, 8), torch.zeros(2, 8, 4))
    with pytest.raises(ValueError, match="WKV-4 state"):
        cpu.wkv4_seq(torch.zeros(8), torch.zeros(8), torch.zeros(3, 8), torch.zeros(3, 8), torch.zeros(8),
                     torch.zeros(8), torch.zeros(4))


# -- int8 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_int8_fused_decode_equals_its_torch_fallback(spec, tmp_path):
    """int8 weights: the fused step (int8 GEMV on inputs rounded to 8 bits, as int8 prompts round
    them) and the torch path (the same int8 rows dequantised per layer into float32 scratch, float
    inputs) compute the same model. Measured when written: max |logit diff| 0.12 / 0.20 / 0.20 (1.1 /
    1.6 / 1.6 % of the largest logit), states within 1.2 / 1.4 / 1.0 % of their largest value, every
    greedy choice equal, for RWKV-4 / 5 / 6."""
    native, plain = _pair(tmp_path, spec, "int8")
    assert native.precision == plain.precision == "int8" and native.dtype == torch.float32
    assert native.weights.decoder is not None and plain.weights.decoder is None
    assert native.weights.packed[0]["R"].w.dtype == torch.int8 and native.weights.head_packed is not None
    assert plain.weights.packed[0]["R"].w.dtype == torch.int8           # the torch path reads the same rows
    toks = list(range(3, 20))
    # token by token from the first: int8 prompts also round activations (test_int8_prompts.py)
    a, sa = _decode(native, toks[:1], toks[1:])
    b, sb = _decode(plain, toks[:1], toks[1:])
    assert (a - b).abs().max().item() < 0.03 * max(1.0, b.abs().max().item())
    assert (a.argmax(-1) == b.argmax(-1)).float().mean().item() >= 0.9
    for k in sa.parts:
        assert (sa.parts[k] - sb.parts[k]).abs().max() <= 0.03 * sb.parts[k].abs().max(), k


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_int8_stays_near_fp32(spec, tmp_path):
    """The quality bound of int8 on random weights (on trained ones see `python -m engine quality`).
    Measured when written (L2 D128): max |logit diff| 0.11 / 0.17 / 0.23 with logits' std ~3,
    greedy agreement 100% / 100% / 94% for RWKV-4 / 5 / 6."""
    path = make_legacy_checkpoint(tmp_path / f"{spec}.pth", spec)
    fp32, int8 = engine.load(path, precision="fp32"), engine.load(path, precision="int8")
    g = torch.Generator().manual_seed(1)
    toks = torch.randint(0, spec.vocab_size, (40,), generator=g).tolist()
    a, _ = _decode(fp32, toks[:8], toks[8:])
    b, _ = _decode(int8, toks[:8], toks[8:])
    agree = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    assert (a - b).abs().max().item() < 0.15 * a.std().item() and agree >= 0.85, (
        (a - b).abs().max().item(), a.std().item(), agree)
    assert int8.weights.packed[0]["K"].w.element_size() == 1


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_bf16_on_a_cpu_without_bf16_gemms_runs_prompts_in_fp32(spec, tmp_path, monkeypatch):
    """Where torch's bf16 GEMM is emulated (~4x slower than fp32), a bf16 model keeps its matrices
    bf16 for the decode step and runs prompts as fp32 GEMMs on them (the compiled float GEMM widens
    them as it packs); its state is bf16 as on every bf16 path, so a saved state means the same on
    both kinds of CPU."""
    import engine.models.weights as weights

    path = make_legacy_checkpoint(tmp_path / f"{spec}.pth", spec)
    fast_cpu = engine.load(path, precision="bf16")
    monkeypatch.setattr(weights, "bf16_gemm_fast", lambda: False)
    slow_cpu = engine.load(path, precision="bf16")
    fp32 = engine.load(path, precision="fp32")
    assert slow_cpu.precision == "bf16" and slow_cpu.dtype == torch.float32 and slow_cpu.weights.decoder is not None
    assert slow_cpu.weights.packed[0]["K"].w.dtype == torch.bfloat16 and slow_cpu.emb.dtype == torch.bfloat16
    assert slow_cpu.new_state().parts["att_x_prev"].dtype == torch.bfloat16
    toks = list(range(3, 30))
    a, sa = _decode(slow_cpu, toks[:9], toks[9:])
    b, _ = _decode(fp32, toks[:9], toks[9:])
    assert (a - b).abs().max().item() < 0.05 * b.abs().max().item()
    c, sc = _decode(fast_cpu, toks[:9], toks[9:])
    for k in sa.parts:                                # the states are interchangeable
        assert sa.parts[k].dtype == sc.parts[k].dtype and sa.parts[k].shape == sc.parts[k].shape, k
