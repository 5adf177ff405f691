"""The conversation store: a chat saved, reopened from disk and continued; list, search, delete, export."""

from __future__ import annotations

import itertools
import sqlite3
import struct
import threading

import pytest
import torch

import engine
from engine.errors import IncompatibleStateError
from engine.models.state import State
from engine.service.checkpoints import DiskCheckpoints
from engine.service.store import ConversationNotFoundError, ConversationStore, StoreError
from engine.text.chat import ChatSession, Message

from .conftest import GREEDY


@pytest.fixture
def store(tmp_path):
    with ConversationStore(tmp_path / "data", clock=_ticks()) as s:
        yield s


def _ticks():
    """A clock that moves one second per call, so recency order never depends on timer resolution."""
    counter = itertools.count(1_700_000_000)
    return lambda: float(next(counter))


def _chat(model, tok, **kw) -> ChatSession:
    chat = ChatSession(model, tok, settings=GREEDY, max_tokens=8, system="You are brief.", **kw)
    "".join(chat.send("Hello there"))
    "".join(chat.send("What is a harbor?"))
    return chat


def _new(store: ConversationStore, model, title: str = "Chat"):
    return store.create(title=title, model_path=str(model.info.path), model_fingerprint=model.info.fingerprint,
                        system_prompt="You are brief.", settings={"temperature": 0.0})


def _tree(chat: ChatSession) -> list[Message]:
    return [m for m in chat.messages.values() if m.role != "root"]


def _items(chat: ChatSession) -> list[tuple[Message, State]]:
    """Every message with the state after it, as the service stores a finished turn."""
    return [(m, chat.checkpoint(m.id)) for m in _tree(chat)]


def _shape(chat: ChatSession) -> list[tuple]:
    return [(m.id, m.role, m.text, m.parent, m.tokens, m.children, m.active_child, m.complete, m.stop_reason,
             m.think) for m in sorted(chat.messages.values(), key=lambda m: m.id)]


def _export(store: ConversationStore, conv_id: int, chat: ChatSession, path) -> None:
    """Export as the service does: the state at the end of the active branch goes with the tree."""
    leaf = chat.leaf()
    store.export(conv_id, path, chat.model, chat.checkpoint(leaf), leaf or None)


def _restore(store: ConversationStore, conv_id: int, model, tok) -> ChatSession:
    return ChatSession.restore(model, tok, store.load_messages(conv_id), settings=GREEDY, max_tokens=8,
                               checkpoints=DiskCheckpoints(store, conv_id, model, model.new_state()))


def _states_equal(a: State, b: State) -> bool:
    return (a.tokens_seen == b.tokens_seen and a.parts.keys() == b.parts.keys()
            and all(torch.equal(a.parts[k].cpu(), b.parts[k].cpu()) for k in a.parts)
            and torch.equal(a.last_logits.cpu(), b.last_logits.cpu()))


def test_reopened_chat_has_the_same_tree_and_regenerates_the_same_greedy_reply(world_model, world_tok, tmp_path):
    chat = _chat(world_model, world_tok)
    first_reply = chat.messages[chat.leaf()]
    "".join(chat.regenerate())                       # a second branch under the last user message
    chat.switch_branch(chat.leaf(), -1)              # ... and back to the first one
    assert chat.leaf() == first_reply.id and first_reply.tokens
    with ConversationStore(tmp_path) as store:
        conv = _new(store, world_model)
        store.save_messages(conv.id, _items(chat))

    with ConversationStore(tmp_path) as reopened:     # as after a restart
        back = _restore(reopened, conv.id, world_model, world_tok)
        assert _shape(back) == _shape(chat)
        assert back.leaf() == first_reply.id and back.branch(first_reply.id) == (1, 2)
        user = back.messages[first_reply.parent]
        assert _states_equal(back.checkpoint(user.id), chat.checkpoint(user.id))
        again = "".join(back.regenerate())
    assert again == first_reply.text


