"""Shared fixtures: tiny random checkpoints made once per session, and the oracle's cached results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.fixtures.checkpoints import Rwkv7Spec, make_rwkv7_checkpoint
from tests.oracle import OracleCache

_DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


@pytest.fixture(scope="session")
def rwkv7_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory for RWKV-7 checkpoints, each written once per session.

    ``rwkv7_checkpoint(spec, fmt="pth", dtype=torch.float32) -> Path`` where ``spec`` is a
    :class:`Rwkv7Spec`, or pass its fields as keywords: ``rwkv7_checkpoint(n_layer=2,
    n_embd=128)``. A ``.pth`` and a ``.safetensors`` of the same spec and dtype hold identical
    tensors (twins).
    """
    root = tmp_path_factory.mktemp("rwkv7-checkpoints")
    made: dict[tuple, Path] = {}

    def make(
        spec: Rwkv7Spec | None = None,
        /,
        *,
        fmt: str = "pth",
        dtype: torch.dtype = torch.float32,
        **dims,
    ) -> Path:
        if spec is None:
            spec = Rwkv7Spec(**dims)
        elif dims:
            raise TypeError("pass either a Rwkv7Spec or its fields as keywords, not both")
        key = (spec, fmt, dtype)
        if key not in made:
            stem = f"rwkv7-{spec}-{_DTYPE_NAMES.get(dtype, str(dtype))}"
            made[key] = make_rwkv7_checkpoint(root / stem, fmt=fmt, dtype=dtype, **spec.kwargs())
        return made[key]

    return make


@pytest.fixture(scope="session")
def oracle() -> OracleCache:
    """BlinkDL's package under ``cpu fp32``, each (checkpoint, calls) run at most once per session.

    ``oracle.get(ckpt, calls)`` / ``oracle.get_many(ckpt, [calls, ...])`` return
    :class:`tests.oracle.OracleResult`; ``oracle.prefetch(requests)`` runs everything missing in
    one subprocess, which is how a test module should ask for its whole plan up front.
    """
    return OracleCache()


@pytest.fixture(scope="session")
def world_ckpt(rwkv7_checkpoint) -> Path:
    """A tiny random RWKV-7 with the World vocabulary (65,536), for tests that talk in text."""
    return rwkv7_checkpoint(n_layer=3, n_embd=64, head_size=32, vocab_size=65536, seed=11)
