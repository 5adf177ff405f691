"""The embedding is read from the model file a row at a time, not copied at load.

A CPU model keeps no table of its own: a token's row is ``LN0(emb[token])`` computed when it is
looked up, from the file's memory map, whose pages are let go again at once; the compiled decode
step reads staged rows. Those rows are the same numbers as the table folded whole at load (what a
GPU, or a file that is not mapped, still gets), and a batch bigger than the staging table decodes
in slices that still equal one sequence at a time bit for bit.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

import engine
from engine.models import embedding
from engine.models import model as model_module
from kernels import cpu
from tests.fixtures.checkpoints import Rwkv7Spec
from tests.fixtures.legacy_checkpoints import LegacySpec
from tests.unit.test_load_memory import _mapped_ranges, _mapping_rss_kib

linux = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps and smaps")
compiled = pytest.mark.skipif(not cpu.available(), reason="compiled CPU library not built")
SPECS = {7: Rwkv7Spec(n_layer=2, n_embd=128, head_size=32, vocab_size=1000, seed=3),
         6: LegacySpec(6, n_layer=2, n_embd=128, head_size=32, vocab_size=1000),
         5: LegacySpec(5, n_layer=2, n_embd=128, head_size=32),
         4: LegacySpec(4, n_layer=2, n_embd=128)}


def _path(rwkv7_checkpoint, legacy_checkpoint, gen: int, dtype=torch.float32):
    spec = SPECS[gen]
    return rwkv7_checkpoint(spec, dtype=dtype) if gen == 7 else legacy_checkpoint(spec, dtype=dtype)


@linux
@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_a_cpu_model_reads_its_embedding_from_the_file_and_lets_the_pages_go(rwkv7_checkpoint, precision):
    path = rwkv7_checkpoint(n_layer=1, n_embd=256, head_size=32, vocab_size=8192, seed=5)   # an 8 MiB table
    model = engine.load(path, precision=precision)
    table = model.emb.table
    assert any(lo <= table.data_ptr() < hi for lo, hi in _mapped_ranges(path)), "the table is the file's memory"
    assert model.emb.ln0 is not None                              # normalised per lookup, not folded

    tokens = list(range(7, 8192, 19))                             # 431 rows all over the table
    state = model.new_state()
    model.forward(tokens, state)
    assert _mapping_rss_kib(path) <= 64                           # what a prompt read was let go
    for t in tokens[:embedding.RELEASE_AFTER]:
        model.forward([t], state)
    assert _mapping_rss_kib(path) <= 64                           # and what decoding read

    table.index_select(0, torch.tensor(tokens)).sum()             # the measure does see rows read
    assert _mapping_rss_kib(path) >= 431 * 1024 // 1024


@pytest.mark.parametrize("file_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
@pytest.mark.parametrize("gen", sorted(SPECS))
def test_rows_read_per_token_equal_the_table_folded_at_load(rwkv7_checkpoint, legacy_checkpoint, gen, precision,
                                                            file_dtype):
    model = engine.load(_path(rwkv7_checkpoint, legacy_checkpoint, gen, file_dtype), precision=precision)
    emb = model.emb
    tokens = torch.tensor([0, 5, 5, 999, 17, 3]) % model.info.vocab_size
    rows, folded = emb.rows(tokens), emb.folded()
    assert folded.ln0 is None and folded.table.dtype == rows.dtype == model.weights.plan.shift
    assert torch.equal(rows, folded.rows(tokens))
    if gen == 7 and precision == "fp32":                          # and it is LN0 of the file's rows
        w, b = emb.ln0
        assert torch.equal(rows, F.layer_norm(emb.table[tokens].float(), (emb.shape[1],), w, b, 1e-5))


@compiled
@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
@pytest.mark.parametrize("gen", [7, 6])
def test_a_batch_bigger_than_the_staging_table_runs_in_slices_equal_to_single_steps(
        rwkv7_checkpoint, legacy_checkpoint, monkeypatch, gen, precision):
    monkeypatch.setattr(embedding, "STAGED_ROWS", 4)
    monkeypatch.setattr(model_module, "STAGED_ROWS", 4)
    model = engine.load(_path(rwkv7_checkpoint, legacy_checkpoint, gen), precision=precision)
    assert model.emb.staging().shape[0] == 4
    solo = [model.forward([3 + i, 7, 11 * i + 1])[1] for i in range(9)]
    batch = [s.clone() for s in solo]
    tokens = [(31 + i * 17) % model.info.vocab_size for i in range(9)]
    logits = model.forward_batch(tokens, batch)
    for i, tok in enumerate(tokens):
        alone, _ = model.forward([tok], solo[i])
        assert torch.equal(logits[i], alone), i
        for name, part in batch[i].parts.items():
            assert torch.equal(part, solo[i].parts[name]), (i, name)
