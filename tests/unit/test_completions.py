"""Completions through the engine service (what the HTTP server asks for): the state cache reads
only a resent history's new turn, and a reply through the cache is the reply without it."""

from __future__ import annotations

import threading

import pytest

from engine.service import EngineService
from engine.service import commands as C
from engine.service import events as E
from engine.text.chat import WORLD, render_messages

from .conftest import GREEDY

QUESTIONS = ['What does "harbor" mean?', "Use it in a sentence.", 'And "lighthouse"?', "Thanks! What is a bay?",
             'Define "anchor".', "Shorter, please.", 'What does "port" mean?', 'And "dock"?', 'Define "shore".',
             "What is a ship?"]


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory):
    svc = EngineService(tmp_path_factory.mktemp("completions"), state_cache_mb=64)
    assert isinstance(svc.call(C.LoadModel("demo"), 60), E.ModelLoaded)
    yield svc
    svc.shutdown()


def _chat(svc: EngineService, cache: bool, turns: int = 10) -> list[E.CompletionFinished]:
    history, results = [], []
    for question in QUESTIONS[:turns]:
        history.append(("user", question))
        done = svc.call(C.Complete(tuple(render_messages(WORLD, history)), GREEDY, max_tokens=60, stop=("\n\n",),
                                   cache=cache), 60)
        assert isinstance(done, E.CompletionFinished), done
        results.append(done)
        history.append(("assistant", done.text.strip()))
    return results


def test_a_resent_history_reads_only_the_new_turn_and_replies_the_same(demo_service):
    without = _chat(demo_service, cache=False)
    with_cache = _chat(demo_service, cache=True)
    assert [r.text for r in with_cache] == [r.text for r in without]          # greedy, token for token
    assert all(r.cached_tokens == 0 for r in without)
    for turn, r in enumerate(with_cache[1:], start=2):
        new = r.prompt_tokens - r.cached_tokens
        assert r.cached_tokens > 0 and new < 40, (turn, r.prompt_tokens, r.cached_tokens)
    print("turn 10:", with_cache[-1].prompt_tokens, "prompt tokens,", with_cache[-1].cached_tokens, "from the cache")


def test_the_cache_spills_to_disk_and_is_read_back(tmp_path):
    svc = EngineService(tmp_path, state_cache_mb=0)          # nothing stays in RAM
    try:
        svc.call(C.LoadModel("demo"), 60)
        svc.state_cache.ram_bytes, svc.state_cache.disk_bytes = 1, 2**30    # every state goes to disk at once
        first = _chat(svc, cache=True, turns=3)
        assert list((tmp_path / "state-cache").glob("*.safetensors"))
        assert first[-1].cached_tokens > 0
    finally:
        svc.shutdown()


def test_a_named_state_is_saved_and_resumed(demo_service):
    prompt = render_messages(WORLD, [("user", QUESTIONS[0])])
    first = demo_service.call(C.Complete(tuple(prompt), GREEDY, max_tokens=60, stop=("\n\n",), save_as="harbor-1"))
    assert "harbor-1" in demo_service.named_states()
    follow = render_messages(WORLD, [("user", QUESTIONS[1])])
    resumed = demo_service.call(C.Complete(tuple(follow), GREEDY, max_tokens=60, stop=("\n\n",), start="harbor-1",
                                           cache=False))
    history = [("user", QUESTIONS[0]), ("assistant", first.text.strip()), ("user", QUESTIONS[1])]
    full = demo_service.call(C.Complete(tuple(render_messages(WORLD, history)), GREEDY, max_tokens=60,
                                        stop=("\n\n",), cache=False))
    assert resumed.text == full.text


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/b", "", ".hidden", "x" * 65, "a..b"])
def test_a_state_name_is_never_a_path(demo_service, name):
    for field in ("start", "save_as"):
        failed = demo_service.call(C.Complete(("Hello",), GREEDY, max_tokens=2, **{field: name}))
        assert isinstance(failed, E.Failed) and "is not a state name" in failed.message, failed


def test_a_completion_stops_when_its_request_is_stopped(demo_service):
    started = threading.Event()
    demo_service.subscribe(lambda e: isinstance(e, E.CompletionDelta) and started.set())
    request, future = demo_service.submit(C.Complete(("Once upon a time",), GREEDY, max_tokens=100000,
                                                     stop_at_end_of_text=False))
    assert started.wait(60)
    demo_service.stop_request(request)
    done = future.result(30)
    assert done.stop_reason == "cancelled" and done.completion_tokens < 100000


def test_logit_bias_forces_and_bans_tokens(demo_service):
    import engine
    from engine.text.sampling import SamplerSettings
    from engine.text.tokenizer import tokenizer_for

    tok = tokenizer_for(engine.load("demo"))
    forced = demo_service.call(C.Complete(("Hello",), SamplerSettings(temperature=0, top_p=0,
                                                                       logit_bias=((100, 100.0),)),
                                          max_tokens=3, stop_at_end_of_text=False))
    assert forced.text == tok.decode([100, 100, 100])
    plain = demo_service.call(C.Complete(("Hello",), GREEDY, max_tokens=1, stop_at_end_of_text=False))
    first = tok.encode(plain.text)[0]
    banned = demo_service.call(C.Complete(("Hello",), SamplerSettings(temperature=0, top_p=0,
                                                                       logit_bias=((first, -100.0),)),
                                          max_tokens=1, stop_at_end_of_text=False))
    assert banned.text != plain.text


def test_a_name_given_to_another_state_never_brings_back_a_reply_from_the_old_one(demo_service):
    first = render_messages(WORLD, [("user", QUESTIONS[0])])
    other = render_messages(WORLD, [("user", QUESTIONS[2])])
    demo_service.call(C.Complete(tuple(first), GREEDY, max_tokens=60, stop=("\n\n",), save_as="slot"))
    follow = tuple(render_messages(WORLD, [("user", QUESTIONS[1])]))
    a = demo_service.call(C.Complete(follow, GREEDY, max_tokens=60, stop=("\n\n",), start="slot"))
    demo_service.call(C.Complete(tuple(other), GREEDY, max_tokens=60, stop=("\n\n",), save_as="slot"))
    b = demo_service.call(C.Complete(follow, GREEDY, max_tokens=60, stop=("\n\n",), start="slot"))
    fresh = demo_service.call(C.Complete(follow, GREEDY, max_tokens=60, stop=("\n\n",), start="slot", cache=False))
    assert b.text == fresh.text and b.cached_tokens == 0
    again = demo_service.call(C.Complete(follow, GREEDY, max_tokens=60, stop=("\n\n",), start="slot"))
    assert again.text == fresh.text and again.cached_tokens > 0 and a.prompt_tokens == again.prompt_tokens
