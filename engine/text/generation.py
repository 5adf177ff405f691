"""Text generation: feed a prompt, then sample token by token, streaming text pieces.

A :class:`Generation` is an iterator of text pieces. Prompts are fed in chunks so that a cancel is
seen between chunks; during decoding it is seen between tokens, so a stop costs at most one
token's time. When the iterator ends, ``stop_reason``, ``tokens``, ``state`` and timing stats say
what happened. The state given is advanced in place (pass a clone to keep the original).

A text prompt for the 20B (Pile) tokenizer that ends in ``\\n\\n`` is fed as two ``\\n`` tokens
(187, 187) instead of the merged one (535), as RWKV Runner and ChatRWKV do (see
:func:`completion_tokens`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from engine.errors import EmptyPromptError, InvalidOutputError
from engine.models.model import Model
from engine.models.state import State
from engine.text.sampling import Sampler, SamplerSettings, penalty_exempt_ids
from engine.text.tokenizer import Tokenizer

Cancel = threading.Event | Callable[[], bool] | None
CHUNK_LEN = 256
PILE_NEWLINE, PILE_DOUBLE_NEWLINE = 187, 535     # "\n" and "\n\n" in the 20B (GPT-NeoX) vocabulary


def completion_tokens(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The tokens a text prompt is fed as: ``tokenizer.encode(prompt)``, except that a trailing
    ``\\n\\n`` of the 20B (Pile) tokenizer becomes two ``\\n`` (535 -> 187, 187).

    RWKV Runner (and ChatRWKV before it) rewrites a prompt's last token this way for the 20B
    tokenizer (``reference/RWKV_FACTS.md``); Pile and Raven models are mostly run, and judged,
    through them, so a completion here should start from the same tokens as theirs would. (BPE
    merges greedily, so a prompt that stops on a merged token also commits to a split that
    training text would only have had before certain continuations; splitting it undoes that.)

    This lives here, not in the tokenizer, on purpose: ``encode`` must stay the exact inverse of
    ``decode`` (token counts, round trips and the chat's per-turn segments rely on it), and the
    rewrite is about where a prompt *ends*, which only the code that feeds a whole prompt knows.
    Token lists given by the caller (the chat's own segments, saved prompts) are fed as they are.
    """
    tokens = tokenizer.encode(prompt)
    if tokens and tokens[-1] == PILE_DOUBLE_NEWLINE and _is_pile(tokenizer):
        tokens[-1:] = [PILE_NEWLINE, PILE_NEWLINE]
    return tokens


def _is_pile(tokenizer: Tokenizer) -> bool:
    """The 20B vocabulary (bundled or a folder's own copy), recognised by what its two ids mean."""
    try:
        return (tokenizer.token_bytes(PILE_DOUBLE_NEWLINE) == b"\n\n"
                and tokenizer.token_bytes(PILE_NEWLINE) == b"\n")
    except (IndexError, KeyError, ValueError):
        return False


def is_cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def feed(model: Model, tokens: Sequence[int], state: State, cancel: Cancel = None,
         chunk_len: int = CHUNK_LEN) -> Tensor | None:
    """Feed ``tokens`` in chunks, checking ``cancel`` between them; None if cancelled."""
    logits = None
    for start in range(0, len(tokens), chunk_len):
        if is_cancelled(cancel):
            return None
        logits, _ = model.forward(tokens[start:start + chunk_len], state)
    return logits


@dataclass
class Stats:
    prompt_tokens: int = 0
    prefill_seconds: float = 0.0
    generated_tokens: int = 0
    decode_seconds: float = 0.0
    first_token_seconds: float | None = None
    cached_tokens: int = 0              # of the prompt's tokens, how many were not read again (a server's cache)

    @property
    def prefill_tps(self) -> float:
        return self.prompt_tokens / self.prefill_seconds if self.prefill_seconds else 0.0

    @property
    def decode_tps(self) -> float:
        return self.generated_tokens / self.decode_seconds if self.decode_seconds else 0.0


@dataclass(frozen=True, eq=False)
class Forward:
    """A model call a generation needs before it can go on: ``tokens`` fed onto ``state`` (advanced
    in place); whoever runs it sends back the logits after the last token. A scheduler that drives
    many generations runs their single-token calls together (one read of the weights for all)."""

    tokens: Sequence[int]
    state: State


Steps = Generator["Forward | str", "Tensor | None", None]


def drive(model: Model, steps: Steps) -> Iterator[str]:
    """Run ``steps`` alone: each :class:`Forward` it asks for on ``model``, everything else passed
    on. A model call that fails is raised inside ``steps``, where it was asked for, so the step
    knows it failed; closing the result closes ``steps`` (whose own clean-up then runs)."""
    value, error = None, None
    try:
        while True:
            try:
                item = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration:
                return
            value, error = None, None
            if isinstance(item, Forward):
                try:
                    value = model.forward(item.tokens, item.state)[0]
                except Exception as e:      # noqa: BLE001 - handed to the step that asked
                    error = e
            else:
                yield item
    finally:
        steps.close()


