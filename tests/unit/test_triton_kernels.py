"""The Triton WKV kernels (kernels.gpu) equal the plain loops, run under Triton's CPU interpreter.

The interpreter is switched on by ``TRITON_INTERPRET=1``, read when triton decorates the kernels,
so every comparison runs in one child process (this file run as a script) and the variable never
leaks into other tests. The child prints one JSON line: per case, the largest error of ``y`` and of
the final state, each relative to the largest magnitude of the reference's. Measured (triton 3.9,
numpy fp32 matmuls): <= 5e-7 everywhere, so TOL = 1e-5 leaves margin without hiding a real bug
(a wrong index or a missed decay gives errors of order 1). What the interpreter cannot tell:
compiled speed, TF32 use in ``tl.dot`` (it multiplies in plain fp32 whatever the precision flag),
and whether the real compiler accepts the kernels: the last tests compile them ahead of time for
NVIDIA GPUs that are not here. See docs/engine.md, "GPU kernels".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-5
try:
    import triton  # noqa: F401  (only to know whether it imports; kernels are run in the child)
    HAS_TRITON = True
except ImportError:
    HAS_TRITON = False
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed (not in the test extra: a 286 MB "
                                  "wheel); verified with `pip install 'triton==3.9.*'`")

# (T, H, N): single token, shorter than a chunk, chunk + partial, several chunks.
SHAPES = [(1, 1, 16), (7, 2, 32), (33, 3, 64), (100, 2, 64)]
CASES = ([f"wkv7-recurrent-{T}x{H}x{N}" for T, H, N in SHAPES]
         + [f"wkv7-chunked16-{T}x{H}x{N}" for T, H, N in SHAPES]
         + ["wkv7-chunked32-33x2x64", "wkv7-chunked32-100x2x32", "wkv7-chunked32-min-decay-64x2x64",
            "wkv7-chained-seq-and-one", "wkv7-batched-2x20x2x32", "wkv7-bf16-inputs", "wkv7-fp16-inputs",
            "wkv7-noncontiguous-state", "wkv7-self-check", "engine-rwkv7-logits",
            "wkv7-head-size-8-uses-torch"]
         + [f"wkv6-recurrent-{T}x{H}x{N}" for T, H, N in SHAPES[:3]]
         + ["wkv6-chained-seq-and-one", "wkv5-constant-decay-near-zero", "wkv6-bf16-inputs",
            "wkv6-head-size-8-uses-torch", "wkv6-self-check", "engine-rwkv6-logits"])


# -- the child process ----------------------------------------------------------------------------

def _wkv7_inputs(T, H, N, seed, lead=(), min_decay=False):
    g = torch.Generator().manual_seed(seed)
    shape = (*lead, T, H, N)
    r, k, v = (torch.randn(shape, generator=g) for _ in range(3))
    # RWKV-7's decay exp(-e^-0.5 sigmoid(x)) lies in (0.545, 1); min_decay is its worst case.
    w = torch.exp(-0.606531 * torch.sigmoid(2 * torch.randn(shape, generator=g)))
    if min_decay:
        w = torch.full(shape, 0.5455)
    kk = torch.nn.functional.normalize(torch.randn(shape, generator=g), dim=-1)
    gate = torch.sigmoid(torch.randn(shape, generator=g))
    return [r, w, k, v, -kk, kk * gate], 0.5 * torch.randn(*lead, H, N, N, generator=g)


def _wkv6_inputs(T, H, N, seed, constant_decay=False):
    g = torch.Generator().manual_seed(seed)
    r, k, v = (torch.randn(T, H, N, generator=g) for _ in range(3))
    if constant_decay:     # RWKV-5.2: one decay per channel, some of them almost 0
        w = torch.exp(-torch.exp(2 * torch.randn(H, N, generator=g))).expand(T, H, N)
    else:                  # RWKV-6: exp(-exp(x)) per token
        w = torch.exp(-torch.exp(torch.randn(T, H, N, generator=g) - 1))
    u = torch.randn(H, N, generator=g)
    return [r, w, k, v, u], 0.5 * torch.randn(H, N, N, generator=g)


def _wkv6_loop(r, w, k, v, u, S):
    """RWKV-5.2/6 written out (BlinkDL's ``rwkv`` 0.8.32): S[h, key, value]; y = r (u k v^T + S)."""
    y = torch.empty(r.shape)
    for t in range(r.shape[0]):
        kv = k[t, :, :, None] * v[t, :, None, :]
        y[t] = torch.einsum("hk,hkv->hv", r[t], S + u[:, :, None] * kv)
        S.mul_(w[t, :, :, None]).add_(kv)
    return y


def _rel(x, ref):
    return float((x - ref).abs().max() / ref.abs().max())


def _compare(y, s, y_ref, s_ref):
    return [_rel(y, y_ref), _rel(s, s_ref)]


def _run_case(name):
    from kernels import gpu, reference
    from kernels.gpu import triton_wkv6, triton_wkv7

    def against_ref7(kernel, args, s0):
        s_ref, s = s0.clone(), s0.clone()
        y_ref = reference.wkv7_seq(*(t.float() for t in args), s_ref)
        return _compare(kernel(*args, s), s, y_ref, s_ref)

    kind, _, rest = name.partition("-")
    shape = tuple(int(x) for x in rest.split("-")[-1].split("x")) if rest[-1].isdigit() else None
    if kind == "wkv7" and rest.startswith(("recurrent", "chunked")) and "min-decay" not in rest:
        args, s0 = _wkv7_inputs(*shape, seed=sum(shape))
        chunk = 32 if rest.startswith("chunked32") else 16
        kernel = triton_wkv7.wkv7_recurrent if rest.startswith("recurrent") else \
            (lambda *a: triton_wkv7.wkv7_chunked(*a, chunk=chunk))
        return against_ref7(kernel, args, s0)
    if name == "wkv7-chunked32-min-decay-64x2x64":
        args, s0 = _wkv7_inputs(64, 2, 64, seed=1, min_decay=True)
        return against_ref7(lambda *a: triton_wkv7.wkv7_chunked(*a, chunk=32), args, s0)
    if name == "wkv7-chained-seq-and-one":   # prompt pieces and single steps, the state carried
        args, s0 = _wkv7_inputs(60, 2, 32, seed=2)
        s_ref, s = s0.clone(), s0.clone()
        y_ref = reference.wkv7_seq(*args, s_ref)
        ys = [gpu.wkv7_seq(*(t[0:5] for t in args), s), gpu.wkv7_seq(*(t[5:40] for t in args), s),
              gpu.wkv7_one(*(t[40] for t in args), s)[None], gpu.wkv7_seq(*(t[41:60] for t in args), s)]
        return _compare(torch.cat(ys), s, y_ref, s_ref)
    if name == "wkv7-batched-2x20x2x32":      # leading batch dims: one independent state each
        args, s0 = _wkv7_inputs(20, 2, 32, seed=4, lead=(2,))
        s = s0.clone()
        y = gpu.wkv7_seq(*args, s)
        s_ref = s0.clone()
        y_ref = torch.stack([reference.wkv7_seq(*(t[i] for t in args), s_ref[i]) for i in range(2)])
        return _compare(y, s, y_ref, s_ref)
    if name in ("wkv7-bf16-inputs", "wkv7-fp16-inputs"):   # low-precision inputs, fp32 math and state
        dt = torch.bfloat16 if "bf16" in name else torch.float16
        args, s0 = _wkv7_inputs(40, 2, 32, seed=5)
        low = [t.to(dt) for t in args]
        s = s0.clone()
        y = gpu.wkv7_seq(*low, s)
        assert y.dtype == torch.float32 and s.dtype == torch.float32
        s_ref = s0.clone()
        return _compare(y, s, reference.wkv7_seq(*(t.float() for t in low), s_ref), s_ref)
    if name == "wkv7-noncontiguous-state":    # written back into the caller's tensor
        args, s0 = _wkv7_inputs(20, 2, 16, seed=6)
        s = s0.transpose(-1, -2).contiguous().transpose(-1, -2)
        assert not s.is_contiguous() and torch.equal(s, s0)
        s_ref = s0.clone()
        y_ref = reference.wkv7_seq(*args, s_ref)
        return _compare(gpu.wkv7_seq(*args, s), s, y_ref, s_ref)
    if name == "wkv7-self-check":
        return [0.0, 0.0] if gpu.check("cpu", "fp32") == "" and gpu.check("cpu", "bf16") == "" else [1.0, 1.0]
    if name == "wkv7-head-size-8-uses-torch":  # no Triton block shape fits: the torch path, not an error
        args, s0 = _wkv7_inputs(20, 2, 8, seed=10)
        s_ref, s = s0.clone(), s0.clone()
        y_ref = reference.wkv7_seq(*args, s_ref)
        y = torch.cat([gpu.wkv7_seq(*(t[:19] for t in args), s), gpu.wkv7_one(*(t[19] for t in args), s)[None]])
        return _compare(y, s, y_ref, s_ref)
    if name == "engine-rwkv7-logits":         # the engine's own call shapes: a prompt, then decoding
        return _engine_logits()
    if kind == "wkv6" and rest.startswith("recurrent"):
        args, s0 = _wkv6_inputs(*shape, seed=sum(shape))
        s_ref, s = s0.clone(), s0.clone()
        return _compare(triton_wkv6.wkv6_recurrent(*args, s), s, _wkv6_loop(*args, s_ref), s_ref)
    if name == "wkv6-chained-seq-and-one":
        args, s0 = _wkv6_inputs(30, 2, 32, seed=7)
        r, w, k, v, u = args
        s_ref, s = s0.clone(), s0.clone()
        y_ref = _wkv6_loop(*args, s_ref)
        ys = [gpu.wkv6_seq(r[:12], w[:12], k[:12], v[:12], u, s),
              gpu.wkv6_one(r[12], w[12], k[12], v[12], u, s)[None],
              gpu.wkv6_seq(r[13:], w[13:], k[13:], v[13:], u, s)]
        return _compare(torch.cat(ys), s, y_ref, s_ref)
    if name == "wkv5-constant-decay-near-zero":
        args, s0 = _wkv6_inputs(20, 2, 32, seed=8, constant_decay=True)
        s_ref, s = s0.clone(), s0.clone()
        return _compare(gpu.wkv6_seq(*args, s), s, _wkv6_loop(*args, s_ref), s_ref)
    if name == "wkv6-head-size-8-uses-torch":
        args, s0 = _wkv6_inputs(20, 2, 8, seed=11)
        r, w, k, v, u = args
        s_ref, s = s0.clone(), s0.clone()
        y_ref = _wkv6_loop(*args, s_ref)
        y = torch.cat([gpu.wkv6_seq(r[:19], w[:19], k[:19], v[:19], u, s),
                       gpu.wkv6_one(r[19], w[19], k[19], v[19], u, s)[None]])
        return _compare(y, s, y_ref, s_ref)
    if name == "wkv6-bf16-inputs":
        args, s0 = _wkv6_inputs(20, 2, 32, seed=9)
        low = [t.bfloat16() for t in args[:4]] + [args[4]]
        s_ref, s = s0.clone(), s0.clone()
        y_ref = _wkv6_loop(*(t.float() for t in low), s_ref)
        return _compare(gpu.wkv6_seq(*low, s), s, y_ref, s_ref)
    if name == "wkv6-self-check":
        ok = gpu.check_wkv6("cpu", "fp32") == "" and gpu.check_wkv6("cpu", "bf16") == ""
        return [0.0, 0.0] if ok else [1.0, 1.0]
    if name == "engine-rwkv6-logits":
        return _engine_rwkv6_logits()
    raise KeyError(name)


def _engine_rwkv6_logits():
    """An RWKV-6 model on the torch path with the Triton WKV (what runs on CUDA) against the torch WKV."""
    import engine
    from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

    tokens = torch.randint(0, 128, (40,), generator=torch.Generator().manual_seed(3)).tolist()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = make_legacy_checkpoint(Path(tmp) / "v6.pth", LegacySpec(6, n_layer=2, n_embd=64, head_size=32,
                                                                       vocab_size=128))
        models = [engine.load(path, device="cpu", precision="fp32", backend=b) for b in ("torch", "triton")]
    for model in models:     # every token through the torch layers, which call the chosen WKV
        assert model.kernels.backend in ("torch", "triton") and model.weights.decoder is None
        logits, state = model.forward(tokens[:37])
        steps = [model.forward([t], state)[0] for t in tokens[37:]]
        runs.append((torch.stack([logits, *steps]), state.parts["wkv"].clone()))
    (y_ref, s_ref), (y, s) = runs
    return _compare(y, s, y_ref, s_ref)


def _engine_logits():
    import engine
    from tests.fixtures.checkpoints import make_rwkv7_checkpoint, random_tokens

    with tempfile.TemporaryDirectory() as tmp:
        path = make_rwkv7_checkpoint(Path(tmp) / "tiny", n_layer=2, n_embd=64, head_size=32, vocab_size=128)
        models = [engine.load(path, device="cpu", precision="fp32", backend=b) for b in ("reference", "triton")]
    tokens = random_tokens(40, 128, seed=3)
    runs = []
    for model in models:
        assert model.kernels.backend in ("reference", "triton") and model.weights.decoder is None
        logits, state = model.forward(tokens[:37])
        steps = [model.forward([t], state)[0] for t in tokens[37:]]
        runs.append((torch.stack([logits, *steps]), state.parts["wkv"].clone()))
    (y_ref, s_ref), (y, s) = runs
    return _compare(y, s, y_ref, s_ref)


def _child() -> None:
    assert os.environ.get("TRITON_INTERPRET") == "1"
    torch.set_num_threads(1)
    results = {}
    for name in CASES:   # one failing case must not hide the others
        try:
            results[name] = _run_case(name)
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(results))


