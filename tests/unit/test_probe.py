"""The precision probe (engine.host.probe) on a real model file, and how its result turns the CPU's
recommendation (engine.host.hardware.recommend, engine.host.hub.recommended_for) and its reason."""

from __future__ import annotations

import torch

from engine.host import hardware, hub, probe
from engine.host.probe import ProbeResult
from tests.unit.test_hub_recommend import CATALOG, GiB, _cpu

CPU = _cpu(24 * GiB, ("fp32", "bf16", "int8"))


def test_the_probe_times_each_precision_on_the_models_first_layers_and_checks_agreement(rwkv7_checkpoint):
    ckpt = rwkv7_checkpoint(n_layer=4, n_embd=128, head_size=32, vocab_size=65536)
    result = probe.probe(str(ckpt), layers=2, seconds=0.05, quality_tokens=12)
    assert set(result.speed) == {"fp32", "bf16", "int8", "q5", "q4"} and all(v > 0 for v in result.speed.values())
    assert set(result.agreement) == {"bf16", "int8", "q5", "q4"} and all(0 <= a <= 1 for a in result.agreement.values())
    assert result.layers == 2 and result.quality_tokens == 12
    assert result.ratio("fp32") == 1.0
    assert ProbeResult.from_json(result.to_json()) == result
    unmeasured = probe.probe(str(ckpt), ("fp32", "int8"), seconds=0.05, quality_params=0)
    assert set(unmeasured.speed) == {"fp32", "int8"} and unmeasured.agreement == {}


def test_a_stalled_moment_does_not_set_a_precisions_speed(monkeypatch):
    """The machine busy elsewhere for part of a precision's timing (here: every step of the second
    window 20x slower) leaves its figure at the undisturbed windows' rate."""
    clock = [0.0]
    monkeypatch.setattr(probe.time, "perf_counter", lambda: clock[0])

    class Model:
        steps = 0

        def new_state(self):
            return None

        def forward(self, tokens, state):
            self.steps += 1
            stalled = 3 + 10 < self.steps <= 3 + 20           # after 3 warm-up steps: the second window
            clock[0] += 0.02 if stalled else 0.001
            return None, state

    assert abs(probe._decode_speed(Model(), seconds=0.05) - 1000.0) < 1.0


def test_a_damaged_stored_result_is_ignored():
    for junk in (None, [], {"speed": "fast"}, {"speed": {"fp32": "x"}, "agreement": {}, "layers": 2,
                                               "quality_tokens": 1},
                 {"speed": {"fp32": 1.0}, "agreement": {}, "layers": 2, "quality_tokens": 1, "setup": 7}):
        assert ProbeResult.from_json(junk) is None


def test_a_result_knows_whether_it_was_measured_with_these_kernels_and_threads(rwkv7_checkpoint, monkeypatch):
    """The setup (the library build's hash, its instruction set, the thread count) is stored with the
    figures; a result from before it was stored, from another build or with other threads is stale."""
    ckpt = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=1000)
    result = probe.probe(str(ckpt), ("fp32", "int8"), seconds=0.02, quality_params=0)
    assert result.setup == probe.setup_key() and result.current()
    assert ProbeResult.from_json(result.to_json()).current()
    old = {k: v for k, v in result.to_json().items() if k != "setup"}        # stored by an earlier version
    assert ProbeResult.from_json(old).setup == "" and not ProbeResult.from_json(old).current()
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        assert not result.current()
    finally:
        torch.set_num_threads(threads)
    from kernels import cpu
    if cpu.available():
        assert len(cpu.build_id()) == 12 and cpu.build_id() in result.setup
        monkeypatch.setattr(cpu, "_build_id", "ffffffffffff")               # another build of the library
        assert not result.current()


def test_the_fastest_precision_at_acceptable_quality_is_recommended_with_the_numbers():
    measured = ProbeResult({"fp32": 27.0, "bf16": 80.0, "int8": 129.6}, {"bf16": 0.99, "int8": 0.97}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [CPU], measured)
    assert rec.precision == "int8" and rec.device == "cpu"
    assert rec.reason.startswith("int8: 4.8x fp32 decode here, quality: greedy agreement 97% with fp32")
    assert hardware.recommend(2 * 10**9, 10**9, [CPU]).precision == "fp32"        # without a measurement


def test_q4_is_offered_and_starred_when_measured_fastest_at_acceptable_quality():
    cpu = _cpu(24 * GiB, hardware.CPU_PRECISIONS)
    assert "q4" in cpu.precisions
    measured = ProbeResult({"fp32": 27.0, "int8": 100.0, "q4": 150.0}, {"int8": 0.97, "q4": 0.93}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [cpu], measured)
    assert rec.precision == "q4" and rec.reason.startswith("q4: 5.6x fp32 decode here")
    poor = ProbeResult({"fp32": 27.0, "int8": 100.0, "q4": 150.0}, {"int8": 0.97, "q4": 0.8}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [cpu], poor)
    assert rec.precision == "int8" and "q4 left out" in rec.reason
    # 4.5 bits a weight: a model int8 cannot hold in 8 GiB fits in q4
    small = _cpu(8 * GiB, hardware.CPU_PRECISIONS)
    params = 7 * 10**9
    assert not hardware.fits(small, params * hardware.BYTES_PER_PARAM["int8"])
    assert hardware.fits(small, params * hardware.BYTES_PER_PARAM["q4"])


