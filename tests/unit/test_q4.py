"""The q4 and q5 formats (engine/models/packed.py) and their compiled products (kernels/cpu/src/gemv_q4.cpp,
one template for both) on every instruction set this machine runs: the quantiser's error bound and
layout (q4's; q5's through the kernels), and, for both formats, the decode GEMV
against a float64 evaluation of the same quantised math (the block sums are exact integers, so only
float roundings remain), the prompt product (the GEMM from 16 tokens on AVX2 and AVX-512: within the
same bound, the two the same bits; shorter prompts: the GEMV's rows bit for bit), odd sizes (padding),
chained calls, non-finite inputs, extreme and zero blocks (q5's all -16 or 15 against maximal inputs:
where int16 sums of 8 steps would overflow), and refused arguments."""

from __future__ import annotations

import pytest
import torch

from engine.models.packed import Q5, Packed, dequantize_q4_rows, q4_padded, quantize_q4, quantize_q5
from kernels import cpu

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

from kernels.cpu.gemm import gemm_q4, gemm_q5, quantize_q4_input  # noqa: E402

SIZES = [(1, 1), (3, 31), (17, 33), (5, 256), (9, 257), (33, 1000), (64, 768)]   # (out, in)
FORMATS = {"q4": (quantize_q4, gemm_q4), "q5": (quantize_q5, gemm_q5)}


@pytest.fixture(params=sorted(FORMATS))
def fmt(request):
    """(quantise, prompt product) of each block format: the kernel tests run for both."""
    return FORMATS[request.param]


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
def test_gemv_equals_the_quantised_math(isa, fmt, n_out, n_in):
    p = fmt[0](_weights(n_out, n_in, seed=n_in))
    x = torch.randn(n_in, generator=torch.Generator().manual_seed(n_out))
    y = cpu.gemv(p.w, x, torch.empty(n_out), p.scale)
    ref, terms = (r[0] for r in _reference(p, x.unsqueeze(0)))
    # per block: float(int sum) * (d * s) and the float accumulation: a few float32 roundings of the
    # terms' magnitudes, not of the (smaller) result
    assert ((y.double() - ref).abs() <= 1e-6 * terms + 1e-30).all(), (y.double() - ref).abs().max()
    dense = x @ dequantize_q4_rows(p, 0, n_out).t()     # the inputs' own rounding: ~1/254 of each block's max
    assert ((y - dense).abs() <= 0.01 * terms.float() + 1e-6).all()


@pytest.mark.parametrize("n_out,n_in", SIZES)
def test_prompt_rows_are_the_quantised_math_and_short_prompts_the_decode_rows(isa, fmt, n_out, n_in):
    """Prompts of 16 tokens and more run the prompt GEMM on AVX2 and AVX-512 (the GEMV's block sums,
    accumulated over blocks in another order): within the GEMV's bound of the float64 evaluation. Fewer
    tokens (and every prompt in portable code) run the batched GEMV: the decode rows, bit for bit."""
    quantize, gemm = fmt
    p = quantize(_weights(n_out, n_in, seed=7))
    g = torch.Generator().manual_seed(n_in)
    # chained: buffers grow, then are reused; 16..70: the GEMM's whole and partial tiles of tokens
    for T in (1, 4, 40, 9, 2, 16, 17, 70, 33, 15, 48):
        x = torch.randn(T, n_in, generator=g)
        y = gemm(x, p.w, p.scale)
        assert y.shape == (T, n_out)
        ref, terms = _reference(p, x)
        assert ((y.double() - ref).abs() <= 1e-6 * terms + 1e-30).all(), (T, (y.double() - ref).abs().max())
        for t in range(T):
            row = cpu.gemv(p.w, x[t].contiguous(), torch.empty(n_out), p.scale)
            if T < 16 or isa == "scalar":
                assert torch.equal(y[t], row), (T, t)
            else:
                assert ((y[t].double() - row.double()).abs() <= 2e-6 * terms[t] + 1e-30).all(), (T, t)