# -- the tests ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def interpreted() -> dict[str, list[float]]:
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, __file__], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_triton
@pytest.mark.parametrize("case", CASES)
def test_triton_kernel_equals_plain_loop(interpreted, case):
    assert isinstance(interpreted[case], list), interpreted[case]
    err_y, err_s = interpreted[case]
    assert err_y <= TOL and err_s <= TOL, f"{case}: y {err_y:.2e}, state {err_s:.2e} (tolerance {TOL:.0e})"


# Ahead-of-time compilation for a GPU that is not here: triton's wheel carries ptxas, so this
# proves the kernels get through the real compiler (which the interpreter never runs) and spill
# no registers, for the engine's signature on a GPU (bf16 activations, fp32 decay and state).
_AOT = [("_wkv7_recurrent_kernel", "rkvab", {"H": 12, "N": 64, "BV": 16}, "RECURRENT_LAUNCH"),
        ("_wkv7_chunked_kernel", "rkvab", {"H": 12, "N": 64, "BV": 16, "L": 16, "LOG2L": 4, "PREC": "ieee"},
         "CHUNKED_LAUNCH"),
        ("_wkv6_recurrent_kernel", "rkv", {"H": 12, "N": 64, "BV": 16}, "RECURRENT_LAUNCH")]


@needs_triton
@pytest.mark.skipif(bool(os.environ.get("TRITON_INTERPRET")), reason="the interpreter cannot compile ahead of time")
@pytest.mark.parametrize("arch", [80, 90])
@pytest.mark.parametrize("kernel,bf16_inputs,constants,launch", _AOT, ids=[a[0].strip("_") for a in _AOT])
def test_kernel_compiles_for_nvidia_without_spills(arch, kernel, bf16_inputs, constants, launch):
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from kernels.gpu import triton_wkv6, triton_wkv7
    module = triton_wkv7 if "wkv7" in kernel else triton_wkv6
    fn = getattr(module, kernel)
    signature = {name: ("*bf16" if name[0] in bf16_inputs else "*fp32")
                 for name in fn.arg_names if name.endswith("_ptr")}
    signature |= {"T": "i32"} | {name: "constexpr" for name in constants}
    options = getattr(module, launch)
    compiled = triton.compile(ASTSource(fn, signature, constexprs=constants), target=GPUTarget("cuda", arch, 32),
                              options=options)
    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        usage = subprocess.run([str(cuobjdump), "--dump-resource-usage", f.name], capture_output=True, text=True,
                               check=True).stdout
    assert " STACK:0 " in usage and " LOCAL:0 " in usage, usage


