"""Shared fixtures: tiny random checkpoints made once per session, and the oracle's cached results."""

from __future__ import annotations

# First, as in the app: importing engine sets torch's OpenMP wait policy, which must precede torch.
import engine  # noqa: F401

# isort: split
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.fixtures.checkpoints import Rwkv7Spec, make_rwkv7_checkpoint
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict, oracle_key_order, save_tensors
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
def legacy_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory for RWKV-4/5/6 checkpoints, each written once per session.

    ``legacy_checkpoint(spec, fmt="pth", dtype=torch.float32, for_oracle=False) -> Path`` with a
    :class:`LegacySpec`. ``for_oracle=True`` gives the file the oracle should read: the same one,
    except for one-layer RWKV-5.2, where it is a twin in an order the oracle detects correctly.
    """
    root = tmp_path_factory.mktemp("legacy-checkpoints")
    made: dict[tuple, Path] = {}

    def make(spec: LegacySpec, *, fmt: str = "pth", dtype: torch.dtype = torch.float32,
             for_oracle: bool = False) -> Path:
        reorder = for_oracle and spec.generation == 5 and spec.n_layer == 1
        key = (spec, fmt, dtype, reorder)
        if key not in made:
            sd = make_legacy_state_dict(spec, dtype)
            stem = f"{spec}-{_DTYPE_NAMES.get(dtype, str(dtype))}{'-oracle-order' if reorder else ''}"
            made[key] = save_tensors(oracle_key_order(sd) if reorder else sd, root / stem, fmt)
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


# Tests marked ``slow`` (installers, oracle at real shapes) are skipped unless asked for with
# ``--run-slow`` or selected with ``-m slow``; ``.ci/run-slow`` runs them.
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or "slow" in (config.getoption("markexpr") or "").replace("not slow", ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (or -m slow)")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
