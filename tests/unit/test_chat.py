"""ChatSession: template, incremental prefill, checkpoints that equal re-reading, branches, cancel."""

from __future__ import annotations

import threading

import pytest
import torch

from engine.errors import EmptyPromptError, EngineError
from engine.text.chat import ChatSession, clean
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
    before = chat.messages[chat.leaf()].checkpoint.tokens_seen
    "".join(chat.send("Second question"))
    user2 = chat.path()[2]
    assert user2.checkpoint.tokens_seen == before + len(user2.tokens)
    assert chat.messages[chat.leaf()].checkpoint.tokens_seen == len(chat.transcript_tokens())


def test_checkpoints_equal_rereading_the_chat(world_model, world_tok):
    chat = _chat(world_model, world_tok, system="You are helpful.")
    "".join(chat.send("Hello"))
    "".join(chat.send("Tell me more"))
    for msg in chat.path():
        reread = chat.reread(msg.id)
        assert reread.tokens_seen == msg.checkpoint.tokens_seen
        assert (reread.last_logits - msg.checkpoint.last_logits).abs().max() <= 1e-4, msg.role
        assert (reread.wkv - msg.checkpoint.wkv).abs().max() <= 1e-4


def test_regenerate_restores_the_checkpoint_and_makes_a_branch(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("Hello"))
    first = chat.messages[chat.leaf()]
    user = chat.messages[first.parent]
    seen = user.checkpoint.tokens_seen
    again = "".join(chat.regenerate())
    second = chat.messages[chat.leaf()]
    assert second.id != first.id and second.parent == user.id
    assert again == second.text == first.text        # greedy: same reply from the same state
    assert user.checkpoint.tokens_seen == seen       # the checkpoint itself was not advanced
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
    assert path[3].checkpoint.tokens_seen == len(chat.transcript_tokens())
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
    assert reply.checkpoint.tokens_seen == len(chat.transcript_tokens())
    more = "".join(chat.continue_reply(max_tokens=3))
    assert reply.text.endswith(more) and len(reply.tokens) >= 6


def test_abandoned_stream_still_records_the_reply(world_model, world_tok):
    chat = _chat(world_model, world_tok, max_tokens=50)
    stream = chat.send("Hello")
    next(stream)
    stream.close()
    reply = chat.messages[chat.leaf()]
    assert reply.role == "assistant" and reply.checkpoint is not None
    assert reply.checkpoint.tokens_seen == len(chat.transcript_tokens())


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
    t_user, p_user = tuned.path()[0], plain.path()[0]
    assert (t_user.checkpoint.last_logits - p_user.checkpoint.last_logits).abs().max() > 1e-3
    assert torch.equal(tuned.root.checkpoint.wkv, state.wkv)


def test_restore_continues_from_stored_checkpoints_without_rereading(world_model, world_tok):
    chat = _chat(world_model, world_tok)
    "".join(chat.send("Hello"))
    "".join(chat.send("And then?"))
    saved = {m.id: m.checkpoint.clone() for m in chat.path()}
    records = [m for m in chat.messages.values() if m.role != "root"]
    loaded = []

    def loader(msg):
        loaded.append(msg.id)
        return saved[msg.id].clone()

    back = ChatSession.restore(world_model, world_tok, [_strip(m) for m in records], settings=GREEDY,
                               max_tokens=12, checkpoint_loader=loader)
    assert [m.text for m in back.path()] == [m.text for m in chat.path()]
    reply = "".join(back.regenerate())
    assert reply == chat.path()[-1].text
    assert loaded == [chat.path()[-2].id]            # only the user message it answers was loaded
    "".join(back.send("Third"))
    assert back.messages[back.leaf()].checkpoint.tokens_seen == len(back.transcript_tokens())


def _strip(msg):
    from dataclasses import replace

    return replace(msg, checkpoint=None, children=[])


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