def test_gpu_module_imports_and_says_why_without_triton():
    code = ("import sys; sys.modules['triton'] = None\n"
            "import kernels\nfrom kernels import gpu\n"
            "assert not gpu.available() and 'triton' in gpu.reason(), gpu.reason()\n"
            "assert gpu.check('cuda', 'fp32') == gpu.reason()\n"
            "assert kernels.select(7, 'cuda', 'fp32').name == 'torch-chunked'\n"
            "assert gpu.check_wkv6('cuda', 'fp32') == gpu.reason()\n"
            "assert kernels.select(6, 'cuda', 'fp32').name == 'torch-chunked wkv6'\n"
            "try:\n    kernels.select(7, 'cuda', 'fp32', backend='triton')\n"
            "except kernels.Unavailable as e:\n    assert 'triton' in str(e)\n"
            "else:\n    raise AssertionError('a named backend must not fall back')\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]


@pytest.mark.skipif(torch.cuda.is_available() or bool(os.environ.get("TRITON_INTERPRET")),
                    reason="only meaningful where no GPU and no interpreter is present")
def test_cuda_request_without_a_gpu_falls_back_to_torch():
    import kernels
    from kernels import gpu
    assert not gpu.available() and gpu.reason()
    assert kernels.select(7, "cuda", "fp32").name == "torch-chunked"
    assert kernels.select(6, "cuda", "fp32").name == "torch-chunked wkv6"


if __name__ == "__main__":
    _child()