@pytest.fixture(params=[False, True], ids=["avx2", "avx2+avxvnni"])
def avx2(request):
    """The AVX2 paths forced, without and with AVX-VNNI (the state before restored after), or a skip
    on a CPU without AVX2 (without AVX-VNNI)."""
    if "avx2" not in cpu.supported_isas():
        pytest.skip("this CPU cannot run avx2")
    before, before_vnni = cpu.isa(), cpu.avx_vnni()
    if cpu.set_avx_vnni(request.param) != request.param:
        cpu.set_avx_vnni(before_vnni)
        pytest.skip("this CPU has no AVX-VNNI")
    cpu.set_isa("avx2")
    yield
    cpu.set_isa(before)
    cpu.set_avx_vnni(before_vnni)


def _within(y: torch.Tensor, ref: torch.Tensor, terms: torch.Tensor, k: float = 1e-6) -> bool:
    """y within k float32-ish roundings of the terms' magnitudes of the float64 ref (NaN where ref is)."""
    ok = (y.double() - ref).abs() <= k * terms + 1e-30
    return bool((ok | (y.isnan() & ref.isnan())).all())


def _gemm(p: Packed):
    return gemm_q5 if p.w.dtype == Q5 else gemm_q4


def _gemv_rows(x: torch.Tensor, p: Packed) -> torch.Tensor:
    """The batched GEMV's rows (prompts of fewer than 16 tokens): the decode GEMV's, bit for bit."""
    return torch.cat([_gemm(p)(x[i:i + 8], p.w, p.scale) for i in range(0, x.shape[0], 8)])


AVX2_SIZES = [(37, 256), (61, 768), (19, 1000), (131, 3000), (6, 4096)]   # N never a whole panel or tile


@pytest.mark.parametrize("n_out,n_in", AVX2_SIZES)
def test_avx2_gemm_is_the_quantised_math_and_close_to_the_gemv(avx2, fmt, n_out, n_in):
    """The AVX2 prompt GEMM (from 16 tokens: int16 sums of vpmaddubsw per block, exact) within the
    GEMV's bound of the float64 evaluation, and within twice that of the AVX2 GEMV's rows; chained
    calls of whole and partial 16-token tiles (16..70), and a long prompt (several chunks of tokens)."""
    quantize, gemm = fmt
    p = quantize(_weights(n_out, n_in, seed=n_out))
    g = torch.Generator().manual_seed(n_in)
    Ts = (16, 17, 23, 24, 25, 31, 32, 33, 47, 64, 70, 16) + ((601,) if n_in in (768, 3000) else ())
    for T in Ts:
        x = torch.randn(T, n_in, generator=g) * torch.rand(T, 1, generator=g) * 4
        y = gemm(x, p.w, p.scale)
        ref, terms = _reference(p, x)
        assert _within(y, ref, terms), (T, (y.double() - ref).abs().max())
        assert _within(y, _gemv_rows(x, p).double(), terms, 2e-6), T


@pytest.mark.parametrize("n_out,n_in", [(37, 256), (131, 3000)])
def test_avx2_gemm_gives_the_avx512_gemms_bits(fmt, n_out, n_in):
    """The same integers and the same float operations in the same order: equal, not close (AVX2
    without and with AVX-VNNI, AVX-512 without and with VNNI, those this CPU runs)."""
    quantize, gemm = fmt
    p = quantize(_weights(n_out, n_in, seed=2))
    x = torch.randn(90, n_in, generator=torch.Generator().manual_seed(3))
    x[5, 40:70] = 0.0                                            # a zero block
    before, before_vnni = cpu.isa(), cpu.avx_vnni()
    try:
        outs = {}
        for name in ("avx2", "avx2+avxvnni", "avx512", "avx512vnni"):
            isa, vnni = name.split("+")[0], name.endswith("+avxvnni")
            if isa in cpu.supported_isas() and cpu.set_avx_vnni(vnni) == vnni:
                cpu.set_isa(isa)
                outs[name] = [gemm(x[:T], p.w, p.scale) for T in (16, 25, 90)]
    finally:
        cpu.set_isa(before)
        cpu.set_avx_vnni(before_vnni)
    if len(outs) < 2 or "avx2" not in outs:
        pytest.skip(f"one AVX2 variant here at most: {list(outs)}")
    for name, ys in outs.items():
        assert all(torch.equal(a, b) for a, b in zip(ys, outs["avx2"], strict=True)), name


