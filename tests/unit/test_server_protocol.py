"""The server's protocol without a server: requests read into engine commands, G1 thinking split
from the answer, the Host header check, the address check."""

from __future__ import annotations

import pytest

from engine.server.guard import Hints, is_local_host
from engine.server.protocol import ApiError, Limits, check_model, check_text, parse_chat, parse_completion
from engine.server.reasoning import CONTENT, REASONING, ReplySplitter, split_reply
from engine.server.runner import ServerConfigError, check_address
from engine.service.views import DEFAULT_PRESET, ModelView
from engine.text.chat import RAVEN, WORLD
from engine.text.sampling import PRESETS

LIMITS = Limits(max_tokens_cap=1000)


def _view(template=WORLD) -> ModelView:
    return ModelView("tiny", "/nowhere", 7, 1, 1, 4096, "cpu", "fp32", "ref", 1, "fp", "tiny", 1, template)


def _chat(**body):
    return parse_chat({"messages": [{"role": "user", "content": "Hi"}], **body}, _view(), LIMITS, ["saved"])


def _refused(call, status: int = 400) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    assert e.value.status == status, e.value.message
    return e.value


# -- reading requests --------------------------------------------------------------------------------


def test_a_chat_becomes_the_models_segments_with_the_turn_separator_as_a_stop():
    p = parse_chat({"messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": [{"type": "text", "text": "Hi"},
                                                              {"type": "text", "text": "there"}]},
                                 {"role": "assistant", "content": "Hello."},
                                 {"role": "user", "content": "Bye"}],
                    "stop": "END", "max_tokens": 7}, _view(), LIMITS, [])
    assert p.prompt == ("System: Be brief.\n\n", "User: Hi\nthere\n\nAssistant:", " Hello.\n\n",
                        "User: Bye\n\nAssistant:")
    assert p.stop == ("\n\n", "END") and p.max_tokens == 7 and p.strip_space and p.reply_prefix == ""
    raven = parse_chat({"messages": [{"role": "user", "content": "Hi"}]}, _view(RAVEN), LIMITS, [])
    assert raven.prompt == ("Bob: Hi\n\nAlice:",)


def test_a_chat_that_ends_with_the_assistant_is_continued_as_it_is():
    p = parse_chat({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "The"}]},
                   _view(), LIMITS, [])
    assert p.prompt[-1] == " The" and not p.strip_space


def test_missing_sampling_fields_take_the_default_preset_and_given_ones_override_it():
    assert _chat().sampler == PRESETS[DEFAULT_PRESET]
    s = _chat(temperature=0, top_p=0.5, presence_penalty=-1, frequency_penalty=0, top_k=5, penalty_decay=0.9,
              seed=-1, logit_bias={"7": -100, "8": 2.5}).sampler
    assert (s.temperature, s.top_p, s.presence_penalty, s.frequency_penalty, s.top_k, s.penalty_decay) == \
        (0.0, 0.5, -1.0, 0.0, 5, 0.9)
    assert s.seed == 2**64 - 1 and s.logit_bias == ((7, -100.0), (8, 2.5))


def test_nulls_and_unknown_fields_are_ignored():
    p = _chat(temperature=None, stop=None, n=None, max_tokens=None, tools=[{"type": "function"}], user="x",
              response_format={"type": "text"}, frobnicate={"a": 1})
    assert p.sampler == PRESETS[DEFAULT_PRESET] and p.max_tokens == LIMITS.max_tokens_cap and p.stop == ("\n\n",)


def test_max_completion_tokens_wins_and_the_cap_is_enforced():
    assert _chat(max_tokens=5, max_completion_tokens=9).max_tokens == 9
    assert "at most 1000" in _refused(lambda: _chat(max_tokens=1001)).message
    completion = parse_completion({"prompt": "x"}, _view(), LIMITS, [])
    assert completion.max_tokens == 16 and completion.prompt == ("x",) and completion.stop == ()


