"""The float GEMM for prompts (kernels/cpu/gemm.py ``gemm_float``, src/gemm_float.cpp) on every
instruction set this machine runs: its output is within the float32 rounding bound of a float64
product for odd shapes (inputs not a multiple of the vector, outputs not a multiple of the tile, every
tail of tokens), AVX2 and AVX-512 give the same bits (one FMA per term in input order), NaN and inf
reach exactly the outputs they touch; bf16 weights (widened as they are packed) give the bits of fp32
weights of the same values. An fp32 RWKV-7 prompt through it (``FloatProduct``) equals torch's matmul
on the same weights within float32 rounding; bf16 RWKV-7 and RWKV-6 prompts on a CPU without bf16
GEMMs go through it on the kept bf16 matrices and equal the old path (each matrix expanded into an
fp32 scratch buffer for torch's matmul) within float32 rounding, with no scratch buffer."""

from __future__ import annotations

import pytest
import torch

import engine
import engine.models.packed as packed
from engine.models.packed import FloatProduct
from kernels import cpu
from tests.fixtures.checkpoints import make_rwkv7_checkpoint, random_tokens
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

import kernels.cpu.gemm as gemm  # noqa: E402
from kernels.cpu.gemm import gemm_float  # noqa: E402

U = 2.0**-24   # float32's unit roundoff


def _data(T: int, n_in: int, n_out: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, n_in, generator=g)
    x[1::3] = x[1::3].relu().square()           # rows as after relu^2 (channel_mix's second product)
    return x, torch.randn(n_out, n_in, generator=g) / n_in**0.5


