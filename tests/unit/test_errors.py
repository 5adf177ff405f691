"""Every typed error the engine promises, triggered for real, with its type and its message checked.

Each message is shown to the user as is, so the tests check that it names the file and says what was
wrong (and, where the engine offers one, what to do). Out-of-memory runs in a subprocess under an
address-space limit, so the limit never touches the test run.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import engine
from engine import atomic
from engine.errors import (
    EmptyPromptError,
    EngineError,
    IncompatibleStateError,
    ModelFormatError,
    ModelNotFoundError,
    NotAModelError,
    OutOfMemoryError,
    StateFormatError,
    TruncatedModelError,
    UnknownLayoutError,
    UnsafeCheckpointError,
)
from engine.models.state import FORMAT, State
from tests.fixtures.checkpoints import make_rwkv7_state_dict

REPO_ROOT = Path(__file__).resolve().parents[2]

# Model A and its twin with other weights share every shape; model B differs in all of them.
DIMS_A = dict(n_layer=2, n_embd=64, head_size=32, vocab_size=64)
DIMS_B = dict(n_layer=1, n_embd=32, head_size=32, vocab_size=64)
H_A, N_A = 2, 32


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def pth_a(rwkv7_checkpoint) -> Path:
    return rwkv7_checkpoint(**DIMS_A)


@pytest.fixture(scope="module")
def model_a(pth_a):
    return engine.load(pth_a)


@pytest.fixture(scope="module")
def model_a_other_weights(rwkv7_checkpoint):
    return engine.load(rwkv7_checkpoint(**DIMS_A, seed=1))


@pytest.fixture(scope="module")
def model_b(rwkv7_checkpoint):
    return engine.load(rwkv7_checkpoint(**DIMS_B))


def load_error(path: Path, expected: type[EngineError]) -> str:
    """``engine.load(path)`` must raise ``expected``; its message, which must name the file."""
    with pytest.raises(expected) as info:
        engine.load(path)
    message = str(info.value)
    assert f"'{path.name}'" in message, message
    return message


def cut(source: Path, dest: Path, n_bytes: int) -> Path:
    dest.write_bytes(source.read_bytes()[:n_bytes])
    return dest


def saved_state(model, tokens: list[int], path: Path) -> Path:
    _, state = model.forward(tokens)
    state.save(path)
    return path


def save_with_header(path: Path, header: dict, data: bytes = b"") -> Path:
    """A file in safetensors framing (length, JSON header, data) with an arbitrary header."""
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


# ---------------------------------------------------------------- 1. not a model at all


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.pth", b"Just some notes, not a model.\n" * 4),
        ("picture.pth", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
        # '{' at byte 8 is what a safetensors header looks like; the implied header length is absurd.
        ("config.safetensors", b'{"cfg": {"n_layer": 2, "n_embd": 64}}'),
        ("noise.bin", b"\x13" + random.Random(0).randbytes(4095)),
    ],
    ids=["text", "png", "json", "random-bytes"],
)
def test_a_file_that_is_no_checkpoint_is_not_a_model(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    message = load_error(path, NotAModelError)
    assert issubclass(NotAModelError, ModelFormatError)
    assert "neither a PyTorch checkpoint nor safetensors" in message


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_random_bytes_that_start_like_a_pickle_are_not_a_model(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(b"\x80" + random.Random(0).randbytes(4095))
    with pytest.raises(EngineError) as info:
        engine.load(path)
    assert type(info.value) is NotAModelError, f"{type(info.value).__name__}: {info.value}"


def test_a_zip_archive_without_a_checkpoint_is_not_a_model(tmp_path):
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("README.txt", "the model is in another castle")
    with pytest.raises(EngineError) as info:
        engine.load(path)
    assert type(info.value) is NotAModelError, f"{type(info.value).__name__}: {info.value}"


@pytest.mark.parametrize("entry", [1, {"dtype": "F32", "shape": [1]}], ids=["number", "no-offsets"])
def test_a_safetensors_header_that_describes_no_tensors_is_not_a_model(tmp_path, entry):
    path = save_with_header(tmp_path / "odd.safetensors", {"emb.weight": entry}, b"\0" * 4)
    load_error(path, NotAModelError)


# ---------------------------------------------------------------- 2. truncated downloads


def test_an_empty_file_is_truncated(tmp_path):
    path = tmp_path / "model.pth"
    path.touch()
    assert "empty (0 bytes)" in load_error(path, TruncatedModelError)


@pytest.mark.parametrize("where", ["half", "10-bytes-short", "header-only"])
def test_a_pth_cut_short_is_truncated(tmp_path, pth_a, where):
    size = pth_a.stat().st_size
    n = {"half": size // 2, "10-bytes-short": size - 10, "header-only": 64}[where]
    path = cut(pth_a, tmp_path / pth_a.name, n)
    message = load_error(path, TruncatedModelError)
    assert f"{n:,} bytes" in message and "download it again" in message


@pytest.mark.parametrize(
    "where",
    [
        "half",
        "10-bytes-short",
        "header-only",
        "first-byte-only",
    ],
)
def test_a_legacy_pth_cut_short_is_truncated(tmp_path, where):
    legacy = tmp_path / "legacy-full.pth"
    torch.save(make_rwkv7_state_dict(**DIMS_A), legacy, _use_new_zipfile_serialization=False)
    size = legacy.stat().st_size
    n = {"half": size // 2, "10-bytes-short": size - 10, "header-only": 40, "first-byte-only": 1}[where]
    message = load_error(cut(legacy, tmp_path / "legacy.pth", n), TruncatedModelError)
    assert "download it again" in message


def test_a_safetensors_cut_in_its_data_is_truncated(tmp_path, rwkv7_checkpoint):
    full = rwkv7_checkpoint(**DIMS_A, fmt="safetensors")
    size = full.stat().st_size
    path = cut(full, tmp_path / full.name, size - 1000)
    message = load_error(path, TruncatedModelError)
    assert f"describes {size:,} bytes but the file has {size - 1000:,}" in message
    assert "download it again" in message


def test_a_safetensors_cut_in_its_header_is_truncated(tmp_path, rwkv7_checkpoint):
    full = rwkv7_checkpoint(**DIMS_A, fmt="safetensors")
    (header_len,) = struct.unpack("<Q", full.read_bytes()[:8])
    path = cut(full, tmp_path / full.name, 8 + header_len // 2)
    assert "ends inside its header" in load_error(path, TruncatedModelError)


# ---------------------------------------------------------------- 3. tensors, but not an RWKV-7 layout


def test_a_state_dict_of_another_network_is_refused_with_the_keys_it_has(tmp_path):
    shapes = {"conv1.weight": (8, 3, 3, 3), "bn1.weight": (8,), "bn1.bias": (8,), "bn1.running_mean": (8,),
              "bn1.running_var": (8,), "layer1.0.conv1.weight": (8, 8, 3, 3), "layer1.0.bn1.weight": (8,),
              "layer1.0.bn1.bias": (8,), "fc.weight": (10, 8), "fc.bias": (10,)}
    resnet = {k: torch.zeros(shape) for k, shape in shapes.items()}
    path = tmp_path / "resnet.pth"
    torch.save(resnet, path)
    message = load_error(path, UnknownLayoutError)
    assert "not an RWKV model" in message and "found 10 tensors" in message
    assert "conv1.weight" in message and "bn1.running_mean" in message


@pytest.mark.parametrize(
    "obj, kind",
    [(torch.zeros(4, 4), "Tensor"), ([torch.zeros(2), torch.ones(2)], "list")],
    ids=["tensor", "list"],
)
def test_a_pth_holding_something_other_than_a_dict_has_an_unknown_layout(tmp_path, obj, kind):
    path = tmp_path / "thing.pth"
    torch.save(obj, path)
    assert f"holds a {kind}" in load_error(path, UnknownLayoutError)


def test_an_rwkv7_file_missing_a_tensor_names_the_missing_key(tmp_path):
    sd = make_rwkv7_state_dict(**DIMS_A)
    del sd["blocks.1.att.k_k"]
    path = tmp_path / "incomplete.pth"
    torch.save(sd, path)
    message = load_error(path, UnknownLayoutError)
    assert "1 tensors are missing (blocks.1.att.k_k)" in message


def test_an_incomplete_rwkv6_checkpoint_is_recognised_and_refused_by_name(tmp_path):
    C = 32
    sd = {"emb.weight": torch.zeros(64, C), "blocks.0.att.time_maa_x": torch.zeros(1, 1, C),
          "blocks.0.att.time_decay": torch.zeros(1, 1, C), "blocks.0.att.ln_x.weight": torch.ones(C),
          "head.weight": torch.zeros(64, C)}
    path = tmp_path / "rwkv6.pth"
    torch.save(sd, path)
    message = load_error(path, UnknownLayoutError)
    assert "looks like RWKV-6" in message and "tensors are missing" in message


def test_an_incomplete_hugging_face_layout_is_mapped_and_names_what_is_missing(tmp_path):
    sd = {"model.embeddings.weight": torch.zeros(64, 32),
          "model.layers.0.attn.r_proj.weight": torch.zeros(32, 32),
          "model.layers.0.attn.r_k": torch.zeros(1, 32), "lm_head.weight": torch.zeros(64, 32)}
    path = tmp_path / "model.safetensors"
    save_file(sd, str(path))
    message = load_error(path, UnknownLayoutError)
    assert "looks like RWKV-7" in message and "blocks.0.ln0.weight" in message


# ---------------------------------------------------------------- 4. pickles that would run code


class CodeOnUnpickle:
    """Unpickling this runs ``exec``, which writes the marker file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('executed')",)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_a_pickle_that_runs_code_is_refused_and_never_executed(tmp_path, zip_format):
    marker = tmp_path / "marker"
    path = tmp_path / "trojan.pth"
    payload = {"emb.weight": torch.zeros(4, 4), "blocks.0.att.r_k": CodeOnUnpickle(marker)}
    torch.save(payload, path, _use_new_zipfile_serialization=zip_format)

    message = load_error(path, UnsafeCheckpointError)
    assert "refused without being executed" in message
    assert not marker.exists()

    # The payload is live: an unsafe load of the same file does run it.
    torch.load(path, weights_only=False)
    assert marker.read_text() == "executed"


