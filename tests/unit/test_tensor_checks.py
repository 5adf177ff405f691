"""Every tensor is checked at load, before anything is allocated (engine/models/schema.py).

Each test builds the damaged or crafted file for real, loads it through ``engine.load`` and checks
the error's type and that its message names the file, the tensor, what was found and what was
expected. Before these checks existed, integer and bool weights loaded silently and computed
garbage, shapes that disagree failed at the first forward with untyped errors (or were read with
another model's strides by the compiled step), and a stray ``blocks.100000000.*`` key made the
loader list a hundred million layers' worth of names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import engine
from engine.errors import InvalidTensorError, ModelFormatError, UnknownLayoutError
from tests.fixtures.checkpoints import make_rwkv7_state_dict
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict

REPO_ROOT = Path(__file__).resolve().parents[2]
V7 = dict(n_layer=2, n_embd=128, head_size=32, vocab_size=300)     # C 128, H 4, N 32, F 512
V4, V5, V6 = (LegacySpec(g, n_layer=2, n_embd=128, head_size=32, vocab_size=300) for g in (4, 5, 6))


def state_dict(generation: int) -> dict[str, torch.Tensor]:
    if generation == 7:
        return make_rwkv7_state_dict(**V7)
    return make_legacy_state_dict({4: V4, 5: V5, 6: V6}[generation])


def load_error(sd: dict[str, torch.Tensor], path: Path, expected: type[Exception]) -> str:
    """Save ``sd`` at ``path``; loading it must raise ``expected`` with a message naming the file."""
    torch.save(sd, path)
    with pytest.raises(expected) as info:
        engine.load(path)
    message = str(info.value)
    assert f"'{path.name}'" in message, message
    return message


# ---------------------------------------------------------------- dtypes

@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int8, torch.int64, torch.float64], ids=str)
@pytest.mark.parametrize("generation, key", [(7, "blocks.1.att.key.weight"), (6, "blocks.0.att.time_maa_w1"),
                                             (5, "blocks.1.ffn.value.weight"), (4, "emb.weight")])
def test_a_weight_that_is_not_a_float_is_refused_naming_it(tmp_path, generation, key, dtype):
    sd = state_dict(generation)
    sd[key] = (sd[key] * 10).to(dtype)
    message = load_error(sd, tmp_path / f"v{generation}.pth", InvalidTensorError)
    assert issubclass(InvalidTensorError, ModelFormatError)
    assert f"'{key}' is {str(dtype).removeprefix('torch.')}" in message
    assert "float32, float16 or bfloat16" in message


def test_half_precision_files_still_load(tmp_path):
    for dtype in (torch.float16, torch.bfloat16):
        torch.save({k: v.to(dtype) for k, v in state_dict(6).items()}, tmp_path / "half.pth")
        assert engine.load(tmp_path / "half.pth").info.file_dtype == str(dtype).removeprefix("torch.")


# ---------------------------------------------------------------- shapes

SHAPE_CASES = [
    # (generation, key, new shape, what the message must say the model needs)
    (7, "blocks.1.ffn.key.weight", (513, 128), "needs [512, 128] (F=512 x C=128)"),
    (7, "blocks.1.att.w2", (32, 129), "needs [32, 128] (Dw=32 x C=128)"),
    (7, "head.weight", (301, 128), "needs [300, 128] (V=300 x C=128)"),
    (7, "blocks.1.att.x_k", (1, 1, 127), "needs [128] (C=128)"),
    (6, "blocks.1.att.time_maa_w2", (5, 32, 127), "needs [5, 32, 128] (5 x D=32 x C=128)"),
    (6, "blocks.0.att.time_decay_w2", (64, 120), "needs [64, 128] (Dd=64 x A=128)"),
    (5, "blocks.1.att.time_faaaa", (4, 31), "needs [4, 32] (H=4 x N=32)"),
    (4, "blocks.1.att.time_decay", (129,), "needs [128] (A=128)"),
    (4, "blocks.0.att.output.weight", (128, 64), "needs [128, 128] (C=128 x A=128)"),
]


@pytest.mark.parametrize("generation, key, shape, needs", SHAPE_CASES, ids=[c[1] for c in SHAPE_CASES])
def test_a_tensor_of_the_wrong_shape_is_refused_at_load(tmp_path, generation, key, shape, needs):
    sd = state_dict(generation)
    sd[key] = torch.zeros(shape)
    message = load_error(sd, tmp_path / f"v{generation}.pth", InvalidTensorError)
    assert f"'{key}' has shape {list(shape)}" in message and needs in message, message


def test_heads_that_do_not_tile_the_width_are_refused(tmp_path):
    sd = state_dict(7)
    for i in range(2):
        sd[f"blocks.{i}.att.r_k"] = torch.zeros(4, 30)
    message = load_error(sd, tmp_path / "heads.pth", InvalidTensorError)
    assert "'blocks.0.att.r_k' gives 4 heads of 30, but 'emb.weight' is 128 wide" in message


def test_a_size_tensor_without_its_dimensions_is_refused(tmp_path):
    sd = state_dict(6)
    sd["blocks.0.att.time_faaaa"] = torch.zeros(128)
    message = load_error(sd, tmp_path / "flat.pth", InvalidTensorError)
    assert "'blocks.0.att.time_faaaa' has shape [128]" in message and "2 dimensions" in message


# ---------------------------------------------------------------- layer numbering

def test_a_gap_in_the_block_numbers_is_refused_naming_the_missing_block(tmp_path):
    sd = state_dict(5)
    sd.update({k.replace("blocks.1.", "blocks.2."): v for k, v in sd.items() if k.startswith("blocks.1.")})
    sd = {k: v for k, v in sd.items() if not k.startswith("blocks.1.")}
    message = load_error(sd, tmp_path / "gap.pth", UnknownLayoutError)
    assert "2 blocks numbered up to 2" in message and "block 1 is missing" in message


# Loading runs in a child under an address-space limit: before the check, the loader listed the
# key names of every layer up to the largest number (a hundred million layers: many GB), and the
# limit makes that fail fast instead of swapping the test machine.
_UNDER_A_LIMIT = """
import json, resource, sys, time
import engine
import engine.models.rwkv7

def vm_size():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

limit = vm_size() + 512 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
try:
    engine.load(sys.argv[1])
    out = {"raised": None}
except BaseException as e:
    out = {"raised": type(e).__name__, "message": str(e)}
out["seconds"] = time.perf_counter() - start
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux's")
def test_a_stray_huge_block_number_is_refused_quickly_without_allocating(tmp_path):
    sd = state_dict(7)
    sd["blocks.100000000.att.x"] = torch.zeros(1)
    path = tmp_path / "stray.pth"
    torch.save(sd, path)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.run([sys.executable, "-c", _UNDER_A_LIMIT, str(path)], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-4000:]
    out = json.loads(child.stdout.splitlines()[-1])
    assert out["raised"] == "UnknownLayoutError", out
    assert "'stray.pth' has 3 blocks numbered up to 100000000 (e.g. 'blocks.100000000.att.x')" in out["message"]
    assert "block 2 is missing" in out["message"]
    assert out["seconds"] < 5, out
