"""ChatSession's four streams (send, edit, regenerate, continue_reply) refuse a request they cannot carry out
in the same way: when called, before anything is read or added; and the command line reports a refusal and a
failure on the way through one path, the chat going on."""

from __future__ import annotations

import copy
import io

import pytest

from engine.errors import EmptyPromptError, EngineError
from engine.text.chat import ChatSession
from engine.tools.cli import main

from .conftest import GREEDY


def _chat(model, tok) -> ChatSession:
    return ChatSession(model, tok, settings=GREEDY, max_tokens=4)


def _with_a_reply(model, tok) -> ChatSession:
    chat = _chat(model, tok)
    "".join(chat.send("Hello"))
    return chat


def _with_a_finished_reply(model, tok) -> ChatSession:
    chat = _with_a_reply(model, tok)
    chat.edit_reply(chat.leaf(), "A finished reply.")     # counts as complete: nothing left to continue
    return chat


CASES = {
    "regenerate, nothing to answer": (_chat, lambda c: c.regenerate(), EngineError, "no user message to answer"),
    "continue, no reply": (_chat, lambda c: c.continue_reply(), EngineError, "There is no reply to continue"),
    "continue, reply finished": (_with_a_finished_reply, lambda c: c.continue_reply(), EngineError,
                                 "The last reply is complete"),
    "send, empty message": (_chat, lambda c: c.send(" \n\n "), EmptyPromptError, "The message is empty"),
    "send, unknown think mode": (_chat, lambda c: c.send("x", think="ponder"), EngineError, "think mode"),
    "edit, a reply": (_with_a_reply, lambda c: c.edit(c.leaf(), "x"), EngineError, "Only user messages"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_stream_that_cannot_be_made_is_refused_when_asked_for(world_model, world_tok, case):
    make, ask, error, words = CASES[case]
    chat = make(world_model, world_tok)
    before = copy.deepcopy(chat.messages)
    with pytest.raises(error, match=words):
        ask(chat)                                       # raised here: the stream is never iterated
    assert chat.messages == before


def test_regenerate_and_continue_stream_when_there_is_something_to_do(world_model, world_tok):
    chat = _with_a_reply(world_model, world_tok)
    first = chat.leaf()
    again = chat.regenerate()
    assert chat.leaf() == first                         # nothing happens until the stream is read
    "".join(again)
    assert chat.leaf() != first and chat.messages[chat.leaf()].role == "assistant"
    if not chat.messages[chat.leaf()].complete:
        "".join(chat.continue_reply(max_tokens=2))


def test_the_command_line_reports_a_refused_regen_and_goes_on(world_ckpt, tmp_path, capsys, monkeypatch):
    saved = tmp_path / "chat.safetensors"
    monkeypatch.setattr("sys.stdin", io.StringIO("/regen\nHello\n/regen\n/quit\n"))
    assert main(["chat", "--model", str(world_ckpt), "-n", "3", "--temperature", "0", "--save-state",
                 str(saved)]) == 0
    out, err = capsys.readouterr()
    assert err.count("[There is no user message to answer.]") == 1
    assert out.count("Assistant: ") == 2                # the refused /regen printed no reply; the later one did
    assert err.count(f"[state saved to {saved}]") == 2


def test_the_command_line_reports_a_failure_while_streaming_the_same_way(world_ckpt, capsys, monkeypatch):
    def failing(self, *args, **kwargs):
        yield "partial"
        raise EngineError("The reply broke on the way.")

    monkeypatch.setattr(ChatSession, "regenerate", failing)
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\n/regen\nAgain\n/quit\n"))
    assert main(["chat", "--model", str(world_ckpt), "-n", "3", "--temperature", "0"]) == 0
    out, err = capsys.readouterr()
    assert "[The reply broke on the way.]" in err and "Assistant: partial" in out
    assert out.count("Assistant: ") == 3                # and the chat went on