def test_avx2_gemm_int16_sums_at_their_bound(avx2):
    """Blocks of inputs all +-1 (int8 +-127: u8 255 or 1) against weight blocks all +-1 (q -8, or -8 and
    7 mixed): each step's int16 pair sums at +-4080 and a block's 8 steps at +-32640, the most
    vpmaddubsw's int16 sums reach. Exact integers, so the float64 bound holds and every output is
    the exact count where signs agree."""
    n_in, n_out, T = 512, 21, 32
    g = torch.Generator().manual_seed(4)
    w = torch.ones(n_out, n_in)
    w[1] = -1.0
    w[2:] = torch.randint(0, 2, (n_out - 2, n_in), generator=g).float() * 2 - 1
    x = torch.ones(T, n_in)
    x[1] = -1.0
    x[2:] = torch.randint(0, 2, (T - 2, n_in), generator=g).float() * 2 - 1
    p = quantize_q4(w)
    y = gemm_q4(x, p.w, p.scale)
    ref, terms = _reference(p, x)
    assert _within(y, ref, terms)
    assert torch.allclose(y[:2, :2], torch.tensor([[512.0, -512.0], [-512.0, 512.0]]), rtol=1e-5)
    dense = x @ dequantize_q4_rows(p, 0, n_out).t()   # a block of mixed signs keeps one sign at 7/8 (q: -8..7)
    assert ((y - dense).abs() <= 0.01 * terms.float() + 1e-3).all()


def test_avx2_gemm_blocks_of_every_scale_zero_and_non_finite(avx2, fmt):
    """Weight blocks with scales from fp16 subnormals to ~1e3 and all-zero ones; input blocks from
    1e-25 to 1e25, all zero, below the quantiser's floor (scale < 1e-30: read as zero), and with an inf
    or a NaN (that token's outputs NaN, every other token's untouched)."""
    n_out, n_in, T = 45, 1300, 40
    g = torch.Generator().manual_seed(5)
    nb = (n_in + 31) // 32
    wscale = 10.0 ** torch.randint(-6, 4, (n_out, nb), generator=g).float()
    wscale[torch.rand(n_out, nb, generator=g) < 0.1] = 0.0               # zero blocks
    w = torch.randn(n_out, nb * 32, generator=g) * wscale.repeat_interleave(32, dim=1)
    quantize, gemm = fmt
    p = quantize(w[:, :n_in].contiguous())
    assert (p.scale == 0).any() and (p.scale.float().abs() < 6.2e-5).any()     # zero and subnormal fp16
    xscale = 10.0 ** torch.randint(-25, 26, (T, nb), generator=g).float()
    xscale[torch.rand(T, nb, generator=g) < 0.1] = 0.0
    xscale[3, 7] = 1e-33                                                # quantised as zeros
    x = (torch.randn(T, nb * 32, generator=g) * xscale.repeat_interleave(32, dim=1))[:, :n_in].contiguous()
    x[17, 100] = float("nan")
    x[30, 1299] = float("inf")                                          # the last, partial block
    y = gemm(x, p.w, p.scale)
    ref, terms = _reference(p, x)
    assert y[17].isnan().all() and y[30].isnan().all()
    finite = [t for t in range(T) if t not in (17, 30)]
    assert torch.isfinite(y[finite]).all()
    assert _within(y[finite], ref[finite], terms[finite])
    assert torch.equal(y[finite], gemm(x[finite], p.w, p.scale))        # a NaN token spoils only its row
    assert _within(y[finite], _gemv_rows(x[finite], p).double(), terms[finite], 2e-6)


def test_prompt_product_takes_any_leading_shape_and_an_out_buffer(fmt):
    quantize, gemm = fmt
    p = quantize(_weights(10, 300))
    x = torch.randn(2, 3, 300)
    out = torch.empty(2, 3, 10)
    assert gemm(x, p.w, p.scale, out=out) is out
    assert torch.equal(out.view(6, 10), gemm(x.view(6, 300), p.w, p.scale))
    assert gemm(torch.empty(0, 300), p.w, p.scale).shape == (0, 10)


