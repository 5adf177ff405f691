"""The OpenAI-compatible server for real: the official ``openai`` client (and raw HTTP) against
uvicorn on 127.0.0.1, over an engine service running the bundled demo model (a trained 5.6M
RWKV-7 whose replies end with a blank line). Replies are greedy, so each is compared with what the
engine itself writes for the same prompt."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

import engine
import engine.server.app as app_module
from engine.server import ServerConfigError, ServerThread
from engine.service import EngineService
from engine.service import commands as C
from engine.service import events as E
from engine.text.chat import WORLD, render_messages
from engine.text.sampling import SamplerSettings

from .conftest import GREEDY

ROOT = Path(__file__).resolve().parents[2]
GREEDY_BODY = {"temperature": 0, "presence_penalty": 0, "frequency_penalty": 0}
QUESTIONS = ['What does "harbor" mean?', "Use it in a sentence.", 'And "lighthouse"?', "What is a bay?",
             'Define "anchor".', 'What does "port" mean?', 'And "dock"?', 'Define "shore".', "What is a ship?"]
CAP = 100_000
# A completion that runs until it is stopped: the end-of-text token (0) is banned.
ENDLESS = {"prompt": "Once upon a time", "max_tokens": CAP, "stream": True, "logit_bias": {"0": -100}}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = EngineService(tmp_path_factory.mktemp("server"), state_cache_mb=64)
    assert isinstance(svc.call(C.LoadModel("demo"), 60), E.ModelLoaded)
    yield svc
    svc.shutdown()


@pytest.fixture(scope="module")
def start(service):
    servers = []

    def start(svc: EngineService | None = None, **options) -> ServerThread:
        server = ServerThread(svc or service, port=0, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(start):
    return start(max_running=8, max_queued=8, max_tokens_cap=CAP)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="not-needed", max_retries=0)


def _engine_reply(service, messages, **kw) -> E.CompletionFinished:
    """The engine's own greedy reply to a chat, without the server or the cache."""
    done = service.call(C.Complete(tuple(render_messages(WORLD, messages)), GREEDY, max_tokens=CAP, stop=("\n\n",),
                                   cache=False, **kw), 60)
    assert isinstance(done, E.CompletionFinished), done
    return done


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# -- answers ---------------------------------------------------------------------------------------


def test_models_lists_the_loaded_model_with_and_without_the_v1_prefix(client, server, service):
    models = client.models.list().data
    assert [m.id for m in models] == ["demo"] and models[0].owned_by == "local"
    assert client.models.retrieve("demo").id == "demo"
    bare = httpx.get(server.url.removesuffix("/v1") + "/models")
    assert bare.status_code == 200 and bare.json()["data"][0]["id"] == "demo"


def test_a_chat_reply_is_the_engines_reply_with_its_usage(client, service):
    r = client.chat.completions.create(model="demo", messages=[_user(QUESTIONS[0])], **GREEDY_BODY)
    expected = _engine_reply(service, [("user", QUESTIONS[0])])
    assert r.object == "chat.completion" and r.model == "demo"
    assert r.choices[0].message.role == "assistant" and r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == expected.text.strip() != ""
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == \
        (expected.prompt_tokens, expected.completion_tokens, expected.prompt_tokens + expected.completion_tokens)


def test_a_streamed_chat_adds_up_to_the_whole_reply_and_ends_with_usage(client):
    messages = [_user(QUESTIONS[1])]
    whole = client.chat.completions.create(model="demo", messages=messages, **GREEDY_BODY)
    chunks = list(client.chat.completions.create(model="demo", messages=messages, stream=True,
                                                 stream_options={"include_usage": True}, **GREEDY_BODY))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1]) and len({c.id for c in chunks}) == 1


def test_a_completion_streamed_or_not_is_the_engines_continuation(client, service):
    prompt = "User: What is a bay?\n\nAssistant:"
    expected = service.call(C.Complete((prompt,), GREEDY, max_tokens=30, cache=False), 60)
    whole = client.completions.create(model="demo", prompt=prompt, max_tokens=30, **GREEDY_BODY)
    assert whole.object == "text_completion" and whole.choices[0].text == expected.text
    assert whole.choices[0].finish_reason == ("length" if expected.stop_reason == "length" else "stop")
    streamed = client.completions.create(model="demo", prompt=prompt, max_tokens=30, stream=True, **GREEDY_BODY)
    assert "".join(c.choices[0].text for c in streamed) == expected.text