@pytest.mark.parametrize("body, param", [
    ({"n": 2}, "n"), ({"temperature": 2.5}, "temperature"), ({"temperature": "hot"}, "temperature"),
    ({"top_p": -0.1}, "top_p"), ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": True}, "max_tokens"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"), ({"stop": 5}, "stop"), ({"logit_bias": {"4096": 1}}, "logit_bias"),
    ({"logit_bias": {"x": 1}}, "logit_bias"), ({"logit_bias": {"1": 101}}, "logit_bias"),
    ({"think": "hard"}, "think"), ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"state": "../etc"}, "state"), ({"state": "unknown"}, "state"), ({"save_state": "a/b"}, "save_state"),
    ({"stream": "yes"}, "stream"), ({"top_k": -1}, "top_k"), ({"penalty_decay": 0}, "penalty_decay"),
    ({"logprobs": True}, "logprobs"),
])
def test_bad_values_are_refused_naming_the_field(body, param):
    assert _refused(lambda: _chat(**body)).param == param


@pytest.mark.parametrize("messages", [
    [], "Hi", [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
    [{"role": "user", "content": 5}], [{"content": "no role"}], ["not an object"],
])
def test_messages_must_be_text(messages):
    _refused(lambda: parse_chat({"messages": messages}, _view(), LIMITS, []))


@pytest.mark.parametrize("message, where", [
    ({"role": "user"}, 0), ({"role": "user", "content": None}, 0), ({"role": "system"}, 0),
    ({"role": "assistant"}, 1), ({"role": "assistant", "content": None, "tool_calls": []}, 1),
])
def test_a_message_without_content_is_refused_as_openai_does(message, where):
    messages = [{"role": "user", "content": "Hi"}, message] if where else [message]
    e = _refused(lambda: parse_chat({"messages": messages}, _view(), LIMITS, []))
    assert e.param == f"messages[{where}].content" and e.code == "missing_required_parameter"
    assert f"'{message['role']}' needs content" in e.message


@pytest.mark.parametrize("calls", [{"tool_calls": [{"id": "1", "type": "function"}]}, {"function_call": {"name": "f"}}])
def test_an_assistant_message_with_tool_calls_may_go_without_content(calls):
    p = parse_chat({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", **calls},
                                 {"role": "user", "content": "Bye"}]}, _view(), LIMITS, [])
    assert p.prompt == ("User: Hi\n\nAssistant:", " \n\n", "User: Bye\n\nAssistant:")


@pytest.mark.parametrize("body, shown", [
    ({"temperature": True}, "got true."), ({"stream": "yes"}, 'got "yes".'), ({"max_tokens": False}, "got false."),
    ({"top_k": 1.5}, "got 1.5."), ({"seed": [1] * 100_000}, "got an array."), ({"n": {"a": 1}}, "got an object."),
    ({"temperature": "x" * 1000}, 'got "' + "x" * 38 + "…."), ({"logit_bias": {"one": 1}}, 'logit_bias: "one" is'),
])
def test_a_wrong_value_is_quoted_as_json_and_cut_short(body, shown):
    assert shown in _refused(lambda: _chat(**body)).message


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": "\ud800 hi"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "x\udc00"}]}]},
     "messages[0].content[1].text"),
    ({"prompt": "ok", "stop": ["fine", "\udfff"]}, "stop[1]"),
    ({"model": "\ud83d"}, "model"),
    ({"metadata": {"k\ud800": "v"}}, "metadata"),
    ("\ud800", ""),
])
def test_text_that_is_not_valid_unicode_is_refused_naming_the_field(body, param):
    e = _refused(lambda: check_text(body))
    assert e.param == param and "invalid Unicode: an unpaired surrogate" in e.message
    check_text({"messages": [{"role": "user", "content": "😀 \U0001f600 ok"}], "stop": ["é"], "n": None})


@pytest.mark.parametrize("body", [{"prompt": ["a", "b"]}, {"prompt": [1, 2, 3]}, {"prompt": "x", "echo": True},
                                  {"prompt": "x", "best_of": 2}, {"prompt": "x", "suffix": "y"}, [1, 2]])
def test_completion_requests_the_server_cannot_answer_are_refused(body):
    _refused(lambda: parse_completion(body, _view(), LIMITS, []))