def test_a_grown_reply_gets_a_new_state_file_and_the_old_one_goes(world_model, world_tok, store):
    chat = ChatSession(world_model, world_tok, settings=GREEDY, max_tokens=6)
    "".join(chat.send("Tell me a long story"))
    reply = chat.messages[chat.leaf()]
    assert not reply.complete                        # stopped at max_tokens, so it can be continued
    conv = _new(store, world_model)
    store.save_message(conv.id, reply, state=chat.checkpoint(reply.id), stats={"tokens_per_s": 12.5})
    [before] = (store.states / str(conv.id)).iterdir()
    stamp = before.stat().st_mtime_ns
    store.save_message(conv.id, reply, state=chat.checkpoint(reply.id))   # unchanged: not written again
    assert [p.stat().st_mtime_ns for p in (store.states / str(conv.id)).iterdir()] == [stamp]

    "".join(chat.continue_reply())
    store.save_message(conv.id, reply)               # grown, no state yet: the old file no longer fits
    assert list((store.states / str(conv.id)).iterdir()) == []
    assert store.load_checkpoint(conv.id, reply.id, world_model) is None
    store.save_message(conv.id, reply, state=chat.checkpoint(reply.id))
    [after] = (store.states / str(conv.id)).iterdir()
    assert after != before
    loaded = store.load_checkpoint(conv.id, reply.id, world_model)
    assert _states_equal(loaded, chat.checkpoint(reply.id)) and loaded.meta == {"conversation": str(conv.id),
                                                                      "message": str(reply.id)}
    [row] = sqlite3.connect(store.data_dir / "conversations.sqlite3").execute("SELECT stats FROM messages")
    assert row[0] == '{"tokens_per_s": 12.5}'        # kept when a later save brings no stats


def test_tokens_are_stored_as_little_endian_int32(world_model, store):
    conv = _new(store, world_model)
    tokens = [0, 1, 65535, 2**31 - 1, 300]
    store.save_message(conv.id, Message(1, "user", "hi", 0, tokens))
    db = sqlite3.connect(store.data_dir / "conversations.sqlite3")
    [(blob,)] = db.execute("SELECT tokens FROM messages")
    assert blob == struct.pack("<5i", *tokens) == b"".join(t.to_bytes(4, "little") for t in tokens)
    assert store.load_messages(conv.id)[0].tokens == tokens


