"""``engine.load`` and what every model generation offers: ``forward(tokens, state)``.

Generations live in their own modules (``rwkv7`` ...); this module picks one from the tensors of the
file, places it on the requested device and precision, and turns resource failures into errors a
user can act on.
"""

from __future__ import annotations

import logging
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

import kernels
from engine.errors import (
    EmptyPromptError,
    EngineError,
    IncompatibleStateError,
    OutOfMemoryError,
    UnknownLayoutError,
)
from engine.models.checkpoint import (
    Checkpoint,
    detect_generation,
    is_oom,
    model_name,
    read_checkpoint,
    resolve,
    trim_heap,
)
from engine.models.embedding import STAGED_ROWS
from engine.models.state import State

if TYPE_CHECKING:
    from engine.models.weights import Weights

log = logging.getLogger(__name__)

# int8 = weight-only int8 matrices computed in fp32 (CPU, every generation; see engine/models/packed.py);
# q4 = 4-bit blocks (kept as packed uint8 nibbles, hence the dtype that names it), likewise; q5 = 5-bit
# blocks (their bytes viewed as torch.uint5, which names the format).
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.int8,
          "q4": torch.uint8, "q5": torch.uint5}
CPU_ONLY = ("int8", "q4", "q5")


@dataclass(frozen=True)
class ModelInfo:
    """What a model is, read from its tensors."""

    generation: int
    n_layer: int
    n_embd: int
    n_head: int
    head_size: int
    vocab_size: int
    dim_ffn: int
    n_params: int
    file_dtype: str
    path: Path
    fingerprint: str

    @property
    def name(self) -> str:
        """The file's name without suffix, or its folder's for generic names (``demo/model.safetensors``):
        :func:`engine.models.checkpoint.model_name`."""
        return model_name(self.path)

    def describe(self) -> str:
        heads = f", {self.n_head} heads of {self.head_size}" if self.n_head else ""   # RWKV-4 has none
        return (f"RWKV-{self.generation}, {self.n_params / 1e6:,.1f}M parameters: {self.n_layer} layers, "
                f"width {self.n_embd}{heads}, vocabulary {self.vocab_size}")


