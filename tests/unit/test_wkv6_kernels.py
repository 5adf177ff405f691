"""The chunked RWKV-5/6 WKV equals the token-by-token reference, for every decay a model can have."""

from __future__ import annotations

import pytest
import torch

from kernels.wkv4 import PP_START, wkv4_one, wkv4_seq
from kernels.wkv6 import wkv6_chunked, wkv6_one, wkv6_seq


def inputs(T: int, H: int, N: int, decay_spread: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    r, k, v = (torch.randn(T, H, N, generator=g) for _ in range(3))
    # w = exp(-exp(x)): x in about [-1 - 2s, -1 + 2s]; s = 3 reaches decays of e^-400 (underflow to 0).
    w = torch.exp(-torch.exp(decay_spread * torch.randn(T, H, N, generator=g) - 1))
    u = torch.randn(H, N, generator=g)
    state = torch.randn(H, N, N, generator=g)
    return r, w, k, v, u, state


@pytest.mark.parametrize("T", [1, 5, 16, 17, 40, 100])
@pytest.mark.parametrize("decay_spread", [0.3, 1.0, 3.0], ids=["gentle", "trained", "extreme"])
def test_chunked_equals_reference(T, decay_spread):
    r, w, k, v, u, state = inputs(T, 3, 16, decay_spread, seed=T)
    s_ref, s_chunk = state.clone(), state.clone()
    y_ref = wkv6_seq(r, w, k, v, u, s_ref)
    y_chunk = wkv6_chunked(r, w, k, v, u, s_chunk)
    scale = y_ref.abs().max().item()
    assert (y_chunk - y_ref).abs().max().item() <= 1e-5 * scale
    assert (s_chunk - s_ref).abs().max().item() <= 1e-5 * max(1.0, s_ref.abs().max().item())


@pytest.mark.parametrize("chunk", [4, 16, 32])
def test_chunk_length_does_not_change_the_result(chunk):
    r, w, k, v, u, state = inputs(50, 2, 32, 1.0)
    s_ref, s_chunk = state.clone(), state.clone()
    y_ref = wkv6_seq(r, w, k, v, u, s_ref)
    y = wkv6_chunked(r, w, k, v, u, s_chunk, chunk=chunk)
    assert (y - y_ref).abs().max().item() <= 1e-5 * y_ref.abs().max().item()


def test_one_step_reads_the_state_then_adds_the_bonus_token():
    r, w, k, v, u, state = inputs(1, 2, 4, 1.0)
    before = state.clone()
    y = wkv6_one(r[0], w[0], k[0], v[0], u, state)
    kv = k[0].unsqueeze(-1) * v[0].unsqueeze(-2)                    # [H, key, value]
    expected = torch.einsum("hk,hkv->hv", r[0], before + u.unsqueeze(-1) * kv)
    assert torch.allclose(y, expected, atol=1e-6)
    assert torch.allclose(state, w[0].unsqueeze(-1) * before + kv, atol=1e-6)


def test_wkv4_is_the_weighted_average_it_stands_for():
    """Without the max trick: wkv_t = (sum_s e^{(t-1-s)w + k_s} v_s + e^{u+k_t} v_t) / (same without v)."""
    g = torch.Generator().manual_seed(0)
    T, A = 12, 8
    w, u = -torch.exp(torch.randn(A, generator=g)), torch.randn(A, generator=g)
    k, v = torch.randn(T, A, generator=g), torch.randn(T, A, generator=g)
    aa, bb, pp = torch.zeros(A), torch.zeros(A), torch.full((A,), PP_START)
    y = wkv4_seq(w, u, k, v, aa, bb, pp)
    for t in range(T):
        s = torch.arange(t)
        e = torch.exp((t - 1 - s).unsqueeze(-1) * w + k[:t])
        now = torch.exp(u + k[t])
        expected = ((e * v[:t]).sum(0) + now * v[t]) / (e.sum(0) + now)
        assert torch.allclose(y[t], expected, atol=1e-5), t
    one = wkv4_one(w, u, k[0], v[0], torch.zeros(A), torch.zeros(A), torch.full((A,), PP_START))
    assert torch.allclose(one, v[0])


def test_pairwise_chunks_in_bounded_groups_give_the_same_result(monkeypatch):
    import kernels.wkv6 as wkv6

    r, w, k, v, u, state = inputs(70, 2, 16, 3.0, seed=1)     # extreme decays: the pairwise path
    whole = wkv6_chunked(r, w, k, v, u, s_whole := state.clone())
    monkeypatch.setattr(wkv6, "PAIRWISE_ELEMENTS", 1)         # one chunk per group
    grouped = wkv6_chunked(r, w, k, v, u, s_grouped := state.clone())
    assert torch.equal(whole, grouped) and torch.equal(s_whole, s_grouped)
