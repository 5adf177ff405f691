"""A state the command line saves (``chat --save-state``, ``/save``) is a state-tuning file for its model:
the app's "Apply state-tuning file" (``State.from_tuning_file`` through the service's ``ApplyTuning``)
takes it, and refuses one of another model with the reason."""

from __future__ import annotations

import io

import pytest
import torch

from engine import State
from engine.errors import IncompatibleStateError, StateFormatError
from engine.service import ChatSettings, EngineService
from engine.service import commands as C
from engine.service import events as E
from engine.text.chat import ChatSession
from engine.tools.cli import main

from .conftest import GREEDY

# World vocabulary, so that the command line picks the World tokenizer: world_ckpt's shape, and another.
WORLD = dict(n_layer=3, n_embd=64, head_size=32, vocab_size=65536)
OTHER = dict(n_layer=1, n_embd=32, head_size=32, vocab_size=65536)


def _chat_and_save(monkeypatch, model_path, saved, typed: str = "Hi there\n/quit\n") -> None:
    """``python -m engine chat --save-state saved``, typing ``typed``."""
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert main(["chat", "--model", str(model_path), "-n", "5", "--temperature", "0", "--save-state",
                 str(saved)]) == 0
    assert saved.is_file()


def _same(a: State, b: State) -> None:
    assert a.generation == b.generation and a.fingerprint == b.fingerprint and a.tokens_seen == b.tokens_seen
    assert a.shapes() == b.shapes()
    for k in a.parts:
        assert torch.equal(a.parts[k], b.parts[k]), k


def test_a_state_saved_by_chat_is_a_state_tuning_file(world_ckpt, world_model, world_tok, tmp_path, monkeypatch,
                                                      capsys):
    saved = tmp_path / "chat.safetensors"
    _chat_and_save(monkeypatch, world_ckpt, saved)
    tuned = State.from_tuning_file(saved, world_model)
    _same(tuned, State.load(saved, world_model))
    assert tuned.tokens_seen > 0 and tuned.last_logits is not None

    def reply(initial: State) -> str:
        return "".join(ChatSession(world_model, world_tok, settings=GREEDY, max_tokens=6,
                                   initial_state=initial).send("And then?"))

    assert reply(tuned) == reply(State.load(saved, world_model))            # --state FILE starts the same chat


def test_the_service_applies_a_saved_chat_state_and_new_chats_start_from_it(world_ckpt, world_model, world_tok,
                                                                            tmp_path, monkeypatch, capsys):
    saved = tmp_path / "chat.safetensors"
    _chat_and_save(monkeypatch, world_ckpt, saved)
    svc = EngineService(tmp_path / "data")
    try:
        svc.call(C.LoadModel(str(world_ckpt)))
        changed = svc.call(C.ApplyTuning(str(saved)))
        assert isinstance(changed, E.TuningChanged), changed
        assert changed.name == "chat.safetensors"
        done = svc.call(C.Send(C.NewConversation(settings=ChatSettings(sampler=GREEDY, max_tokens=8)), "Hello"), 60)
        assert isinstance(done, E.Finished), done
    finally:
        svc.shutdown()
    expected = "".join(ChatSession(world_model, world_tok, settings=GREEDY, max_tokens=8,
                                   initial_state=State.load(saved, world_model)).send("Hello"))
    assert done.message.text == expected


def test_a_saved_state_of_a_model_of_another_shape_is_refused_with_both_shapes(rwkv7_checkpoint, world_model,
                                                                              tmp_path, monkeypatch, capsys):
    saved = tmp_path / "other.safetensors"
    _chat_and_save(monkeypatch, rwkv7_checkpoint(**OTHER), saved)
    with pytest.raises(IncompatibleStateError) as info:
        State.from_tuning_file(saved, world_model)
    message = str(info.value)
    assert "'other.safetensors' is a state for another model" in message
    assert "it has RWKV-7 with 1 layers, width 32" in message and "needs RWKV-7 with 3 layers, width 64" in message


def test_a_saved_state_of_other_weights_of_the_same_shape_is_refused(rwkv7_checkpoint, world_ckpt, world_model,
                                                                     tmp_path, monkeypatch, capsys):
    twin = rwkv7_checkpoint(**WORLD, seed=12)
    assert twin != world_ckpt
    saved = tmp_path / "twin.safetensors"
    _chat_and_save(monkeypatch, twin, saved)
    with pytest.raises(IncompatibleStateError, match="'twin.safetensors' was saved with other weights"):
        State.from_tuning_file(saved, world_model)


def test_the_service_says_why_it_refuses_a_saved_state_and_keeps_the_model(rwkv7_checkpoint, world_ckpt, tmp_path,
                                                                          monkeypatch, capsys):
    saved = tmp_path / "other.safetensors"
    _chat_and_save(monkeypatch, rwkv7_checkpoint(**OTHER), saved)
    svc = EngineService(tmp_path / "data")
    try:
        svc.call(C.LoadModel(str(world_ckpt)))
        failed = svc.call(C.ApplyTuning(str(saved)))
    finally:
        svc.shutdown()
    assert isinstance(failed, E.Failed)
    assert "'other.safetensors' is a state for another model" in failed.message
    assert "is unchanged" in failed.message


def test_a_damaged_saved_state_is_refused_as_damaged(world_ckpt, world_model, tmp_path, monkeypatch, capsys):
    saved = tmp_path / "chat.safetensors"
    _chat_and_save(monkeypatch, world_ckpt, saved)
    data = bytearray(saved.read_bytes())
    data[-10] ^= 0xFF                                        # a byte of the last tensor
    saved.write_bytes(bytes(data))
    with pytest.raises(StateFormatError, match="'chat.safetensors' is damaged"):
        State.from_tuning_file(saved, world_model)


def test_the_command_line_still_takes_both_kinds(world_ckpt, world_model, tmp_path, monkeypatch, capsys):
    saved = tmp_path / "rwkv-x060-chat.safetensors"         # a saved state's name is not read: it says its model
    _chat_and_save(monkeypatch, world_ckpt, saved)
    assert main(["generate", "--model", str(world_ckpt), "--state", str(saved), "--prompt", "x", "-n", "2"]) == 0
    plain = tmp_path / "weights.safetensors"
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(2)}, str(plain))
    assert main(["generate", "--model", str(world_ckpt), "--state", str(plain), "--prompt", "x", "-n", "2"]) == 2
    assert "is not a state-tuning file" in capsys.readouterr().err


def test_a_file_that_is_no_tensors_at_all_is_refused_as_a_state_tuning_file(tmp_path, world_model):
    from engine.errors import StateFormatError
    from engine.models.state import State

    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"hello there, these are notes")
    with pytest.raises(StateFormatError, match="'notes.safetensors' is not a state-tuning file"):
        State.from_tuning_file(bad, world_model)