def test_database_is_wal_versioned_and_cascades_deletes(world_model, store):
    conv = _new(store, world_model)
    store.save_message(conv.id, Message(1, "user", "hi", 0, [5]))
    db = sqlite3.connect(store.data_dir / "conversations.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    store.delete(conv.id)
    assert store.purge_deleted() == 1
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0   # only with foreign keys on


def test_a_database_from_a_newer_app_is_refused(tmp_path):
    ConversationStore(tmp_path).close()
    with sqlite3.connect(tmp_path / "conversations.sqlite3") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer RWKV Desktop"):
        ConversationStore(tmp_path)


def test_list_is_newest_first_and_a_rename_does_not_reorder(world_model, store):
    a, b, c = (_new(store, world_model, t) for t in "abc")
    assert [x.title for x in store.list()] == ["c", "b", "a"]
    store.save_message(a.id, Message(1, "user", "hi", 0, [5]))
    assert [x.title for x in store.list()] == ["a", "c", "b"]
    store.update(b.id, title="b renamed", settings={"temperature": 1.0})
    assert [x.title for x in store.list()] == ["a", "c", "b renamed"]
    assert store.get(b.id).settings == {"temperature": 1.0}
    store.update(b.id, system_prompt="Talk like a pirate.")
    assert [x.title for x in store.list()] == ["b renamed", "a", "c"]
    with pytest.raises(TypeError, match="created"):
        store.update(c.id, created=0.0)


def test_a_branch_switch_is_saved_without_reordering(world_model, store):
    a, b = _new(store, world_model, "a"), _new(store, world_model, "b")
    user = Message(1, "user", "hi", 0, [5], children=[2, 3], active_child=3)
    replies = [Message(2, "assistant", "one", 1, [6]), Message(3, "assistant", "two", 1, [7])]
    store.save_tree(a.id, [user, *replies])
    assert [x.title for x in store.list()] == ["a", "b"]
    store.save_tree(b.id, [Message(1, "user", "yo", 0, [8])])
    user.active_child = 2
    store.save_tree(a.id, [user, *replies])
    assert store.load_messages(a.id)[0].active_child == 2
    assert [x.title for x in store.list()] == ["b", "a"]


def test_search_matches_title_or_any_message_case_insensitively_and_literally(world_model, store):
    harbor, percent, russian, other = (_new(store, world_model, t) for t in ("Boats", "Maths", "Привет", "Misc"))
    store.save_message(harbor.id, Message(1, "user", "What is a HARBOR?", 0, [1]))
    store.save_message(percent.id, Message(1, "assistant", "It is 100% sure", 0, [2]))
    store.save_message(other.id, Message(1, "user", "100 percent, a_b", 0, [3]))

    def titles(search):
        return sorted(c.title for c in store.list(search))

    assert titles("harbor") == ["Boats"]
    assert titles("boats") == ["Boats"]
    assert titles("%") == ["Maths"]
    assert titles("0%") == ["Maths"]
    assert titles("_") == ["Misc"]
    assert titles("ПРИВЕТ") == ["Привет"]
    assert titles("") == titles(None) == ["Boats", "Maths", "Misc", "Привет"]
    store.delete(harbor.id)
    assert titles("harbor") == []


def test_delete_hides_a_conversation_until_undelete(world_model, store):
    a, _ = _new(store, world_model, "a"), _new(store, world_model, "b")
    store.delete(a.id)
    assert [x.title for x in store.list()] == ["b"]
    assert store.get(a.id).deleted_at is not None
    store.undelete(a.id)
    assert [x.title for x in store.list()] == ["b", "a"] and store.get(a.id).deleted_at is None


def test_purge_removes_deleted_rows_and_their_state_files_only(world_model, world_tok, store):
    chat = _chat(world_model, world_tok)
    keep, gone = _new(store, world_model, "keep"), _new(store, world_model, "gone")
    store.save_messages(keep.id, _items(chat))
    store.save_messages(gone.id, _items(chat))
    kept_files = sorted((store.states / str(keep.id)).iterdir())
    assert len(kept_files) == 5                      # system, 2 users, 2 replies
    store.delete(gone.id)
    assert store.purge_deleted() == 1
    assert not (store.states / str(gone.id)).exists()
    assert sorted((store.states / str(keep.id)).iterdir()) == kept_files
    with pytest.raises(ConversationNotFoundError, match=f"No conversation {gone.id}"):
        store.load_messages(gone.id)
    assert store.purge_deleted() == 0


def test_purge_keeps_the_initial_state_of_a_conversation_that_started_from_tuning(world_model, world_tok, store):
    chat = _chat(world_model, world_tok)
    tuned = _new(store, world_model, "tuned")
    store.save_messages(tuned.id, _items(chat))
    store.save_initial_state(tuned.id, world_model.new_state())
    initial = store.states / str(tuned.id) / "0-initial.safetensors"
    assert initial.is_file()
    store.purge_deleted()
    assert initial.is_file() and store.load_initial_state(tuned.id, world_model) is not None


def test_missing_conversation_is_a_clear_key_error(store):
    with pytest.raises(KeyError) as err:
        store.get(42)
    assert str(err.value) == "No conversation 42: it was never saved or has been purged."


def test_a_failed_state_write_saves_no_rows(world_model, world_tok, store, monkeypatch):
    chat = _chat(world_model, world_tok)
    conv = _new(store, world_model)
    real_save, calls = State.save, []

    def failing(self, path, meta=None):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real_save(self, path, meta)

    monkeypatch.setattr(State, "save", failing)
    with pytest.raises(OSError, match="disk full"):
        store.save_messages(conv.id, _items(chat))
    assert store.load_messages(conv.id) == [] and store.get(conv.id).updated == conv.updated


def test_export_then_import_elsewhere_round_trips_messages_and_state(world_model, world_tok, tmp_path, store):
    chat = _chat(world_model, world_tok)
    "".join(chat.regenerate())
    chat.switch_branch(chat.leaf(), -1)              # the active branch is not the newest reply
    conv = _new(store, world_model, "Harbors")
    store.save_messages(conv.id, _items(chat))
    _export(store, conv.id, chat, tmp_path / "harbors.safetensors")

    with ConversationStore(tmp_path / "elsewhere") as other:
        imported = other.import_(tmp_path / "harbors.safetensors", world_model)
        assert (imported.title, imported.system_prompt, imported.settings) == ("Harbors (imported)",
                                                                              conv.system_prompt, conv.settings)
        back = _restore(other, imported.id, world_model, world_tok)
        assert _shape(back) == _shape(chat)
        leaf = back.leaf()
        assert _states_equal(other.load_checkpoint(imported.id, leaf, world_model), chat.checkpoint(leaf))
        assert other.load_checkpoint(imported.id, chat.path()[0].id, world_model) is None   # only the latest
        assert "".join(back.send("And a port?")) == "".join(chat.send("And a port?"))


def test_importing_into_another_model_raises_and_writes_nothing(world_model, world_tok, rwkv7_checkpoint, tmp_path,
                                                                 store):
    chat = _chat(world_model, world_tok)
    conv = _new(store, world_model, "Harbors")
    store.save_messages(conv.id, _items(chat))
    _export(store, conv.id, chat, tmp_path / "harbors.safetensors")
    small = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, seed=5))

    with ConversationStore(tmp_path / "elsewhere") as other:
        with pytest.raises(IncompatibleStateError) as err:
            other.import_(tmp_path / "harbors.safetensors", small)
        assert f"saved with {world_model.info.name}," in str(err.value) and small.info.name in str(err.value)
        assert other.list() == [] and list(other.states.iterdir()) == []
        db = sqlite3.connect(other.data_dir / "conversations.sqlite3")
        assert db.execute("SELECT (SELECT count(*) FROM conversations) + (SELECT count(*) FROM messages)"
                          ).fetchone()[0] == 0


