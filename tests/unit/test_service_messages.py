"""Actions on single messages (delete a branch, edit a reply), readable exports, and purging deleted
conversations: what the window's message links and menus ask the engine service for."""

from __future__ import annotations

import json

import pytest

from engine.service import EngineService
from engine.service import commands as C
from engine.service import events as E

from .test_service import _db, _new, _send


@pytest.fixture
def service(tmp_path, world_ckpt):
    svc = EngineService(tmp_path / "data")
    assert isinstance(svc.call(C.LoadModel(str(world_ckpt)), 60), E.ModelLoaded)
    yield svc
    svc.shutdown()


def _two_turns(svc: EngineService) -> tuple[int, list]:
    first = _send(svc, _new(), "First question")
    conv = first.conversation
    _send(svc, conv, "Second question")
    opened = svc.call(C.OpenConversation(conv))
    return conv, opened.conversation.path()


def _state_files(svc: EngineService, conv: int) -> set[str]:
    return {p.name for p in (svc.store.states / str(conv)).glob("*.safetensors")}


def test_deleting_a_message_removes_it_and_everything_below_from_memory_and_disk(service, tmp_path, world_ckpt):
    conv, (user1, reply1, user2, reply2) = _two_turns(service)
    assert any(name.startswith(f"{reply2.id}-") for name in _state_files(service, conv))
    changed = service.call(C.DeleteMessage(conv, user2.id))
    assert isinstance(changed, E.ConversationChanged)
    assert [m.id for m in changed.conversation.path()] == [user1.id, reply1.id]
    assert user2.id not in changed.conversation and reply2.id not in changed.conversation
    rows = {r["id"] for r in _db(service).execute("SELECT id FROM messages WHERE conversation_id = ?", (conv,))}
    assert rows == {user1.id, reply1.id}
    assert not any(name.startswith((f"{user2.id}-", f"{reply2.id}-")) for name in _state_files(service, conv))

    again = _send(service, conv, "Another question")            # the chat goes on from the reply kept
    assert isinstance(again, E.Finished)
    service.shutdown()
    reopened = EngineService(tmp_path / "data")
    reopened.call(C.LoadModel(str(world_ckpt)))
    path = reopened.call(C.OpenConversation(conv)).conversation.path()
    assert [m.text for m in path][:3] == [user1.text, reply1.text, "Another question"]
    reopened.shutdown()


def test_deleting_the_shown_branch_shows_the_sibling_before_it(service):
    first = _send(service, _new(), "Hi")
    conv = first.conversation
    second = service.call(C.Regenerate(conv), 60).message
    changed = service.call(C.DeleteMessage(conv, second.id)).conversation
    assert changed.path()[-1].id == first.message.id and changed.branch(first.message.id) == (1, 1)
    assert service.call(C.OpenConversation(conv)).conversation.path()[-1].id == first.message.id


def test_the_system_prompt_and_a_busy_conversation_refuse_a_delete(service):
    first = _send(service, _new(system_prompt="Be brief."), "Hi")
    conv = first.conversation
    system = service.call(C.OpenConversation(conv)).conversation.path()[0]
    refused = service.call(C.DeleteMessage(conv, system.id))
    assert isinstance(refused, E.Failed) and "system prompt" in refused.message
    assert isinstance(service.call(C.DeleteMessage(conv, 999)), E.Failed)
    assert len(service.call(C.OpenConversation(conv)).conversation.path()) == 3


def test_an_edited_reply_is_a_branch_the_next_turn_follows_as_if_the_model_had_said_it(service, world_ckpt):
    import engine

    first = _send(service, _new(), "What is a harbor?")
    conv, reply = first.conversation, first.message
    changed = service.call(C.EditReply(conv, reply.id, "A **sheltered** place\n\n\nfor ships."))
    assert isinstance(changed, E.ConversationChanged)
    edited = changed.conversation.path()[-1]
    assert edited.id != reply.id and edited.role == "assistant" and edited.stop_reason == "edited"
    assert edited.text == "A **sheltered** place\n\n\nfor ships."   # kept as typed; the model reads it collapsed
    assert changed.conversation.branch(edited.id) == (2, 2) and reply.id in changed.conversation
    _send(service, conv, "Thanks")
    session = service._live[conv].session
    tok = engine.load_tokenizer("world")
    text = tok.decode(session.transcript_tokens())
    assert "Assistant: A **sheltered** place\nfor ships.\n\nUser: Thanks\n\nAssistant:" in text
    stored = service.store.load_messages(conv)
    assert any(m.id == edited.id and m.text == edited.text and m.complete for m in stored)
    refused = service.call(C.EditReply(conv, changed.conversation.path()[0].id, "not a reply"))
    assert isinstance(refused, E.Failed)


