"""States save, load and resume exactly; their size never depends on how much was read."""

from __future__ import annotations

import torch

import engine
from engine import State
from engine.generation import generate

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
