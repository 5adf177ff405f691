"""Hugging Face folders (transformers' RWKV-4, fla-hub RWKV-7) run exactly like the ``.pth`` they hold."""

from __future__ import annotations

import shutil
from importlib.resources import files

import pytest
import torch

import engine
from engine import State
from engine.models.checkpoint import read_checkpoint
from engine.models.layouts import to_official
from tests.fixtures.checkpoints import make_rwkv7_state_dict, random_tokens
from tests.fixtures.hf_layouts import write_fla_rwkv7, write_transformers_rwkv4
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict, save_tensors

V4 = LegacySpec(4, n_layer=2, n_embd=64, seed=4)
V7 = {"n_layer": 2, "n_embd": 64, "head_size": 32, "seed": 4}


def logits_and_state(model, tokens):
    one, state = model.forward(tokens)
    steps, s = [], None
    for t in tokens[:8]:
        out, s = model.forward([t], s)
        steps.append(out)
    return one, state, torch.stack(steps)


def assert_identical_runs(a, b, tokens):
    one_a, state_a, steps_a = logits_and_state(a, tokens)
    one_b, state_b, steps_b = logits_and_state(b, tokens)
    assert torch.equal(one_a, one_b)
    assert torch.equal(steps_a, steps_b)
    for name, tensor in state_a.parts.items():
        assert torch.equal(state_b.parts[name], tensor), name


def test_transformers_rwkv4_folder_equals_its_pth(tmp_path):
    sd = make_legacy_state_dict(V4)
    pth = save_tensors(sd, tmp_path / "rwkv4.pth")
    folder = write_transformers_rwkv4(tmp_path / "rwkv-4-tiny-pile", sd, shards=2)
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["model-00001-of-00002.safetensors",
                                                                    "model-00002-of-00002.safetensors"]
    hf, official = engine.load(folder), engine.load(pth)
    assert hf.info.generation == 4 and hf.info.name == "rwkv-4-tiny-pile"
    assert hf.info.fingerprint == official.info.fingerprint
    assert_identical_runs(hf, official, random_tokens(40, V4.vocab_size, seed=1))


@pytest.mark.parametrize("fused", [True, False], ids=["x_x fused", "x_r.. apart"])
def test_fla_rwkv7_folder_equals_its_pth(tmp_path, fused):
    sd = make_rwkv7_state_dict(**V7)
    pth = save_tensors(sd, tmp_path / "rwkv7.pth")
    folder = write_fla_rwkv7(tmp_path / "rwkv7-tiny", sd, fused_mixes=fused)
    hf, official = engine.load(folder), engine.load(pth)
    assert hf.info.generation == 7 and (hf.info.n_head, hf.info.head_size) == (2, 32)
    assert hf.info.fingerprint == official.info.fingerprint
    assert_identical_runs(hf, official, random_tokens(40, 512, seed=2))


def test_mapping_restores_official_names_and_shapes(tmp_path):
    sd = make_rwkv7_state_dict(**V7)
    folder = write_fla_rwkv7(tmp_path / "fla", sd)
    mapped = read_checkpoint(folder).tensors
    assert set(mapped) == set(sd)
    for name, tensor in sd.items():
        assert mapped[name].shape == tensor.shape and torch.equal(mapped[name], tensor), name
    assert to_official({"emb.weight": sd["emb.weight"]}) == {"emb.weight": sd["emb.weight"]}


def test_a_state_saved_with_the_folder_loads_with_the_pth(tmp_path):
    sd = make_legacy_state_dict(V4)
    pth = save_tensors(sd, tmp_path / "rwkv4.pth")
    hf = engine.load(write_transformers_rwkv4(tmp_path / "hf", sd))
    _, state = hf.forward([1, 2, 3])
    state.save(tmp_path / "s.safetensors")
    back = State.load(tmp_path / "s.safetensors", engine.load(pth))
    assert torch.equal(back.parts["aa"], state.parts["aa"])


def test_a_single_hf_safetensors_file_loads_too(tmp_path):
    sd = make_rwkv7_state_dict(**V7)
    folder = write_fla_rwkv7(tmp_path / "fla", sd)
    alone = tmp_path / "alone.safetensors"
    shutil.copy(folder / "model.safetensors", alone)
    assert engine.load(alone).info.fingerprint == engine.load(folder).info.fingerprint


def test_the_folders_tokenizer_json_is_used(tmp_path):
    from engine.text.tokenizer import tokenizer_for

    folder = write_transformers_rwkv4(tmp_path / "hf", make_legacy_state_dict(V4))
    shutil.copy(str(files("resources") / "tokenizers" / "20B_tokenizer.json"), folder / "tokenizer.json")
    tok = tokenizer_for(engine.load(folder))
    assert tok.encode("\n\n") == [535]


def test_a_folder_missing_a_shard_says_the_download_is_incomplete(tmp_path):
    from engine.errors import ModelNotFoundError

    folder = write_transformers_rwkv4(tmp_path / "hf", make_legacy_state_dict(V4))
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match="incomplete"):
        engine.load(folder)


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/dir.safetensors",
                                   "..\\outside.safetensors", "C:model.safetensors", ".hidden.safetensors"])
def test_an_index_naming_a_file_outside_its_folder_is_refused(tmp_path, shard):
    import json

    from engine.errors import NotAModelError
    from engine.host.library import inspect_file

    sd = make_legacy_state_dict(LegacySpec(4, n_layer=2, n_embd=64, vocab_size=512))
    folder = write_transformers_rwkv4(tmp_path / "rwkv-4-tiny", sd, shards=2)
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    first = next(iter(data["weight_map"]))
    data["weight_map"][first] = shard
    index.write_text(json.dumps(data))
    (tmp_path / "outside.safetensors").write_bytes(b"not for reading")
    with pytest.raises(NotAModelError, match="outside its folder"):
        engine.load(folder)
    with pytest.raises(NotAModelError, match="outside its folder"):
        inspect_file(folder)
