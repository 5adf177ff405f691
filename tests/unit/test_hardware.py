"""Hardware detection and the device/precision recommendation, checked with fake machines."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch

from engine.host import hardware
from engine.host.hardware import Device, GiB, detect, fits, needed_bytes, recommend, summary

X86_TWO_SOCKETS = "\n\n".join(
    f"""processor\t: {n}
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
physical id\t: {socket}
siblings\t: 4
core id\t: {core}
cpu cores\t: 2
flags\t\t: fpu vme sse sse2 avx avx2 fma f16c avx512f avx512cd avx512_vnni"""
    for n, (socket, core) in enumerate([(s, c) for s in (0, 1) for c in (0, 1) for _thread in (0, 1)])
) + "\n"

AARCH64 = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp sve
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd40

processor\t: 1
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp sve
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd40
"""


def cpu(ram_gib: float) -> Device:
    return Device("cpu", "cpu", "Test CPU", int(ram_gib * GiB), None, 8, ("avx2",), hardware.CPU_PRECISIONS)


def gpu(index: int, vram_gib: float, free_gib: float | None = None) -> Device:
    free = None if free_gib is None else int(free_gib * GiB)
    return Device(f"cuda:{index}", "cuda", "Test GPU", int(vram_gib * GiB), free, None, ("bf16",),
                  ("fp16", "bf16", "fp32"))


def test_detect_finds_this_cpu_first_with_cores_ram_and_fp32():
    devices = detect()
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert len(devices) == 1 + gpus + int(torch.backends.mps.is_available())
    cpu_dev = devices[0]
    assert (cpu_dev.id, cpu_dev.kind) == ("cpu", "cpu")
    assert cpu_dev.cores is not None and cpu_dev.cores >= 1
    assert cpu_dev.memory_bytes > GiB
    assert "fp32" in cpu_dev.precisions and "fp16" not in cpu_dev.precisions
    assert cpu_dev.name


def test_parse_cpuinfo_counts_physical_cores_across_sockets_and_picks_x86_features():
    name, cores, features = hardware._parse_cpuinfo(X86_TWO_SOCKETS)
    assert name == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"
    assert cores == 4  # 8 logical CPUs: 2 sockets x 2 cores x 2 threads
    assert features == ("avx2", "fma", "f16c", "avx512f", "avx512_vnni")


def test_parse_cpuinfo_reads_arm_features_and_leaves_cores_unknown():
    name, cores, features = hardware._parse_cpuinfo(AARCH64)
    assert name == ""
    assert cores is None
    assert features == ("neon", "sve")