def _assert_within_rounding(y: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> None:
    """|y - x @ w.T| <= gamma_K * (|x| @ |w|.T) (K roundings of a sum of K terms, the classic bound),
    plus a few ulp of the result itself."""
    n_in = x.shape[-1]
    exact = x.double() @ w.double().t()
    bound = (n_in + 1) * U / (1 - (n_in + 1) * U) * (x.double().abs() @ w.double().abs().t())
    err = (y.double() - exact).abs()
    assert (err <= bound + 4 * U * exact.abs() + 1e-30).all(), float((err - bound).max())


@pytest.mark.parametrize("T", [1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 31, 47, 64, 70])
@pytest.mark.parametrize(("n_in", "n_out"), [(1, 1), (15, 47), (33, 49), (100, 96), (257, 131)])
def test_gemm_equals_float64_within_rounding(isa, threads, T, n_in, n_out):
    x, w = _data(T, n_in, n_out, seed=T * 1000 + n_in)
    _assert_within_rounding(gemm_float(x, w), x, w)


@pytest.mark.parametrize(("T", "n_in", "n_out"), [(517, 768, 200), (300, 3072, 96), (130, 768, 3072)])
def test_large_products(isa, T, n_in, n_out):
    x, w = _data(T, n_in, n_out, seed=T)
    _assert_within_rounding(gemm_float(x, w), x, w)


def test_fused_instruction_sets_give_the_same_bits():
    x, w = _data(37, 301, 131, seed=1)
    fused = [name for name in cpu.supported_isas() if name != "scalar"]
    if len(fused) < 2:
        pytest.skip("one fused instruction set here")
    before = cpu.isa()
    try:
        outs = {}
        for name in fused:
            cpu.set_isa(name)
            outs[name] = gemm_float(x, w)
    finally:
        cpu.set_isa(before)
    first = next(iter(outs.values()))
    assert all(torch.equal(first, y) for y in outs.values()), list(outs)


def test_nan_and_inf_reach_exactly_the_outputs_they_touch(isa):
    """A NaN input makes its token's row NaN; an inf weight its output's column non-finite; nothing
    else changes (no padding of the last panel or tile leaks: 0 * inf would be NaN)."""
    x, w = _data(11, 40, 53, seed=3)
    x[2, 7] = float("nan")
    x[4, 0] = float("inf")
    w[50, 39] = float("inf")
    y = gemm_float(x, w)
    assert y[2].isnan().all()
    assert (y[4].isinf() | y[4].isnan()).all()                   # inf times weights of either sign
    assert (y[:, 50].isinf() | y[:, 50].isnan()).all()
    keep_t, keep_o = [t for t in range(11) if t not in (2, 4)], [o for o in range(53) if o != 50]
    _assert_within_rounding(y[keep_t][:, keep_o], x[keep_t], w[keep_o])


def test_chained_calls_of_changing_shapes_reuse_buffers_safely(isa):
    shapes = [(512, 3071, 70), (1, 5, 3), (33, 770, 129), (512, 3071, 70), (7, 33, 1001), (2, 0, 4)]
    out = torch.empty(33, 129)
    for i, (T, n_in, n_out) in enumerate(shapes):
        x, w = _data(T, n_in, n_out, seed=i)
        buf = out if (T, n_out) == tuple(out.shape) else None
        y = gemm_float(x, w, out=buf)
        if buf is not None:
            assert y is out
        _assert_within_rounding(y, x, w)


def test_leading_dimensions_and_strided_inputs():
    x, w = _data(24, 65, 17, seed=5)
    flat = gemm_float(x, w)
    assert torch.equal(gemm_float(x.view(2, 3, 4, 65), w), flat.view(2, 3, 4, 17))
    assert torch.equal(gemm_float(x.t().contiguous().t(), w), flat)
    assert torch.equal(gemm_float(x.double(), w), flat)
    assert gemm_float(x[:0], w).shape == (0, 17)


@pytest.mark.parametrize(("T", "n_in", "n_out"), [(1, 1, 1), (5, 15, 47), (9, 33, 49), (37, 301, 131),
                                                   (70, 257, 100), (130, 768, 3072), (300, 3072, 96)])
def test_bf16_weights_equal_float64_of_their_values_and_fp32_bit_for_bit(isa, threads, T, n_in, n_out):
    x, w = _data(T, n_in, n_out, seed=T + n_in)
    wb = w.bfloat16()
    y = gemm_float(x, wb)
    _assert_within_rounding(y, x, wb.float())                   # the bf16 values, exactly widened
    assert torch.equal(y, gemm_float(x, wb.float()))


def test_bf16_weights_with_nan_inf_and_tails_of_a_row(isa):
    """Rows whose tail is shorter than a vector are read exactly up to their end (AVX2 has no 16-bit
    masked load: the tail is copied), and special values widen to themselves."""
    x, w = _data(13, 23, 50, seed=4)
    w[3, 22] = float("inf")
    w[49, 0] = float("nan")
    wb = w.bfloat16()
    y = gemm_float(x, wb)
    assert torch.equal(y.isnan(), gemm_float(x, wb.float()).isnan())
    assert (y[:, 3].isinf() | y[:, 3].isnan()).all() and y[:, 49].isnan().all()
    keep = [o for o in range(50) if o not in (3, 49)]
    _assert_within_rounding(y[:, keep], x, wb[keep].float())


def test_bad_arguments_are_refused():
    x, w = _data(3, 8, 4, seed=0)
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        gemm_float(x, w.double())
    for dtype in (torch.float16, torch.int8, torch.uint8):
        with pytest.raises(ValueError, match="float32 or bfloat16"):
            gemm_float(x, w.to(dtype))
    with pytest.raises(ValueError, match="contiguous"):
        gemm_float(x, w.bfloat16().t().contiguous().t())
    with pytest.raises(ValueError, match="contiguous"):
        gemm_float(x, w.t().contiguous().t())
    with pytest.raises(ValueError, match=r"\[out, in\]"):
        gemm_float(x, w[0])
    with pytest.raises(ValueError, match="inputs per token"):
        gemm_float(torch.randn(3, 9), w)
    with pytest.raises(ValueError, match="out must be"):
        gemm_float(x, w, out=torch.empty(3, 5))


# -- the model --------------------------------------------------------------------------------------

PROMPT_RTOL = 1e-5    # logits against torch's matmul on the same weights, relative to their largest


@pytest.fixture(scope="module")
def rwkv7_path(tmp_path_factory):
    return make_rwkv7_checkpoint(tmp_path_factory.mktemp("float-prompts") / "rwkv7.pth", n_layer=2, n_embd=128,
                                 vocab_size=1000)


def test_fp32_prompts_run_the_compiled_prefill_on_the_kept_matrices(rwkv7_path, monkeypatch):
    model = engine.load(rwkv7_path)
    assert model.kernels.name.startswith("cpu-")
    layer = model.layers[1]
    products = [v for v in (getattr(layer, n) for n in type(layer).__slots__) if isinstance(v, FloatProduct)]
    kept = {p.w.data_ptr() for p in model.weights.packed[1].values()}
    assert len(kept) == 14                                      # R K V O, the FFN's two, 4 LoRAs' eight
    assert {v.p.w.data_ptr() for v in products} == kept        # the decode step's own matrices, no copy
    prefills, calls = [], []
    decoder = model.weights.decoder
    real_prefill, real_gemm = decoder.prefill, gemm.gemm_float
    monkeypatch.setattr(decoder, "prefill",
                        lambda x, lens, *a: (prefills.append(list(lens)), real_prefill(x, lens, *a)))
    monkeypatch.setattr(gemm, "gemm_float", lambda x, w: (calls.append(tuple(x.shape)), real_gemm(x, w))[1])
    for n in (2, packed.FLOAT_GEMM_MIN_TOKENS - 1, packed.FLOAT_GEMM_MIN_TOKENS, 40):
        model.forward(random_tokens(n, 1000, seed=n))
    assert prefills == [[2], [7], [8], [40]] and calls == []   # one library call a prompt, its products inside

    # with the compiled prefill off, the same matrices through the Python products
    monkeypatch.setattr(type(model), "compiled_prompts", False)
    model.forward(random_tokens(packed.FLOAT_GEMM_MIN_TOKENS, 1000, seed=1))
    assert len(calls) == 14 * model.info.n_layer - 2          # layer 0 has no value LoRA
    calls.clear()
    model.forward(random_tokens(packed.FLOAT_GEMM_MIN_TOKENS - 1, 1000, seed=1))
    assert calls == []                                          # short prompts stay torch's


@pytest.mark.parametrize("length", [2, 7, 8, 9, 31, 70])
def test_fp32_prompt_through_the_compiled_prefill_equals_torch_matmul(rwkv7_path, monkeypatch, length):
    model = engine.load(rwkv7_path)
    tokens = random_tokens(length, 1000, seed=length)
    a, sa = model.forward(tokens)                               # the compiled prefill
    monkeypatch.setattr(type(model), "compiled_prompts", False)
    monkeypatch.setattr(packed, "FLOAT_GEMM_MIN_TOKENS", 1 << 30)   # the same model, torch's matmul
    b, sb = model.forward(tokens)
    scale = b.abs().max().item()
    assert (a - b).abs().max().item() <= PROMPT_RTOL * scale
    for name, part in sa.parts.items():
        ref = sb.parts[name]
        assert (part - ref).abs().max().item() <= PROMPT_RTOL * max(1.0, ref.abs().max().item()), name
    c, _ = engine.load(rwkv7_path, backend="torch").forward(tokens)      # and the torch-only path
    assert (a - c).abs().max().item() <= PROMPT_RTOL * scale


# -- bf16 models on a CPU without bf16 GEMMs ----------------------------------------------------------

BF16_RTOL = 1e-5     # logits (and states) against the expanded path, relative to their largest (>= 1)


def _load_bf16(path, monkeypatch, old: bool):
    """``path`` in bf16 as on a CPU without bf16 GEMMs: our float GEMM on the bf16 matrices, or with
    ``old`` the path before it (each matrix expanded into the shared fp32 scratch for torch)."""
    import engine.models.weights as weights

    monkeypatch.setattr(weights, "bf16_gemm_fast", lambda: False)     # read by `plan` at load
    with monkeypatch.context() as m:
        if old:
            m.setattr(weights.Weights, "_bf16_products", property(lambda self: False))
        model = engine.load(path, precision="bf16")
    assert model.kernels.name.startswith("cpu-") and model.dtype == torch.float32
    return model


@pytest.fixture(scope="module")
def rwkv6_path(tmp_path_factory):
    spec = LegacySpec(6, n_layer=2, n_embd=128, head_size=32, vocab_size=1000)
    return make_legacy_checkpoint(tmp_path_factory.mktemp("bf16-prompts") / "rwkv6.pth", spec)


@pytest.mark.parametrize("generation", [7, 6])
@pytest.mark.parametrize("length", [3, 8, 41])
def test_bf16_prompts_without_bf16_gemms_run_the_float_gemm_on_the_kept_matrices(
        generation, length, rwkv7_path, rwkv6_path, monkeypatch, isa):
    path = rwkv7_path if generation == 7 else rwkv6_path
    old = _load_bf16(path, monkeypatch, old=True)
    old.compiled_prompts = False                                    # RWKV-7: the path before the prefill too
    new = _load_bf16(path, monkeypatch, old=False)
    layer, kept = new.layers[1], new.weights.packed[1]
    products = [v for v in (getattr(layer, n) for n in type(layer).__slots__) if isinstance(v, FloatProduct)]
    bf16 = {p.w.data_ptr() for p in kept.values() if p.w.dtype == torch.bfloat16}
    assert bf16 and bf16 <= {v.p.w.data_ptr() for v in products}   # every kept bf16 matrix, no copy
    assert new.weights.scratch is None                              # ... and no scratch to expand into
    assert isinstance(old.weights.scratch, packed.Scratch)

    calls = []
    real = gemm.gemm_float
    monkeypatch.setattr(gemm, "gemm_float",
                        lambda x, w, out=None: (calls.append(w.dtype), real(x, w, out))[1])
    tokens = random_tokens(length, 1000, seed=length)
    if generation == 7:     # the compiled prefill, on the same kept matrices (the library's pointers)
        prefills = []
        real_prefill = new.weights.decoder.prefill
        monkeypatch.setattr(new.weights.decoder, "prefill",
                            lambda x, lens, *a: (prefills.append(list(lens)), real_prefill(x, lens, *a)))
    a, sa = new.forward(tokens)
    if generation == 7:
        assert prefills == [[length]] and calls == []
    else:
        assert calls.count(torch.bfloat16) >= 6 * new.info.n_layer     # R K V O and the FFN's, at any length
    assert new.weights.scratch is None
    b, sb = old.forward(tokens)
    assert old.weights.scratch.buf is not None                      # the old path did expand
    scale = max(1.0, b.abs().max().item())
    assert (a - b).abs().max().item() <= BF16_RTOL * scale
    for name, part in sa.parts.items():
        ref = sb.parts[name].float()
        tol = BF16_RTOL * max(1.0, ref.abs().max().item())
        if part.dtype == torch.bfloat16:       # bf16 token-shift states: one rounding of a near-tie apart
            tol = max(tol, 2**-7 * ref.abs().max().item())
        assert (part.float() - ref).abs().max().item() <= tol, name
    c, _ = new.forward([5], sa)                 # decoding continues from it (bf16 states: a looser bound)
    d, _ = old.forward([5], sb)
    assert (c - d).abs().max().item() <= 1e-3 * scale
