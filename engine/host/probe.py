"""Which CPU precision is fastest here, measured in a few seconds instead of assumed.

How fast fp32, bf16, int8, q5 and q4 decode depends on the CPU (bf16 in hardware or emulated, VNNI
for int8, q5 and q4, memory bandwidth) and on the model's width. So the probe takes the model's own file, keeps its
first ``layers`` blocks and its embedding and head (real weights, the model's exact width and
vocabulary, a fraction of the work), builds that small model in each precision and times single-token
decode steps, the work a reply does. A model of the same width and fewer layers spends its time in
the same matrix shapes, so the speed ratios carry over to the whole model.

Quality is the greedy (top-1) agreement with fp32 of :mod:`engine.tools.quality`, on the whole model
when it is small enough to check in about a second per precision (``quality_params``); otherwise it
is left unmeasured and the result says so.

:func:`engine.host.hardware.recommend` takes the result (``measured=``) and picks the fastest precision
whose agreement is at least ``MIN_AGREEMENT``; blocking, so the app runs it on a worker thread.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

MIN_AGREEMENT = 0.9
_BLOCK = re.compile(r"^blocks\.(\d+)\.")
# A sample of ordinary text for the quality check when no held-out file is at hand.
_SAMPLE = ("The harbor was quiet in the early morning. Fishing boats rocked gently against the pier while "
           "gulls circled overhead, and the smell of salt and tar drifted over the water. An old man sat on "
           "a crate, mending a net with slow, careful hands, and told anyone who would listen about the storm "
           "of forty years ago, when the sea had come right up into the square.")


@dataclass(frozen=True)
class ProbeResult:
    """Decode tokens/s of the sliced model per precision, greedy agreement with fp32 per precision
    (empty when not measured), what was measured, and on what (``setup``: :func:`setup_key` then)."""

    speed: dict[str, float]
    agreement: dict[str, float]
    layers: int
    quality_tokens: int
    setup: str = ""

    def current(self) -> bool:
        """Measured with this build of the kernels, instruction set and thread count: a result from
        before an update (other kernels, other speeds) or with other threads is stale."""
        return self.setup == setup_key()

    def ratio(self, precision: str) -> float:
        base = self.speed.get("fp32")
        return self.speed.get(precision, 0.0) / base if base else 0.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> ProbeResult | None:
        """A stored result, or None when ``data`` is not one (settings from another version, or damaged)."""
        try:
            speed = {str(k): float(v) for k, v in data["speed"].items()}
            agreement = {str(k): float(v) for k, v in data["agreement"].items()}
            setup = data.get("setup", "")          # absent before 2026-12-03: stale, re-measured
            if not isinstance(setup, str):
                return None
            return cls(speed, agreement, int(data["layers"]), int(data["quality_tokens"]), setup)
        except (TypeError, KeyError, ValueError, AttributeError):
            return None


def setup_key() -> str:
    """What decode speeds depend on besides the model: the compiled CPU library's build, the
    instruction set it runs and the thread count (``torch`` where the library is missing)."""
    import torch

    from kernels import cpu

    kernels = f"{cpu.build_id()} {cpu.kernels_name()}" if cpu.available() else "torch"
    return f"{kernels} {torch.get_num_threads()} threads"


def probe(source: str, precisions: tuple[str, ...] = ("fp32", "bf16", "int8", "q5", "q4"), *, layers: int = 2,
          seconds: float = 0.5, quality_params: float = 3e8, quality_tokens: int = 48) -> ProbeResult:
    """Time decode steps of ``source``'s first ``layers`` blocks in each precision on the CPU (about
    ``seconds`` each), and measure greedy agreement on the whole model if it has at most
    ``quality_params`` parameters."""
    import torch

    from engine.models.checkpoint import Checkpoint, detect_generation, read_checkpoint, resolve
    from engine.models.model import DTYPES, _build

    path = resolve(source)
    ckpt = read_checkpoint(path)
    generation = detect_generation(ckpt.tensors, path.name)
    kept = {k: t for k, t in ckpt.tensors.items() if not ((m := _BLOCK.match(k)) and int(m[1]) >= layers)}
    small = Checkpoint(ckpt.path, kept, f"{ckpt.fingerprint}-probe{layers}")
    n_params = sum(t.numel() for t in ckpt.tensors.values())
    del ckpt
    speed = {}
    with torch.inference_mode():
        for precision in ("fp32", *[p for p in precisions if p != "fp32"]):
            model = _build(generation, small, torch.device("cpu"), DTYPES[precision], "auto")
            speed[precision] = _decode_speed(model, seconds)
            del model
    agreement: dict[str, float] = {}
    measured_tokens = 0
    if n_params <= quality_params:
        agreement, measured_tokens = _agreement(str(path), [p for p in precisions if p != "fp32"], quality_tokens)
    return ProbeResult(speed, agreement, layers, measured_tokens, setup_key())


def _decode_speed(model, seconds: float, windows: int = 5) -> float:
    """Single-token forward steps per second, after a short warm-up: about ``seconds`` of steps in
    ``windows`` windows, the fastest window's rate. A window the machine spent elsewhere (another
    process, a descheduled thread: on the tiny demo model one run timed q4 at 0.59x fp32 and the
    next at 1.25x) would otherwise set the whole precision's figure."""
    state = model.new_state()
    token = 187
    for _ in range(3):
        _, state = model.forward([token], state)
    best, steps = 0.0, 0
    for _ in range(windows):
        n, start = 0, time.perf_counter()
        while n < 4 or time.perf_counter() - start < seconds / windows:
            _, state = model.forward([token + steps % 50], state)
            steps, n = steps + 1, n + 1
        best = max(best, n / (time.perf_counter() - start))
    return best


def _agreement(source: str, precisions: list[str], n_tokens: int) -> tuple[dict[str, float], int]:
    from engine.models.model import load
    from engine.text.tokenizer import tokenizer_for
    from engine.tools import quality

    ref = load(source, device="cpu", precision="fp32")
    tokens = tokenizer_for(ref).encode(_SAMPLE)[: n_tokens + 1]
    result = quality.measure(source, precisions, tokens, fp32_model=ref)
    return ({row["precision"]: row["greedy_agreement"] for row in result["results"] if row["precision"] != "fp32"},
            result["tokens"])