@pytest.mark.parametrize("T", [5, 20])                  # the GEMV, the GEMM (its last tile partial)
def test_non_finite_inputs_give_nan_rows_and_zero_inputs_zero(isa, fmt, T):
    quantize, gemm = fmt
    p = quantize(_weights(6, 100))
    x = torch.zeros(T, 100)
    x[1, 50] = float("inf")
    x[2, 3] = float("nan")
    x[T - 1, 99] = float("-inf")
    y = gemm(x, p.w, p.scale)
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


def test_q5_bad_arguments_are_refused():
    p, p4 = quantize_q5(_weights(4, 64)), quantize_q4(_weights(4, 64))
    with pytest.raises(ValueError, match="300 inputs per token: q5 rows of 320 bytes, not 160"):
        gemm_q5(torch.randn(2, 300), p.w, p.scale)
    with pytest.raises(ValueError, match="float16"):
        gemm_q5(torch.randn(2, 64), p.w, p.scale.float())
    with pytest.raises(ValueError, match="uint5"):
        gemm_q5(torch.randn(2, 64), p4.w, p4.scale)                   # q4's bytes are not q5's
    with pytest.raises(ValueError, match="uint8"):
        gemm_q4(torch.randn(2, 64), p.w, p.scale)
    with pytest.raises(ValueError, match="q5 weights"):
        cpu.gemv(p.w, torch.randn(300), torch.empty(4), p.scale)
    with pytest.raises(ValueError, match="q5 weights"):
        cpu.gemv(p.w, torch.randn(64), torch.empty(4), None)
    with pytest.raises(ValueError, match="q5 weights"):
        cpu.gemv(p.w.view(torch.uint8)[:, :128].contiguous().view(Q5), torch.randn(64), torch.empty(4), p.scale)


def _q5_group(q: torch.Tensor) -> torch.Tensor:
    """The 160 bytes of one q5 group of 8 blocks q [8, 32] (values -16..15), written from the format's
    definition (not packed.py's code): nibbles as q4's, then the plane of high bits (bit s of byte k:
    step s's byte k)."""
    u = (q + 16).to(torch.int64)
    out = torch.zeros(160, dtype=torch.int64)
    for c in range(4):
        for i in range(8):
            for j in range(4):
                out[32 * c + 4 * i + j] = (u[i, 4 * c + j] & 15) | (u[i, 4 * c + 16 + j] & 15) << 4
    for i in range(8):
        for j in range(4):
            out[128 + 4 * i + j] = sum(int(u[i, 4 * st + j] >> 4) << st for st in range(8))
    return out.to(torch.uint8)


def test_q5_layout_of_one_group_and_the_kernels_read_it(isa):
    """Rows of 2 groups (the second shifts every value by one, wrapping) built from the format's
    definition: the quantiser writes those bytes, dequantize_q4_rows reads them back, and the GEMV
    and the prompt GEMM, given inputs 127 e_k (quantised exactly: scale 1, value 127), return 127 q
    exactly for every input k, so every value's place in the layout is the one the kernels read."""
    g = torch.Generator().manual_seed(11)
    rows = []
    for r in range(3):
        q = torch.randint(-16, 16, (16, 32), generator=g)
        q[:, 0] = -16                                            # each block's extreme: scale exactly 1
        if r == 1:
            q[:, 1:] = 15
        rows.append(q)
    q = torch.stack(rows)                                        # [row, block, value]
    p = quantize_q5(q.float().reshape(3, 512))
    assert p.w.dtype == Q5 and p.w.shape == (3, 320) and (p.scale.float() == 1).all()
    want = torch.stack([torch.cat([_q5_group(q[r, 8 * h:8 * h + 8]) for h in range(2)]) for r in range(3)])
    assert torch.equal(p.w.view(torch.uint8), want)
    assert torch.equal(dequantize_q4_rows(p, 0, 3), q.float().reshape(3, 512))
    x = torch.eye(512) * 127
    ref = (127 * q.reshape(3, 512)).t().float()
    assert torch.equal(cpu.gemv(p.w, x[:5], torch.empty(5, 3), p.scale), ref[:5])
    assert torch.equal(gemm_q5(x, p.w, p.scale), ref)            # the GEMM on AVX2 / AVX-512