class Model(ABC):
    """A loaded model on one device in one precision.

    ``dtype`` is what torch computes in (int8 models: float32); ``kernels`` what runs the
    recurrence and, on the CPU, whole decoded tokens (``kernels.name`` says which); ``weights``
    the tensors as placed for them (:mod:`engine.models.weights`).
    """

    info: ModelInfo
    device: torch.device
    dtype: torch.dtype
    kernels: kernels.Kernels
    weights: Weights

    @property
    def precision(self) -> str:
        """The precision asked for at load: "fp32", "bf16", "fp16", "int8", "q5" or "q4"."""
        return self.weights.plan.precision

    @abstractmethod
    def new_state(self) -> State:
        """A fresh, all-zero state for this model."""

    @abstractmethod
    def tuning_to_wkv(self, time_state: Tensor) -> Tensor:
        """A state-tuning file's ``time_state`` for one layer, in this model's wkv layout."""

    @abstractmethod
    def _forward_one(self, token: int, state: State) -> Tensor: ...

    @abstractmethod
    def _forward_seq(self, tokens: Sequence[int], state: State) -> Tensor: ...

    def _check_shapes(self, state: State) -> None:
        expected = self.new_state().shapes()
        if state.generation != self.info.generation or state.shapes() != expected:
            raise IncompatibleStateError("This state belongs to another model (RWKV-{generation}, "
                                         "shapes {shapes}); this model needs {expected}.",
                                         generation=state.generation, shapes=state.shapes(), expected=expected)

    def _check_tokens(self, tokens: Sequence[int]) -> None:
        V = self.info.vocab_size
        bad = [t for t in tokens if not 0 <= t < V]
        if bad:
            raise EngineError("Token id {token} is outside this model's vocabulary (0..{last}); "
                              "the tokenizer does not match the model.", token=bad[0], last=V - 1)

    def forward(self, tokens: Sequence[int], state: State | None = None) -> tuple[Tensor, State]:
        """Feed ``tokens``; return the float32 logits after the last one, and the state.

        Many tokens run the parallel (chunked) form, one token the RNN form: the same function.
        The given state is advanced IN PLACE and returned (decoding allocates nothing per token);
        ``state.clone()`` first to keep a checkpoint. Chained calls equal one long call.
        """
        if isinstance(tokens, int):
            tokens = [tokens]
        if len(tokens) == 0:
            raise EmptyPromptError("Nothing to feed the model: the token list is empty.")
        self._check_tokens(tokens)
        if state is None:
            state = self.new_state()
        elif state.fingerprint != self.info.fingerprint:
            self._check_shapes(state)
        self._conform(state)
        # A prompt may fail half way (memory); keep what the state was so the failure loses nothing.
        # A single token allocates next to nothing, and copying the state per token would cost time.
        backup = state.clone() if len(tokens) > 1 else None
        try:
            with torch.no_grad():
                if len(tokens) == 1:
                    logits = self._forward_one(int(tokens[0]), state)
                else:
                    logits = self._forward_seq(list(tokens), state)
                    trim_heap()    # the prompt's activations, freed: ~100 MiB at 0.4B kept otherwise
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
            if not is_oom(e):
                raise
            if backup is not None:
                state.copy_(backup)
            raise OutOfMemoryError("{device} ran out of memory running {tokens} tokens "
                                   "at once; feed the prompt in smaller chunks or use a smaller "
                                   "precision. The state is unchanged.", device=self.device, tokens=len(tokens)) from e
        state.tokens_seen += len(tokens)
        state.last_logits = logits
        return logits, state


    _wkv_parts: tuple[str, ...] = ("wkv",)   # the state parts the compiled decode step advances besides the shifts

    def forward_prompts(self, chunks: Sequence[tuple[Sequence[int], State]]) -> Tensor:
        """Feed several sequences' tokens at once, ``chunks[s] = (tokens, state)``: float32 logits
        ``[S, V]``, row ``s`` after sequence ``s``'s last token; each state advanced in place.

        Row ``s`` equals ``forward(tokens, state)``'s within GEMM rounding (the rows meet in one
        matrix product where the generation supports it, RWKV-7: short prompts that arrive together
        are read at a better shape, and one read of the weights serves them all; a one-token prompt
        takes the decode step, as in ``forward``). Everything is
        checked before any state is touched; if memory runs out, every state is as it was.
        """
        chunks = [([int(t) for t in tokens], state) for tokens, state in chunks]
        if not chunks or any(not tokens for tokens, _ in chunks):
            raise EmptyPromptError("Nothing to feed the model: a prompt of the batch is empty.")
        states = [state for _, state in chunks]
        if len({id(s) for s in states}) != len(states):
            raise EngineError("forward_prompts was given the same state twice; each sequence needs its own.")
        for tokens, state in chunks:
            self._check_tokens(tokens)
            if state.fingerprint != self.info.fingerprint:
                self._check_shapes(state)
        for state in states:
            self._conform(state)
        backups = [state.clone() for state in states]
        logits = torch.empty(len(chunks), self.info.vocab_size, dtype=torch.float32)
        many = [i for i, (tokens, _) in enumerate(chunks) if len(tokens) > 1]
        try:
            with torch.no_grad():
                if many:        # one token alone takes the decode step, as forward does
                    logits[many] = self._forward_prompts([chunks[i] for i in many]).float()
                    trim_heap()
                for i, (tokens, state) in enumerate(chunks):
                    if len(tokens) == 1:
                        logits[i] = self._forward_one(tokens[0], state)
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
            if not is_oom(e):
                raise
            for state, backup in zip(states, backups, strict=True):
                state.copy_(backup)
            raise OutOfMemoryError("{device} ran out of memory running {prompts} prompts at once; "
                                   "the states are unchanged.", device=self.device, prompts=len(chunks)) from e
        for b, (tokens, state) in enumerate(chunks):
            state.tokens_seen += len(tokens)
            state.last_logits = logits[b]
        return logits

    def _forward_prompts(self, chunks: Sequence[tuple[list[int], State]]) -> Tensor:
        """Prompts of 2 tokens or more, one after another; a generation that can do better overrides this."""
        return torch.stack([self._forward_seq(tokens, state).float() for tokens, state in chunks])

    def forward_batch(self, tokens: Sequence[int], states: Sequence[State]) -> Tensor:
        """One token for each of several sequences at once: ``tokens[b]`` is fed to ``states[b]``
        (advanced in place, as :meth:`forward` does); returns float32 logits ``[B, V]``.

        Row ``b`` equals ``forward([tokens[b]], states[b])``'s logits bit for bit on the compiled CPU
        backend, which reads every weight matrix once for the whole batch (see docs/engine.md,
        "Batched decode"). Torch backends (GPUs, the torch CPU path) run the batch through batched
        torch ops, also one read of each weight: within fp32 rounding of one at a time. Every check
        runs before any state is touched.
        """
        tokens = [int(t) for t in tokens]
        if len(tokens) != len(states):
            raise EngineError("forward_batch needs one state per token ({tokens} tokens, {states} states).",
                              tokens=len(tokens), states=len(states))
        if not tokens:
            raise EmptyPromptError("Nothing to feed the model: the batch is empty.")
        self._check_tokens(tokens)
        if len({id(s) for s in states}) != len(states):
            raise EngineError("forward_batch was given the same state twice; each sequence needs its own.")
        for state in states:
            if state.fingerprint != self.info.fingerprint:
                self._check_shapes(state)
        for state in states:
            self._conform(state)
        with torch.no_grad():
            decoder = getattr(getattr(self, "weights", None), "decoder", None)
            if decoder is not None:
                logits = self._decode_batch(decoder, tokens, states)
            else:
                logits = self._forward_batch(tokens, states)
        for b, state in enumerate(states):
            state.tokens_seen += 1
            state.last_logits = logits[b]
        return logits

    @abstractmethod
    def _forward_batch(self, tokens: list[int], states: Sequence[State]) -> Tensor:
        """The torch path's batch: ``tokens[b]`` for ``states[b]``, float32 logits ``[B, V]``."""

    def _conform(self, state: State) -> None:
        """A state made by this file in another precision (or a view) converted once, in the State,
        to what this model keeps: the token shifts in its shift dtype, the rest float32, contiguous."""
        p, shift = state.parts, self.weights.plan.shift
        for k, t in p.items():
            want = torch.float32 if k in self._wkv_parts else shift
            if t.dtype != want or not t.is_contiguous():
                p[k] = t.to(want).contiguous()

    def _decode_batch(self, decoder, tokens: list[int], states: Sequence[State]) -> Tensor:
        """The compiled batched step (the states already conformed by :meth:`forward_batch`). The
        tokens' embedding rows are staged for it (at most ``STAGED_ROWS`` a pass: a bigger batch runs
        in slices, each row still bit for bit alone)."""
        logits = torch.empty(len(tokens), self.info.vocab_size, dtype=torch.float32)
        for i in range(0, len(tokens), STAGED_ROWS):
            part, rows = states[i:i + STAGED_ROWS], self.weights.emb.stage(tokens[i:i + STAGED_ROWS])
            decoder.step_batch(rows, [s.parts["att_x_prev"] for s in part],
                               [[s.parts[k] for k in self._wkv_parts] for s in part],
                               [s.parts["ffn_x_prev"] for s in part], logits[i:i + STAGED_ROWS])
        return logits


