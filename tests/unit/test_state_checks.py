"""Damaged or implausible states are refused with a typed error before they reach a model: flipped
bytes (by the checksum written at save), NaN / infinity, last-token logits of another vocabulary,
parts in a dtype the model never keeps them in; and NaN / infinity in state-tuning files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import engine
from engine import State
from engine.errors import IncompatibleStateError, StateFormatError
from tests.fixtures.legacy_checkpoints import random_time_state

DIMS = dict(n_layer=2, n_embd=64, head_size=32, vocab_size=64)


@pytest.fixture(scope="module")
def ckpt(rwkv7_checkpoint) -> Path:
    return rwkv7_checkpoint(**DIMS)


@pytest.fixture(scope="module")
def model(ckpt):
    return engine.load(ckpt)


def _saved(model, path: Path, edit=None) -> Path:
    """A state after three tokens, changed by ``edit(state)`` before it is saved (with a valid checksum)."""
    _, state = model.forward([1, 2, 3])
    if edit is not None:
        edit(state)
    state.save(path)
    return path


def _data_start(path: Path) -> int:
    return 8 + struct.unpack("<Q", path.read_bytes()[:8])[0]


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


def test_a_flipped_bit_in_the_tensors_is_caught_by_the_checksum(model, tmp_path):
    path = _saved(model, tmp_path / "chat.safetensors")
    raw = bytearray(path.read_bytes())
    at = _data_start(path) + 4 * 100          # the lowest byte of a float32: still a finite number
    raw[at] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(StateFormatError, match="'chat.safetensors' is damaged.*checksum"):
        State.load(path, model)


def test_a_changed_metadata_value_is_caught_by_the_checksum(model, tmp_path):
    path = _saved(model, tmp_path / "chat.safetensors")
    raw = path.read_bytes()
    assert raw.count(b'"tokens_seen":"3"') == 1
    path.write_bytes(raw.replace(b'"tokens_seen":"3"', b'"tokens_seen":"4"'))
    with pytest.raises(StateFormatError, match="is damaged.*checksum"):
        State.load(path, model)


def test_a_state_saved_before_checksums_still_loads(model, tmp_path):
    path = _saved(model, tmp_path / "old.safetensors")
    tensors, info = _read(path)
    del info["checksum"]
    save_file(tensors, str(path), metadata=info)
    back = State.load(path, model)
    assert back.tokens_seen == 3 and "checksum" not in back.meta
    assert torch.equal(back.wkv, tensors["wkv"])


def test_the_checksum_is_not_carried_into_the_states_metadata(model, tmp_path):
    path = _saved(model, tmp_path / "a.safetensors")
    back = State.load(path, model)
    assert "checksum" not in back.meta
    back.save(tmp_path / "b.safetensors")                    # a resave checks out with its own checksum
    assert State.load(tmp_path / "b.safetensors", model).tokens_seen == 3


def _set(part: str, value: float):
    def edit(state: State) -> None:
        target = state.last_logits if part == "last_logits" else state.parts[part]
        target.view(-1)[5] = value
    return edit


@pytest.mark.parametrize("part, value", [("wkv", float("nan")), ("att_x_prev", float("inf")),
                                         ("ffn_x_prev", float("-inf")), ("last_logits", float("nan"))])
def test_nan_or_infinity_in_a_state_is_refused(model, tmp_path, part, value):
    path = _saved(model, tmp_path / "bad.safetensors", _set(part, value))
    name = "its last-token logits" if part == "last_logits" else f"'{part}'"
    with pytest.raises(StateFormatError, match=f"'bad.safetensors' is damaged: {name} holds NaN or infinite"):
        State.load(path, model)


@pytest.mark.parametrize("length", [DIMS["vocab_size"] - 1, DIMS["vocab_size"] + 1])
def test_last_logits_of_another_vocabulary_are_refused(model, tmp_path, length):
    def edit(state: State) -> None:
        state.last_logits = torch.zeros(length)

    path = _saved(model, tmp_path / "other.safetensors", edit)
    with pytest.raises(IncompatibleStateError, match=rf"logits of shape \[{length}\].*vocabulary of 64"):
        State.load(path, model)


def test_a_part_stored_in_another_dtype_than_the_model_keeps_is_refused(model, tmp_path):
    def edit(state: State) -> None:
        state.parts["wkv"] = state.parts["wkv"].half()      # the matrix state is float32 in every precision

    path = _saved(model, tmp_path / "half.safetensors", edit)
    with pytest.raises(StateFormatError, match="'wkv' as torch.float16, but this model keeps it as torch.float32"):
        State.load(path, model)


def test_a_state_saved_under_another_precision_of_the_same_model_loads(ckpt, tmp_path):
    bf16 = engine.load(ckpt, precision="bf16")
    _, state = bf16.forward([1, 2, 3])
    assert state.att_x_prev.dtype == torch.bfloat16
    state.save(tmp_path / "bf16.safetensors")
    fp32 = engine.load(ckpt)
    back = State.load(tmp_path / "bf16.safetensors", fp32)
    assert back.att_x_prev.dtype == torch.float32 and torch.equal(back.att_x_prev, state.att_x_prev.float())


def test_an_old_state_without_a_checksum_still_has_its_values_checked(model, tmp_path):
    """Without a checksum (an old file) the value checks alone stand between bad values and the model."""
    path = _saved(model, tmp_path / "nan.safetensors")
    tensors, info = _read(path)
    del info["checksum"]
    tensors["wkv"][0, 0, 0, 0] = float("nan")
    save_file(tensors, str(path), metadata=info)
    with pytest.raises(StateFormatError, match="'wkv' holds NaN"):
        State.load(path, model)


@pytest.mark.parametrize("suffix", [".pth", ".state"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_tuning_file_with_nan_or_infinity_is_refused(model, tmp_path, suffix, value):
    i = model.info
    tuned = random_time_state(i.n_layer, i.n_head, i.head_size, seed=3)
    tuned["blocks.1.att.time_state"][0, 2, 3] = value
    path = tmp_path / f"tuned{suffix}"
    if suffix == ".pth":
        torch.save(tuned, path)
    else:
        save_file(tuned, str(path))            # Ai00's format: safetensors
    with pytest.raises(StateFormatError, match=rf"'tuned{suffix}' is damaged: 'blocks.1.att.time_state' holds NaN"):
        State.from_tuning_file(path, model)


def test_a_tuning_file_of_integers_is_refused(model, tmp_path):
    i = model.info
    tuned = {k: v.to(torch.int32) for k, v in random_time_state(i.n_layer, i.n_head, i.head_size, seed=3).items()}
    torch.save(tuned, tmp_path / "ints.pth")
    with pytest.raises(StateFormatError, match="as torch.int32, not as floating point"):
        State.from_tuning_file(tmp_path / "ints.pth", model)


def test_metadata_says_how_the_checksum_is_made(model, tmp_path):
    _, info = _read(_saved(model, tmp_path / "s.safetensors"))
    assert info["checksum"].startswith("sha256:") and len(info["checksum"]) == len("sha256:") + 64
    assert json.loads(info["shapes"])["wkv"] == [2, 2, 32, 32]
