"""ChatSession: template, incremental prefill, checkpoints that equal re-reading, branches, cancel."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch

from engine.errors import EmptyPromptError, EngineError
from engine.text.chat import ChatSession, MemoryCheckpoints, PromptRead, clean
from engine.text.generation import drive
from engine.text.sampling import SamplerSettings

from .conftest import GREEDY


def _chat(model, tok, **kw):
    kw.setdefault("settings", GREEDY)
    kw.setdefault("max_tokens", 12)
    return ChatSession(model, tok, **kw)


def test_template_segments_and_cleaning(world_model, world_tok):
    chat = _chat(world_model, world_tok, system="Be brief.\n\n\nAnd kind.")
    "".join(chat.send("Hi there!\r\n\r\nHow are you?  "))
    system, user, _ = chat.path()
    assert world_tok.decode(system.tokens) == "System: Be brief.\nAnd kind.\n\n"
    assert world_tok.decode(user.tokens) == "User: Hi there!\nHow are you?\n\nAssistant:"
    assert clean("  a\n \n\nb  ") == "a\nb"


def test_think_modes_end_the_prompt_with_their_prefix(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("Why?", think="no-think"))
    user, reply = chat.path()
    assert world_tok.decode(user.tokens).endswith("User: Why?\n\nAssistant: <think>\n</think")
    assert reply.text.startswith("<think>\n</think")
    with pytest.raises(EngineError, match="think mode"):
        chat.send("x", think="ponder")


def test_a_new_turn_feeds_only_its_own_tokens(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("First question"))
    before = chat.checkpoint(chat.leaf()).tokens_seen
    "".join(chat.send("Second question"))
    user2 = chat.path()[2]
    assert chat.checkpoint(user2.id).tokens_seen == before + len(user2.tokens)
    assert chat.checkpoint(chat.leaf()).tokens_seen == len(chat.transcript_tokens())


def test_checkpoints_equal_rereading_the_chat(world_model, world_tok):
    chat = _chat(world_model, world_tok, system="You are helpful.")
    "".join(chat.send("Hello"))
    "".join(chat.send("Tell me more"))
    for msg in chat.path():
        reread, kept = chat.reread(msg.id), chat.checkpoint(msg.id)
        assert reread.tokens_seen == kept.tokens_seen
        assert (reread.last_logits - kept.last_logits).abs().max() <= 1e-4, msg.role
        assert (reread.wkv - kept.wkv).abs().max() <= 1e-4


def test_regenerate_restores_the_checkpoint_and_makes_a_branch(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("Hello"))
    first = chat.messages[chat.leaf()]
    user = chat.messages[first.parent]
    seen = chat.checkpoint(user.id).tokens_seen
    again = "".join(chat.regenerate())
    second = chat.messages[chat.leaf()]
    assert second.id != first.id and second.parent == user.id
    assert again == second.text == first.text        # greedy: same reply from the same state
    assert chat.checkpoint(user.id).tokens_seen == seen       # the checkpoint itself was not advanced
    assert chat.branch(second.id) == (2, 2)
    assert chat.switch_branch(second.id, -1) == first.id
    assert chat.leaf() == first.id


def test_regenerate_with_sampling_gives_a_different_reply(world_model, world_tok):
    chat = _chat(world_model, world_tok, settings=SamplerSettings(temperature=1.0, top_p=1.0, seed=3))
    a = "".join(chat.send("Hello"))
    b = "".join(chat.regenerate())
    assert a != b


def test_edit_and_resend_branches_from_the_message_before(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("One"))
    "".join(chat.send("Two"))
    old_user = chat.path()[2]
    "".join(chat.edit(old_user.id, "Two, edited"))
    path = chat.path()
    assert [m.text for m in path[:3]] == [chat.path()[0].text, path[1].text, "Two, edited"]
    assert path[2].id != old_user.id and path[2].parent == old_user.parent
    assert chat.branch(path[2].id) == (2, 2)
    assert chat.checkpoint(path[3].id).tokens_seen == len(chat.transcript_tokens())
    with pytest.raises(EngineError):
        chat.edit(path[3].id, "assistant messages are not editable")


def test_cancel_keeps_a_partial_reply_with_a_consistent_state(world_model, world_tok):
    chat = _chat(world_model, world_tok, max_tokens=50)
    cancel = threading.Event()
    stream = chat.send("Hello", cancel=cancel)
    for i, _ in enumerate(stream):
        if i == 2:
            cancel.set()
    reply = chat.messages[chat.leaf()]
    assert reply.stop_reason == "cancelled" and not reply.complete
    assert 3 <= len(reply.tokens) <= 4
    assert chat.checkpoint(reply.id).tokens_seen == len(chat.transcript_tokens())
    more = "".join(chat.continue_reply(max_tokens=3))
    assert reply.text.endswith(more) and len(reply.tokens) >= 6


def test_abandoned_stream_still_records_the_reply(world_model, world_tok):
    chat = _chat(world_model, world_tok, max_tokens=50)
    stream = chat.send("Hello")
    next(stream)
    stream.close()
    reply = chat.messages[chat.leaf()]
    assert reply.role == "assistant" and chat.checkpoints.get(reply.id) is not None
    assert chat.checkpoint(reply.id).tokens_seen == len(chat.transcript_tokens())


def test_next_turn_after_an_unfinished_reply_starts_with_the_separator(world_model, world_tok):
    chat = _chat(world_model, world_tok, max_tokens=4)
    "".join(chat.send("Hello"))
    assert not chat.messages[chat.leaf()].complete        # stopped by the token limit
    "".join(chat.send("Again"))
    assert world_tok.decode(chat.path()[2].tokens).startswith("\n\nUser: Again")


def test_empty_message_is_refused(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    with pytest.raises(EmptyPromptError):
        chat.send("  \n\n ")


def test_initial_state_from_tuning_is_used_and_kept(world_model, world_tok):
    state = world_model.new_state()
    state.parts["wkv"].normal_(generator=torch.Generator().manual_seed(0))
    tuned = _chat(world_model, world_tok, initial_state=state)
    plain = _chat(world_model, world_tok)
    "".join(tuned.send("Hi"))
    "".join(plain.send("Hi"))
    t_user, p_user = tuned.checkpoint(tuned.path()[0].id), plain.checkpoint(plain.path()[0].id)
    assert (t_user.last_logits - p_user.last_logits).abs().max() > 1e-3
    assert torch.equal(tuned.checkpoint(0).wkv, state.wkv)


def test_restore_continues_from_stored_checkpoints_without_rereading(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("Hello"))
    "".join(chat.send("And then?"))
    saved = {m.id: chat.checkpoint(m.id).clone() for m in chat.path()}
    records = [replace(m, children=[]) for m in chat.messages.values() if m.role != "root"]
    loaded = []

    class Stored(MemoryCheckpoints):
        def get(self, message_id):
            found = super().get(message_id)
            if found is None and message_id in saved:
                loaded.append(message_id)
                found = saved[message_id].clone()
                self.put(message_id, found)
            return found

    back = ChatSession.restore(world_model, world_tok, records, settings=GREEDY, max_tokens=12,
                               checkpoints=Stored())
    assert [m.text for m in back.path()] == [m.text for m in chat.path()]
    reply = "".join(back.regenerate())
    assert reply == chat.path()[-1].text
    assert loaded == [chat.path()[-2].id]            # only the user message it answers was loaded
    "".join(back.send("Third"))
    assert back.checkpoint(back.leaf()).tokens_seen == len(back.transcript_tokens())


def test_a_lost_checkpoint_is_rebuilt_from_the_nearest_earlier_one(world_model, world_tok):
    chat = _chat(world_model, world_tok, system="Be kind.")
    "".join(chat.send("Hello"))
    "".join(chat.send("More"))
    path = chat.path()
    kept = chat.checkpoint(path[-1].id).clone()
    for m in path[1:]:                  # only the system message's state survives
        chat.checkpoints.discard(m.id)
    rebuilt = chat.checkpoint(path[-1].id)
    assert rebuilt.tokens_seen == kept.tokens_seen
    assert (rebuilt.last_logits - kept.last_logits).abs().max() <= 1e-4
    assert (rebuilt.wkv - kept.wkv).abs().max() <= 1e-4


def test_a_prompt_stopped_before_it_was_read_is_dropped_and_the_chat_goes_on(world_model, world_tok):
    chat = _chat(world_model, world_tok, chunk_len=4)
    "".join(chat.send("Hello"))
    before = chat.checkpoint(chat.leaf()).tokens_seen
    cancel = threading.Event()
    steps = drive(world_model, chat.respond(chat.add_user("A long question " * 10).id, cancel=cancel))
    assert isinstance(next(steps), PromptRead)            # one chunk read...
    cancel.set()
    assert list(steps) == []                             # ... then stopped: no reply
    stopped = chat.messages[chat.leaf()]
    assert stopped.role == "user" and stopped.dropped and stopped.stop_reason == "cancelled"
    assert stopped.text.startswith("A long question")     # what the user typed is kept
    assert chat.checkpoint(stopped.id).tokens_seen == before
    reply = "".join(chat.send("Short one"))               # no error: the next turn follows the last reply
    assert reply and chat.path()[-2].parent == stopped.id
    lead = "" if chat.messages[stopped.parent].complete else "\n\n"
    assert world_tok.decode(chat.path()[-2].tokens).startswith(lead + "User: Short one")
    assert chat.checkpoint(chat.leaf()).tokens_seen == len(chat.transcript_tokens())
    again = "".join(chat.regenerate(stopped.id))          # answering the dropped one reads it again
    assert again and chat.messages[chat.leaf()].parent == stopped.id and stopped.tokens


def test_a_failure_mid_reply_keeps_the_tokens_and_the_state_is_rebuilt(world_model, world_tok, monkeypatch):
    chat = _chat(world_model, world_tok, max_tokens=20)
    stream = chat.send("Hello")
    next(stream)
    calls = {"n": 0}
    real = type(world_model).forward

    def failing(self, tokens, state=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected")
        return real(self, tokens, state)

    monkeypatch.setattr(type(world_model), "forward", failing)
    with pytest.raises(RuntimeError, match="injected"):
        list(stream)
    monkeypatch.undo()
    reply = chat.messages[chat.leaf()]
    assert reply.stop_reason == "error" and chat.checkpoints.get(reply.id) is None
    assert chat.checkpoint(reply.id).tokens_seen == len(chat.transcript_tokens())
    assert "".join(chat.send("Again"))


# --- templates per model family ------------------------------------------------------------------


@pytest.fixture(scope="module")
def raven(tmp_path_factory):
    """A tiny random RWKV-4 with the 20B (Pile) vocabulary: what a Raven chat model looks like."""
    import engine
    from engine.text.tokenizer import tokenizer_for
    from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_checkpoint

    spec = LegacySpec(4, n_layer=2, n_embd=64, vocab_size=50277, seed=2)
    model = engine.load(make_legacy_checkpoint(tmp_path_factory.mktemp("raven") / "raven", spec))
    return model, tokenizer_for(model)


def test_raven_models_chat_as_bob_and_alice(raven):
    model, tok = raven
    chat = _chat(model, tok, system="A chat between Bob and Alice.")
    assert chat.template.name == "raven"
    "".join(chat.send("Hi there!"))
    system, user, reply = chat.path()
    assert tok.decode(system.tokens) == "A chat between Bob and Alice.\n\n"
    assert tok.decode(user.tokens) == "Bob: Hi there!\n\nAlice:"
    assert reply.role == "assistant" and reply.tokens


def test_world_and_later_models_chat_as_user_and_assistant(world_model, world_tok):
    assert _chat(world_model, world_tok).template.name == "world"


def test_the_template_can_be_overridden(raven, world_model, world_tok):
    from engine.text.chat import ChatTemplate

    model, tok = raven
    chat = _chat(model, tok, template="world")
    "".join(chat.send("Hi"))
    assert tok.decode(chat.path()[0].tokens) == "User: Hi\n\nAssistant:"
    custom = ChatTemplate("custom", "Q", "A", "Context")
    chat = _chat(world_model, world_tok, template=custom, system="x")
    "".join(chat.send("Hi"))
    assert [world_tok.decode(m.tokens) for m in chat.path()[:2]] == ["Context: x\n\n", "Q: Hi\n\nA:"]
    with pytest.raises(EngineError, match="chat template"):
        _chat(world_model, world_tok, template="alpaca")


def test_openai_style_messages_render_as_the_chat_feeds_its_turns(world_model, world_tok):
    from engine.text.chat import render_messages

    chat = _chat(world_model, world_tok, system="Be brief.")
    first = "".join(chat.send("Hi there"))
    "".join(chat.send("Why?", think="no-think"))
    history = [("system", "Be brief."), ("user", "Hi there"), ("assistant", first), ("user", "Why?")]
    segments = render_messages(chat.template, history, think="no-think")
    system, user1 = chat.path()[:2]
    assert [world_tok.encode(s) for s in segments[:2]] == [system.tokens, user1.tokens]
    assert "".join(segments) == world_tok.decode(chat.transcript_tokens(chat.path()[3].id))   # the same text
    assert render_messages(chat.template, [("user", "Go"), ("assistant", "Partial")])[-1] == " Partial"
    assert render_messages(chat.template, [("developer", "Rules")]) == ["System: Rules\n\n", "Assistant:"]


def test_only_rwkv7_g0_and_g1_models_count_as_trained_to_think():
    from engine.text.chat import trained_to_think

    for name in ("rwkv7-g1-0.1b-20250307-ctx4096", "rwkv7-g1a2-1.5b-20251005-ctx8192", "rwkv7-g0a2-7.2b-20251005",
                 "rwkv7b-g1b-1.5b", "RWKV7-G1-1.5B-HF"):
        assert trained_to_think(name, 7), name
    for name, generation in (("RWKV-x070-World-0.4B-v2.9-20250107-ctx4096", 7), ("demo", 7),
                             ("rwkv6-g1-lookalike", 6), ("rwkv7-gigantic", 7), ("my-g12-model", 7)):
        assert not trained_to_think(name, generation), name


def test_messages_are_kept_as_typed_and_read_by_the_model_cleaned(world_model, world_tok):
    """Blank lines and a first line's indent stay in what is stored and shown; the model reads the
    turn with blank lines collapsed (a blank line ends a turn), as before."""
    from engine.text.chat import ChatSession, as_typed, clean

    model, tok = world_model, world_tok
    typed = "\r\n    code()\r\n\r\n\r\nmore  \n\n"
    chat = ChatSession(model, tok)
    user = chat.add_user(typed)
    assert user.text == as_typed(typed) == "    code()\n\n\nmore"
    plain = ChatSession(model, tok).add_user(clean(typed))
    assert user.tokens == plain.tokens
