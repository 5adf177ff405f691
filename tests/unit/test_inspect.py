"""engine.models.file_info reads what a model is from its header, agrees with the loader, and runs no code."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile

import pytest
import torch

import engine
from engine.errors import (
    EngineError,
    ModelNotFoundError,
    NotAModelError,
    TruncatedModelError,
    UnknownLayoutError,
    UnsafeCheckpointError,
)
from engine.models.file_info import inspect_file


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


def test_a_gguf_file_is_named_as_llama_cpps_format_with_what_to_use_instead(tmp_path):
    path = tmp_path / "rwkv7-g1-0.1b-Q5_K_M.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 290, 26) + bytes(64))     # version, tensors, metadata
    for read in (inspect_file, engine.load):                       # the library's row and the loader
        with pytest.raises(NotAModelError) as err:
            read(path)
        message = str(err.value)
        assert message.startswith("'rwkv7-g1-0.1b-Q5_K_M.gguf' is a GGUF file (llama.cpp's format), which RWKV "
                                  "Desktop cannot load.")
        assert ".pth" in message and ".safetensors" in message and "Hugging Face" in message
        assert "b'" not in message and "\\x" not in message
    with pytest.raises(ModelNotFoundError, match="GGUF files, llama.cpp's format, cannot be loaded"):
        engine.load(tmp_path)                                      # a folder holding only the GGUF file


def test_a_cut_off_download_is_reported_as_truncated(rwkv7_checkpoint, tmp_path):
    path = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=512)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(TruncatedModelError):
        inspect_file(cut)


def test_a_fla_hub_rwkv7_folder_is_one_model_with_its_info(tmp_path):
    from tests.fixtures.checkpoints import make_rwkv7_state_dict
    from tests.fixtures.hf_layouts import write_fla_rwkv7

    sd = {k: v.to(torch.bfloat16) for k, v in make_rwkv7_state_dict(n_layer=2, n_embd=64, head_size=32).items()}
    folder = write_fla_rwkv7(tmp_path / "rwkv7-tiny", sd)
    info = inspect_file(folder)
    loaded = engine.load(folder).info
    assert (info.path, info.generation, info.n_layer, info.n_embd, info.vocab_size, info.precision) == (
        folder, 7, 2, 64, loaded.vocab_size, "bf16")
    assert info.n_params == loaded.n_params == sum(t.numel() for t in sd.values())
    assert info.size == (folder / "model.safetensors").stat().st_size


def test_a_sharded_transformers_rwkv4_folder_counts_every_shard(tmp_path):
    from tests.fixtures.hf_layouts import write_transformers_rwkv4
    from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict

    sd = make_legacy_state_dict(LegacySpec(4, n_layer=3, n_embd=64))
    folder = write_transformers_rwkv4(tmp_path / "rwkv-4-tiny-pile", sd, shards=3)
    info = inspect_file(folder)
    loaded = engine.load(folder).info
    assert (info.generation, info.n_layer, info.n_embd, info.vocab_size, info.precision) == (4, 3, 64, 512, "fp32")
    assert info.n_params == sum(t.numel() for t in sd.values())
    assert loaded.generation == 4 and loaded.n_layer == 3
    assert info.size == sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def test_a_lone_hf_layout_file_and_a_folder_missing_a_shard(tmp_path):
    from engine.errors import ModelNotFoundError
    from tests.fixtures.checkpoints import make_rwkv7_state_dict
    from tests.fixtures.hf_layouts import write_fla_rwkv7, write_transformers_rwkv4
    from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict

    fla = write_fla_rwkv7(tmp_path / "fla", make_rwkv7_state_dict(n_layer=2, n_embd=64, head_size=32),
                          fused_mixes=False)
    assert inspect_file(fla / "model.safetensors").generation == 7
    rwkv4 = write_transformers_rwkv4(tmp_path / "hf4", make_legacy_state_dict(LegacySpec(4, n_layer=2, n_embd=64)))
    (rwkv4 / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match="incomplete"):
        inspect_file(rwkv4)


@pytest.mark.parametrize("generation", [5, 6])
def test_rwkv5_and_rwkv6_headers_are_read_like_the_loader_reads_them(tmp_path, generation):
    from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict, save_tensors

    sd = make_legacy_state_dict(LegacySpec(generation, n_layer=2, n_embd=64, head_size=32))
    info = inspect_file(save_tensors(sd, tmp_path / f"v{generation}", "pth"))
    assert (info.generation, info.n_layer, info.n_embd) == (generation, 2, 64)


@pytest.mark.parametrize(("name", "generation"), [
    ("rwkv-x060-chn_single_round_qa-1B6-20240516-ctx2048.pth", 6), ("RWKV-x070-World-0.1B-v2.8-ctx4096.pth", 7),
    ("rwkv7-g1-2.9b-20250519-ctx4096.pth", 7), ("RWKV-5-World-3B-v2-20231118-ctx16k.pth", 5),
    ("RWKV-x052-World.state", 5), ("rwkv-4-raven-7b.pth", 4), ("tuned-state.pth", None), ("rwkv-14b.pth", None),
    ("rwkv-7b-state.pth", None)])
def test_a_file_name_hints_at_a_generation_only_when_it_says_one(name, generation):
    from engine.models.file_info import named_generation

    assert named_generation(name) == generation


def _with_header(path, header: bytes):
    """A file in safetensors framing (length, then the JSON header) with no tensor data."""
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


DEEP = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"       # json.loads: RecursionError


def test_a_deeply_nested_header_is_not_a_model_for_the_library_and_the_loader(tmp_path):
    path = _with_header(tmp_path / "deep.safetensors", DEEP)
    expected = r"'deep\.safetensors' has a broken safetensors header \(it nests too deeply"
    with pytest.raises(NotAModelError, match=expected):
        inspect_file(path)
    with pytest.raises(NotAModelError, match=expected):
        engine.load(path)


def _fla_with_a_scalar_mix(path):
    from safetensors.torch import save_file

    save_file({"model.embeddings.weight": torch.zeros(8, 4), "model.layers.0.attn.x_x": torch.zeros(())}, str(path))
    return path


BAD_HEADERS = {
    "nested-100k-deep": lambda p: _with_header(p, DEEP),
    "shape-a-string": lambda p: _with_header(p, json.dumps(
        {"emb.weight": {"dtype": "F32", "shape": "abc", "data_offsets": [0, 0]}}).encode()),
    "shape-negative": lambda p: _with_header(p, json.dumps(
        {"emb.weight": {"dtype": "F32", "shape": [-3, 4], "data_offsets": [0, 0]}}).encode()),
    "header-a-list": lambda p: _with_header(p, b"[1, 2, 3]"),
    "fla-scalar-mix": _fla_with_a_scalar_mix,      # the name mapping indexed a 0-d tensor's last dim
}


def test_a_library_scan_sees_every_model_whatever_else_the_folder_holds(rwkv7_checkpoint, tmp_path):
    """The app's scan catches EngineError and OSError per file: any other exception from one file
    (an untyped RecursionError, TypeError, IndexError) would end the scan and hide every model."""
    good = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=512)
    files = [f(tmp_path / f"{name}.safetensors") for name, f in BAD_HEADERS.items()] + [good]
    listed, refused = [], {}
    for path in files:
        try:
            listed.append(inspect_file(path).path)
        except (EngineError, OSError) as e:
            refused[path.stem] = e
    assert listed == [good]
    assert set(refused) == set(BAD_HEADERS)
    assert all(isinstance(e, NotAModelError) and f"'{stem}.safetensors'" in str(e) for stem, e in refused.items())


def test_a_checkpoint_named_safetensors_and_a_safetensors_named_pth_load_by_their_bytes(rwkv7_checkpoint, tmp_path):
    """The format comes from the bytes, never the name: a .pth renamed .safetensors (torch.load alone
    would read it as safetensors by its suffix: "header too large"), and a safetensors file whose header
    length ends in 0x80 (its first byte, as a legacy pickle's) named .pth."""
    import shutil

    from safetensors.torch import load_file, save_file

    pth = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=512, fmt="pth")
    renamed = tmp_path / "renamed.safetensors"
    shutil.copy(pth, renamed)
    assert inspect_file(renamed).n_params == inspect_file(pth).n_params
    assert engine.load(str(renamed)).info.fingerprint == engine.load(str(pth)).info.fingerprint

    st = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=512, fmt="safetensors")
    tensors = load_file(st)
    for pad in range(256):                        # metadata that brings the header's length to ..80
        odd = tmp_path / "odd.pth"
        save_file(tensors, odd, metadata={"pad": "x" * pad})
        if odd.read_bytes()[0] == 0x80:
            break
    assert odd.read_bytes()[0] == 0x80
    assert inspect_file(odd).n_params == inspect_file(st).n_params
    assert engine.load(str(odd)).info.fingerprint == engine.load(str(st)).info.fingerprint