def test_a_resent_history_is_read_from_the_state_cache(client):
    first = client.chat.completions.create(model="demo", messages=[_user(QUESTIONS[2])], **GREEDY_BODY)
    history = [_user(QUESTIONS[2]), {"role": "assistant", "content": first.choices[0].message.content},
               _user(QUESTIONS[3])]
    second = client.chat.completions.create(model="demo", messages=history, **GREEDY_BODY)
    # everything the first request read and wrote, its reply's closing blank line included
    assert second.usage.prompt_tokens_details.cached_tokens == first.usage.total_tokens
    assert second.usage.prompt_tokens > first.usage.total_tokens


def test_stop_strings_and_max_tokens_end_the_reply(client, service):
    prompt = "User: What is a ship?\n\nAssistant:"
    expected = service.call(C.Complete((prompt,), GREEDY, max_tokens=60, stop=(".", "\n"), cache=False), 60)
    assert expected.stop_reason == "stop"
    r = client.completions.create(model="demo", prompt=prompt, max_tokens=60, stop=[".", "\n"], **GREEDY_BODY)
    assert r.choices[0].text == expected.text and r.choices[0].finish_reason == "stop"
    assert "." not in r.choices[0].text
    short = client.chat.completions.create(model="demo", messages=[_user(QUESTIONS[4])], max_completion_tokens=3,
                                           **GREEDY_BODY)
    assert short.usage.completion_tokens == 3 and short.choices[0].finish_reason == "length"


def test_unknown_fields_and_rwkv_sampling_extras_are_accepted(client):
    r = client.chat.completions.create(model="demo", messages=[_user("Hi")], max_tokens=5, seed=7, user="me",
                                       extra_body={"frobnicate": {"a": 1}, "tools": [], "top_k": 5,
                                                   "penalty_decay": 0.9, "metadata": None})
    assert r.choices[0].finish_reason in ("stop", "length")


def test_n_above_one_is_refused_clearly(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="demo", messages=[_user("Hi")], n=2)
    assert e.value.status_code == 400 and "n = 1" in e.value.message and e.value.body["param"] == "n"


def test_logit_bias_forces_and_bans_tokens(client, service):
    tok = engine.load_tokenizer(str(Path(service.model_view.path).parent))
    word = tok.encode(" harbor")[0]
    forced = client.completions.create(model="demo", prompt="Hello", max_tokens=3, logit_bias={str(word): 100},
                                       **GREEDY_BODY)
    assert forced.choices[0].text == tok.decode([word] * 3)
    plain = client.completions.create(model="demo", prompt="Hello", max_tokens=1, **GREEDY_BODY)
    first = tok.encode(plain.choices[0].text)[0]
    banned = client.completions.create(model="demo", prompt="Hello", max_tokens=1, logit_bias={str(first): -100},
                                       **GREEDY_BODY)
    assert banned.choices[0].text != plain.choices[0].text
    with pytest.raises(openai.BadRequestError, match="not in the vocabulary"):
        client.completions.create(model="demo", prompt="Hello", max_tokens=1, logit_bias={"4096": 1})


def test_a_state_is_saved_and_a_conversation_resumes_from_it(client, service):
    first = client.chat.completions.create(model="demo", messages=[_user(QUESTIONS[5])],
                                           extra_body={"save_state": "port-1"}, **GREEDY_BODY)
    assert "port-1" in client.models.list().data[0].model_extra["rwkv"]["states"]
    resumed = client.chat.completions.create(model="demo", messages=[_user(QUESTIONS[6])],
                                             extra_body={"state": "port-1"}, **GREEDY_BODY)
    full = _engine_reply(service, [("user", QUESTIONS[5]), ("assistant", first.choices[0].message.content),
                                   ("user", QUESTIONS[6])])
    assert resumed.choices[0].message.content == full.text.strip()
    assert resumed.usage.prompt_tokens < full.prompt_tokens      # only the new turn was read
    # the name now holds another conversation's state: a resumed reply follows that one
    client.chat.completions.create(model="demo", messages=[_user("Tell me about dogs and cats in the city.")],
                                   extra_body={"save_state": "port-1"}, **GREEDY_BODY)
    again = client.chat.completions.create(model="demo", messages=[_user(QUESTIONS[6])],
                                           extra_body={"state": "port-1"}, **GREEDY_BODY)
    fresh = service.call(C.Complete(tuple(render_messages(WORLD, [("user", QUESTIONS[6])])), GREEDY, max_tokens=CAP,
                                    stop=("\n\n",), start="port-1", cache=False), 60)
    assert again.choices[0].message.content == fresh.text.strip() != resumed.choices[0].message.content
    for name, wrong in (("state", "../port-1"), ("state", "never-saved"), ("save_state", "a/b")):
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(model="demo", messages=[_user("Hi")], extra_body={name: wrong})
        assert e.value.body["param"] == name


