"""Our RWKV-4 engine computes what BlinkDL's ``rwkv`` package computes (fp32, CPU).

RWKV-4 has no heads; the shapes cover one to three layers, a width of 256, an FFN width that is
not 4 C and a vocabulary that is not a power of two. The state is the package's ``aa, bb, pp``
(with ``pp`` starting at -1e30) besides the two token-shift vectors. The tests themselves are
shared with RWKV-5 and -6 (``tests/fixtures/legacy_suite.py``).
"""

from __future__ import annotations

from tests.fixtures.legacy_checkpoints import LegacySpec
from tests.fixtures.legacy_suite import make_suite

SPECS = [
    LegacySpec(4, n_layer=2, n_embd=128),
    LegacySpec(4, n_layer=1, n_embd=64),
    LegacySpec(4, n_layer=3, n_embd=256, vocab_size=1000),
    LegacySpec(4, n_layer=2, n_embd=96, dim_ffn=320, seed=1),
]

globals().update(make_suite(SPECS, generation=4))