def test_q5_is_starred_where_q4_falls_below_the_agreement_floor():
    cpu = _cpu(24 * GiB, hardware.CPU_PRECISIONS)
    assert cpu.precisions.index("int8") < cpu.precisions.index("q5") < cpu.precisions.index("q4")
    measured = ProbeResult({"fp32": 27.0, "int8": 100.0, "q5": 125.0, "q4": 150.0},
                           {"int8": 0.99, "q5": 0.95, "q4": 0.85}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [cpu], measured)
    assert rec.precision == "q5" and rec.reason.startswith("q5: 4.6x fp32 decode here") and "q4 left out" in rec.reason
    # 5.5 bits a weight: between int8 and q4
    sizes = [hardware.BYTES_PER_PARAM[p] for p in ("int8", "q5", "q4")]
    assert sizes == sorted(sizes, reverse=True) and hardware.BYTES_PER_PARAM["q5"] == 5.5 / 8


def test_a_precision_below_the_agreement_floor_is_left_out_and_said():
    measured = ProbeResult({"fp32": 27.0, "bf16": 50.0, "int8": 130.0}, {"bf16": 0.99, "int8": 0.6}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [CPU], measured)
    assert rec.precision == "bf16" and "int8 left out" in rec.reason


def test_fp32_stays_when_it_is_measured_fastest_and_an_unmeasured_quality_is_said():
    slow = ProbeResult({"fp32": 30.0, "bf16": 10.0, "int8": 29.0}, {}, 2, 0)
    rec = hardware.recommend(2 * 10**9, 10**9, [CPU], slow)
    assert rec.precision == "fp32" and "fastest measured" in rec.reason and "bf16 0.3x" in rec.reason
    fast = ProbeResult({"fp32": 30.0, "int8": 90.0}, {}, 2, 0)
    assert "quality not measured" in hardware.recommend(2 * 10**9, 10**9, [CPU], fast).reason


def test_fp32_starred_because_every_faster_precision_failed_quality_says_so_not_that_it_is_fastest():
    cpu = _cpu(24 * GiB, hardware.CPU_PRECISIONS)
    random_weights = ProbeResult({"fp32": 20.0, "bf16": 50.0, "int8": 96.0, "q5": 98.0, "q4": 102.0},
                                 {"bf16": 0.5, "int8": 0.4, "q5": 0.3, "q4": 0.3}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [cpu], random_weights)
    assert rec.precision == "fp32" and "fastest" not in rec.reason
    assert rec.reason.startswith("fp32: the faster precisions (bf16 2.5x, int8 4.8x, q5 4.9x, q4 5.1x of fp32's "
                                 "decode speed) changed the greedy token too often on this model "
                                 "(agreement below 90%). CPU fp32: needs")
    # a slower precision below the floor is still named as left out, apart from the faster ones
    mixed = ProbeResult({"fp32": 20.0, "bf16": 10.0, "int8": 96.0}, {"bf16": 0.5, "int8": 0.4}, 2, 48)
    reason = hardware.recommend(2 * 10**9, 10**9, [CPU], mixed).reason
    assert reason.startswith("fp32: the faster precisions (int8 4.8x of fp32's decode speed) changed the greedy "
                             "token too often on this model (agreement below 90%); bf16 left out: agreement below 90%.")


def test_fp32_measured_fastest_is_said_to_be_the_fastest_with_the_slower_ones_ratios():
    slow = ProbeResult({"fp32": 30.0, "bf16": 15.0, "int8": 24.0}, {"bf16": 0.99, "int8": 0.97}, 2, 48)
    rec = hardware.recommend(2 * 10**9, 10**9, [CPU], slow)
    assert rec.precision == "fp32"
    assert rec.reason.startswith("fp32: the fastest measured here (bf16 0.5x, int8 0.8x of fp32's decode speed). "
                                 "CPU fp32: needs")
    only = hardware.recommend(2 * 10**9, 10**9, [CPU], ProbeResult({"fp32": 30.0}, {}, 2, 0))
    assert only.reason.startswith("fp32: the only precision measured here.")


def test_a_gpu_still_wins_and_a_measured_int8_lets_the_catalog_pick_a_bigger_cpu_model():
    measured = ProbeResult({"fp32": 27.0, "int8": 130.0}, {"int8": 0.97}, 2, 48)
    gpu = hardware.Device("cuda:0", "cuda", "GPU", 24 * GiB, None, None, (), ("fp16", "fp32"))
    assert hardware.recommend(2 * 10**9, 10**9, [CPU, gpu], measured).device == "cuda:0"
    assert hub.recommended_for(CATALOG, CPU).parameters == 0.4
    assert hub.recommended_for(CATALOG, CPU, measured=measured).parameters == 1.5
