"""Our RWKV-6 ("x060", Finch) engine computes what BlinkDL's ``rwkv`` package computes (fp32, CPU).

The shapes cover head sizes 32 and 64, one layer, odd layer and head counts, an FFN width that is
not 3.5 C, and a vocabulary that is not a power of two; prompts are shorter and longer than the
WKV chunk (16) and not multiples of it. The tests themselves are shared with RWKV-4 and -5
(``tests/fixtures/legacy_suite.py``).
"""

from __future__ import annotations

from tests.fixtures.legacy_checkpoints import LegacySpec
from tests.fixtures.legacy_suite import make_suite

SPECS = [
    LegacySpec(6, n_layer=2, n_embd=128, head_size=32),
    LegacySpec(6, n_layer=1, n_embd=64, head_size=32),
    LegacySpec(6, n_layer=3, n_embd=192, head_size=64, vocab_size=1000),
    LegacySpec(6, n_layer=2, n_embd=96, head_size=32, dim_ffn=320, seed=1),
]

globals().update(make_suite(SPECS, generation=6))