# ---------------------------------------------------------------- 5. states of another model


def test_a_state_of_another_shape_names_both_shapes(tmp_path, model_a, model_b):
    path = saved_state(model_a, [1, 2, 3], tmp_path / "a.state")
    with pytest.raises(IncompatibleStateError) as info:
        State.load(path, model_b)
    message = str(info.value)
    assert "'a.state' is a state for another model" in message
    assert "2 layers, width 64, 2 heads of size 32 (wkv [2, 2, 32, 32])" in message
    assert "needs RWKV-7 with 1 layers, width 32, 1 heads of size 32 (wkv [1, 1, 32, 32])" in message


def test_a_state_of_other_weights_is_refused_by_fingerprint_unless_the_check_is_off(
        tmp_path, model_a, model_a_other_weights):
    path = saved_state(model_a, [1, 2, 3], tmp_path / "a.state")
    theirs = model_a_other_weights.info.fingerprint
    assert model_a.info.fingerprint != theirs

    with pytest.raises(IncompatibleStateError) as info:
        State.load(path, model_a_other_weights)
    message = str(info.value)
    assert "'a.state'" in message and "other weights of the same shape" in message
    assert model_a.info.fingerprint in message and theirs in message
    assert "Load the model it was saved with" in message

    state = State.load(path, model_a_other_weights, check_fingerprint=False)
    assert state.tokens_seen == 3 and state.wkv.abs().sum() > 0