def test_sixteen_clients_at_once_each_get_their_solo_reply(client, start, service):
    server = start(max_running=16, max_queued=0)
    words = ["harbor", "anchor", "lighthouse", "bay", "shore", "dock", "ship", "port", "island", "river",
             "tide", "wave", "sail", "boat", "coast", "cliff"]
    questions = [f'What does "{w}" mean?' for w in words]
    solo = [client.chat.completions.create(model="demo", messages=[_user(q)], max_tokens=40, **GREEDY_BODY)
            .choices[0].message.content for q in questions]
    batches: list[int] = []
    unsubscribe = service.subscribe(lambda e: batches.append(service._batcher.last_batch)
                                    if isinstance(e, E.CompletionDelta) else None)

    async def together() -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=server.url, api_key="not-needed", max_retries=0)

        async def one(question: str) -> str:
            stream = await aclient.chat.completions.create(model="demo", messages=[_user(question)], max_tokens=40,
                                                           stream=True, **GREEDY_BODY)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        try:
            return await asyncio.gather(*(one(q) for q in questions))
        finally:
            await aclient.close()

    try:
        assert asyncio.run(together()) == solo
    finally:
        unsubscribe()
    assert len(set(solo)) > 1
    assert max(batches) > 8         # one decode step carried most of them


# -- the wire --------------------------------------------------------------------------------------


