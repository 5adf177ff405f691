"""What this machine can run a model on, and which device and precision to load a given model with.

Detection never raises: the app asks at start-up and a broken CUDA driver must not stop it from
running on the CPU. Recommendations are rules of thumb (weights + 20% + 0.5 GiB for state, logits
and activations) measured against total memory, because a user can close other programs but
cannot add RAM; the reason text says how much is free right now when that is the tighter limit.

Precision choices:
- CPU offers fp32, bf16, int8, q5 and q4 (weight-only, our own formats: 8-bit rows, 5- and 4-bit blocks),
  not fp16. bf16 halves memory with fp32's range; fp16 has the same size but overflows more
  easily, and torch's CPU fp16 matmuls are far slower than fp32 on all but the newest x86 parts,
  so offering it would only invite a slow, fragile choice. q4 is the smallest and, where memory
  bandwidth limits decode, the fastest, but the least faithful (``python -m engine quality``); q5
  sits between it and int8 (the 5-bit files RWKV's own GGUF releases recommend), at half q4's error.
- GPUs are recommended fp16 (the RWKV reference's GPU precision, fast on every CUDA generation,
  and what ``engine.load(precision="auto")`` picks); bf16 is offered where the hardware does it
  natively (CUDA compute capability 8.0+, ROCm when torch says so), fp32 always.
- ``engine.load(precision="auto")`` on the CPU takes :func:`auto_cpu_precision`: the same rule, so
  the command line, the server and the window load a model they never measured alike.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GiB = 2**30
RUNTIME_BYTES = GiB // 2  # state, logits and activations on top of the weights
HEADROOM = 1.2
# int8, q5, q4: on the CPU only. q4 is 4.5 bits a weight (a 4-bit value and an fp16 scale per 32), q5
# 5.5; their head and LoRAs are int8 and, as for int8, the embedding stays fp32, which these figures
# leave out.
BYTES_PER_PARAM = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "q5": 0.6875, "q4": 0.5625}
X86_FEATURES = ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16")
# Most faithful first (python -m engine quality): without a measurement the CPU takes the first that
# fits, so a 7B model on a 16 GB laptop gets int8 and a 3B one on 4 GB q5, rather than "too large".
CPU_PRECISIONS = ("fp32", "bf16", "int8", "q5", "q4")

_gpu_failure_logged = False


def bf16_gemm_fast() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX), as torch sees it:
    there torch's bf16 GEMM runs ~2.4x its fp32 one; elsewhere it is emulated, ~4x slower than fp32
    (measured with oneDNN held to AVX2: 41-48 against 179-196 GFLOP/s)."""
    try:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (ImportError, AttributeError):   # no torch, or one without these (private) probes
        return False


@dataclass(frozen=True)
class Device:
    """One place a model can run: the CPU, or a GPU as torch addresses it ("cuda:0" also for ROCm)."""

    id: str
    kind: str
    name: str
    memory_bytes: int
    free_bytes: int | None
    cores: int | None
    features: tuple[str, ...]
    precisions: tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    device: str
    precision: str
    fits: bool
    reason: str


def needed_bytes(model_bytes_in_precision: int) -> int:
    """Memory a model of this weight size needs to load and generate, with headroom."""
    return int(model_bytes_in_precision * HEADROOM) + RUNTIME_BYTES


def fits(device: Device, model_bytes_in_precision: int) -> bool:
    return needed_bytes(model_bytes_in_precision) <= device.memory_bytes


def detect() -> list[Device]:
    """The CPU first, then every GPU torch can use; never raises."""
    return [_cpu(), *_gpus()]


def cpu() -> Device:
    """This machine's CPU as :func:`detect` lists it, without asking torch for GPUs."""
    return _cpu()


def auto_cpu_precision(n_params: int, device: Device | None = None) -> Recommendation:
    """The precision ``engine.load(..., precision="auto")`` loads a model of ``n_params`` parameters in
    on the CPU: :func:`recommend` for the CPU alone and without a measurement (the window's pick for a
    model it never measured), so the first of :data:`CPU_PRECISIONS` that fits; q4 when none does.
    A CPU whose memory could not be read (0 bytes) keeps fp32, as before anything was measured."""
    device = cpu() if device is None else device
    if device.memory_bytes <= 0:
        return Recommendation(device.id, "fp32", True, "CPU fp32: this machine's memory could not be read")
    return recommend(n_params * BYTES_PER_PARAM["fp32"], n_params, [device])