def test_detect_survives_cuda_raising_and_logs_the_reason_once(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(hardware, "_gpu_failure_logged", False)
    monkeypatch.setattr(torch.cuda, "is_available", broken)
    with caplog.at_level(logging.WARNING, logger="engine.host.hardware"):
        first, second = detect(), detect()
    assert [d.kind for d in first] == ["cpu"] and [d.kind for d in second] == ["cpu"]
    warnings = [r for r in caplog.records if "CUDA driver version" in r.getMessage()]
    assert len(warnings) == 1


def test_detect_survives_device_count_raising(monkeypatch):
    def broken():
        raise RuntimeError("no CUDA-capable device is detected")

    monkeypatch.setattr(hardware, "_gpu_failure_logged", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", broken)
    assert [d.id for d in detect()] == ["cpu"]


def test_fits_needs_weights_plus_a_fifth_plus_half_a_gib():
    weights = 10 * GiB
    assert needed_bytes(weights) == 12 * GiB + GiB // 2
    assert fits(gpu(0, 12.5), weights)
    assert not fits(gpu(0, 12.4), weights)


def test_recommend_prefers_a_gpu_in_fp16_when_it_fits():
    rec = recommend(6 * 10**9, n_params=3 * 10**9, devices=[cpu(16), gpu(0, 24)])
    assert (rec.device, rec.precision, rec.fits) == ("cuda:0", "fp16", True)
    assert rec.reason == "cuda:0 fp16: needs ~7.2 GiB of 24.0 GiB"


def test_recommend_estimates_params_from_a_16_bit_file_when_not_given():
    assert recommend(6 * 10**9, devices=[cpu(16), gpu(0, 24)]) == recommend(
        6 * 10**9, n_params=3 * 10**9, devices=[cpu(16), gpu(0, 24)])


def test_recommend_picks_the_larger_gpu_when_only_it_holds_the_model():
    rec = recommend(14 * 10**9, n_params=7 * 10**9, devices=[cpu(64), gpu(0, 8), gpu(1, 24)])
    assert (rec.device, rec.precision, rec.fits) == ("cuda:1", "fp16", True)


def test_recommend_uses_an_8_gib_gpu_for_a_small_model():
    rec = recommend(3 * 10**9, devices=[cpu(16), gpu(0, 8)])
    assert (rec.device, rec.precision, rec.fits) == ("cuda:0", "fp16", True)


def test_recommend_falls_back_to_cpu_fp32_when_no_gpu_has_room():
    rec = recommend(14 * 10**9, n_params=7 * 10**9, devices=[cpu(64), gpu(0, 8)])
    assert (rec.device, rec.precision, rec.fits) == ("cpu", "fp32", True)
    assert "no GPU has enough memory" in rec.reason


def test_recommend_cpu_only_16_gib_runs_3b_in_fp32():
    rec = recommend(6 * 10**9, n_params=3 * 10**9, devices=[cpu(16)])
    assert (rec.device, rec.precision, rec.fits) == ("cpu", "fp32", True)
    assert rec.reason == "CPU fp32: needs ~13.9 GiB of 16.0 GiB"


def test_recommend_cpu_only_4_gib_drops_to_bf16_when_fp32_is_too_big():
    rec = recommend(3 * 10**9, n_params=15 * 10**8, devices=[cpu(4)])
    assert (rec.device, rec.precision, rec.fits) == ("cpu", "bf16", True)


@pytest.mark.parametrize("params, gib, precision", [
    (7 * 10**9, 16, "int8"),    # a 7B model on a 16 GB laptop: 16-bit needs ~16.2 GiB, int8 ~8.3
    (3 * 10**9, 4, "int8"),     # int8 ~3.85 GiB
    (3 * 10**9, 3.5, "q5"),     # q5 ~2.8
    (3 * 10**9, 2.5, "q4"),     # q4 ~2.4
])
def test_recommend_cpu_only_takes_the_most_faithful_smaller_format_that_fits(params, gib, precision):
    rec = recommend(2 * params, n_params=params, devices=[cpu(gib)])
    assert (rec.device, rec.precision, rec.fits) == ("cpu", precision, True)
    assert rec.reason.startswith(f"CPU {precision}: needs ~") and "16-bit does not fit" in rec.reason


def test_recommend_says_how_much_is_needed_and_available_when_nothing_fits():
    rec = recommend(6 * 10**9, n_params=3 * 10**9, devices=[cpu(2)])
    assert rec.fits is False
    assert (rec.device, rec.precision) == ("cpu", "q4")
    assert "~2.4 GiB even in 4-bit" in rec.reason and "cpu has 2.0 GiB" in rec.reason
    assert "smaller model" in rec.reason


def test_recommend_warns_when_free_memory_is_short_right_now():
    rec = recommend(6 * 10**9, n_params=3 * 10**9, devices=[cpu(16), gpu(0, 24, free_gib=2)])
    assert rec.device == "cuda:0" and rec.fits
    assert "only 2.0 GiB free now" in rec.reason


@pytest.mark.parametrize("devices", [[cpu(16)], [cpu(16), gpu(0, 24)]])
def test_summary_has_one_line_per_device(monkeypatch, devices):
    monkeypatch.setattr(hardware, "detect", lambda: devices)
    lines = summary().splitlines()
    assert len(lines) == len(devices)
    assert lines[0].startswith("cpu: Test CPU, 8 cores, 16.0 GiB RAM")


def test_detect_lists_cuda_gpus_with_vram_and_bf16_only_from_ampere(monkeypatch):
    props = [SimpleNamespace(name="Tesla T4", total_memory=15 * GiB, major=7),
             SimpleNamespace(name="NVIDIA RTX 4090", total_memory=24 * GiB, major=8)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props[i])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (GiB, props[i].total_memory))
    monkeypatch.setattr(torch.version, "hip", None)
    _cpu_dev, t4, rtx = detect()
    assert (t4.id, t4.kind, t4.name, t4.memory_bytes, t4.free_bytes) == ("cuda:0", "cuda", "Tesla T4", 15 * GiB, GiB)
    assert t4.precisions == ("fp16", "fp32") and t4.features == ()
    assert rtx.precisions == ("fp16", "bf16", "fp32") and rtx.features == ("bf16",)
