"""The engine service: commands in, immutable events out, persistence it owns, and failures that
become events after which it goes on working."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

import engine
from engine.service import ChatSettings, EngineService
from engine.service import commands as C
from engine.service import events as E

from .conftest import GREEDY

ROOT = Path(__file__).resolve().parents[2]
SHORT = ChatSettings(sampler=GREEDY, max_tokens=8)


class Recorder:
    """Every event, in order, with a way to wait for one."""

    def __init__(self, service: EngineService):
        self.events: list[E.Event] = []
        self._cond = threading.Condition()
        self.hooks: list = []
        service.subscribe(self._deliver)

    def _deliver(self, event: E.Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
        for hook in list(self.hooks):
            hook(event)

    def of(self, kind, request: int | None = None) -> list:
        return [e for e in self.events if isinstance(e, kind) and (request is None or e.request == request)]


@pytest.fixture
def service(tmp_path, world_ckpt):
    svc = EngineService(tmp_path / "data")
    assert isinstance(svc.call(C.LoadModel(str(world_ckpt)), 60), E.ModelLoaded)
    yield svc
    svc.shutdown()


def _send(svc: EngineService, conv, text: str = "Hello", timeout: float = 60, **kw) -> E.Event:
    return svc.call(C.Send(conv, text, **kw), timeout)


def _new(**kw) -> C.NewConversation:
    kw.setdefault("settings", SHORT)
    return C.NewConversation(**kw)


def _db(svc_or_dir) -> sqlite3.Connection:
    folder = svc_or_dir.store.data_dir if isinstance(svc_or_dir, EngineService) else svc_or_dir
    db = sqlite3.connect(Path(folder) / "conversations.sqlite3")
    db.row_factory = sqlite3.Row
    return db


def test_a_reply_streams_as_events_and_the_turn_is_stored(service):
    rec = Recorder(service)
    stored_when_created = []

    def look_in_the_database(e):
        if isinstance(e, E.MessageCreated) and e.message.role == "user":
            rows = _db(service).execute("SELECT text FROM messages WHERE id = ?", (e.message.id,))
            stored_when_created.append([tuple(r) for r in rows])

    rec.hooks.append(look_in_the_database)
    request, future = service.submit(C.Send(_new(system_prompt="Be brief."), "What is a harbor?"))
    done = future.result(60)
    assert isinstance(done, E.Finished) and done.request == request
    kinds = [type(e).__name__ for e in rec.events if e.request == request]
    assert kinds[:3] == ["ConversationsChanged", "ConversationOpened", "MessageCreated"]
    assert kinds[-1] == "Finished" and "TextDelta" in kinds
    assert stored_when_created == [[("What is a harbor?",)]]      # stored before any work on it
    deltas = "".join(e.text for e in rec.of(E.TextDelta, request))
    assert deltas == done.message.text and done.message.stats.tokens == done.message.token_count
    rows = _db(service).execute("SELECT role, text, state_file FROM messages ORDER BY id").fetchall()
    assert [r["role"] for r in rows] == ["system", "user", "assistant"]
    assert rows[2]["text"] == done.message.text and rows[1]["state_file"] and rows[2]["state_file"]


def test_a_conversation_reopens_after_a_restart_and_continues(tmp_path, world_ckpt):
    svc = EngineService(tmp_path)
    svc.call(C.LoadModel(str(world_ckpt)))
    first = _send(svc, _new(settings=ChatSettings(sampler=GREEDY, max_tokens=5)), "Hello")
    conv = first.conversation
    svc.call(C.UpdateConversation(conv, title="Greetings"))
    svc.shutdown()

    again = EngineService(tmp_path)
    again.call(C.LoadModel(str(world_ckpt)))
    opened = again.call(C.OpenConversation(conv))
    view = opened.conversation
    assert view.title == "Greetings" and view.settings.max_tokens == 5 and view.settings.sampler == GREEDY
    assert [m.text for m in view.path()] == ["Hello", first.message.text]
    regen = again.call(C.Regenerate(conv), 60)
    assert regen.message.text == first.message.text       # greedy, from the stored state
    assert isinstance(_send(again, conv, "And then?"), E.Finished)
    assert [c.title for c in again.conversations()] == ["Greetings"]
    again.shutdown()


def test_stop_while_the_prompt_is_read_then_send_gives_a_reply(service):
    rec = Recorder(service)
    conv = _send(service, _new(), "Hello").conversation
    rec.hooks.append(lambda e: isinstance(e, E.PromptProgress) and service.stop(conv))
    long = " ".join(f"word{i}" for i in range(700))      # several prompt chunks
    stopped = _send(service, conv, long)
    assert isinstance(stopped, E.Stopped) and stopped.message is None
    rec.hooks.clear()
    reply = _send(service, conv, "Short question")
    assert isinstance(reply, E.Finished) and reply.message.text
    view = service.call(C.OpenConversation(conv)).conversation
    dropped = view.message(reply.message.parent)
    dropped = view.message(dropped.parent)
    assert dropped.role == "user" and dropped.text.startswith("word0") and dropped.stop_reason == "cancelled"
    regen = service.call(C.Regenerate(conv, dropped.id), 120)   # answering it reads it after all
    assert isinstance(regen, E.Finished) and regen.message.parent == dropped.id


def test_quit_while_streaming_stores_the_partial_reply_marked_stopped(tmp_path, world_ckpt):
    svc = EngineService(tmp_path)
    svc.call(C.LoadModel(str(world_ckpt)))
    rec = Recorder(svc)
    third = threading.Event()
    rec.hooks.append(lambda e: isinstance(e, E.TextDelta) and len(rec.of(E.TextDelta)) >= 3 and third.set())
    _, future = svc.submit(C.Send(_new(settings=ChatSettings(sampler=GREEDY, max_tokens=2000)), "Tell me a story"))
    assert third.wait(60)
    svc.shutdown()                                         # as the window does on quit
    final = future.result(5)
    assert isinstance(final, E.Stopped) and final.message.text
    conv = final.conversation

    again = EngineService(tmp_path)
    again.call(C.LoadModel(str(world_ckpt)))
    view = again.call(C.OpenConversation(conv)).conversation
    user, reply = view.path()
    assert user.text == "Tell me a story" and reply.text == final.message.text
    assert reply.stopped and not reply.complete
    again.call(C.UpdateConversation(conv, settings=SHORT))
    more = again.call(C.Continue(conv), 60)
    assert more.message.id == reply.id and more.message.text.startswith(reply.text)
    again.shutdown()


def test_two_conversations_are_written_at_once_each_as_if_alone(service):
    settings = ChatSettings(sampler=GREEDY, max_tokens=24)
    solo = [_send(service, _new(settings=settings), q).message.text for q in ("Hello", "Tell me more")]
    rec = Recorder(service)
    futures = [service.submit(C.Send(_new(settings=settings), q))[1] for q in ("Hello", "Tell me more")]
    results = [f.result(60) for f in futures]
    assert [r.message.text for r in results] == solo
    order = [e.conversation for e in rec.events if isinstance(e, E.TextDelta)]
    first_done = next(i for i, e in enumerate(rec.events) if isinstance(e, E.Finished))
    both_before = {e.conversation for e in rec.events[:first_done] if isinstance(e, E.TextDelta)}
    assert len(both_before) == 2, order                    # interleaved, not one after the other


def test_a_second_reply_in_the_same_conversation_is_refused_while_one_runs(service):
    conv = _send(service, _new(), "Hello").conversation
    service.call(C.UpdateConversation(conv, settings=ChatSettings(sampler=GREEDY, max_tokens=500)))
    _, running = service.submit(C.Send(conv, "Go on"))
    refused = service.call(C.Send(conv, "Me too"), 60)
    assert isinstance(refused, E.Failed) and "being written" in refused.message
    service.stop(conv)
    assert isinstance(running.result(60), E.Stopped)


def test_a_model_that_fails_to_load_leaves_the_previous_one_loaded(service, tmp_path, monkeypatch):
    before = service.model_view
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a model at all")
    failed = service.call(C.LoadModel(str(junk)))
    assert isinstance(failed, E.Failed) and "not a model file" in failed.message
    assert service.model_view == before

    def explode(*a, **kw):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(engine, "load", explode)
    failed = service.call(C.LoadModel(str(junk)))
    assert isinstance(failed, E.Failed) and failed.title == "Could not load the model"
    assert "RuntimeError: something nobody expected" in failed.message
    monkeypatch.undo()
    assert isinstance(_send(service, _new(), "Still there?"), E.Finished)


def test_a_forward_pass_that_raises_becomes_an_event_and_the_chat_goes_on(service, monkeypatch):
    conv = _send(service, _new(), "Hello").conversation
    model_class = type(service._model)
    real = model_class.forward

    def once(self, tokens, state=None):
        monkeypatch.setattr(model_class, "forward", real)
        raise RuntimeError("a kernel fell over")

    monkeypatch.setattr(model_class, "forward", once)
    failed = _send(service, conv, "Break please")
    assert isinstance(failed, E.Failed) and "kernel fell over" in failed.message and failed.conversation == conv
    view = service.call(C.OpenConversation(conv)).conversation
    assert view.path()[-1].text == "Break please"        # what the user typed is kept
    assert isinstance(service.call(C.Regenerate(conv), 60), E.Finished)
    assert isinstance(_send(service, conv, "And now?"), E.Finished)


def test_nan_logits_are_reported_not_sampled(tmp_path, rwkv7_checkpoint):
    path = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536, seed=4)
    weights = torch.load(path, weights_only=True)
    weights["head.weight"][7, 3] = float("nan")
    broken = tmp_path / "nan-head.pth"
    torch.save(weights, broken)
    svc = EngineService(tmp_path / "data")
    try:
        assert isinstance(svc.call(C.LoadModel(str(broken))), E.ModelLoaded)
        failed = _send(svc, _new(), "Hello")
        assert isinstance(failed, E.Failed) and "NaN" in failed.message
        assert isinstance(svc.call(C.LoadModel(str(path))), E.ModelLoaded)   # and the next action works
    finally:
        svc.shutdown()


def test_a_damaged_state_file_is_rebuilt_from_an_earlier_one(tmp_path, world_ckpt):
    svc = EngineService(tmp_path)
    svc.call(C.LoadModel(str(world_ckpt)))
    first = _send(svc, _new(), "Hello")
    conv = first.conversation
    svc.shutdown()
    for f in (tmp_path / "states" / str(conv)).iterdir():
        f.write_bytes(b"\x00" * 64)                      # every state of the chat destroyed
    again = EngineService(tmp_path)
    again.call(C.LoadModel(str(world_ckpt)))
    regen = again.call(C.Regenerate(conv), 60)
    assert isinstance(regen, E.Finished) and regen.message.text == first.message.text
    again.shutdown()


def test_settings_and_system_prompt_are_kept_with_the_conversation(service):
    conv = service.call(C.Send(_new(system_prompt="Old rules."), "Hi"), 60).conversation
    changed = service.call(C.UpdateConversation(conv, settings=ChatSettings(sampler=GREEDY, max_tokens=3,
                                                                            think="no-think", preset=None)))
    assert changed.conversation.settings.max_tokens == 3
    reply = _send(service, conv, "Again")
    assert reply.message.stats.new_tokens <= 3 and reply.message.text.startswith("<think>\n</think")
    old_path = [m.id for m in service.call(C.OpenConversation(conv)).conversation.path()]
    view = service.call(C.UpdateConversation(conv, system_prompt="New rules.")).conversation
    assert [m.text for m in view.path()] == ["New rules."] and view.system_prompt == "New rules."
    back = service.call(C.SwitchBranch(conv, view.path()[0].id, -1)).conversation
    assert [m.id for m in back.path()] == old_path       # the old branch, under the old prompt, is kept


def test_a_reply_cut_off_by_a_crash_keeps_its_text_and_continues(tmp_path, world_ckpt):
    script = textwrap.dedent(f"""
        import os, signal, time
        from engine.service import EngineService, ChatSettings, commands as C, events as E
        from engine.text.sampling import SamplerSettings
        svc = EngineService({str(tmp_path)!r})
        svc.call(C.LoadModel({str(world_ckpt)!r}))
        start = []
        def crash(e):
            if isinstance(e, E.TextDelta):
                start.append(time.perf_counter())
                if start[-1] - start[0] > 1.5:      # past the first save of the streaming text
                    os.kill(os.getpid(), signal.SIGKILL)
        svc.subscribe(crash)
        greedy = SamplerSettings(temperature=0, top_p=0, presence_penalty=0, frequency_penalty=0)
        svc.call(C.Send(C.NewConversation(settings=ChatSettings(sampler=greedy, max_tokens=60000)), "Go"), 600)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == -9, out.stderr[-2000:]
    svc = EngineService(tmp_path)
    try:
        svc.call(C.LoadModel(str(world_ckpt)))
        [conv] = svc.conversations()
        user, reply = svc.call(C.OpenConversation(conv.id)).conversation.path()
        assert user.text == "Go" and reply.text and reply.stop_reason == "interrupted" and reply.stopped
        svc.call(C.UpdateConversation(conv.id, settings=SHORT))
        more = svc.call(C.Continue(conv.id), 60)
        assert isinstance(more, E.Finished) and more.message.text.startswith(reply.text)
        assert more.message.token_count > reply.token_count
    finally:
        svc.shutdown()


