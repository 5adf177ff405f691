"""engine.inspect reads what a model is from its header, agrees with the loader, and runs no code."""

from __future__ import annotations

import pickle
import zipfile

import pytest
import torch

import engine
from engine.errors import NotAModelError, TruncatedModelError, UnknownLayoutError, UnsafeCheckpointError
from engine.inspect import inspect_file


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_header_info_matches_the_loaded_model(rwkv7_checkpoint, fmt, dtype):
    path = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=512, fmt=fmt, dtype=dtype)
    info = inspect_file(path)
    loaded = engine.load(str(path)).info
    assert (info.generation, info.n_params, info.n_layer, info.n_embd, info.vocab_size) == (
        7, loaded.n_params, loaded.n_layer, loaded.n_embd, loaded.vocab_size)
    assert info.precision == {torch.float32: "fp32", torch.bfloat16: "bf16"}[dtype]
    assert info.size == path.stat().st_size


def test_a_pickle_that_names_code_is_refused_without_running_it(tmp_path):
    ran = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(ran), "w"))

    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps({"emb.weight": Evil()}))
    with pytest.raises(UnsafeCheckpointError):
        inspect_file(path)
    assert not ran.exists()


def test_files_that_are_not_rwkv_models_say_why(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_bytes(b"hello, world")
    with pytest.raises(NotAModelError):
        inspect_file(text)
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(UnknownLayoutError):
        inspect_file(other)


def test_a_cut_off_download_is_reported_as_truncated(rwkv7_checkpoint, tmp_path):
    path = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=512)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(TruncatedModelError):
        inspect_file(cut)