def test_a_file_that_is_not_safetensors_is_not_a_state(tmp_path, model_a):
    path = tmp_path / "chat.state"
    path.write_text("hello")
    with pytest.raises(StateFormatError, match="'chat.state' is not a readable state file"):
        State.load(path, model_a)


def test_a_truncated_state_file_is_not_a_readable_state(tmp_path, model_a):
    full = saved_state(model_a, [1, 2, 3], tmp_path / "full.state")
    path = cut(full, tmp_path / "cut.state", full.stat().st_size // 2)
    with pytest.raises(StateFormatError, match="'cut.state' is not a readable state file"):
        State.load(path, model_a)


def test_safetensors_without_our_metadata_is_not_a_state(tmp_path, model_a):
    path = tmp_path / "weights.safetensors"
    save_file(model_a.new_state().parts, str(path))
    expected = r"'weights.safetensors' is not an RWKV Desktop state file \(format: 'none'\)"
    with pytest.raises(StateFormatError, match=expected):
        State.load(path, model_a)


def test_a_state_file_with_damaged_metadata_is_a_state_format_error(tmp_path, model_a):
    path = tmp_path / "damaged.state"
    save_file(model_a.new_state().parts, str(path), metadata={"format": FORMAT, "format_version": "one"})
    with pytest.raises(StateFormatError, match="'damaged.state'"):
        State.load(path, model_a)


def tuning_file(path: Path, layers, shape) -> Path:
    gen = torch.Generator().manual_seed(0)
    torch.save({f"blocks.{i}.att.time_state": torch.randn(shape, generator=gen) for i in layers}, path)
    return path


def test_a_tuning_file_for_another_layer_count_names_both(tmp_path, model_a):
    path = tuning_file(tmp_path / "tuned.pth", range(3), (H_A, N_A, N_A))
    with pytest.raises(IncompatibleStateError) as info:
        State.from_tuning_file(path, model_a)
    message = str(info.value)
    assert "'tuned.pth' was tuned for another model" in message
    assert "it has 3 layers of [2, 32, 32], but the loaded model needs 2 layers of [2, 32, 32]" in message


def test_a_tuning_file_for_another_head_shape_names_both(tmp_path, model_a):
    path = tuning_file(tmp_path / "tuned.pth", range(2), (1, 64, 64))
    with pytest.raises(IncompatibleStateError) as info:
        State.from_tuning_file(path, model_a)
    message = str(info.value)
    assert "it has 2 layers of [1, 64, 64], but the loaded model needs 2 layers of [2, 32, 32]" in message


def test_a_tuning_file_with_layers_the_model_lacks_is_incompatible(tmp_path, model_a):
    path = tuning_file(tmp_path / "tuned.pth", (0, 5), (H_A, N_A, N_A))
    with pytest.raises(IncompatibleStateError, match="'tuned.pth'"):
        State.from_tuning_file(path, model_a)


def test_a_file_without_time_state_tensors_is_not_a_tuning_file(tmp_path, model_a, pth_a):
    with pytest.raises(StateFormatError) as info:
        State.from_tuning_file(pth_a, model_a)
    message = str(info.value)
    assert f"'{pth_a.name}' is not a state-tuning file" in message and "blocks.N.att.time_state" in message


def test_a_matching_tuning_file_becomes_the_initial_wkv_state(tmp_path, model_a):
    path = tuning_file(tmp_path / "tuned.pth", range(2), (H_A, N_A, N_A))
    expected = torch.load(path, weights_only=True)
    state = State.from_tuning_file(path, model_a)
    for i in range(2):
        assert torch.equal(state.wkv[i], expected[f"blocks.{i}.att.time_state"])
    assert state.att_x_prev.abs().sum() == 0 and state.tokens_seen == 0


# ---------------------------------------------------------------- 6. prompts the model cannot take


def test_an_empty_prompt_is_refused(model_a):
    with pytest.raises(EmptyPromptError, match="the token list is empty"):
        model_a.forward([])


@pytest.mark.parametrize("bad", [64, -1, 10**6])
def test_a_token_outside_the_vocabulary_is_refused(model_a, bad):
    with pytest.raises(EngineError, match=rf"Token id {bad} is outside this model's vocabulary \(0\.\.63\)"):
        model_a.forward([1, bad, 2])


# ---------------------------------------------------------------- 7. out of memory, for real

# Import, load and run once BEFORE limiting the address space: torch alone maps ~700 MB of it (libraries,
# thread stacks, malloc arenas), and under a limit set earlier ``import torch`` itself fails.
_UNDER_A_MEMORY_LIMIT = """
import json, resource, sys
import safetensors.torch
import engine
import engine.models.rwkv7
from engine.models.checkpoint import read_checkpoint

job = json.loads(sys.argv[1])
model = engine.load(job["warm_up"])
model.forward([1, 2, 3])
tokens = [i % model.info.vocab_size for i in range(job.get("n_tokens", 0))]  # made before the limit

def vm_size():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

limit = vm_size() + job["headroom"]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    if "load" in job:
        engine.load(job["load"])
    else:
        model.forward(tokens)
    out = {"raised": None}
except BaseException as e:
    out = {"raised": type(e).__module__ + "." + type(e).__name__, "message": str(e),
           "cause": repr(e.__cause__)}
    if "load" not in job:
        out["still_runs"] = model.forward([1, 2, 3])[0].isfinite().all().item()
print(json.dumps(out))
"""


def under_a_memory_limit(job: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", _UNDER_A_MEMORY_LIMIT, json.dumps(job)], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


OOM_ERROR = f"{OutOfMemoryError.__module__}.{OutOfMemoryError.__qualname__}"

limited_address_space = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux's")


@limited_address_space
def test_a_prompt_too_long_for_memory_is_an_out_of_memory_error(rwkv7_checkpoint):
    dims = dict(n_layer=1, n_embd=64, head_size=64, vocab_size=64)
    headroom = 256 * 2**20
    # The embedded prompt alone, [T, C] in float32, is twice the headroom.
    n_tokens = 2 * headroom // (dims["n_embd"] * 4)
    out = under_a_memory_limit({"warm_up": str(rwkv7_checkpoint(**dims)), "headroom": headroom,
                                "n_tokens": n_tokens})
    assert out["raised"] == OOM_ERROR, out
    assert out["cause"].startswith("RuntimeError") and "can't allocate memory" in out["cause"], out
    assert f"running {n_tokens} tokens at once; feed the prompt in smaller chunks" in out["message"]
    assert out["still_runs"] is True


@limited_address_space
def test_a_model_too_big_to_build_is_an_out_of_memory_error(rwkv7_checkpoint):
    big = rwkv7_checkpoint(n_layer=4, n_embd=512, head_size=64, vocab_size=1024)
    # The memory-mapped file fits in the headroom; the weights' transposed copies (as big again) do not.
    headroom = 3 * big.stat().st_size // 2
    out = under_a_memory_limit({"warm_up": str(rwkv7_checkpoint(**DIMS_B)), "headroom": headroom,
                                "load": str(big)})
    assert out["raised"] == OOM_ERROR, out
    assert f"Not enough memory on cpu to load '{big.name}' in fp32" in out["message"]


@limited_address_space
@pytest.mark.parametrize("fmt", ["pth", "legacy-pth", "safetensors"])
def test_a_model_too_big_to_read_is_an_out_of_memory_error(rwkv7_checkpoint, tmp_path, fmt):
    dims = dict(n_layer=4, n_embd=512, head_size=64, vocab_size=1024)
    if fmt == "legacy-pth":
        big = tmp_path / "legacy.pth"
        torch.save(make_rwkv7_state_dict(**dims), big, _use_new_zipfile_serialization=False)
    else:
        big = rwkv7_checkpoint(**dims, fmt=fmt)
    headroom = big.stat().st_size // 4
    out = under_a_memory_limit({"warm_up": str(rwkv7_checkpoint(**DIMS_B)), "headroom": headroom,
                                "load": str(big)})
    assert out["raised"] == OOM_ERROR, out


# ---------------------------------------------------------------- 8. nothing there


def test_a_missing_path_is_model_not_found(tmp_path):
    path = tmp_path / "nowhere" / "model.pth"
    with pytest.raises(ModelNotFoundError) as info:
        engine.load(path)
    assert isinstance(info.value, FileNotFoundError)
    assert f"No model at '{path}'" in str(info.value)


def test_an_unknown_bundled_name_is_model_not_found():
    with pytest.raises(FileNotFoundError) as info:
        engine.load("no-such-bundled-model")
    assert isinstance(info.value, ModelNotFoundError)
    assert "no bundled model has that name" in str(info.value)


def test_a_folder_without_a_model_file_is_model_not_found(tmp_path):
    (tmp_path / "README.md").write_text("weights go here")
    with pytest.raises(ModelNotFoundError, match="holds no .pth or .safetensors model file"):
        engine.load(tmp_path)


def test_a_folder_with_several_model_files_asks_to_pick_one(tmp_path, pth_a):
    shutil.copy(pth_a, tmp_path / "a.pth")
    shutil.copy(pth_a, tmp_path / "b.pth")
    with pytest.raises(ModelNotFoundError, match=r"several model files \(a.pth, b.pth\); pick one"):
        engine.load(tmp_path)


# ---------------------------------------------------------------- 9. device and precision


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable GPU")
def test_cuda_without_a_gpu_says_to_use_the_cpu(pth_a):
    with pytest.raises(EngineError, match="No CUDA or ROCm GPU is available.*use device 'cpu'"):
        engine.load(pth_a, device="cuda")


def test_an_unknown_device_lists_the_valid_ones(pth_a):
    with pytest.raises(EngineError, match="Unknown device 'banana': use 'cpu', 'cuda', 'cuda:N' or 'auto'"):
        engine.load(pth_a, device="banana")


def test_an_unknown_precision_lists_the_valid_ones(pth_a):
    with pytest.raises(EngineError, match="Unknown precision 'fp8': use one of fp32, bf16, fp16 or 'auto'"):
        engine.load(pth_a, precision="fp8")


# ---------------------------------------------------------------- 10. atomic writes


@pytest.fixture
def saved_once(tmp_path, model_a):
    """A state saved at ``chat.state``, and the state advanced past it (so a new save differs)."""
    path = tmp_path / "chat.state"
    _, state = model_a.forward([1, 2, 3])
    state.save(path)
    model_a.forward([4, 5], state)
    return path, path.read_bytes(), state


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_disk_full_at_fsync_keeps_the_old_state_and_no_temp_file(saved_once, monkeypatch):
    path, before, state = saved_once
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError) as info:
        state.save(path)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["chat.state"]


def test_a_disk_full_halfway_through_the_write_keeps_the_old_state_and_no_temp_file(saved_once, monkeypatch):
    path, before, state = saved_once
    real_fdopen = os.fdopen

    class FillsUp:
        """A file that takes half of what it is given, then reports a full disk."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            disk_full()

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: FillsUp(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as info:
        state.save(path)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["chat.state"]


def test_a_failed_first_save_leaves_no_file_at_all(tmp_path, model_a, monkeypatch):
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError):
        model_a.new_state().save(tmp_path / "new.state")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions, which root ignores")
def test_saving_into_a_read_only_folder_keeps_the_old_state(saved_once):
    path, before, state = saved_once
    path.parent.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            state.save(path)
    finally:
        path.parent.chmod(0o755)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["chat.state"]


def test_an_error_written_as_a_template_reads_in_english_and_keeps_its_template_and_values():
    from engine.errors import DownloadFailedError

    error = DownloadFailedError("Needs {gib:.1f} GiB at {path}.", resumable=True, gib=1.25, path=Path("/x/m.pth"))
    assert str(error) == "Needs 1.2 GiB at /x/m.pth." and error.resumable
    assert error.template == "Needs {gib:.1f} GiB at {path}."
    assert error.values == {"gib": 1.25, "path": Path("/x/m.pth")}
    plain = EngineError("Braces {as} written, with no values.")
    assert str(plain) == plain.template == "Braces {as} written, with no values." and plain.values == {}
    missing = ModelNotFoundError("No file at {path}.", path="/nowhere")
    assert isinstance(missing, FileNotFoundError) and str(missing) == "No file at /nowhere."