def test_a_worker_thread_can_use_the_store(world_model, store):
    conv = _new(store, world_model)
    errors = []

    def work():
        try:
            store.save_message(conv.id, Message(1, "user", "from a worker", 0, [9]))
        except Exception as e:        # an error in the thread would otherwise vanish
            errors.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and [m.text for m in store.load_messages(conv.id)] == ["from a worker"]


def test_a_damaged_or_foreign_export_file_is_refused_and_writes_nothing(world_model, world_tok, tmp_path, store):
    import json

    from safetensors import safe_open

    from engine.errors import StateFormatError
    from engine.service.store_io import EXPORT_KEY

    chat = _chat(world_model, world_tok)
    conv = _new(store, world_model, "Harbors")
    store.save_messages(conv.id, _items(chat))
    good = tmp_path / "harbors.safetensors"
    _export(store, conv.id, chat, good)
    with safe_open(str(good), framework="pt") as f:
        payload = json.loads(f.metadata()[EXPORT_KEY])
    payload["messages"].append(dict(payload["messages"][0]))          # a repeated message id
    state = State.load(good, world_model)
    state.meta = {}                                                     # loaded metadata holds the export
    damaged, plain = tmp_path / "damaged.safetensors", tmp_path / "plain.safetensors"
    state.save(damaged, {EXPORT_KEY: json.dumps(payload)})
    state.save(plain)

    with ConversationStore(tmp_path / "elsewhere") as other:
        with pytest.raises(StateFormatError, match="damaged conversation"):
            other.import_(damaged, world_model)
        with pytest.raises(StateFormatError, match="not made by Save conversation and state"):
            other.import_(plain, world_model)
        cut = tmp_path / "cut.rwkvchat"                                  # a copy that stopped half way
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        with pytest.raises(StateFormatError, match="saved conversation cut short"):
            other.import_(cut, world_model)
        for junk in (b"", b"hello, not a conversation"):
            (tmp_path / "junk.rwkvchat").write_bytes(junk)
            with pytest.raises(StateFormatError, match=r"is not a saved conversation \(an \.rwkvchat file"):
                other.import_(tmp_path / "junk.rwkvchat", world_model)
        assert other.list() == [] and list(other.states.iterdir()) == []


