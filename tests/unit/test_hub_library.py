"""engine.host.hub.local_models lists a Hugging Face folder once, as the folder, never shard by shard."""

from __future__ import annotations

import shutil

from engine.host import hub
from tests.fixtures.checkpoints import make_rwkv7_state_dict
from tests.fixtures.hf_layouts import write_fla_rwkv7, write_transformers_rwkv4
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict, save_tensors


def test_hf_folders_are_listed_as_folders_and_plain_files_as_files(tmp_path):
    root = tmp_path / "models"
    sharded = write_transformers_rwkv4(root / "rwkv-4-pile", make_legacy_state_dict(LegacySpec(4, 2, 64)), shards=3)
    fla = write_fla_rwkv7(root / "nested" / "rwkv7", make_rwkv7_state_dict(n_layer=2, n_embd=64, head_size=32))
    official = save_tensors(make_legacy_state_dict(LegacySpec(6, 2, 64, head_size=32)), root / "rwkv6", "pth")
    lone = root / "loose" / "weights.safetensors"
    lone.parent.mkdir()
    shutil.copy(fla / "model.safetensors", lone)
    (root / "loose" / "optimizer.bin").write_bytes(b"\0" * 16)
    found = hub.local_models([root], cache_dir=tmp_path / "no-cache")
    assert sorted(found) == sorted([sharded, fla, official, lone])