def test_a_stream_is_server_sent_events_byte_for_byte(server):
    body = {"messages": [_user(QUESTIONS[0])], "stream": True, "stream_options": {"include_usage": True},
            **GREEDY_BODY}
    with httpx.stream("POST", server.url + "/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].split(";")[0] == "text/event-stream"
        raw = resp.read()
    events = raw.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    payloads = []
    for event in events[:-2]:
        assert event.startswith(b"data: {") and b"\n" not in event
        payloads.append(json.loads(event[len(b"data: "):]))
    rebuilt = b"".join(b"data: " + json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
                       for p in payloads) + b"data: [DONE]\n\n"
    assert raw == rebuilt
    assert all(p["object"] == "chat.completion.chunk" for p in payloads)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop" and payloads[-2]["choices"][0]["delta"] == {}
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["total_tokens"] > 0


def test_a_client_that_leaves_mid_stream_frees_its_slot(start, service):
    server = start(max_running=1, max_queued=0, max_tokens_cap=CAP)
    bridge = server.app.state.bridge
    ended: queue.Queue = queue.Queue()
    unsubscribe = service.subscribe(lambda e: isinstance(e, E.CompletionFinished) and ended.put(e))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            with http.stream("POST", "/completions", json=ENDLESS) as resp:
                assert resp.status_code == 200
                chunks = resp.iter_raw()        # (kept: a dropped iterator would close the connection)
                next(chunks)                    # it streams: the job holds the only slot
                busy = http.post("/completions", json={"prompt": "Hi", "max_tokens": 1})
                assert busy.status_code == 429 and busy.json()["error"]["code"] == "rate_limit_exceeded"
        stopped = ended.get(timeout=60)         # the connection closed: the engine's job stops
        assert stopped.stop_reason == "cancelled" and stopped.completion_tokens < CAP
        _wait_until(lambda: bridge.running == 0, "the slot to be freed")
        ok = httpx.post(server.url + "/completions", json={"prompt": "Hi", "max_tokens": 2})
        assert ok.status_code == 200 and ok.json()["usage"]["completion_tokens"] >= 1
    finally:
        unsubscribe()


def test_every_answered_request_is_recorded_for_the_log_on_the_loop_thread(start):
    records: queue.Queue = queue.Queue()
    threads: list[str] = []
    server = start(api_key="log-key", max_tokens_cap=CAP,
                   on_request=lambda r: (threads.append(threading.current_thread().name), records.put(r)))
    auth = {"Authorization": "Bearer log-key"}
    whole = httpx.post(server.url + "/chat/completions", headers=auth,
                       json={"messages": [_user(QUESTIONS[0])], **GREEDY_BODY}).json()
    httpx.post(server.url + "/completions", json={"prompt": "Hi"})                        # no key: 401
    with httpx.Client(base_url=server.url, timeout=60, headers=auth) as http:
        with http.stream("POST", "/completions", json=ENDLESS) as resp:
            next(resp.iter_raw())               # then the client leaves mid-stream
    got = [records.get(timeout=30) for _ in range(3)]
    ok, left, refused = sorted(got, key=lambda r: (r.status != 200, r.stream))
    assert (ok.method, ok.endpoint, ok.status, ok.stream) == ("POST", "/v1/chat/completions", 200, False)
    assert (ok.prompt_tokens, ok.completion_tokens) == (whole["usage"]["prompt_tokens"],
                                                        whole["usage"]["completion_tokens"])
    assert ok.cached_tokens == whole["usage"]["prompt_tokens_details"]["cached_tokens"] and ok.tokens_per_s > 0
    assert ok.seconds > 0 and ok.time > 0
    assert refused.status == 401 and refused.error == "Missing API key: send it as 'Authorization: Bearer KEY'."
    assert refused.prompt_tokens is None
    assert left.status == 200 and left.stream and "left" in left.error
    assert set(threads) == {"openai-server"}    # the server's loop thread (the window marshals it)


def test_a_client_that_left_mid_stream_is_recorded_as_gone_with_the_tokens_it_got(start):
    """Not "200" like an answered stream: the record says the client left, and counts what the job wrote
    until it stopped (the reply-token column of the window's log)."""
    records: queue.Queue = queue.Queue()
    server = start(max_tokens_cap=CAP, on_request=records.put)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        with http.stream("POST", "/completions", json=ENDLESS) as resp:
            assert resp.status_code == 200
            next(resp.iter_raw())               # the first chunk, then the connection closes
    left = records.get(timeout=30)
    assert left.status == 200 and left.stream and left.client_left and "left" in left.error
    assert left.prompt_tokens is not None and left.prompt_tokens > 0
    assert left.completion_tokens is not None and 0 < left.completion_tokens < CAP
    ok = httpx.post(server.url + "/completions", json={"prompt": "Hi", "max_tokens": 2})
    assert ok.status_code == 200 and not records.get(timeout=30).client_left


def test_requests_beyond_the_running_ones_wait_their_turn_in_a_bounded_queue(start):
    server = start(max_running=1, max_queued=1, max_tokens_cap=CAP)
    bridge = server.app.state.bridge
    short = json.dumps({"prompt": "Hi", "max_tokens": 2}).encode()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        with http.stream("POST", "/completions", json=ENDLESS) as resp:
            chunks = resp.iter_raw()
            next(chunks)                        # the only slot is taken
            leaver = socket.create_connection(("127.0.0.1", server.port))
            leaver.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(short), short))
            _wait_until(lambda: bridge.waiting == 1, "a request to queue")
            leaver.close()                      # a client that leaves the queue gives its place back
            _wait_until(lambda: bridge.waiting == 0, "the queue to empty")
            answers: list[httpx.Response] = []
            waiter = threading.Thread(target=lambda: answers.append(
                httpx.post(server.url + "/completions", content=short, timeout=60)))
            waiter.start()
            _wait_until(lambda: bridge.waiting == 1, "a request to queue")
            assert http.post("/completions", content=short).status_code == 429
        waiter.join(60)                         # the stream closed: the queued request ran
    assert answers[0].status_code == 200 and answers[0].json()["usage"]["completion_tokens"] >= 1


def test_stopping_the_server_ends_its_streams(start, service):
    server = start(max_tokens_cap=CAP)
    with httpx.stream("POST", server.url + "/completions", json=ENDLESS, timeout=60) as resp:
        chunks = resp.iter_raw()
        next(chunks)
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        rest = b"".join(chunks)
    stopper.join(60)
    assert not server.running
    assert rest.endswith(b"data: [DONE]\n\n") and b'"code":"stopped"' in rest


# -- refusals ------------------------------------------------------------------------------------------


def _error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["error"]
    assert set(error) >= {"message", "type", "code"} and error["message"]
    return error


