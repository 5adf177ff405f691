"""The mock Hub every e2e test downloads from, with HF_HOME kept inside the test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.mock_hub import MockHub


@pytest.fixture
def mock_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with MockHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> tuple[float, ...]:
    """Retry backoffs of 50 ms, so that a test of giving up does not wait out the real ones."""
    from engine.host import download

    delays = (0.05,) * len(download.RETRY_DELAYS)
    monkeypatch.setattr(download, "RETRY_DELAYS", delays)
    return delays
