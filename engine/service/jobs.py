"""Jobs and the scheduler that runs their model calls together.

A job (a chat reply, a completion) is a generator of progress that asks for every model call as a
:class:`~engine.text.generation.Forward` instead of making it. :meth:`Job.step` advances a job to
its next model call (or until it waits on a remote server, or ends), handling what comes before it
(text pieces become events, and so on). :func:`run_forwards` then runs the calls the jobs wait
for: all single-token calls as one batch, so one read of the weights serves every conversation
being written, and prompt chunks taking turns, about one chunk's worth of tokens a round (several
short ones in one call, their rows side by side), so a new request's prompt is read between the
running replies' tokens instead of stalling them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator, Sequence

from engine.errors import EngineError
from engine.text.generation import CHUNK_LEN, Forward

log = logging.getLogger(__name__)


class Job:
    """A generator of progress, stepped by the service; subclasses say what each item means."""

    conversation: int | None = None
    request: int | None = None
    cancel: threading.Event

    def __init__(self, progress: Iterator) -> None:
        self._progress = progress
        self.pending: Forward | None = None     # the model call it waits for
        self.waiting = False                    # its last step found nothing to do (a remote server)
        self._value = None
        self._error: BaseException | None = None

    def step(self) -> bool:
        """Advance to the next model call, a wait, or the end; False once it has ended."""
        self.waiting = False
        while self.pending is None:
            try:
                if self._error is not None:
                    error, self._error = self._error, None
                    item = self._progress.throw(error)
                else:
                    value, self._value = self._value, None
                    item = self._progress.send(value)
            except StopIteration:
                self._end()
                return False
            except Exception as e:  # every failure becomes an event; the other jobs go on
                self._fail(e)
                return False
            if isinstance(item, Forward):
                self.pending = item
            elif self._handle(item):
                self.waiting = True
                return True
        return True

    def resume(self, logits) -> None:
        """The model call it waited for has run: hand its logits back."""
        self.pending, self._value = None, logits

    def failed(self, error: BaseException) -> None:
        """The model call it waited for failed: raise it inside the job, where it was asked for."""
        self.pending, self._error = None, error

    def run_to_end(self, model) -> None:
        """Finish now, its model calls run one by one (after a stop: a token at most)."""
        while self.step():
            if self.pending is not None:
                run_one(model, self)

    def _handle(self, item) -> bool:
        """Deal with one item of progress; True if the job must wait (nothing more to do now)."""
        raise NotImplementedError

    def _end(self) -> None:
        raise NotImplementedError

    def _fail(self, error: Exception) -> None:
        raise NotImplementedError


def run_one(model, job: Job) -> None:
    need = job.pending
    try:
        job.resume(model.forward(need.tokens, need.state)[0])
    except Exception as e:      # noqa: BLE001 - the job reports it
        job.failed(e)


class Batcher:
    """Runs the model calls of the jobs that wait for one (see the module docstring).

    ``max_batch``: the most sequences one decode step carries; more run as several steps.
    ``prompt_tokens``: how many prompt tokens a round reads besides its decode step. Prompts take
    turns; the next one's chunk joins the round while the total stays within this, so short
    prompts that arrive together are all read in one round (each still one call of its own)."""

    def __init__(self, max_batch: int = 32, prompt_tokens: int = CHUNK_LEN) -> None:
        if max_batch < 1 or prompt_tokens < 1:
            raise ValueError("max_batch and prompt_tokens must be at least 1")
        self.max_batch, self.prompt_tokens = max_batch, prompt_tokens
        self._round = 0
        self._last_read: weakref.WeakKeyDictionary[Job, int] = weakref.WeakKeyDictionary()  # its last chunk's round
        self.last_batch = 0         # how many sequences the last decode step carried

    def run(self, model, jobs: Sequence[Job]) -> None:
        decodes = [j for j in jobs if j.pending is not None and len(j.pending.tokens) == 1]
        prompts = [j for j in jobs if j.pending is not None and len(j.pending.tokens) > 1]
        for start in range(0, len(decodes), self.max_batch):
            group = decodes[start:start + self.max_batch]
            self.last_batch = len(group)
            if len(group) > 1 and hasattr(model, "forward_batch"):
                self._batch(model, group)
            else:
                for job in group:
                    run_one(model, job)
        if prompts:                 # chunks taking turns (the longest waiting first), a round's tokens at most
            self._round += 1
            used, chosen = 0, []
            for job in sorted(prompts, key=lambda j: self._last_read.get(j, 0)):
                n = len(job.pending.tokens)
                if used and used + n > self.prompt_tokens:
                    break
                self._last_read[job] = self._round
                chosen.append(job)
                used += n
            if len(chosen) > 1 and hasattr(model, "forward_prompts"):
                self._prompts(model, chosen)
            else:
                for job in chosen:
                    run_one(model, job)

    @staticmethod
    def _prompts(model, jobs: Sequence[Job]) -> None:
        """Several prompt chunks in one call (the rows side by side); refused or failed, one by one."""
        try:
            logits = model.forward_prompts([(j.pending.tokens, j.pending.state) for j in jobs])
        except EngineError:     # refused before any state was touched, or out of memory with every
            for job in jobs:    # state restored: each runs alone, so only a wrong one fails
                run_one(model, job)
            return
        except Exception as e:  # noqa: BLE001 - each job reports it (as a failed decode batch does)
            for job in jobs:
                job.failed(e)
            return
        for i, job in enumerate(jobs):
            job.resume(logits[i])

    @staticmethod
    def _batch(model, jobs: Sequence[Job]) -> None:
        try:
            logits = model.forward_batch([j.pending.tokens[0] for j in jobs], [j.pending.state for j in jobs])
        except EngineError:         # a call refused before any state was touched (a wrong state, a token
            for job in jobs:        # outside the vocabulary): each runs alone, so only the wrong one fails
                run_one(model, job)
            return
        except Exception as e:      # noqa: BLE001 - each job reports it (its states may be half updated:
            for job in jobs:        # its tokens are the truth, and its state is rebuilt from them)
                job.failed(e)
            return
        for i, job in enumerate(jobs):
            job.resume(logits[i])
