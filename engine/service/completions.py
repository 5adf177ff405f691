"""A completion being written: a :class:`~engine.service.commands.Complete` request as a job.

Like a chat reply it advances a step at a time (a prompt chunk, a token) among the other jobs, but
it belongs to no stored conversation: the HTTP server's requests are completions. The prompt is
tokenized segment by segment (a chat's messages), the longest cached run of whole segments is
skipped (:mod:`engine.service.state_cache`), and the states after the prompt and after a reply that
ended at its stop string are cached for the next request, which resends the same history.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator

import torch

from engine.models.model import Model
from engine.models.state import State
from engine.service.commands import Complete
from engine.service.events import CompletionDelta, CompletionFinished, Event, Failed
from engine.service.failures import Told
from engine.service.jobs import Job
from engine.service.state_cache import StateCache, boundaries_of
from engine.text.generation import CHUNK_LEN, Forward, completion_tokens, generate, is_cancelled
from engine.text.sampling import Sampler, penalty_exempt_ids
from engine.text.tokenizer import Tokenizer


def _content_key(state: State) -> str:
    """A start state by what it holds, not by its name: a name can be given to another state later
    (save_as), and a cached reply must never come from the old one."""
    digest = hashlib.sha256()
    for name in sorted(state.parts):
        digest.update(name.encode())
        digest.update(state.parts[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:32]


class CompletionJob(Job):
    conversation = None                 # belongs to no conversation

    def __init__(self, request: int, cmd: Complete, model: Model, tokenizer: Tokenizer, start: State,
                 cache: StateCache | None, cancel: threading.Event, emit: Callable[[Event], None],
                 finish: Callable[[Event], None], describe: Callable[[BaseException], Told],
                 save_named: Callable[[str, State], None]):
        self.request, self.cancel = request, cancel
        self._cmd, self._model, self._tokenizer, self._start = cmd, model, tokenizer, start
        self._cache, self._emit, self._finish, self._describe = cache, emit, finish, describe
        self._save_named = save_named
        super().__init__(self._run())

    def _handle(self, item) -> bool:
        self._emit(CompletionDelta(self.request, item))
        return False

    def _end(self) -> None:
        pass                            # its final event is sent by the generator itself

    def _fail(self, error: Exception) -> None:
        self._finish(Failed(self.request, None, *self._describe(error)))

    def _run(self) -> Iterator:
        cmd, model, tok = self._cmd, self._model, self._tokenizer
        t0 = time.perf_counter()
        segments = [tok.encode(s) for s in cmd.prompt[:-1]] + [completion_tokens(tok, cmd.prompt[-1])] \
            if cmd.prompt else []
        tokens = [t for seg in segments for t in seg]
        start_key = _content_key(self._start) if cmd.start is not None else ""
        cached, state = (0, None)
        if self._cache is not None and cmd.cache:
            cached, state = self._cache.lookup(model, start_key, tokens, boundaries_of(segments))
        if state is None:
            state = self._start.clone()
        for begin in range(cached, len(tokens), CHUNK_LEN):
            if is_cancelled(self.cancel):
                break
            yield Forward(tokens[begin:begin + CHUNK_LEN], state)
        prompt_seconds = time.perf_counter() - t0
        if is_cancelled(self.cancel):
            self._finish(CompletionFinished(self.request, "", "cancelled", len(tokens), cached, 0, prompt_seconds,
                                            time.perf_counter() - t0))
            return
        if self._cache is not None and cmd.cache and len(tokens) > cached:
            self._cache.put(model, start_key, tokens, state.clone())
        eos = [tok.eos_id] if cmd.stop_at_end_of_text and tok.eos_id is not None else []
        sampler = Sampler(cmd.sampler, model.info.vocab_size, penalty_exempt_ids(tok))
        gen = generate(model, tok, None, state=state, sampler=sampler, max_tokens=cmd.max_tokens, stop=cmd.stop,
                       stop_tokens=eos, cancel=self.cancel)
        steps, value = gen.steps(), None
        try:
            while True:
                item = steps.send(value)
                value = yield item      # a Forward's logits come back; a piece becomes a delta
        except StopIteration:
            pass
        finally:
            steps.close()
        if self._cache is not None and cmd.cache and gen.stop_reason == "stop":
            self._cache.put(model, start_key, tokens + gen.tokens, gen.state.clone())
        if cmd.save_as:
            self._save_named(cmd.save_as, gen.state)
        reason = "stop" if gen.stop_reason in ("stop", "eos") else gen.stop_reason or "cancelled"
        self._finish(CompletionFinished(self.request, gen.text, reason, len(tokens), cached, len(gen.tokens),
                                        prompt_seconds, time.perf_counter() - t0))