def test_think_and_reasoning_effort_pick_a_g1_think_mode():
    p = _chat(think="think")
    assert p.prompt[-1] == "User: Hi\n\nAssistant: <think" and p.reply_prefix == "<think"
    assert _chat(reasoning_effort="low").prompt[-1] == "User: Hi think a bit\n\nAssistant: <think"
    assert _chat(reasoning_effort="none").reply_prefix == "<think>\n</think"
    assert _chat(think="off", reasoning_effort="high").reply_prefix == ""      # think wins
    assert _chat(think=True).reply_prefix == "<think"


def test_state_names_are_checked_and_must_exist_to_start_from():
    p = _chat(state="saved", save_state="next-1")
    assert (p.start, p.save_as) == ("saved", "next-1")


def test_the_model_must_be_loaded_and_be_the_one_named():
    _refused(lambda: check_model({}, None), 503)
    assert _refused(lambda: check_model({"model": "gpt-4o"}, _view()), 404).code == "model_not_found"
    assert check_model({}, _view()).name == check_model({"model": "tiny"}, _view()).name == "tiny"


# -- thinking apart from the answer --------------------------------------------------------------------


def _pieces_by_char(text: str, strip_space: bool = True) -> tuple[str, str]:
    splitter = ReplySplitter(strip_space)
    parts = {REASONING: "", CONTENT: ""}
    for ch in text:
        for kind, piece in splitter.push(ch):
            parts[kind] += piece
    for kind, piece in splitter.flush():
        parts[kind] += piece
    return parts[REASONING], parts[CONTENT]


@pytest.mark.parametrize("text, reasoning, content", [
    (" Hello there.", "", "Hello there."),
    ("<think>\nThe user greets me.\n</think>\nHello!", "The user greets me.", "Hello!"),
    ("<think>\n</think>\nDirect answer.", "", "Direct answer."),
    ("<think>\nStill thinking when the limit came", "Still thinking when the limit came", ""),
    ("<think>\nA </thin half marker</think> done", "A </thin half marker", "done"),
    ("<thinking is not a tag", "", "<thinking is not a tag"),
    ("<thi", "", "<thi"),
    (" I think <think> is a word", "", "I think <think> is a word"),
])
def test_a_reply_that_starts_thinking_is_split_the_same_whole_or_streamed(text, reasoning, content):
    assert split_reply(text) == (reasoning, content)
    assert _pieces_by_char(text) == (reasoning, content)


def test_a_continued_reply_is_all_content_as_it_came():
    assert split_reply(" <think> x", strip_space=False) == ("", " <think> x")
    assert _pieces_by_char(" more", strip_space=False) == ("", " more")


def test_the_splitter_holds_back_only_what_may_still_be_a_marker():
    s = ReplySplitter()
    assert s.push("<think>\nStep one") == [(REASONING, "Step one")]
    assert s.push(".\n</th") == [(REASONING, ".")]
    assert s.push("ink>\n\nAnswer") == [(CONTENT, "Answer")]


# -- who may call ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host, ok", [
    ("localhost", True), ("localhost:8000", True), ("127.0.0.1", True), ("127.0.0.1:1", True), ("[::1]", True),
    ("[::1]:8000", True), ("LOCALHOST:8000", True), (None, False), ("", False), ("evil.example", False),
    ("evil.example:8000", False), ("localhost.evil.example", False), ("127.0.0.1.nip.io", False),
    ("127.0.0.1:80x", False), ("[::1", False), ("[::2]:80", False), ("192.168.1.5:8000", False),
])
def test_only_loopback_host_headers_pass(host, ok):
    assert is_local_host(host) is ok


def test_an_address_open_to_the_network_needs_an_api_key():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_address(host, None)
    with pytest.raises(ServerConfigError, match="API key"):
        check_address("0.0.0.0", None)
    check_address("0.0.0.0", "secret")


def test_refusals_are_worded_for_whoever_started_the_server():
    with pytest.raises(ServerConfigError) as app:           # the window's Server page: no flags there
        check_address("0.0.0.0", None)
    assert "set an API key" in str(app.value) and "--" not in str(app.value)
    with pytest.raises(ServerConfigError, match="--api-key KEY"):
        check_address("0.0.0.0", None, Hints(open_address="give one with --api-key KEY"))
