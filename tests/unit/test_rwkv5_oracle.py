"""Our RWKV-5.2 ("x052", Eagle) engine computes what BlinkDL's ``rwkv`` package computes (fp32, CPU).

The shapes cover head sizes 32 and 64, one layer, odd layer and head counts, an FFN width that is
not 4 C, and a vocabulary that is not a power of two; prompts are shorter and longer than the
WKV chunk (16) and not multiples of it. The tests themselves are shared with RWKV-4 and -6
(``tests/fixtures/legacy_suite.py``).
"""

from __future__ import annotations

from tests.fixtures.legacy_checkpoints import LegacySpec
from tests.fixtures.legacy_suite import make_suite

SPECS = [
    LegacySpec(5, n_layer=2, n_embd=128, head_size=32),
    LegacySpec(5, n_layer=1, n_embd=64, head_size=32),
    LegacySpec(5, n_layer=3, n_embd=192, head_size=64, vocab_size=1000),
    LegacySpec(5, n_layer=2, n_embd=96, head_size=32, dim_ffn=320, seed=1),
]

globals().update(make_suite(SPECS, generation=5))


def test_one_layer_file_in_trainer_order_is_rwkv5_whatever_the_key_order(legacy_checkpoint):
    """The oracle reads a one-layer RWKV-5.2 file in RWKV-LM's key order as 5.1; we must not."""
    import engine
    from engine.models.checkpoint import detect_generation, read_checkpoint

    spec = SPECS[1]
    assert spec.n_layer == 1
    tensors = read_checkpoint(legacy_checkpoint(spec)).tensors
    assert detect_generation(tensors, "x") == 5
    assert detect_generation(dict(reversed(list(tensors.items()))), "x") == 5
    assert engine.load(legacy_checkpoint(spec)).info.generation == 5


def _refusal(tmp_path, edit) -> str:
    import pytest
    import torch

    import engine
    from engine.errors import UnknownLayoutError
    from tests.fixtures.legacy_checkpoints import make_legacy_state_dict

    sd = make_legacy_state_dict(SPECS[0])
    edit(sd)
    path = tmp_path / "old-rwkv5.pth"
    torch.save(sd, path)
    with pytest.raises(UnknownLayoutError) as info:
        engine.load(path)
    return str(info.value)


def test_rwkv5_0_without_a_gate_is_refused_by_name(tmp_path):
    def drop_gates(sd):
        for k in [k for k in sd if ".gate." in k]:
            del sd[k]

    message = _refusal(tmp_path, drop_gates)
    assert "RWKV-5.0" in message and "'old-rwkv5.pth'" in message


def test_rwkv5_1_with_one_decay_per_head_is_refused_by_name(tmp_path):
    def per_head_decay(sd):
        for k in [k for k in sd if k.endswith(".att.time_decay")]:
            sd[k] = sd[k].mean(dim=1)

    message = _refusal(tmp_path, per_head_decay)
    assert "RWKV-5.1" in message and "'old-rwkv5.pth'" in message
