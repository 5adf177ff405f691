"""The engine service's scheduler with many replies at once: every request's reply is its solo
reply, replies beyond the limit wait their turn in order, the running ones take turns, and a
stopped or failing reply leaves the others untouched."""

from __future__ import annotations

import threading

import pytest

from engine.service import EngineService
from engine.service import commands as C
from engine.service import events as E
from engine.service.jobs import Batcher

from .conftest import GREEDY

PROMPTS = [f'What does "{w}" mean?' for w in ("harbor", "anchor", "lighthouse", "bay", "shore", "dock",
                                                 "ship", "port", "island", "river", "tide", "wave")]


def _complete(prompt: str, max_tokens: int = 24) -> C.Complete:
    return C.Complete((f"User: {prompt}\n\nAssistant:",), GREEDY, max_tokens=max_tokens, cache=False)


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    """Each prompt's reply with nothing else running."""
    svc = EngineService(tmp_path_factory.mktemp("solo"), state_cache_mb=0)
    try:
        assert isinstance(svc.call(C.LoadModel("demo"), 60), E.ModelLoaded)
        return {p: svc.call(_complete(p), 60).text for p in PROMPTS}
    finally:
        svc.shutdown()


def _service(tmp_path, **kw) -> EngineService:
    svc = EngineService(tmp_path, state_cache_mb=0, **kw)
    assert isinstance(svc.call(C.LoadModel("demo"), 60), E.ModelLoaded)
    return svc


class Timeline:
    """The requests' events in the order the engine sent them."""

    def __init__(self, svc: EngineService):
        self.events: list[E.Event] = []
        self.hooks: list = []
        self._lock = threading.Lock()
        svc.subscribe(self._deliver)

    def _deliver(self, event: E.Event) -> None:
        with self._lock:
            self.events.append(event)
        for hook in list(self.hooks):
            hook(event)

    def most_at_once(self) -> int:
        """The most requests that had sent text and not yet finished, at any point."""
        running: set[int] = set()
        most = 0
        for e in self.events:
            if isinstance(e, E.CompletionDelta):
                running.add(e.request)
            elif isinstance(e, (E.CompletionFinished, E.Failed)):
                running.discard(e.request)
            most = max(most, len(running))
        return most


def _submit_all(svc: EngineService, prompts) -> list[tuple[int, object]]:
    return [svc.submit(_complete(p)) for p in prompts]


def test_many_replies_at_once_each_equal_their_solo_reply(tmp_path, solo):
    svc = _service(tmp_path)
    try:
        timeline = Timeline(svc)
        asked = _submit_all(svc, PROMPTS)
        done = [f.result(120) for _, f in asked]
        assert [d.text for d in done] == [solo[p] for p in PROMPTS]    # greedy, token for token
        assert timeline.most_at_once() > 4              # they really were written together
    finally:
        svc.shutdown()


def test_replies_beyond_the_limit_wait_their_turn_in_order(tmp_path, solo):
    svc = _service(tmp_path, max_sequences=3)
    try:
        timeline = Timeline(svc)
        asked = _submit_all(svc, PROMPTS[:7])
        done = [f.result(120) for _, f in asked]
        assert [d.text for d in done] == [solo[p] for p in PROMPTS[:7]]
        assert timeline.most_at_once() == 3
        requests = [r for r, _ in asked]
        first_text = [next(i for i, e in enumerate(timeline.events)
                           if isinstance(e, E.CompletionDelta) and e.request == r) for r in requests]
        assert first_text[3] > min(first_text[:3])      # the fourth began after one of the first three
        finished = {e.request: i for i, e in enumerate(timeline.events) if isinstance(e, E.CompletionFinished)}
        assert first_text[3] > min(finished[r] for r in requests[:3])
        # the running ones take turns: the first three all wrote before any of them finished
        assert max(first_text[:3]) < min(finished[r] for r in requests[:3])
    finally:
        svc.shutdown()


