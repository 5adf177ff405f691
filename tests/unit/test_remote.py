"""The remote backend: RemoteChat shares the message tree with ChatSession, reads server-sent events,
stops within a moment, and the engine service chats through a fake OpenAI-compatible server
(tests/fixtures/fake_openai.py) with every failure a Failed event and the previous model kept."""

from __future__ import annotations

import threading

import pytest

from engine.service import EngineService
from engine.service import commands as C
from engine.service import events as E
from engine.service.openai_http import ChatStream, Ended, RemoteError, Started, normalize_url, parse_sse
from engine.service.remote import WAITING, RemoteChat, RemoteServer, mask
from engine.text.chat import ChatSession, ReplyStarted
from tests.fixtures.fake_openai import REPLY, FakeOpenAI


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI(models=("fake-1", "fake-2")) as server:
        yield server


@pytest.fixture(autouse=True)
def ok_mode(fake):
    fake.mode = "ok"
    fake.left.clear()


def _drain(progress, cancel_after: int | None = None, cancel: threading.Event | None = None) -> list:
    """Run a respond/extend generator to its end, as the service's job would (waiting politely)."""
    out = []
    for item in progress:
        if item is WAITING:
            threading.Event().wait(0.005)
            continue
        out.append(item)
        if cancel_after is not None and sum(isinstance(i, str) for i in out) >= cancel_after:
            cancel.set()
    return out


# -- the tree, shared --------------------------------------------------------------------------------


def _branching_scenario(chat) -> None:
    """What any MessageTree does: users, edits as branches, switching, the active path, restore."""
    first = chat.add_user("Hi")
    assert chat.path() == [first] and chat.leaf() == first.id
    edited = chat.edit_user(first.id, "Hello")
    assert chat.branch(edited.id) == (2, 2) and chat.branch(first.id) == (1, 2)
    assert [m.text for m in chat.path()] == ["Hello"]
    assert chat.switch_branch(edited.id, -1) == first.id
    assert [m.text for m in chat.path()] == ["Hi"]
    second = chat.add_user("And?")
    assert [m.id for m in chat.path()] == [first.id, second.id] and chat.user_to_answer().id == second.id
    again = type(chat).restore(*_ctor_args(chat), [m for m in chat.messages.values() if m.role != "root"])
    assert again.leaf() == edited.id            # the root's choice is the store's (root_active): newest first
    again.root.active_child = chat.root.active_child
    assert [m.text for m in again.path()] == ["Hi", "And?"]
    assert again.add_user("next").id > max(chat.messages)


def _ctor_args(chat):
    return (chat.model, chat.tokenizer) if isinstance(chat, ChatSession) else (chat.server,)


def test_remote_chat_and_chat_session_share_the_tree(world_model, world_tok):
    _branching_scenario(ChatSession(world_model, world_tok))
    _branching_scenario(RemoteChat(RemoteServer("http://127.0.0.1:9/v1", "m")))


def test_remote_messages_carry_no_tokens_and_keep_blank_lines():
    chat = RemoteChat(RemoteServer("http://127.0.0.1:9/v1", "m"), system="Be brief.")
    user = chat.add_user("line one\r\n\r\nline two  ")
    assert user.text == "line one\n\nline two" and user.tokens == [] and chat.checkpoint(user.id) is None
    assert chat.history(user) == [{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "line one\n\nline two"}]


# -- server-sent events --------------------------------------------------------------------------------


def test_server_sent_events_are_read_as_the_standard_says():
    lines = [": a comment", "data: one", "", "event: x", "data: two", "data:three", "", "", "id: 4",
             "data: [DONE]"]
    assert list(parse_sse(lines)) == ["one", "two\nthree", "[DONE]"]


def test_urls_are_normalised_and_credentials_refused():
    assert normalize_url("http://host:8000/v1/") == "http://host:8000/v1"
    assert normalize_url("http://host:8000") == "http://host:8000/v1"
    assert normalize_url("http://host:65530/api/oai/v1/chat/completions") == "http://host:65530/api/oai/v1"
    for bad in ("host:8000", "ftp://host/v1", "http://user:key@host/v1"):
        with pytest.raises(RemoteError):
            normalize_url(bad)
    assert mask("sk-1234567890abcd").endswith("abcd") and "1234" not in mask("sk-1234567890abcd")
    shown = repr(C.ConnectRemote("http://h/v1", "secret")) + repr(RemoteServer("u", "m", api_key="secret"))
    assert "secret" not in shown