def test_every_error_is_an_openai_error_object_with_its_status(server, start, client, tmp_path):
    url = server.url
    assert _error(httpx.post(url + "/chat/completions", content=b"{not json"), 400)["code"] == "invalid_json"
    assert _error(httpx.post(url + "/chat/completions", json=[1]), 400)["code"] == "invalid_json"
    assert _error(httpx.post(url + "/chat/completions", json={"messages": [_user("Hi")], "temperature": 5}),
                  400)["param"] == "temperature"
    assert _error(httpx.post(url + "/completions", json={"prompt": "Hi", "max_tokens": CAP + 1}), 400)["param"] \
        == "max_tokens"
    assert "empty" in _error(httpx.post(url + "/completions", json={"prompt": ""}), 400)["message"]
    assert _error(httpx.post(url + "/chat/completions", json={"model": "gpt-4o", "messages": [_user("Hi")]}),
                  404)["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[_user("Hi")])
    assert _error(httpx.get(url + "/embeddings"), 404)["code"] == "unknown_url"
    assert _error(httpx.get(url + "/chat/completions"), 405)["code"] == "method_not_allowed"

    small = start(max_body_bytes=2000)
    big = {"messages": [_user("x" * 3000)]}
    assert _error(httpx.post(small.url + "/chat/completions", json=big), 413)["code"] == "request_too_large"
    chunked = (part for part in (json.dumps(big).encode()[i:i + 500] for i in range(0, 3100, 500)))
    assert _error(httpx.post(small.url + "/chat/completions", content=chunked), 413)["code"] == "request_too_large"

    empty = EngineService(tmp_path)             # no model loaded
    try:
        bare = start(empty)
        assert httpx.get(bare.url + "/models").json()["data"] == []
        assert _error(httpx.post(bare.url + "/chat/completions", json={"messages": [_user("Hi")]}),
                      503)["code"] == "model_not_loaded"
    finally:
        bare.stop()
        empty.shutdown()


def test_an_api_key_is_required_when_set(start):
    server = start(api_key="s3cret")
    assert _error(httpx.get(server.url + "/models"), 401)["code"] == "invalid_api_key"
    assert _error(httpx.get(server.url + "/models", headers={"Authorization": "Bearer wrong"}), 401)["code"] \
        == "invalid_api_key"
    assert _error(httpx.get(server.url + "/models", headers={"Authorization": "s3cret"}), 401)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()
    right = openai.OpenAI(base_url=server.url, api_key="s3cret", max_retries=0)
    assert right.models.list().data[0].id == "demo"
    assert right.chat.completions.create(model="demo", messages=[_user("Hi")], max_tokens=2).usage.total_tokens > 0


@pytest.mark.parametrize("endpoint, body, param, whole_pair", [
    ("/chat/completions", b'{"messages": [{"role": "user", "content": "\\ud800 hi"}], "max_tokens": 2}',
     "messages[0].content", 200),
    ("/chat/completions", b'{"messages": [{"role": "user", "content": "\\ud800 hi"}], "max_tokens": 2, '
                          b'"stream": true}', "messages[0].content", 200),
    ("/completions", b'{"prompt": "\\ud800 hi", "max_tokens": 2}', "prompt", 200),
    ("/completions", b'{"prompt": "hi", "model": "\\ud800", "max_tokens": 2}', "model", 404),
    ("/completions", b'{"prompt": "hi", "state": "\\ud800", "max_tokens": 2}', "state", 400),
], ids=["chat", "chat-stream", "completion", "model", "state"])
def test_text_that_is_not_valid_unicode_is_a_400_naming_the_field(server, endpoint, body, param, whole_pair):
    error = _error(httpx.post(server.url + endpoint, content=body), 400)
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["code"] == "invalid_unicode"
    assert f"'{param}' holds invalid Unicode: an unpaired surrogate (\\ud800) at character 0" in error["message"]
    # the same with the surrogate's other half: one character (an emoji), read as any other text
    pair = httpx.post(server.url + endpoint, content=body.replace(b"\\ud800", b"\\ud83d\\ude00"))
    assert pair.status_code == whole_pair, pair.text
    assert pair.status_code == 200 or _error(pair, whole_pair)["code"] != "invalid_unicode"


def test_a_message_without_content_is_refused_naming_it(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="demo", messages=[_user("Hi"), {"role": "user"}], max_tokens=2)
    assert e.value.body["param"] == "messages[1].content" and e.value.body["code"] == "missing_required_parameter"


def test_deeply_nested_json_is_invalid_json_and_logged_as_answered(start):
    records: queue.Queue = queue.Queue()
    server = start(on_request=records.put)
    deep = httpx.post(server.url + "/chat/completions", content=b"[" * 100_000 + b"]" * 100_000)
    error = _error(deep, 400)
    assert error["code"] == "invalid_json" and "nested too deeply" in error["message"]
    record = records.get(timeout=30)
    assert (record.status, record.error) == (400, error["message"])


def test_a_server_failure_is_a_500_and_logged_as_the_500_it_was(start, monkeypatch):
    records: queue.Queue = queue.Queue()
    server = start(on_request=records.put)

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app_module, "parse_chat", broken)
    error = _error(httpx.post(server.url + "/chat/completions", json={"messages": [_user("Hi")]}), 500)
    assert (error["type"], error["code"]) == ("server_error", "internal_error")
    assert error["message"] == "The server failed: RuntimeError: a bug"
    record = records.get(timeout=30)
    assert (record.status, record.error) == (500, error["message"])