def test_memory_stays_flat_over_two_thousand_turns(tmp_path, world_ckpt):
    """Checkpoints beyond the few newest live on disk only: growth after turn 100 stays under 50 MB."""
    svc = EngineService(tmp_path)
    try:
        assert isinstance(svc.call(C.LoadModel(str(world_ckpt))), E.ModelLoaded)
        conv = _send(svc, _new(settings=ChatSettings(sampler=GREEDY, max_tokens=2)), "t").conversation
        rss = {}
        for turn in range(1, 2001):
            assert isinstance(_send(svc, conv, f"turn {turn}"), E.Finished)
            if turn in (100, 2000):
                gc.collect()
                rss[turn] = _rss_bytes()
        growth = (rss[2000] - rss[100]) / 2**20
        print(f"RSS at turn 100: {rss[100] / 2**20:.1f} MiB, at 2000: {rss[2000] / 2**20:.1f} MiB "
              f"(+{growth:.1f} MiB)")
        assert growth < 50
        live = svc._live[conv]
        assert live.checkpoints.in_ram() <= svc.keep_states
    finally:
        svc.shutdown()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_conversation_keeps_its_tuning_state_and_needs_the_file_no_more(tmp_path, world_ckpt):
    info = engine.load(world_ckpt).info
    tuning = tmp_path / "tuned" / "role-play.pth"
    tuning.parent.mkdir()
    g = torch.Generator().manual_seed(0)
    torch.save({f"blocks.{n}.att.time_state": 20 * torch.randn(info.n_head, info.head_size, info.head_size, generator=g)
                for n in range(info.n_layer)}, tuning)
    svc = EngineService(tmp_path / "data")
    svc.call(C.LoadModel(str(world_ckpt)))
    assert isinstance(svc.call(C.ApplyTuning(str(tuning))), E.TuningChanged)
    first = _send(svc, _new(), "Hello")
    svc.call(C.ApplyTuning(None))
    plain = _send(svc, _new(), "Hello")
    conv = first.conversation
    assert first.message.text != plain.message.text          # the tuned state is used
    assert isinstance(svc.call(C.Export(conv, str(tmp_path / "tuned.rwkvchat"))), E.Exported)
    svc.shutdown()
    tuning.unlink()                                          # the file is moved away

    again = EngineService(tmp_path / "data")                 # the conversation still opens and goes on
    again.call(C.LoadModel(str(world_ckpt)))
    assert again.call(C.Regenerate(conv), 60).message.text == first.message.text
    again.shutdown()

    elsewhere = EngineService(tmp_path / "elsewhere")         # and so does its export, on another machine
    elsewhere.call(C.LoadModel(str(world_ckpt)))
    opened = elsewhere.call(C.Import(str(tmp_path / "tuned.rwkvchat")))
    assert isinstance(opened, E.ConversationOpened)
    assert elsewhere.call(C.Regenerate(opened.conversation.id), 60).message.text == first.message.text
    elsewhere.shutdown()