def recommend(model_bytes: int, n_params: int | None = None, devices: list[Device] | None = None,
              measured=None) -> Recommendation:
    """Best device and precision for a model: a GPU in fp16 if one holds it, else the CPU in the first of
    :data:`CPU_PRECISIONS` (fp32, bf16, int8, q5, q4) that fits.

    Without ``n_params`` the file is taken to be fp16/bf16 (2 bytes a parameter), as official RWKV
    ``.pth`` files are. Among GPUs that hold the model, the one with the most memory wins.

    ``measured`` (a :class:`engine.host.probe.ProbeResult` of this CPU) replaces the CPU's fixed order:
    the fastest measured precision that fits, among those whose greedy agreement with fp32 is at least
    :data:`engine.host.probe.MIN_AGREEMENT` (or was not measured), with the numbers in the reason.
    """
    devices = detect() if devices is None else devices
    params = n_params if n_params is not None else model_bytes // 2

    gpus = [d for d in devices if d.kind != "cpu"]
    gpu_choices = [(d, _gpu_precision(d)) for d in gpus]
    fitting = [(d, p) for d, p in gpu_choices if fits(d, params * BYTES_PER_PARAM[p])]
    if fitting:
        dev, prec = max(fitting, key=lambda c: c[0].memory_bytes)
        return Recommendation(dev.id, prec, True, _fit_reason(dev, prec, params))

    cpus = [d for d in devices if d.kind == "cpu"]
    for cpu in cpus if measured is not None else ():
        choice = _measured_choice(cpu, params, measured)
        if choice is not None:
            prec, why = choice
            return Recommendation(cpu.id, prec, True, why + (" (no GPU has enough memory)" if gpus else ""))
    for cpu in cpus:
        for prec in CPU_PRECISIONS:
            if prec in cpu.precisions and fits(cpu, params * BYTES_PER_PARAM[prec]):
                why = _fit_reason(cpu, prec, params)
                if BYTES_PER_PARAM[prec] < BYTES_PER_PARAM["bf16"]:
                    why += " (16-bit does not fit; python -m engine quality shows what it costs)"
                if gpus:
                    why += " (no GPU has enough memory)"
                return Recommendation(cpu.id, prec, True, why)

    smallest = min(BYTES_PER_PARAM[p] for p in CPU_PRECISIONS)
    need = needed_bytes(int(params * smallest))
    have = ", ".join(f"{d.id} has {_gib(d.memory_bytes)}" for d in devices) or "no devices were found"
    device, prec = (gpus[0].id, _gpu_precision(gpus[0])) if gpus and not cpus else ("cpu", CPU_PRECISIONS[-1])
    return Recommendation(device, prec, False,
                          f"Too large for this machine: needs ~{_gib(need)} even in 4-bit precision, but {have}. "
                          "Choose a smaller model.")


def _measured_choice(cpu: Device, params: int, measured) -> tuple[str, str] | None:
    """The fastest measured precision that fits ``cpu`` at acceptable quality, and why.

    fp32 wins either by being the fastest here or because every faster precision changed the greedy
    token too often (common on a small or random-weights model); the reason says which."""
    from engine.host.probe import MIN_AGREEMENT

    offered = [p for p in cpu.precisions if p in measured.speed and p in BYTES_PER_PARAM
               and fits(cpu, params * BYTES_PER_PARAM[p])]
    usable = [p for p in offered if measured.agreement.get(p, 1.0) >= MIN_AGREEMENT]
    if not usable:
        return None
    best = max(usable, key=lambda p: measured.speed[p])
    too_low = [p for p, a in measured.agreement.items() if a < MIN_AGREEMENT]
    floor = f"agreement below {MIN_AGREEMENT:.0%}"
    if best == "fp32":
        faster = [p for p in offered if measured.speed[p] > measured.speed["fp32"]]    # all below the floor
        if faster:
            why = (f"fp32: the faster precisions ({_ratios(measured, faster)} of fp32's decode speed) changed "
                   f"the greedy token too often on this model ({floor})")
            too_low = [p for p in too_low if p not in faster]
        elif len(offered) > 1:
            slower = [p for p in offered if p != "fp32"]
            why = f"fp32: the fastest measured here ({_ratios(measured, slower)} of fp32's decode speed)"
        else:
            why = "fp32: the only precision measured here"
    else:
        why = f"{best}: {measured.ratio(best):.1f}x fp32 decode here"
    if best in measured.agreement:
        why += f", quality: greedy agreement {measured.agreement[best]:.0%} with fp32"
    elif best != "fp32":
        why += ", quality not measured (model too large for a quick check; python -m engine quality does it)"
    if too_low:
        why += f"; {', '.join(too_low)} left out: {floor}"
    return best, f"{why}. {_fit_reason(cpu, best, params)}"


def _ratios(measured, precisions: list[str]) -> str:
    return ", ".join(f"{p} {measured.ratio(p):.1f}x" for p in precisions)


def summary() -> str:
    """One human-readable line per device, for ``python -m engine info --hardware``."""
    return "\n".join(_describe(d) for d in detect())


def _describe(d: Device) -> str:
    mem = f"{_gib(d.memory_bytes)} {'RAM' if d.kind == 'cpu' else 'VRAM'}"
    if d.free_bytes is not None:
        mem += f" ({_gib(d.free_bytes)} free)"
    parts = [f"{d.id}: {d.name}"]
    if d.cores is not None:
        parts.append(f"{d.cores} cores")
    parts.append(mem)
    if d.features:
        parts.append(" ".join(d.features))
    parts.append("precisions " + "/".join(d.precisions))
    return ", ".join(parts)