def test_only_requests_addressed_to_this_computer_are_answered(server):
    port = server.port
    for host in ("evil.example", f"evil.example:{port}", f"localhost.evil.example:{port}", "192.168.1.9"):
        assert _error(httpx.get(server.url + "/models", headers={"Host": host}), 403)["code"] == "host_not_allowed"
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "[::1]"):
        assert httpx.get(server.url + "/models", headers={"Host": host}).status_code == 200, host


def test_web_pages_are_refused_unless_their_origin_is_allowed(server, start):
    page = "http://localhost:3000"
    preflight = {"Origin": page, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    refused = httpx.options(server.url + "/chat/completions", headers=preflight)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    simple = httpx.post(server.url + "/chat/completions", headers={"Origin": page, "Content-Type": "text/plain"},
                        content=json.dumps({"messages": [_user("Hi")]}))
    error = _error(simple, 403)
    assert error["code"] == "origin_not_allowed"
    # the window's server (it has no list of web pages): the way is the command line's
    assert "cannot be set in the app" in error["message"]
    assert f"python -m engine serve --cors {page}" in error["message"]

    cors = start(allow_origins=(page,), api_key="k")
    ok = httpx.options(cors.url + "/chat/completions", headers=preflight)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == page
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    models = httpx.get(cors.url + "/models", headers={"Origin": page, "Authorization": "Bearer k"})
    assert models.status_code == 200 and models.headers["access-control-allow-origin"] == page
    other = httpx.get(cors.url + "/models", headers={"Origin": "http://evil.example", "Authorization": "Bearer k"})
    assert _error(other, 403)["code"] == "origin_not_allowed"


# -- the command ---------------------------------------------------------------------------------------


def test_serve_refuses_an_open_address_without_a_key_naming_its_flag(capsys):
    from engine.tools.cli import main

    assert main(["serve", "--model", "demo", "--host", "0.0.0.0"]) == 2
    assert "API key; give one with --api-key KEY" in capsys.readouterr().err


def test_the_window_is_told_to_set_an_api_key_without_command_line_flags(service):
    with pytest.raises(ServerConfigError) as e:        # as the Server page starts it ("Allow other computers")
        ServerThread(service, "0.0.0.0", port=0)
    assert "set an API key" in str(e.value) and "--" not in str(e.value)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_python_m_engine_serve_answers_until_stopped_then_shuts_the_engine_down(tmp_path, stop):
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", "demo", "--port", "0",
                             "--data-dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "Serving 'demo' at http://127.0.0.1:" in line, proc.stderr.read() if proc.poll() else line
        url = line.split(" at ")[1].split()[0].rstrip(".")
        r = openai.OpenAI(base_url=url, api_key="-", max_retries=0).completions.create(
            model="demo", prompt="Hello", max_tokens=3, **GREEDY_BODY)
        assert r.usage.completion_tokens == 3
        page = httpx.get(url + "/models", headers={"Origin": "http://localhost:3000"})
        assert "start the server with --cors http://localhost:3000" in _error(page, 403)["message"]
        proc.send_signal(stop)
        assert proc.wait(60) == 0
        assert "[stopped]" in proc.stderr.read()       # printed after the engine shut down
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sampling_settings_reach_the_engine(client, service):
    """A seeded, sampled reply over HTTP is the engine's reply with the same settings."""
    settings = SamplerSettings(temperature=1.0, top_p=0.9, top_k=20, presence_penalty=0.1, frequency_penalty=0.2,
                               penalty_decay=0.95, seed=1234)
    expected = service.call(C.Complete((QUESTIONS[7],), settings, max_tokens=20, cache=False), 60)
    r = client.completions.create(model="demo", prompt=QUESTIONS[7], max_tokens=20, temperature=1.0, top_p=0.9,
                                  presence_penalty=0.1, frequency_penalty=0.2, seed=1234,
                                  extra_body={"top_k": 20, "penalty_decay": 0.95})
    assert r.choices[0].text == expected.text