def _pick_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise EngineError("Unknown device '{device}': use 'cpu', 'cuda', 'cuda:N' or 'auto'.", device=device) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EngineError("No CUDA or ROCm GPU is available to this build of PyTorch; use device 'cpu'.")
    return dev


def _check_precision(precision: str) -> None:
    if precision != "auto" and precision not in DTYPES:
        floats = ", ".join(k for k in DTYPES if k not in CPU_ONLY)
        raise EngineError("Unknown precision '{precision}': use one of {floats} or 'auto' (or int8, q5 or q4 on "
                          "the CPU: 8-, 5- or 4-bit weights, float32 compute).", precision=precision, floats=floats)


def _auto_precision(device: torch.device, ckpt: Checkpoint, name: str) -> str:
    """What "auto" means for this checkpoint on ``device``: fp16 on a CUDA/ROCm GPU; on the CPU the first
    of fp32, bf16, int8, q5, q4 that fits this machine's memory, by :mod:`engine.host.hardware`'s rule
    (the window's pick for a model it never measured); fp32 elsewhere (MPS)."""
    if device.type == "cuda":
        return "fp16"
    if device.type != "cpu":
        return "fp32"
    from engine.host import hardware

    n_params = sum(t.numel() for t in ckpt.tensors.values())
    cpu = hardware.cpu()
    pick = hardware.auto_cpu_precision(n_params, cpu)
    need = hardware.needed_bytes(int(n_params * hardware.BYTES_PER_PARAM[pick.precision]))
    if not pick.fits or (cpu.free_bytes is not None and cpu.free_bytes < need):
        log.warning("precision auto for %s: %s", name, pick.reason)
    else:
        log.info("precision auto for %s: %s", name, pick.reason)
    return pick.precision