def _extreme_q5(n_out: int, n_in: int, seed: int) -> Packed:
    """q5 rows built byte by byte: row 0 all 15 (bytes 0xff), row 1 all -16 (0x00), the rest each
    block all 15 or all -16 at random, scale 1."""
    kp = q4_padded(n_in)
    sign = torch.randint(0, 2, (n_out, kp // 32), generator=torch.Generator().manual_seed(seed))
    sign[0], sign[1] = 1, 0
    groups = sign.view(n_out, -1, 8)
    full = torch.tensor([0xFF], dtype=torch.uint8).expand(160).clone()
    w = torch.zeros(n_out, kp // 256, 160, dtype=torch.uint8)
    for r in range(n_out):
        for h in range(kp // 256):
            blocks = torch.where(groups[r, h].bool().unsqueeze(1), 15, -16).expand(8, 32)
            w[r, h] = full if groups[r, h].all() else _q5_group(blocks)
    return Packed(w.view(n_out, -1).view(Q5), torch.ones(n_out, kp // 32, dtype=torch.float16), n_in)


def test_q5_extreme_blocks_against_maximal_inputs(isa):
    """Every weight 15 or -16 against inputs all +-1 (int8 +-127): a block's 8 steps of u8 (q + 16 <=
    31) x s8 products reach 8 * 2 * 31 * 127 = 62992 in the GEMV, and the prompt GEMM's s8 weights
    (|q| <= 16) x u8 inputs (<= 255) 8 * 2 * 255 * 16 = 65280: beyond int16 both, so an int16 sum over
    a block's 8 steps (AVX2's vpmaddubsw paths) would wrap. Exact integers: the float64 bound holds and
    rows of one sign give the exact count."""
    n_in, n_out, T = 512, 21, 32
    p = _extreme_q5(n_out, n_in, seed=6)
    g = torch.Generator().manual_seed(7)
    x = torch.ones(T, n_in)
    x[1] = -1.0
    x[2:] = torch.randint(0, 2, (T - 2, n_in), generator=g).float() * 2 - 1
    x[3] = torch.where(dequantize_q4_rows(p, 2, 3)[0] > 0, 1.0, -1.0)   # every product of row 2 positive
    for y in (gemm_q5(x, p.w, p.scale), _gemv_rows(x, p)):             # the GEMM (AVX2 / AVX-512), the GEMV
        ref, terms = _reference(p, x)
        assert _within(y, ref, terms)
        assert torch.allclose(y[:2, :2], torch.tensor([[15.0 * 512, -16.0 * 512], [-15.0 * 512, 16.0 * 512]]),
                              rtol=1e-5)
        assert torch.allclose(y[3, 2], ref[3, 2].float(), rtol=1e-5) and ref[3, 2] >= 15 * 512


def test_avx2_gemv_with_avx_vnni_gives_the_same_bits(fmt):
    """The decode GEMV (one input and batches of up to 4 a pass) on AVX2 with AVX-VNNI (vpdpbusd into
    int32) and without (vpmaddubsw's int16 sums): the same integers, the same float operations."""
    if "avx2" not in cpu.supported_isas():
        pytest.skip("this CPU cannot run avx2")
    quantize, _ = fmt
    p = quantize(_weights(67, 1000, seed=5))
    g = torch.Generator().manual_seed(6)
    xs = [torch.randn(B, 1000, generator=g) * 3 for B in (1, 2, 4, 7)]
    xs[1][1, 96:128] = 0.0                                       # a zero block
    before, before_vnni = cpu.isa(), cpu.avx_vnni()
    try:
        cpu.set_isa("avx2")
        outs = {}
        for vnni in (False, True):
            if cpu.set_avx_vnni(vnni) == vnni:
                outs[vnni] = [cpu.gemv(p.w, x, torch.empty(x.shape[0], 67), p.scale) for x in xs]
    finally:
        cpu.set_isa(before)
        cpu.set_avx_vnni(before_vnni)
    if len(outs) < 2:
        pytest.skip("this CPU has no AVX-VNNI")
    assert all(torch.equal(a, b) for a, b in zip(outs[False], outs[True], strict=True))