def test_markdown_and_json_exports_hold_the_active_branch(service, tmp_path):
    first = _send(service, _new(system_prompt="Be brief."), "Tell me *one* thing")
    conv = first.conversation
    md, js = tmp_path / "out" / "chat.md", tmp_path / "out" / "chat.json"
    assert isinstance(service.call(C.ExportText(conv, str(md), "markdown")), E.Exported)
    assert isinstance(service.call(C.ExportText(conv, str(js), "json")), E.Exported)
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Tell me *one* thing\n")
    assert "## System\n\nBe brief.\n\n## You\n\nTell me *one* thing\n\n## Assistant\n\n" in text
    assert first.message.text.strip() in text
    doc = json.loads(js.read_text(encoding="utf-8"))
    assert [m["role"] for m in doc["messages"]] == ["system", "user", "assistant"]
    assert doc["messages"][2]["content"] == first.message.text and doc["settings"]["max_tokens"] == 8
    bad = service.call(C.ExportText(conv, str(tmp_path / "x.txt"), "docx"))
    assert isinstance(bad, E.Failed) and "docx" in bad.message and not (tmp_path / "x.txt").exists()


def test_purge_deleted_removes_deleted_conversations_from_disk(service):
    keep = _send(service, _new(), "Keep").conversation
    gone = _send(service, _new(), "Gone").conversation
    service.call(C.DeleteConversation(gone))
    assert (service.store.states / str(gone)).exists()
    assert isinstance(service.call(C.PurgeDeleted()), E.Done)
    assert not (service.store.states / str(gone)).exists() and _state_files(service, keep)
    assert [c.id for c in service.conversations()] == [keep]
    assert _db(service).execute("SELECT COUNT(*) FROM conversations WHERE id = ?", (gone,)).fetchone()[0] == 0


def test_the_chat_roles_are_a_setting_of_the_conversation_from_the_next_turn(service, tmp_path, world_ckpt):
    import engine
    from engine.service import ChatSettings

    from .test_service import SHORT

    raven = ChatSettings(sampler=SHORT.sampler, max_tokens=8, template="raven")
    first = _send(service, C.NewConversation(settings=raven), "Hi there")
    conv = first.conversation
    tok = engine.load_tokenizer("world")
    assert tok.decode(service._live[conv].session.transcript_tokens()).startswith("Bob: Hi there\n\nAlice:")
    service.call(C.UpdateConversation(conv, settings=ChatSettings(sampler=SHORT.sampler, max_tokens=8)))
    _send(service, conv, "And now")
    assert "User: And now\n\nAssistant:" in tok.decode(service._live[conv].session.transcript_tokens())
    service.call(C.UpdateConversation(conv, settings=raven))
    service.shutdown()
    again = EngineService(tmp_path / "data")                     # kept with the conversation
    again.call(C.LoadModel(str(world_ckpt)))
    _send(again, conv, "Last one")
    assert "Bob: Last one\n\nAlice:" in tok.decode(again._live[conv].session.transcript_tokens())
    again.shutdown()
    assert ChatSettings.from_dict({"template": "nonsense"}).template is None
    assert ChatSettings.from_dict(raven.to_dict()) == raven


def test_a_failure_carries_its_english_message_and_the_template_and_values_it_was_made_from(service):
    """A client in another language translates the template and fills in the values (app/i18n.py)."""
    conv = _send(service, _new(), "Hi").conversation
    refused = service.call(C.EditReply(conv, 999, "Changed"))
    assert isinstance(refused, E.Failed) and refused.kind == "EngineError"
    assert refused.title == "Could not edit the reply"
    assert refused.message == "There is no message 999 in this conversation."
    assert refused.template == "There is no message {message} in this conversation."
    assert refused.values == (("message", 999),)
