"""States save, load and resume exactly; their size never depends on how much was read."""

from __future__ import annotations

import pytest
import torch

import engine
from engine import State
from engine.errors import IncompatibleStateError
from engine.text.generation import generate
from tests.fixtures.checkpoints import random_tokens
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict, random_time_state

from .conftest import GREEDY


def test_save_load_continue_equals_uninterrupted_generation(world_model, world_ckpt, world_tok, tmp_path):
    prompt = "User: Tell me about the sea.\n\nAssistant:"
    whole = generate(world_model, world_tok, prompt, settings=GREEDY, max_tokens=30, stop_tokens=[])
    whole.run()

    first = generate(world_model, world_tok, prompt, settings=GREEDY, max_tokens=12, stop_tokens=[])
    first.run()
    first.state.save(tmp_path / "chat.safetensors", {"title": "sea"})

    fresh_model = engine.load(world_ckpt)          # as if the app had been restarted
    resumed = State.load(tmp_path / "chat.safetensors", fresh_model)
    rest = generate(fresh_model, world_tok, None, state=resumed, settings=GREEDY, max_tokens=18,
                    stop_tokens=[])
    rest.run()
    assert first.tokens + rest.tokens == whole.tokens
    assert len(whole.tokens) == 30


def test_round_trip_keeps_tensors_counters_logits_and_metadata(world_model, tmp_path):
    _, state = world_model.forward([1, 2, 3, 4, 5])
    state.save(tmp_path / "s.safetensors", {"conversation": 42, "title": "hello"})
    back = State.load(tmp_path / "s.safetensors", world_model)
    for name, tensor in state.parts.items():
        assert torch.equal(back.parts[name], tensor), name
    assert back.tokens_seen == 5
    assert torch.equal(back.last_logits, state.last_logits)
    assert back.meta == {"conversation": "42", "title": "hello"}
    assert back.fingerprint == world_model.info.fingerprint


def test_state_size_is_fixed_by_the_model_not_the_context(world_model):
    short = world_model.new_state()
    world_model.forward([5] * 3, short)
    long = world_model.new_state()
    world_model.forward(list(range(1, 700)), long)
    assert short.nbytes == long.nbytes == world_model.new_state().nbytes
    i = world_model.info
    assert long.nbytes == 4 * i.n_layer * (2 * i.n_embd + i.n_head * i.head_size**2)


def test_clone_is_independent(world_model):
    _, state = world_model.forward([7, 8, 9])
    copy = state.clone()
    world_model.forward([10], state)
    assert copy.tokens_seen == 3 and state.tokens_seen == 4
    assert not torch.equal(copy.wkv, state.wkv)


def test_forward_leaves_no_trace_outside_the_given_state(world_model):
    a = world_model.forward([3, 4, 5])[0]
    world_model.forward(list(range(100, 160)))
    b = world_model.forward([3, 4, 5])[0]
    assert torch.equal(a, b)


def test_tuning_file_sets_the_initial_wkv_state(world_model, tmp_path):
    i = world_model.info
    g = torch.Generator().manual_seed(1)
    tuned = {f"blocks.{n}.att.time_state": 0.3 * torch.randn(i.n_head, i.head_size, i.head_size, generator=g)
             for n in range(i.n_layer)}
    torch.save(tuned, tmp_path / "tuned.pth")
    state = State.from_tuning_file(tmp_path / "tuned.pth", world_model)
    for n in range(i.n_layer):
        assert torch.equal(state.wkv[n], tuned[f"blocks.{n}.att.time_state"])
    assert state.att_x_prev.abs().sum() == 0
    tuned_logits = world_model.forward([1, 2, 3], state)[0]
    plain_logits = world_model.forward([1, 2, 3])[0]
    assert (tuned_logits - plain_logits).abs().max() > 1e-3


def test_bf16_model_states_round_trip(world_ckpt, tmp_path):
    model = engine.load(world_ckpt, precision="bf16")
    logits, state = model.forward([1, 2, 3])
    assert logits.dtype == torch.float32
    assert state.att_x_prev.dtype == torch.bfloat16 and state.wkv.dtype == torch.float32
    state.save(tmp_path / "b.safetensors")
    back = State.load(tmp_path / "b.safetensors", model)
    assert torch.equal(back.att_x_prev, state.att_x_prev)


# --- RWKV-4, -5 and -6 --------------------------------------------------------------------------

V6 = LegacySpec(6, n_layer=2, n_embd=64, head_size=32, seed=3)
V5 = LegacySpec(5, n_layer=2, n_embd=64, head_size=32, seed=3)
V4 = LegacySpec(4, n_layer=2, n_embd=64, seed=3)


