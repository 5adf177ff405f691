"""engine.host.hub.recommended: memory decides on a GPU; on a CPU the model must also decode at a usable speed."""

from __future__ import annotations

import pytest

from engine.host import hardware, hub

GiB = 2**30


def _entry(params_b: float, *, date: str = "20250101", tags: tuple[str, ...] = ("Official", "RWKV-7"),
           generation: int = 7) -> hub.CatalogEntry:
    """A catalog file of ``params_b`` billion parameters stored in 16 bits, as official .pth files are."""
    return hub.CatalogEntry(repo="BlinkDL/test", filename=f"rwkv7-g1-{params_b:g}b-{date}-ctx4096.pth",
                            size=int(params_b * 2e9), sha256="0" * 64, generation=generation,
                            parameters=params_b, context=4096, tags=tags, visibility="visible")


CATALOG = [_entry(p) for p in (0.1, 0.4, 1.5, 2.9, 7.2)]


def _cpu(memory: int, precisions=("fp32", "bf16")) -> hardware.Device:
    return hardware.Device("cpu", "cpu", "Test CPU", memory, None, 8, (), precisions)


def _gpu(memory: int) -> hardware.Device:
    return hardware.Device("cuda:0", "cuda", "Test GPU", memory, memory, None, (), ("fp16", "fp32"))


def test_without_a_bandwidth_memory_alone_decides_as_before():
    assert hub.recommended(CATALOG, 8 * 10**9).parameters == 2.9        # 5.8 GB + 20% fits 8 GB
    assert hub.recommended(CATALOG, 64 * 10**9).parameters == 7.2
    assert hub.recommended(CATALOG, 10**8) is None


def test_a_24_gib_cpu_gets_a_model_that_decodes_at_ten_tokens_per_second():
    # Half of 24 GiB would hold the 2.9B in fp32 (the old rule), which reads 11.6 GB a token: ~2 tok/s.
    assert hub.recommended(CATALOG, 24 * GiB // 2).parameters == 2.9
    best = hub.recommended(CATALOG, 24 * GiB, bytes_per_second=20e9, precision="fp32")
    assert best.parameters == 0.4                                           # 1.6 GB a token: 12.5 tok/s
    assert best.size / 2 * 4 * hub.MIN_TOKENS_PER_SECOND <= 20e9


def test_the_speed_rule_follows_bandwidth_precision_and_the_minimum():
    assert hub.recommended(CATALOG, 24 * GiB, bytes_per_second=20e9, precision="int8").parameters == 1.5
    assert hub.recommended(CATALOG, 24 * GiB, bytes_per_second=150e9, precision="fp32").parameters == 2.9
    assert hub.recommended(CATALOG, 24 * GiB, bytes_per_second=20e9, precision="fp32",
                           min_tokens_per_second=1.5).parameters == 2.9
    assert hub.recommended(CATALOG, 24 * GiB, bytes_per_second=1e9, precision="fp32") is None


def test_memory_still_limits_a_fast_cpu():
    assert hub.recommended(CATALOG, 4 * GiB, bytes_per_second=1e12, precision="fp32").parameters == 0.4


def test_recommended_for_costs_a_cpu_in_the_precision_the_engine_would_load(monkeypatch):
    assert hub.recommended_for(CATALOG, _cpu(24 * GiB)).parameters == 0.4          # fp32 today
    assert hub.recommended_for(CATALOG, _gpu(24 * GiB)).parameters == 7.2          # memory only: 14.4 GB fits
    chosen = []

    def int8_everywhere(model_bytes, n_params=None, devices=None, measured=None):
        chosen.append((model_bytes, n_params, devices))
        return hardware.Recommendation(devices[0].id, "int8", True, "test")

    monkeypatch.setattr(hardware, "recommend", int8_everywhere)
    cpu = _cpu(24 * GiB, ("fp32", "bf16", "int8"))
    assert hub.recommended_for(CATALOG, cpu).parameters == 1.5
    assert all(devices == [cpu] and n == size // 2 for size, n, devices in chosen)


def test_the_assumed_cpu_bandwidth_is_the_conservative_end_of_desktops():
    assert hub.CPU_BYTES_PER_SECOND == pytest.approx(20e9) and hub.MIN_TOKENS_PER_SECOND == 10


def test_ties_go_to_recommended_then_newest_and_only_official_rwkv7_counts():
    entries = [_entry(0.4, date="20250101"), _entry(0.4, date="20250301"),
               _entry(0.4, date="20240101", tags=("Official", "RWKV-7", "Recommended")),
               _entry(0.1, tags=("Community",)), _entry(0.1, generation=6)]
    best = hub.recommended(entries, 24 * GiB, bytes_per_second=20e9, precision="fp32")
    assert "Recommended" in best.tags
    assert hub.recommended(entries[:2], 24 * GiB, bytes_per_second=20e9, precision="fp32") == entries[1]
    assert hub.recommended(entries[3:], 24 * GiB) is None