# -- streaming a reply -------------------------------------------------------------------------------------


def test_a_reply_streams_from_the_server_with_the_conversations_settings(fake):
    server = RemoteServer.connect(fake.url, None, "fake-2")
    chat = RemoteChat(server, system="Be brief.", max_tokens=77)
    user = chat.add_user("Hello")
    items = _drain(chat.respond(user.id))
    assert isinstance(items[0], ReplyStarted)
    reply = items[0].message
    assert "".join(i for i in items if isinstance(i, str)) == reply.text == REPLY
    assert reply.complete and reply.stop_reason == "stop" and reply.tokens == []
    assert reply.stats.generated_tokens == len(REPLY.split(" ")) and reply.stats.prompt_tokens == 12
    body = fake.bodies[-1]
    assert body["model"] == "fake-2" and body["stream"] and body["max_tokens"] == 77
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    assert {"temperature", "top_p", "presence_penalty", "frequency_penalty"} <= set(body)
    assert "top_k" not in body and "penalty_decay" not in body      # RWKV extras go to our own server only


def test_regenerate_and_edit_resend_the_history_of_their_branch(fake):
    chat = RemoteChat(RemoteServer.connect(fake.url, None, "fake-1"))
    first = chat.add_user("One")
    _drain(chat.respond(first.id))
    second = chat.add_user("Two")
    _drain(chat.respond(second.id))
    _drain(chat.respond(chat.user_to_answer().id))          # regenerate
    assert [m["content"] for m in fake.bodies[-1]["messages"]] == ["One", REPLY, "Two"]
    edited = chat.edit_user(second.id, "Two, edited")
    _drain(chat.respond(edited.id))
    assert [m["content"] for m in fake.bodies[-1]["messages"]] == ["One", REPLY, "Two, edited"]
    assert chat.branch(edited.id) == (2, 2) and [m.text for m in chat.path()][-1] == REPLY


def test_stop_closes_the_stream_and_keeps_the_reply_so_far(fake):
    fake.mode = "endless"
    chat = RemoteChat(RemoteServer.connect(fake.url, None, "fake-1"))
    user = chat.add_user("Go on forever")
    cancel = threading.Event()
    items = _drain(chat.respond(user.id, cancel=cancel), cancel_after=3, cancel=cancel)
    reply = items[0].message
    assert reply.stop_reason == "cancelled" and not reply.complete and reply.text.startswith("more more more")
    assert fake.left.wait(10)                   # the server saw the client leave


def test_stopped_before_the_server_answers_the_message_is_left_out_later(fake):
    chat = RemoteChat(RemoteServer.connect(fake.url, None, "fake-1"))
    user = chat.add_user("Never mind")
    cancel = threading.Event()
    cancel.set()
    assert _drain(chat.respond(user.id, cancel=cancel)) == []
    assert user.stop_reason == "cancelled" and not user.children
    nxt = chat.add_user("Hello")
    assert chat.history(nxt) == [{"role": "user", "content": "Hello"}]


@pytest.mark.parametrize("mode, says", [("break", "broke off"), ("error-event", "fell over"), (500, "500"),
                                        ("length", None)])
def test_a_failed_stream_is_an_error_and_the_partial_reply_is_marked(fake, mode, says):
    fake.mode = mode
    chat = RemoteChat(RemoteServer.connect(fake.url, None, "fake-1"))
    user = chat.add_user("Hello")
    if says is None:                     # a reply cut at its length can be continued (by our server)
        reply = _drain(chat.respond(user.id))[0].message
        assert (reply.complete, reply.stop_reason) == (False, "length")
        return
    with pytest.raises(RemoteError, match=says):
        _drain(chat.respond(user.id))
    if user.children:
        assert chat.messages[user.children[0]].stop_reason == "error"


def test_connecting_checks_the_key_and_the_model_and_never_follows_a_redirect(fake):
    with FakeOpenAI(api_key="sekrit-key-123") as locked, FakeOpenAI(redirect_to=fake.url) as moving:
        with pytest.raises(RemoteError, match="401"):
            RemoteServer.connect(locked.url, "wrong", "fake-1")
        assert RemoteServer.connect(locked.url, "sekrit-key-123", None).model == "fake-1"
        with pytest.raises(RemoteError, match="no model 'nope'"):
            RemoteServer.connect(fake.url, None, "nope")
        with pytest.raises(RemoteError, match="choose one"):
            RemoteServer.connect(fake.url, None, None)
        seen = len(fake.headers)
        with pytest.raises(RemoteError, match="redirects"):
            RemoteServer.connect(moving.url.replace("/v1", "/moved/v1"), "sekrit-key-123", None)
        assert len(fake.headers) == seen            # the key went nowhere else
    with pytest.raises(RemoteError, match="Cannot reach"):
        RemoteServer.connect(locked.url, None, None)         # stopped now


