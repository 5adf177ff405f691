"""Loading keeps one copy of the weights: the file's pages are let go as each tensor is converted,
and a loaded model (torch's tables, the packed matrices, the compiled step's pointers, the prompt
paths) holds every matrix once, in its final precision, and no copy of the embedding (its rows are
read from the file as tokens come; see tests/unit/test_embedding.py). Counted in tensor storages
and in the file mapping's own resident pages, not in process-wide RSS numbers."""

from __future__ import annotations

import ctypes
import gc
import importlib
import sys

import pytest
import torch

import engine
from engine.models.checkpoint import read_checkpoint
from engine.models.embedding import STAGED_ROWS
from engine.models.packed import HUGE_PAGE, Q4, Q5, pack, q4_padded
from engine.models.schema import LINEAR, LORA
from kernels import cpu
from tests.fixtures.checkpoints import make_rwkv7_checkpoint
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

BYTES = {"fp32": 4, "bf16": 2, "int8": 1, "q4": 1, "q5": 1}   # q4, q5: their head and LoRAs (int8)
BLOCK_BITS = {"q4": 4, "q5": 5}
# Vectors may be kept twice (a bf16 RWKV-7 keeps bf16 copies for its bf16 prompts, and the decode
# step fp32 ones of a bf16 RWKV-4/5/6's), never a matrix: the bound leaves less room than a float
# copy of the smallest matrix.
VECTOR_COPIES = 2
GLIBC = sys.platform == "linux" and hasattr(ctypes.CDLL(None), "malloc_trim")


def _make(tmp_path, generation: int, fmt: str = "pth"):
    if generation == 7:
        return make_rwkv7_checkpoint(tmp_path / "r7", n_layer=2, n_embd=128, vocab_size=1000, fmt=fmt)
    return make_legacy_checkpoint(tmp_path / f"r{generation}.pth",
                                  LegacySpec(generation, n_layer=2, n_embd=128, head_size=32, vocab_size=1000))


