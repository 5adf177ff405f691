"""A conversation exported to a file and imported back: whatever the engine wrote, the app reads again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import engine
from engine.errors import IncompatibleStateError
from engine.host import library
from engine.service.store import ConversationStore
from engine.text.chat import ChatSession

from .conftest import GREEDY


def _stop_reasons_the_engine_writes() -> set[str]:
    """Every string the engine's code puts in a ``stop_reason`` (an assignment or a keyword), so a
    reason added to the engine without teaching the importer about it fails the round trip below."""
    found = set()
    for path in Path(engine.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            values = []
            if isinstance(node, ast.keyword) and node.arg == "stop_reason":
                values = [node.value]
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (zip(target.elts, node.value.elts, strict=False) if isinstance(target, ast.Tuple)
                             and isinstance(node.value, ast.Tuple) else [(target, node.value)])
                    values += [v for t, v in pairs if getattr(t, "attr", getattr(t, "id", None)) == "stop_reason"]
            found |= {c.value for v in values for c in ast.walk(v)
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return found


def _shape(chat: ChatSession) -> list[tuple]:
    return [(m.id, m.role, m.text, m.parent, m.tokens, m.children, m.active_child, m.complete, m.stop_reason,
             m.think) for m in sorted(chat.messages.values(), key=lambda m: m.id)]


def test_an_export_with_every_stop_reason_and_an_edited_reply_imports_back_equal(world_model, world_tok, tmp_path):
    reasons = _stop_reasons_the_engine_writes()
    assert {"stop", "eos", "length", "cancelled", "error", "interrupted", "edited"} <= reasons
    chat = ChatSession(world_model, world_tok, settings=GREEDY, max_tokens=4, system="You are brief.")
    "".join(chat.send("What does serendipity mean?"))
    reply = chat.leaf()
    edited = chat.edit_reply(reply, "A happy accident.")           # what File > Save saw fail to load again
    for reason in sorted(reasons - {"edited"}):                     # a reply beside it for every other reason
        "".join(chat.regenerate(reply))
        msg = chat.messages[chat.leaf()]
        msg.stop_reason, msg.complete = reason, reason in ("stop", "eos")
    chat.switch_branch(chat.leaf(), -1)
    assert {m.stop_reason for m in chat.messages.values()} >= reasons and edited.stop_reason == "edited"
    path = tmp_path / "conv.rwkvchat"
    with ConversationStore(tmp_path / "here") as store:
        conv = store.create(title="Serendipity", model_path=str(world_model.info.path),
                            model_fingerprint=world_model.info.fingerprint, system_prompt="You are brief.")
        store.save_messages(conv.id, [(m, chat.checkpoint(m.id)) for m in chat.messages.values() if m.id])
        store.export(conv.id, path, world_model, chat.checkpoint(chat.leaf()), chat.leaf())

    with ConversationStore(tmp_path / "elsewhere") as other:
        imported = other.import_(path, world_model)
        back = ChatSession.restore(world_model, world_tok, other.load_messages(imported.id))
        assert _shape(back) == _shape(chat)


def test_importing_into_another_model_names_the_exporters_model_as_the_app_does(world_model, world_tok,
                                                                              rwkv7_checkpoint, tmp_path):
    chat = ChatSession(world_model, world_tok, settings=GREEDY, max_tokens=4)
    "".join(chat.send("What does serendipity mean?"))
    path = tmp_path / "conv.rwkvchat"
    with ConversationStore(tmp_path / "here") as store:
        conv = store.create(title="Serendipity", model_path=str(library.bundled()),      # .../demo/model.safetensors
                            model_fingerprint=world_model.info.fingerprint)
        store.save_messages(conv.id, [(m, chat.checkpoint(m.id)) for m in chat.messages.values() if m.id])
        store.export(conv.id, path, world_model, chat.checkpoint(chat.leaf()), chat.leaf())
    small = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, seed=5))

    with ConversationStore(tmp_path / "elsewhere") as other, pytest.raises(IncompatibleStateError) as err:
        other.import_(path, small)
    assert str(err.value).startswith("“Serendipity” was saved with demo, and the loaded model")