def test_the_limit_follows_the_memory_the_states_need(tmp_path):
    svc = _service(tmp_path, max_sequences=64, sequence_memory_mb=1)
    try:
        from engine import load
        state_bytes = load("demo").new_state().nbytes
        assert svc.sequence_limit() == max(1, min(64, 2**20 // state_bytes))
    finally:
        svc.shutdown()


def test_stopping_one_reply_leaves_the_others_as_they_would_be(tmp_path, solo):
    svc = _service(tmp_path)
    try:
        timeline = Timeline(svc)
        asked = _submit_all(svc, PROMPTS[:6])
        victim = asked[2][0]

        def stop_it(event):
            if isinstance(event, E.CompletionDelta) and event.request == victim:
                svc.stop_request(victim)
        timeline.hooks.append(stop_it)
        done = {r: f.result(120) for r, f in asked}
        assert done[victim].stop_reason == "cancelled"
        assert len(done[victim].text) < len(solo[PROMPTS[2]])
        for (r, _), p in zip(asked, PROMPTS[:6], strict=True):
            if r != victim:
                assert done[r].text == solo[p]
    finally:
        svc.shutdown()


def test_a_reply_that_fails_mid_batch_leaves_the_others_going(tmp_path, solo):
    svc = _service(tmp_path)
    try:
        timeline = Timeline(svc)
        asked = _submit_all(svc, PROMPTS[:6])
        victim = asked[1][0]
        poisoned = threading.Event()

        def poison(event):      # on the engine thread, between steps: the victim's state turns to NaN,
            if poisoned.is_set() or not isinstance(event, E.CompletionDelta):   # as a numerical blow-up
                return                                                           # would leave it
            for job in list(svc._jobs):
                if job.request == victim and job.pending is not None and len(job.pending.tokens) == 1:
                    for t in job.pending.state.parts.values():
                        t.fill_(float("nan"))
                    poisoned.set()
        timeline.hooks.append(poison)
        done = {r: f.result(120) for r, f in asked}
        assert poisoned.is_set()
        assert isinstance(done[victim], E.Failed) and "invalid numbers" in done[victim].message
        for (r, _), p in zip(asked, PROMPTS[:6], strict=True):
            if r != victim:
                assert isinstance(done[r], E.CompletionFinished) and done[r].text == solo[p]
    finally:
        svc.shutdown()


class _Calls:
    """A model stand-in that records how the batcher calls it (the scheduling alone, no numbers)."""

    def __init__(self, refuse: int | None = None):
        self.batches: list[int] = []
        self.prompts: list[int] = []        # the length of each single call, in order
        self.singles = 0
        self.refuse = refuse

    def forward_batch(self, tokens, states):
        from engine.errors import EngineError
        if self.refuse in tokens:
            raise EngineError("refused before any state was touched")
        self.batches.append(len(tokens))
        import torch
        return torch.zeros(len(tokens), 4)

    def forward(self, tokens, state):
        from engine.errors import EngineError
        if tokens[0] == self.refuse:
            raise EngineError("this one is wrong")
        self.singles += 1
        self.prompts.append(len(tokens))
        import torch
        return torch.zeros(4), state


class _Waiting:
    """A job waiting for one token's model call."""

    def __init__(self, token: int, length: int = 1):
        from engine.text.generation import Forward
        self.pending = Forward([token] * length, object())
        self.result = self.error = None

    def resume(self, logits):
        self.pending, self.result = None, logits

    def failed(self, error):
        self.pending, self.error = None, error


def test_the_batcher_splits_big_batches_and_isolates_a_refused_call():
    calls = _Calls()
    Batcher(max_batch=4).run(calls, [_Waiting(t) for t in range(10)])
    assert calls.batches == [4, 4, 2]
    calls = _Calls(refuse=3)
    jobs = [_Waiting(t) for t in range(5)]
    Batcher().run(calls, jobs)
    assert [j.error is not None for j in jobs] == [False, False, False, True, False]
    assert calls.singles == 4


def test_short_prompts_that_arrive_together_are_read_in_one_round_long_ones_take_turns():
    calls = _Calls()
    batcher = Batcher(prompt_tokens=256)
    jobs = [_Waiting(1, 30) for _ in range(8)] + [_Waiting(2), _Waiting(3)]
    batcher.run(calls, jobs)
    assert calls.prompts == [30] * 8 and calls.batches == [2] and all(j.pending is None for j in jobs)

    calls = _Calls()
    jobs = [_Waiting(t, n) for t, n in ((1, 200), (2, 200), (3, 30), (4, 256))]
    batcher.run(calls, jobs)                    # one 200-token chunk: the next would pass 256
    assert calls.prompts == [200]
    batcher.run(calls, jobs)                    # the next in turn, then the 30 that still fits
    assert calls.prompts == [200, 200, 30]
    batcher.run(calls, jobs)                    # a full chunk alone
    assert calls.prompts == [200, 200, 30, 256]