def load(source: str | os.PathLike, device: str = "cpu", precision: str = "fp32", backend: str = "auto") -> Model:
    """Load an RWKV model file (official ``.pth`` or ``.safetensors``) or a bundled model by name.

    ``precision`` "auto": fp16 on a CUDA/ROCm GPU; on the CPU the first of fp32, bf16, int8, q5 and q4
    that fits this machine's memory (:func:`engine.host.hardware.auto_cpu_precision`); ``Model.precision``
    then says which was taken.

    ``backend`` picks the kernels (:func:`kernels.select`): "auto" (the compiled CPU library or
    Triton where they run, else torch), or one by name: "cpu", "triton", "torch", "reference"
    (the plain loops: slow, for checking the others). A named backend that cannot run here is an
    error rather than a silent fallback.
    """
    if backend not in kernels.BACKENDS:
        raise EngineError("Unknown kernel backend '{backend}': use one of {choices}.",
                          backend=backend, choices=", ".join(kernels.BACKENDS))
    _check_precision(precision)
    path = resolve(source)
    dev = _pick_device(device)
    ckpt = read_checkpoint(path)
    if precision == "auto":
        precision = _auto_precision(dev, ckpt, path.name)
    dtype = DTYPES[precision]
    generation = detect_generation(ckpt.tensors, path.name)
    try:
        model = _build(generation, ckpt, dev, dtype, backend)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
        if not is_oom(e):
            raise
        bits = torch.finfo(dtype).bits if dtype.is_floating_point else 8
        size = sum(t.numel() for t in ckpt.tensors.values()) * bits // 8
        raise OutOfMemoryError("Not enough memory on {device} to load '{name}' in {precision} "
                               "(about {gib:.1f} GiB needed). Try a smaller precision or "
                               "model.", device=dev, name=path.name, precision=precision, gib=size / 2**30) from e
    log.info("loaded %s: %s on %s (%s)", path.name, model.info.describe(), dev, precision)
    return model


def _build(generation: int, ckpt: Checkpoint, device: torch.device, dtype: torch.dtype, backend: str) -> Model:
    """The model class of ``generation`` (from :func:`engine.models.checkpoint.detect_generation`), built."""
    if generation == 7:
        from engine.models.rwkv7 import RWKV7

        return RWKV7(ckpt, device, dtype, backend)
    if generation == 6:
        from engine.models.rwkv6 import RWKV6

        return RWKV6(ckpt, device, dtype, backend)
    if generation == 5:
        from engine.models.rwkv5 import RWKV5

        return RWKV5(ckpt, device, dtype, backend)
    if generation == 4:
        from engine.models.rwkv4 import RWKV4

        return RWKV4(ckpt, device, dtype, backend)
    raise UnknownLayoutError("'{name}' is an RWKV-{generation} model, which RWKV Desktop cannot run.",
                             name=ckpt.path.name, generation=generation)


class LogitsPool:
    """Logits buffers for decode steps, each reused only when nobody else holds it.

    ``forward`` hands its logits to the caller, who may keep them (``state.last_logits`` does, so
    do tests that collect every step's logits). A buffer is handed out again only when its one
    reference is this pool's and no view shares its memory; otherwise a new one is made. In
    generation that means two buffers taking turns, and no allocation per token.
    """

    def __init__(self, size: int):
        self._size = size
        self._bufs: list[Tensor] = []
        self._use_count = getattr(torch._C, "_storage_Use_Count", None)

    def take(self) -> Tensor:
        count = self._use_count
        for buf in self._bufs:
            # 3 references = this list, the loop variable and getrefcount's argument; 2 storage users =
            # the tensor and the temporary storage object made to ask. Anything more: still in use.
            if count is not None and sys.getrefcount(buf) == 3 and count(buf.untyped_storage()._cdata) == 2:
                return buf
        buf = torch.empty(self._size, dtype=torch.float32)
        if len(self._bufs) < 4:
            self._bufs.append(buf)
        return buf