class Generation:
    """Iterate for text pieces; afterwards read ``stop_reason``, ``tokens``, ``text``, ``state``, ``stats``.

    ``stop_reason`` is ``"stop"`` (a stop string), ``"eos"`` (a stop token), ``"length"``
    (``max_tokens`` reached) or ``"cancelled"``. The state has consumed every generated token,
    the stop string's included, so it is ready for whatever comes next.

    Iterating runs the model itself. :meth:`steps` instead hands every model call out as a
    :class:`Forward` (use one or the other): the engine service batches them across generations.
    """

    def __init__(self, model: Model, tokenizer: Tokenizer, prompt: str | Sequence[int] | None, *,
                 state: State | None, sampler: Sampler, max_tokens: int, stop: Sequence[str],
                 stop_tokens: Sequence[int], cancel: Cancel, chunk_len: int):
        self.model, self.tokenizer, self.sampler = model, tokenizer, sampler
        self.state = state if state is not None else model.new_state()
        self.prompt_tokens = completion_tokens(tokenizer, prompt) if isinstance(prompt, str) else list(prompt or [])
        if not self.prompt_tokens and self.state.last_logits is None:
            raise EmptyPromptError("The prompt is empty and there is no earlier text to continue from.")
        self.max_tokens, self.stop = max_tokens, [s for s in stop if s]
        self.stop_tokens = set(stop_tokens)
        self.cancel, self.chunk_len = cancel, chunk_len
        self.tokens: list[int] = []
        self.text = ""
        self.stop_reason: str | None = None
        self.stats = Stats(prompt_tokens=len(self.prompt_tokens))
        self._steps = self._run()
        self._iter: Iterator[str] | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._iter is None:
            self._iter = drive(self.model, self._steps)
        return next(self._iter)

    def steps(self) -> Steps:
        """The generation as text pieces and the :class:`Forward` calls it needs (see the class)."""
        return self._steps

    def run(self) -> str:
        """Consume the whole generation; return the text."""
        for _ in self:
            pass
        return self.text

    def _run(self) -> Steps:
        t0 = time.perf_counter()
        logits = self.state.last_logits
        for start in range(0, len(self.prompt_tokens), self.chunk_len):
            if is_cancelled(self.cancel):
                self.stop_reason = "cancelled"
                return
            logits = yield Forward(self.prompt_tokens[start:start + self.chunk_len], self.state)
        self.stats.prefill_seconds = time.perf_counter() - t0
        decoder = self.tokenizer.stream()
        full, emitted = "", 0
        t1 = time.perf_counter()
        for _ in range(self.max_tokens):
            if is_cancelled(self.cancel):
                self.stop_reason = "cancelled"
                break
            _check_finite(logits)
            token = self.sampler.sample(logits)
            if self.stats.first_token_seconds is None:
                self.stats.first_token_seconds = time.perf_counter() - t0
            if token in self.stop_tokens:
                self.stop_reason = "eos"
                break
            self.sampler.accept(token)
            self.tokens.append(token)
            logits = yield Forward([token], self.state)
            self.stats.generated_tokens += 1
            self.stats.decode_seconds = time.perf_counter() - t1
            full += decoder.push(token)
            cut = _find_stop(full, self.stop, emitted)
            if cut is not None:
                self.stop_reason = "stop"
                full = full[:cut]
                break
            safe = len(full) - _held_back(full, self.stop)
            if safe > emitted:
                piece, emitted = full[emitted:safe], safe
                self.text = full[:emitted]
                yield piece
        else:
            self.stop_reason = "length"
        if self.stop_reason != "stop":
            full += decoder.flush()
        if len(full) > emitted:
            self.text = full
            yield full[emitted:]
        self.text = full


def _check_finite(logits: Tensor) -> None:
    """Refuse NaN/Inf logits: sampling from them would pick arbitrary tokens without a word. One sum
    (NaN and infinities carry through it) costs ~10 us a token; ``isfinite().all()`` cost 100x more.
    NumPy sums a CPU row on this thread: torch would wake its thread pool for it (see the Sampler)."""
    on_cpu = logits.device.type == "cpu" and logits.dtype == torch.float32 and not logits.requires_grad
    if not math.isfinite(float(logits.numpy().sum() if on_cpu else logits.sum())):
        raise InvalidOutputError("The model produced invalid numbers (NaN or infinity) instead of "
                                 "predictions, so nothing was generated from them. The model file or the "
                                 "saved state it continued from is probably damaged.")


def _find_stop(text: str, stops: Sequence[str], emitted: int) -> int | None:
    """Index where the earliest stop string starts, searching only text that could hold a new one."""
    best = None
    for s in stops:
        i = text.find(s, max(0, emitted - len(s) + 1))
        if i != -1 and (best is None or i < best):
            best = i
    return best


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that could still grow into a stop string."""
    hold = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:n]):
                hold = n
                break
    return hold


def generate(model: Model, tokenizer: Tokenizer, prompt: str | Sequence[int] | None = None, *,
             state: State | None = None, settings: SamplerSettings | None = None,
             sampler: Sampler | None = None, max_tokens: int = 256, stop: Sequence[str] = (),
             stop_tokens: Sequence[int] | None = None, cancel: Cancel = None,
             chunk_len: int = CHUNK_LEN) -> Generation:
    """Generate text after ``prompt`` (or after ``state``'s last token when the prompt is empty).

    ``stop_tokens`` defaults to the tokenizer's end-of-text id. ``sampler`` keeps penalty
    bookkeeping across calls; otherwise a fresh one is made from ``settings``.
    """
    if sampler is None:
        sampler = Sampler(settings or SamplerSettings(), model.info.vocab_size,
                          penalty_exempt_ids(tokenizer))
    if stop_tokens is None:
        stop_tokens = [] if tokenizer.eos_id is None else [tokenizer.eos_id]
    return Generation(model, tokenizer, prompt, state=state, sampler=sampler, max_tokens=max_tokens,
                      stop=stop, stop_tokens=stop_tokens, cancel=cancel, chunk_len=chunk_len)