def _gpu_precision(d: Device) -> str:
    return "fp16" if "fp16" in d.precisions else d.precisions[0]


def _fit_reason(d: Device, prec: str, params: int) -> str:
    need = needed_bytes(params * BYTES_PER_PARAM[prec])
    where = "CPU" if d.kind == "cpu" else d.id       # as the picker names it ("cuda:0" for a GPU)
    why = f"{where} {prec}: needs ~{_gib(need)} of {_gib(d.memory_bytes)}"
    if d.free_bytes is not None and d.free_bytes < need:
        why += f" (only {_gib(d.free_bytes)} free now: close other programs first)"
    return why


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


# --- CPU ---------------------------------------------------------------------------------------


def _cpu() -> Device:
    text = _read("/proc/cpuinfo")
    name, cores, features = _parse_cpuinfo(text) if text else ("", None, ())
    usable = _usable_cpus()
    cores = min(cores, usable) if cores else usable  # a container or taskset may allow fewer
    total, free = _ram()
    name = name or platform.processor() or platform.machine() or "CPU"
    return Device("cpu", "cpu", name, total, free, cores, features, CPU_PRECISIONS)


def _parse_cpuinfo(text: str) -> tuple[str, int | None, tuple[str, ...]]:
    """(model name, physical cores, instruction-set features) from the text of /proc/cpuinfo.

    Physical cores are the distinct (physical id, core id) pairs; ARM kernels list neither, so
    cores is None there and the caller counts logical CPUs instead.
    """
    name = ""
    flags: set[str] = set()
    cores: set[tuple[str, str]] = set()
    x86 = False
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        name = name or fields.get("model name") or fields.get("model") or fields.get("hardware", "")
        x86 = x86 or "flags" in fields
        flags.update(fields.get("flags", "").split())
        flags.update(fields.get("features", "").split())
        if "physical id" in fields and "core id" in fields:
            cores.add((fields["physical id"], fields["core id"]))
    if "asimd" in flags:  # arm64 reports NEON as Advanced SIMD
        flags.add("neon")
    wanted = X86_FEATURES if x86 else ("neon", "sve")
    return name, len(cores) or None, tuple(f for f in wanted if f in flags)


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _ram() -> tuple[int, int | None]:
    """(total, available) RAM in bytes, lowered to the cgroup limit when a container sets one."""
    total, free = _ram_from_os()
    limit = _cgroup_limit()
    if limit and limit < total:
        total, free = limit, min(free, limit) if free is not None else None
    return total, free


def _ram_from_os() -> tuple[int, int | None]:
    meminfo = _read("/proc/meminfo")
    if meminfo:
        kib = {k: v.split()[0] for k, _, v in (ln.partition(":") for ln in meminfo.splitlines()) if v.strip()}
        if "MemTotal" in kib:
            free = kib.get("MemAvailable")
            return int(kib["MemTotal"]) * 1024, int(free) * 1024 if free else None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), None
    except (AttributeError, ValueError, OSError):
        pass
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.total), int(vm.available)
    except Exception:  # not installed, or unsupported here
        pass
    if sys.platform == "win32":
        return _windows_ram()
    return 0, None


def _windows_ram() -> tuple[int, int | None]:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(status)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return 0, None
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = (_read(path) or "").strip()
        if value.isdigit():
            return int(value)
    return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# --- GPUs --------------------------------------------------------------------------------------


def _gpus() -> list[Device]:
    global _gpu_failure_logged
    try:
        return [*_cuda_devices(), *_mps_devices()]
    except Exception as e:  # a broken driver or torch build must leave the CPU usable
        if not _gpu_failure_logged:
            log.warning("GPU detection failed, using the CPU only: %s: %s", type(e).__name__, e)
            _gpu_failure_logged = True
        return []


def _cuda_devices() -> list[Device]:
    import torch

    if not torch.cuda.is_available():
        return []
    rocm = getattr(torch.version, "hip", None) is not None
    devices = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        try:
            free, total = torch.cuda.mem_get_info(i)
        except Exception:  # some drivers refuse the query; total from the properties still holds
            free, total = None, props.total_memory
        if rocm:
            with torch.cuda.device(i):
                bf16 = torch.cuda.is_bf16_supported()
        else:
            bf16 = props.major >= 8
        precisions = ("fp16", "bf16", "fp32") if bf16 else ("fp16", "fp32")
        devices.append(Device(f"cuda:{i}", "rocm" if rocm else "cuda", props.name, int(total),
                              None if free is None else int(free), None, ("bf16",) if bf16 else (), precisions))
    return devices


def _mps_devices() -> list[Device]:
    import torch

    if not torch.backends.mps.is_available():
        return []
    # Apple GPUs share RAM with the CPU; Metal's recommended working-set size is the real ceiling.
    memory = int(torch.mps.recommended_max_memory()) if hasattr(torch.mps, "recommended_max_memory") else _ram()[0]
    return [Device("mps", "mps", "Apple GPU (Metal)", memory, None, None, (), ("fp16", "fp32"))]