def _rewrite_export(src, dst, model, change) -> None:
    """A copy of export ``src`` with its conversation JSON changed by ``change(payload)``."""
    import json

    from safetensors import safe_open

    from engine.service.store_io import EXPORT_KEY

    with safe_open(str(src), framework="pt") as f:
        payload = json.loads(f.metadata()[EXPORT_KEY])
    change(payload)
    state = State.load(src, model)
    state.meta = {}
    state.save(dst, {EXPORT_KEY: json.dumps(payload)})


def _cycle(p):
    first, second = p["messages"][0], p["messages"][1]
    first["parent"], second["parent"] = second["id"], first["id"]


def _state_on_another_message(p):
    p["state_message"] = p["messages"][1]["id"]


@pytest.mark.parametrize("change,expected", [
    (lambda p: p["messages"][0]["tokens"].append(2**40), "token id"),
    (lambda p: p["messages"][0]["tokens"].append(-1), "token id"),
    (_cycle, "parent"),
    (lambda p: p["messages"][1].update(parent=p["messages"][1]["id"]), "parent"),
    (_state_on_another_message, "its state has read"),
    (lambda p: p["messages"][0].update(role="root"), "role"),
    (lambda p: p["messages"][0].update(active_child=p["messages"][0]["id"]), "active reply"),
], ids=["huge token id", "negative token id", "parent cycle", "own parent", "state on another message",
        "unknown role", "active child not a child"])
def test_a_crafted_export_is_refused_and_writes_nothing(world_model, world_tok, tmp_path, store, change, expected):
    from engine.errors import StateFormatError

    chat = _chat(world_model, world_tok)
    conv = _new(store, world_model, "Harbors")
    store.save_messages(conv.id, _items(chat))
    good, crafted = tmp_path / "good.rwkvchat", tmp_path / "crafted.rwkvchat"
    _export(store, conv.id, chat, good)
    _rewrite_export(good, crafted, world_model, change)
    with ConversationStore(tmp_path / "elsewhere") as other:
        with pytest.raises(StateFormatError, match=expected):
            other.import_(crafted, world_model)
        assert other.list() == [] and list(other.states.iterdir()) == []


def test_an_export_names_no_file_here_and_bad_timestamps_become_now(world_model, world_tok, tmp_path, store):
    outside = tmp_path / "outside-the-data-folder.pth"
    chat = _chat(world_model, world_tok)
    conv = _new(store, world_model, "Harbors")
    store.save_messages(conv.id, _items(chat))
    good, crafted = tmp_path / "good.rwkvchat", tmp_path / "crafted.rwkvchat"
    _export(store, conv.id, chat, good)

    def change(p):
        p["conversation"]["tuning_path"] = str(outside)
        p["conversation"]["created"] = float("nan")
        p["conversation"]["model_path"] = "/home/someone/../../etc/model.pth"
        p["messages"][0]["created"] = "yesterday"

    _rewrite_export(good, crafted, world_model, change)
    with ConversationStore(tmp_path / "elsewhere", clock=lambda: 1234.0) as other:
        imported = other.import_(crafted, world_model)
        assert imported.tuning_path is None and imported.created == 1234.0
        db = sqlite3.connect(other.data_dir / "conversations.sqlite3")
        assert db.execute("SELECT created FROM messages ORDER BY id LIMIT 1").fetchone()[0] == 1234.0