def test_chat_stream_hands_over_items_without_waiting(fake):
    woken = threading.Event()
    stream = ChatStream(fake.url, None, {"model": "fake-1", "messages": [{"role": "user", "content": "x"}],
                                         "stream": True}, woken.set)
    items = []
    while not items or not isinstance(items[-1], Ended):
        item = stream.poll()
        if item is None:
            assert woken.wait(10)
            woken.clear()
            continue
        items.append(item)
    assert isinstance(items[0], Started) and "".join(i for i in items if isinstance(i, str)) == REPLY
    assert stream.join(10)


# -- the service with a remote backend ------------------------------------------------------------------------


def test_the_service_chats_through_the_server_and_stores_text_only(fake, tmp_path):
    svc = EngineService(tmp_path)
    try:
        assert isinstance(svc.call(C.LoadModel("demo"), 60), E.ModelLoaded)
        failed = svc.call(C.ConnectRemote(fake.url, None, "nope"), 30)
        assert isinstance(failed, E.Failed) and "no model 'nope'" in failed.message
        assert svc.model_view.name == "demo"                 # the local model stays after a failed connect
        loaded = svc.call(C.ConnectRemote(fake.url, None, "fake-1"), 30)
        assert isinstance(loaded, E.ModelLoaded) and loaded.model.is_remote and loaded.model.remote == fake.url
        assert loaded.model.unavailable("save_state") and loaded.model.unavailable("continue")
        done = svc.call(C.Send(C.NewConversation("Be brief."), "Hello"), 30)
        assert isinstance(done, E.Finished) and done.message.text == REPLY and done.message.stats.tokens > 0
        conv = done.conversation
        assert all(m.tokens == [] for m in svc.store.load_messages(conv))
        again = svc.call(C.Regenerate(conv), 30)
        assert isinstance(again, E.Finished)
        opened = svc.call(C.OpenConversation(conv), 30)
        assert [m.role for m in opened.conversation.path()] == ["system", "user", "assistant"]
        for command in (C.Export(conv, str(tmp_path / "x.rwkvchat")), C.SaveState(conv, str(tmp_path / "s")),
                        C.ApplyTuning(None)):
            out = svc.call(command, 30)
            assert isinstance(out, E.Failed) and "computer" in out.message, out
        fake.mode = "length"
        cut = svc.call(C.Send(conv, "Say more"), 30)
        assert isinstance(cut, E.Finished) and cut.message.stop_reason == "length" and not cut.message.complete
        refused = svc.call(C.Continue(conv), 30)
        assert isinstance(refused, E.Failed) and "cannot be asked to continue" in refused.message
        fake.mode = 401
        bad = svc.call(C.Send(conv, "Again"), 30)
        assert isinstance(bad, E.Failed) and "401" in bad.message
        fake.mode = "ok"
        assert isinstance(svc.call(C.Regenerate(conv), 30), E.Finished)       # usable after a failure
        assert isinstance(svc.call(C.LoadModel("demo"), 60), E.ModelLoaded)
        other = svc.call(C.OpenConversation(conv), 30)
        assert isinstance(other, E.Failed) and "remote server" in other.message
    finally:
        svc.shutdown()


def test_a_stop_ends_a_remote_reply_and_the_server_sees_the_client_leave(fake, tmp_path):
    """Stop from any thread: the job ends, the partial reply is kept, the connection is closed."""
    fake.mode = "endless"
    svc = EngineService(tmp_path)
    try:
        svc.call(C.ConnectRemote(fake.url, None, "fake-1"), 30)
        events: list = []
        svc.subscribe(events.append)
        request, future = svc.submit(C.Send(C.NewConversation(), "Go on"))
        deltas = threading.Event()
        svc.subscribe(lambda e: isinstance(e, E.TextDelta) and len([x for x in events if isinstance(x, E.TextDelta)])
                      > 3 and deltas.set())
        assert deltas.wait(10)
        svc.stop()
        stopped = future.result(10)
        assert isinstance(stopped, E.Stopped) and stopped.message.stop_reason == "cancelled"
        assert fake.left.wait(10)
    finally:
        svc.shutdown()