@pytest.mark.parametrize("spec", [V6, V5], ids=str)
def test_v5_v6_tuning_files_match_the_oracle_reading_the_merged_checkpoint(spec, legacy_checkpoint, oracle, tmp_path):
    """The oracle runs a checkpoint holding ``time_state`` from that state (transposed); so must we."""
    tuned = random_time_state(spec.n_layer, spec.n_head, spec.head_size, seed=5)
    torch.save(tuned, tmp_path / "tuned.pth")
    merged = tmp_path / f"merged-{spec}.pth"
    torch.save({**make_legacy_state_dict(spec), **tuned}, merged)
    tokens = random_tokens(30, spec.vocab_size, seed=9)
    ref = oracle.get(merged, [tokens])

    model = engine.load(legacy_checkpoint(spec))
    state = State.from_tuning_file(tmp_path / "tuned.pth", model)
    for n in range(spec.n_layer):     # stored [head, value, key]; v5/v6 run [head, key, value]
        assert torch.equal(state.wkv[n], tuned[f"blocks.{n}.att.time_state"].transpose(1, 2))
    logits, state = model.forward(tokens, state)
    assert (logits - ref.last_logits).abs().max().item() <= 1e-4
    assert (state.wkv - ref.wkv).abs().max().item() <= 1e-4 * max(1.0, ref.wkv.abs().max().item())
    assert (logits - model.forward(tokens)[0]).abs().max() > 1e-3    # the tuning file did something
    merged_model = engine.load(merged)          # a merged file starts every new state from its tuned state
    assert (merged_model.forward(tokens)[0] - ref.last_logits).abs().max().item() <= 1e-4


def test_ai00_state_file_gives_the_same_state_as_the_pth(legacy_checkpoint, tmp_path):
    from safetensors.torch import save_file

    model = engine.load(legacy_checkpoint(V6))
    tuned = random_time_state(V6.n_layer, V6.n_head, V6.head_size, seed=6, dtype=torch.float16)
    torch.save({k: v.float() for k, v in tuned.items()}, tmp_path / "tuned.pth")
    save_file(tuned, str(tmp_path / "rwkv-x060-tuned.state"))
    from_pth = State.from_tuning_file(tmp_path / "tuned.pth", model)
    from_ai00 = State.from_tuning_file(tmp_path / "rwkv-x060-tuned.state", model)
    assert from_ai00.wkv.dtype == torch.float32
    assert torch.equal(from_ai00.wkv, from_pth.wkv)


def test_a_tuning_file_for_another_shape_is_refused(legacy_checkpoint, tmp_path):
    model = engine.load(legacy_checkpoint(V6))
    torch.save(random_time_state(V6.n_layer, 1, 64), tmp_path / "other.pth")
    with pytest.raises(IncompatibleStateError, match="tuned for another model"):
        State.from_tuning_file(tmp_path / "other.pth", model)


def test_rwkv4_refuses_state_tuning_files(legacy_checkpoint, tmp_path):
    model = engine.load(legacy_checkpoint(V4))
    torch.save(random_time_state(V4.n_layer, 2, 32), tmp_path / "tuned.pth")
    with pytest.raises(IncompatibleStateError, match="RWKV-4 models have no matrix state"):
        State.from_tuning_file(tmp_path / "tuned.pth", model)


@pytest.mark.parametrize("spec", [V6, V5, V4], ids=str)
def test_v4_v5_v6_states_round_trip_and_resume_exactly(spec, legacy_checkpoint, tmp_path):
    model = engine.load(legacy_checkpoint(spec))
    tokens = random_tokens(20, spec.vocab_size, seed=2)
    whole, _ = model.forward(tokens)
    _, state = model.forward(tokens[:12])
    state.save(tmp_path / "s.safetensors", {"title": "x"})
    back = State.load(tmp_path / "s.safetensors", engine.load(legacy_checkpoint(spec)))
    assert back.generation == spec.generation and back.meta == {"title": "x"}
    for name, tensor in state.parts.items():
        assert torch.equal(back.parts[name], tensor), name
    resumed, _ = model.forward(tokens[12:], back)
    assert torch.equal(resumed, model.forward(tokens[12:], state)[0])
    assert (resumed - whole).abs().max() < 1e-4


def test_a_state_of_another_generation_is_refused(legacy_checkpoint, tmp_path):
    """RWKV-5 and -6 models of one size have states of identical shapes: the generation tells them apart."""
    v6, v5 = engine.load(legacy_checkpoint(V6)), engine.load(legacy_checkpoint(V5))
    assert v6.new_state().shapes() == v5.new_state().shapes()
    _, state = v6.forward([1, 2, 3])
    state.save(tmp_path / "v6.safetensors")
    with pytest.raises(IncompatibleStateError, match="RWKV-6.*RWKV-5"):
        State.load(tmp_path / "v6.safetensors", v5, check_fingerprint=False)
    with pytest.raises(IncompatibleStateError, match="RWKV-6"):
        v5.forward([4], state)
    v4 = engine.load(legacy_checkpoint(V4))
    with pytest.raises(IncompatibleStateError, match="RWKV-6.*RWKV-4"):
        State.load(tmp_path / "v6.safetensors", v4, check_fingerprint=False)


def test_ai00_state_file_for_rwkv7_is_used_as_stored(world_model, tmp_path):
    from safetensors.torch import save_file

    i = world_model.info
    tuned = random_time_state(i.n_layer, i.n_head, i.head_size, seed=8, dtype=torch.float16)
    save_file(tuned, str(tmp_path / "rwkv7-tuned.state"))
    state = State.from_tuning_file(tmp_path / "rwkv7-tuned.state", world_model)
    for n in range(i.n_layer):       # RWKV-7 files are in the runtime's own [head, value, key] order
        assert torch.equal(state.wkv[n], tuned[f"blocks.{n}.att.time_state"].float())
