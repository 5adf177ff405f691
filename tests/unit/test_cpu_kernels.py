"""The compiled CPU kernels (kernels/cpu/__init__.py) equal the torch code on every instruction set this
machine runs: the WKV-7 recurrence against kernels.reference, the GEMV against torch, and the fused
whole-model decode step against the engine's torch path (logits and state within 1e-4)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import engine
import kernels
from engine.models.checkpoint import read_checkpoint
from engine.models.rwkv7 import RWKV7
from kernels import cpu, reference
from kernels.cpu.gemm import quantize_rows
from tests.fixtures.checkpoints import Rwkv7Spec, random_tokens

if not cpu.available():
    pytest.skip(f"compiled CPU kernels not built here: {cpu._error}", allow_module_level=True)

TOL = 1e-4
def _wkv_inputs(T: int, H: int, N: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    r, k, v = (torch.randn(T, H, N, generator=g) for _ in range(3))
    w = torch.exp(-0.606531 * torch.sigmoid(2 * torch.randn(T, H, N, generator=g)))
    kk = torch.nn.functional.normalize(torch.randn(T, H, N, generator=g), dim=-1)
    gate = torch.sigmoid(torch.randn(T, H, N, generator=g))
    return (r, w, k, v, -kk, kk * gate), 0.5 * torch.randn(H, N, N, generator=g)


@pytest.mark.parametrize("T,H,N", [(1, 1, 8), (7, 3, 32), (33, 2, 64), (100, 5, 64), (20, 1, 24)])
def test_wkv7_seq_equals_reference(isa, threads, T, H, N):
    args, s0 = _wkv_inputs(T, H, N, seed=T + N)
    s_ref, s_cpu = s0.clone(), s0.clone()
    y_ref = reference.wkv7_seq(*args, s_ref)
    y_cpu = cpu.wkv7_seq(*args, s_cpu)
    assert (y_ref - y_cpu).abs().max() <= 2e-6 * y_ref.abs().max()
    assert (s_ref - s_cpu).abs().max() <= 2e-6 * s_ref.abs().max()


def test_wkv7_steps_chain_like_a_sequence(isa):
    args, s0 = _wkv_inputs(12, 2, 32, seed=1)
    s_seq, s_one = s0.clone(), s0.clone()
    y_seq = cpu.wkv7_seq(*args, s_seq)
    y_one = torch.stack([cpu.wkv7_one(*(a[t] for a in args), s_one) for t in range(12)])
    assert torch.equal(y_seq, y_one) and torch.equal(s_seq, s_one)


_ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "silu": torch.nn.functional.silu,
                "relu_sq": lambda y: torch.relu(y) ** 2}


@pytest.mark.parametrize("name", list(_ACTIVATIONS))
@pytest.mark.parametrize("n", [1, 7, 8, 17, 100_003])
def test_activations_equal_torch(isa, name, n):
    """The decode step's activations (vectorised on AVX2 / AVX-512, masked tails) within 2e-7 relative
    of float64 torch, over magnitudes from 1e-30 to 100 and the edges of tanh's two branches (1e-35
    absolute: exp clamps at 88, so sigmoid and silu of x < -88 give ~1e-36 instead of ~0); inf and
    NaN as torch gives them (relu_sq maps NaN to 0, as the scalar code always did)."""
    g = torch.Generator().manual_seed(n)
    edges = torch.tensor([0.0, -0.0, 0.6249, 0.625, 0.6251, -0.625, 9.0, 88.0, -88.0, 1e-30, -1e-30])
    x = torch.cat([torch.randn(n, generator=g) * torch.logspace(-30, 2, n).flip(0)[torch.randperm(n, generator=g)],
                   edges])
    want = _ACTIVATIONS[name](x.double())
    got = cpu.activation(name, x.clone()).double()
    assert ((got - want).abs() <= 2e-7 * want.abs() + 1e-35).all()
    special = torch.tensor([float("inf"), float("-inf"), float("nan")])
    want = _ACTIVATIONS[name](special.double())
    if name == "relu_sq":
        want = want.nan_to_num(nan=0.0, posinf=float("inf"))
    got = cpu.activation(name, special.clone()).double()
    if name == "silu":   # -inf * sigmoid(-inf): torch's 0 * -inf is NaN; ours -inf * 6e-39 (exp clamps at 88)
        got, want = got[[0, 2]], want[[0, 2]]
    elif name == "sigmoid":  # sigmoid(-inf) = 1 / (1 + exp(88)), 6e-39 (exp clamps at 88)
        assert 0 <= got[1] < 1e-38
        got, want = got[[0, 2]], want[[0, 2]]
    assert torch.equal(got.nan_to_num(nan=7.0), want.nan_to_num(nan=7.0))


def test_activations_refuse_bad_input():
    with pytest.raises(ValueError, match="unknown activation"):
        cpu.activation("gelu", torch.zeros(4))
    with pytest.raises(ValueError, match="float32"):
        cpu.activation("tanh", torch.zeros(4, dtype=torch.float64))


@pytest.mark.parametrize("rows,cols", [(1, 1), (5, 13), (1001, 100), (64, 768), (770, 64), (9, 2200), (3, 4230)])
@pytest.mark.parametrize("wtype", ["fp32", "bf16", "int8"])
def test_gemv_equals_torch(isa, threads, rows, cols, wtype):
    g = torch.Generator().manual_seed(rows * 31 + cols)
    w, x = torch.randn(rows, cols, generator=g), torch.randn(cols, generator=g)
    scale = None
    if wtype == "bf16":
        w = w.bfloat16()
    elif wtype == "int8":
        w = torch.randint(-127, 128, (rows, cols), generator=g, dtype=torch.int8)
        scale = torch.rand(rows, generator=g) / 64
    expected = w.float() @ x * (1 if scale is None else scale)
    out = cpu.gemv(w, x, torch.empty(rows), scale)
    tol = 1e-5 * max(1.0, expected.abs().max().item()) * cols**0.5
    if wtype == "int8":   # x rounded to 8 bits: each input within one step s of its value
        _, s, _ = quantize_rows(x[None])
        tol = tol + s * (w.float().abs().sum(dim=1) * scale)
    assert ((out - expected).abs() <= tol).all()



@pytest.mark.parametrize("cols", [2048, 4230, 8192, cpu.INT8_MAX_IN])
def test_int8_gemv_sums_do_not_overflow(isa, cols):
    """The worst cases for the int32 sums: every product at its largest, 255 x -128 and 255 x 127
    (x all ones: u = 255, zero point 0), and the zero point's 255 x 127 (x all -1: u = 0, z = 255).
    Every value is exact (x = +-1 quantises without error), so only the float rounding remains."""
    w = torch.full((4, cols), 127, dtype=torch.int8)
    w[1] = -128
    w[3, ::2] = -128
    scale = torch.ones(4)
    for x in (torch.ones(cols), -torch.ones(cols)):
        out = cpu.gemv(w, x, torch.empty(4), scale)
        expected = w.double() @ x.double()
        assert ((out.double() - expected).abs() <= 3 * 2.0**-24 * expected.abs()).all()
    with pytest.raises(ValueError, match="at most"):
        cpu.gemv(torch.zeros(1, cpu.INT8_MAX_IN + 1, dtype=torch.int8), torch.ones(cpu.INT8_MAX_IN + 1),
                 torch.empty(1), torch.ones(1))

SPECS = [
    Rwkv7Spec(n_layer=3, n_embd=128, head_size=32, vocab_size=1001),    # odd layers, vocab % 16 != 0
    Rwkv7Spec(n_layer=1, n_embd=64, head_size=32, vocab_size=523),      # one layer: no value residual
    Rwkv7Spec(n_layer=2, n_embd=128, head_size=64, vocab_size=1000, dim_ffn=320, seed=2),
]


def _load_torch_path(path) -> RWKV7:
    model = engine.load(path, backend="torch")
    assert model.weights.decoder is None and model.kernels.name == "torch-chunked"
    return model


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fused_decode_equals_torch_path(isa, threads, spec, rwkv7_checkpoint):
    path = rwkv7_checkpoint(spec)
    fast, slow = engine.load(path), _load_torch_path(path)
    assert fast.weights.decoder is not None and fast.kernels.name == f"cpu-{isa}"
    tokens = random_tokens(30, spec.vocab_size, seed=7)
    s_fast, s_slow = fast.new_state(), slow.new_state()
    a, _ = fast.forward(tokens[:9], s_fast)     # prompt: torch GEMMs + C WKV sequence
    b, _ = slow.forward(tokens[:9], s_slow)
    assert (a - b).abs().max() <= TOL
    for i, t in enumerate(tokens[9:]):        # then token by token, state carried
        a, _ = fast.forward([t], s_fast)
        b, _ = slow.forward([t], s_slow)
        assert (a - b).abs().max() <= TOL, f"step {i}"
    for name, part in s_fast.parts.items():
        assert (part - s_slow.parts[name]).abs().max() <= TOL, name


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fused_bf16_decode_equals_the_portable_path(isa, spec, rwkv7_checkpoint):
    """bf16 matrices on AVX-512 take each input split into even and odd halves (once per GEMV,
    shared by the matrices that read it): a decode step stays within float32 summation-order noise
    (measured ~4e-7) of the portable code's, which takes every input as it is. One step each from
    the same state: over a chain of steps, a bf16 token-shift state rounded the other way at a
    near-tie would move later logits by ~1e-4 on any two paths."""
    model = engine.load(rwkv7_checkpoint(spec), precision="bf16")
    assert model.weights.decoder is not None
    tokens = random_tokens(30, spec.vocab_size, seed=11)
    start = model.new_state()
    model.forward(tokens[:5], start)

    def steps():
        return torch.stack([model.forward([t], start.clone())[0].clone() for t in tokens[5:]])

    here = steps()
    cpu.set_isa("scalar")
    try:
        portable = steps()
    finally:
        cpu.set_isa(isa.split("+")[0])
    assert (here - portable).abs().max() <= 2e-5 * portable.abs().max()


def test_fused_decode_is_closer_to_float64_than_torch_fp32(rwkv7_checkpoint):
    """Where fp32 rounding is amplified (a GroupNorm over a near-flat head), the fused step stays
    near the exact result; the torch path (and the oracle, which computes like it) drifts more."""
    path = rwkv7_checkpoint(Rwkv7Spec(n_layer=2, n_embd=256, vocab_size=1000))
    fast, slow = engine.load(path), _load_torch_path(path)
    exact = RWKV7(read_checkpoint(path), torch.device("cpu"), torch.float64)
    states = [m.new_state() for m in (fast, slow, exact)]
    worst = [0.0, 0.0]
    for t in random_tokens(40, 1000, seed=1040):
        fl, sl, el = (m.forward([t], s)[0] for m, s in zip((fast, slow, exact), states, strict=True))
        worst = [max(worst[0], (fl - el).abs().max().item()), max(worst[1], (sl - el).abs().max().item())]
    assert worst[0] <= 1e-4 and worst[0] <= worst[1]


def test_decode_reuses_logits_only_when_nobody_holds_them(rwkv7_checkpoint):
    model = engine.load(rwkv7_checkpoint(SPECS[0]))
    state = model.new_state()
    kept, _ = model.forward([1], state)
    kept_copy = kept.clone()
    ptrs = set()
    for t in range(2, 12):
        logits, _ = model.forward([t], state)
        ptrs.add(logits.data_ptr())
    assert torch.equal(kept, kept_copy)             # what a caller keeps is never overwritten
    assert len(ptrs) <= 2                           # steady state: two buffers take turns
    assert state.last_logits is logits


def test_results_do_not_depend_on_thread_count(rwkv7_checkpoint):
    model = engine.load(rwkv7_checkpoint(SPECS[0]))
    before, out = torch.get_num_threads(), []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            state = model.new_state()
            model.forward([3, 4, 5], state)
            out.append(model.forward([6], state)[0].clone())
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(out[0], o) for o in out[1:])


def test_env_var_forces_a_lower_isa():
    code = "from kernels import cpu; print(cpu.isa())"
    env = dict(os.environ, RWKV_CPU_ISA="scalar")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "scalar"


def test_env_var_keeps_avx2_without_avx_vnni():
    code = "from kernels import cpu; cpu.set_isa('avx2'); print(cpu.kernels_name(), cpu.avx_vnni())"
    env = dict(os.environ, RWKV_CPU_AVXVNNI="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    if "avx2" in cpu.supported_isas():
        assert out.stdout.split() == ["avx2", "False"]
    assert cpu.set_avx_vnni(True) is bool(cpu.library().rwkv_cpu_get_avx_vnni())   # on only where the CPU has it


def test_select_uses_the_library_for_cpu_fp32_bf16_int8():
    for precision in ("fp32", "bf16", "int8"):
        choice = kernels.select(7, "cpu", precision)
        assert choice.name == f"cpu-{cpu.kernels_name()}" and choice.backend == "cpu"
        assert choice.decoder is cpu.Rwkv7Decoder and choice.gemv is cpu.gemv and choice.seq is cpu.wkv7_seq
        assert kernels.select(6, "cpu", precision).decoder is cpu.Rwkv456Decoder
    assert kernels.select(7, "cpu", "fp16").decoder is None
    assert kernels.select(7, "cpu", "fp32", backend="torch").name == "torch-chunked"
    with pytest.raises(kernels.Unavailable, match="fp16"):
        kernels.select(7, "cpu", "fp16", backend="cpu")


def test_missing_library_falls_back_to_torch_and_warns_once(monkeypatch, caplog, rwkv7_checkpoint):
    def missing():
        raise cpu.Unavailable("simulated: no compiled library")

    monkeypatch.setattr(cpu, "_find", missing)
    monkeypatch.setattr(cpu, "_lib", None)
    monkeypatch.setattr(cpu, "_error", None)
    monkeypatch.setattr(kernels, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="kernels"):
        first = engine.load(rwkv7_checkpoint(SPECS[1]))
        engine.load(rwkv7_checkpoint(SPECS[1]), precision="int8")
    warnings = [r for r in caplog.records if "compiled CPU kernels unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "simulated" in warnings[0].getMessage()
    assert first.kernels.name == "torch-chunked" and first.weights.decoder is None
    logits, _ = first.forward([1, 2, 3])
    assert torch.isfinite(logits).all()


@pytest.mark.skipif("avx512vnni" not in cpu.supported_isas(), reason="this CPU has no AVX-512 VNNI")
def test_vnni_int8_gemv_is_bit_identical_to_avx512():
    """vpdpwssd computes the same int32 sums as vpmaddwd + vpaddd: the results are equal, not close."""
    g = torch.Generator().manual_seed(8)
    w = torch.randint(-127, 128, (300, 2200), dtype=torch.int8, generator=g)    # > I16_BLOCK columns
    scale, x = torch.rand(300, generator=g), torch.randn(2200, generator=g)
    before = cpu.isa()
    try:
        outs = []
        for name in ("avx512", "avx512vnni"):
            cpu.set_isa(name)
            outs.append(cpu.gemv(w, x, torch.empty(300), scale))
    finally:
        cpu.set_isa(before)
    assert torch.equal(outs[0], outs[1])


_LAYOUTS = Path(cpu.__file__).parent / "src" / "layouts.h"
_TABLES = {"rwkv7.layer": "RWKV7_LAYER_PTRS", "rwkv7.dims": "RWKV7_DIMS", "rwkv456.layer": "RWKV456_LAYER_PTRS",
           "rwkv456.dims": "RWKV456_DIMS", "global": "GLOBAL_PTRS"}


@pytest.mark.parametrize("table", sorted(_TABLES))
def test_the_library_serves_the_layouts_its_source_declares(table):
    """Python orders the decode steps' pointers and sizes by the library's own tables; a library
    built from another layouts.h (a stale build) would show here before it read a wrong pointer."""
    macro = re.search(rf"#define {_TABLES[table]}\(X\)(.*?)(?:\n\n|\n#)", _LAYOUTS.read_text(), re.S).group(1)
    declared = tuple(re.findall(r"X\(\w+, (\w+)\)", macro))
    assert declared and cpu.table(table) == declared
    assert len(set(declared)) == len(declared)


def test_a_decoder_refuses_names_its_table_does_not_have():
    with pytest.raises(ValueError, match=r"unknown \['not_a_weight'\]"):
        cpu.Rwkv7Decoder({}, [{"not_a_weight": torch.zeros(1)}], {})
    with pytest.raises(ValueError, match=r"dims do not match.*missing \['lora_type'"):
        dims = {n: 1 for n in cpu.table("rwkv7.dims") if n != "lora_type"}
        cpu.Rwkv7Decoder(dims, [], {})