def _storages(root) -> dict[int, int]:
    """Every tensor storage reachable from ``root`` through our own objects: data pointer -> bytes."""
    seen, out, todo = set(), {}, [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            s = obj.untyped_storage()
            out[s.data_ptr()] = s.nbytes()
        elif isinstance(obj, dict):
            todo += list(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            todo += list(obj)
        elif type(obj).__module__.startswith(("engine.", "kernels.")) and not isinstance(obj, type):
            todo += list(getattr(obj, "__dict__", {}).values())
            todo += [getattr(obj, n) for c in type(obj).__mro__ for n in getattr(c, "__slots__", ())
                     if hasattr(obj, n)]
    return out


def _expected_bytes(path, generation: int, precision: str) -> tuple[int, int, int]:
    """(matrix, embedding, vector bytes) of the model in ``precision``: matrices in their kept format
    (int8: plus a float32 scale per row; q4, q5: their own size, head and LoRAs int8; RWKV-6's small LoRAs
    float32), vectors float32; of the embedding only the compiled step's staging rows in the shift
    dtype (Linux; elsewhere the folded table too)."""
    schema = importlib.import_module(f"engine.models.rwkv{generation}").SCHEMA
    mats = emb = vectors = 0
    for key, t in read_checkpoint(path).tensors.items():
        kind = schema.entry(key)[1].kind if key.startswith("blocks.") else LINEAR if key == "head.weight" else ""
        if precision in BLOCK_BITS and kind == LINEAR and key != "head.weight":   # fp16 scale per 32, padded
            kp = q4_padded(t.shape[1])
            mats += t.shape[0] * (kp * BLOCK_BITS[precision] // 8 + kp // 32 * 2)
        elif kind == LINEAR or (kind == LORA and precision != "fp32"):   # q4's, q5's head and LoRAs: int8
            rows = t.shape[0] if kind == LINEAR else t.shape[-1]
            mats += t.numel() * BYTES[precision] + (rows * 4 if precision in ("int8", *BLOCK_BITS) else 0)
        elif kind:
            mats += t.numel() * 4
        elif key == "emb.weight":
            rows = STAGED_ROWS + (0 if sys.platform == "linux" else t.shape[0])
            emb += rows * t.shape[1] * (2 if precision == "bf16" else 4)
        else:
            vectors += t.numel() * 4
    return mats, emb, vectors


@pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8", "q5", "q4"])
@pytest.mark.parametrize("generation", [6, 7])
def test_a_loaded_model_holds_every_matrix_once(tmp_path, generation, precision):
    path = _make(tmp_path, generation)
    model = engine.load(path, precision=precision)
    assert model.weights.decoder is not None and model.weights.z == {}
    mats, emb, vectors = _expected_bytes(path, generation, precision)
    file, seen = _mapped_ranges(path), _storages(model)
    held = sum(n for ptr, n in seen.items() if not any(lo <= ptr < hi for lo, hi in file))   # not the file's
    one_matrix = 128 * 128 * 4                                 # a float copy of the smallest matrix
    assert held < mats + emb + VECTOR_COPIES * vectors + one_matrix // 2, (held, mats, emb, vectors)
    kept = [p.w for layer in (*model.weights.packed, {"head": model.weights.head_packed}) for p in layer.values()]
    assert all(w.untyped_storage().data_ptr() in seen for w in kept)   # the walk does see the matrices
    for role, p in model.weights.packed[1].items():             # torch's view is the kept memory
        field = {"fK": "ffn_K", "fV": "ffn_V", "fR": "ffn_R"}.get(role, role)
        mine = getattr(model.layers[1], field)
        ptr = mine.p.w.data_ptr() if hasattr(mine, "p") else mine.data_ptr()
        assert ptr == p.w.data_ptr(), role


def _mapped_ranges(path) -> list[tuple[int, int]]:
    """Where this process maps ``path`` (``/proc/self/maps``; nothing elsewhere than Linux)."""
    if sys.platform != "linux":
        return []
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip() == str(path.resolve()):
                lo, hi = parts[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out


def _smaps_kib(field: str, holds) -> int:
    """``field`` (KiB) summed over this process's mappings whose /proc/self/smaps header ``holds``."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
                inside = holds(head)
            elif inside and line.startswith(field + ":"):
                total += int(head[1])
    return total


def _mapping_rss_kib(path) -> int:
    """Resident KiB of this process's mappings of ``path``."""
    return _smaps_kib("Rss", lambda head: len(head) == 6 and head[5] == str(path.resolve()))


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/smaps")
@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_releasing_a_read_tensor_drops_the_files_pages_but_not_its_values(tmp_path, fmt):
    path = make_rwkv7_checkpoint(tmp_path / "big", n_layer=1, n_embd=256, vocab_size=8192, fmt=fmt)
    ckpt = read_checkpoint(path)
    assert ckpt.mapped, "the file is memory-mapped"
    sums = {k: t.double().sum().item() for k, t in ckpt.tensors.items()}    # every page read
    before = _mapping_rss_kib(path)
    assert before >= path.stat().st_size // 1024 // 2
    for t in ckpt.tensors.values():
        ckpt.release(t)
    assert _mapping_rss_kib(path) <= before // 10
    assert {k: t.double().sum().item() for k, t in ckpt.tensors.items()} == sums   # read again from the file


def test_release_leaves_memory_that_is_not_the_files_alone(tmp_path):
    ckpt = read_checkpoint(_make(tmp_path, 7))
    own = torch.arange(100_000, dtype=torch.float32)
    ckpt.release(own)
    assert own[-1].item() == 99_999                               # anonymous memory would read zeros


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8", "q5", "q4"])
def test_loading_releases_every_tensor_it_reads(tmp_path, monkeypatch, precision):
    from engine.models.checkpoint import Checkpoint

    released, files = [], []
    real = Checkpoint.release

    def release(self, t):
        files.append(self.tensors)
        released.append(next(k for k, v in self.tensors.items() if v is t))
        real(self, t)

    monkeypatch.setattr(Checkpoint, "release", release)
    engine.load(_make(tmp_path, 7), precision=precision)
    tensors = files[0]
    assert all(f is tensors for f in files)
    unused = {f"blocks.0.att.v{n}" for n in "012"}     # layer 0 has no value residual: never read
    assert set(released) == set(tensors) - unused


def _anon_mib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("RssAnon:"))


@pytest.mark.skipif(not GLIBC, reason="glibc's heap, read in /proc/self/status")
def test_trimming_the_heap_hands_back_blocks_freed_between_live_ones():
    """What loading leaves when its float temporaries are freed between the packed matrices: holes
    glibc keeps resident (at 1.5B int8, ~400 MiB) until :func:`trim_heap`."""
    from engine.models.checkpoint import trim_heap

    torch.ones(2**20).sum()                      # a freed 4 MiB block raises glibc's mmap threshold
    temporaries, kept = [], []
    for _ in range(64):                          # 64 MiB of 1 MiB blocks, each followed by a live one
        temporaries.append(torch.ones(2**18))
        kept.append(torch.ones(2**14))
    held = _anon_mib()
    del temporaries
    trim_heap()
    assert _anon_mib() <= held - 32


def test_loading_trims_the_heap_after_each_layer_and_at_the_end(tmp_path, monkeypatch):
    import engine.models.weights as weights

    calls = []
    monkeypatch.setattr(weights, "trim_heap", lambda: calls.append(1))
    model = engine.load(_make(tmp_path, 7), precision="int8")
    assert len(calls) >= model.info.n_layer + 1


@pytest.mark.skipif(not GLIBC, reason="glibc's heap, read in /proc/self/status")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_prompt_hands_its_activations_back(tmp_path, precision):
    """A 2,000-token prompt's activations (~70 MiB of blocks here, which glibc would keep) are
    returned once it is read: the process grows by little more than nothing."""
    path = make_rwkv7_checkpoint(tmp_path / "wide", n_layer=2, n_embd=512, head_size=64, vocab_size=1000)
    model = engine.load(path, precision=precision)
    state = model.new_state()
    model.forward([1, 2, 3], state)
    before = _anon_mib()
    model.forward(list(range(1, 1000)) * 2, state)
    assert _anon_mib() - before < 24


def _thp_mode() -> str | None:
    try:
        text = open("/sys/kernel/mm/transparent_hugepage/enabled").read()
    except OSError:
        return None
    return text[text.index("[") + 1:text.index("]")] if "[" in text else None


def _huge_kib(t: torch.Tensor) -> int:
    """The huge pages (KiB) of the mapping ``t`` lies in."""
    def holds(head: list[str]) -> bool:
        a, b = (int(v, 16) for v in head[0].split("-"))
        return a <= t.data_ptr() < b

    return _smaps_kib("AnonHugePages", holds)


def _int8_rows_reference(w: torch.Tensor) -> torch.Tensor:
    s = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-30) / 127.0
    return torch.round(w / s).clamp_(-127, 127).to(torch.int8)


@pytest.mark.skipif(_thp_mode() not in ("madvise", "always"), reason="no transparent huge pages on this system")
@pytest.mark.parametrize("fmt", [torch.float32, torch.bfloat16, torch.int8, Q4, Q5])
def test_kept_matrices_sit_in_huge_pages_and_leave_with_the_model(fmt):
    """A matrix a model keeps (every token streams it) is packed into 2 MiB pages of its own mapping,
    equal to what torch.empty would hold, and unmapped when the model lets go of it."""
    w = torch.randn(4096, 2048)
    p = pack(w, fmt)
    assert p.w.data_ptr() % HUGE_PAGE == 0 and p.w.is_contiguous()
    assert _huge_kib(p.w) >= 2048          # at least one 2 MiB page (compaction may not find them all)
    if fmt in (torch.float32, torch.bfloat16):
        assert torch.equal(p.w, w.to(fmt))
    elif fmt == torch.int8:
        assert torch.equal(p.w, _int8_rows_reference(w))
    address = p.w.data_ptr()
    del p
    gc.collect()
    with open("/proc/self/maps") as f:
        assert not any(int(a, 16) <= address < int(b, 16)
                       for a, b in (line.split()[0].split("-") for line in f))

