"""A data folder that cannot be used: the damaged database is set aside (never overwritten), the user
is told where, and the app starts fresh or on another folder; a folder that cannot be written asks
for another one. Nothing ends in a traceback."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.data_folder import open_service, qt_ask
from app.settings import Settings
from engine.service import commands as C
from engine.service.store import ConversationStore


class Answers:
    """Stands in for the dialogs: records what was asked and answers from a list."""

    def __init__(self, *answers, folder=None):
        self.answers, self.asked, self.folder, self.moved = list(answers), [], folder, []

    def ask(self, kind, folder, message):
        self.asked.append((kind, message))
        return self.answers.pop(0)

    def choose(self):
        return self.folder


def _open(folder, answers):
    opened = open_service(folder, answers.ask, answers.choose, answers.moved.append)
    if opened is not None:
        opened[0].shutdown()
    return opened


def test_random_bytes_instead_of_a_database_are_set_aside_and_the_app_starts_fresh(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    junk = os.urandom(8192)
    (folder / "conversations.sqlite3").write_bytes(junk)
    answers = Answers("fresh")
    opened = _open(folder, answers)
    assert opened is not None and opened[1] == folder
    [(kind, message)] = answers.asked
    [aside] = folder.glob("conversations.sqlite3.damaged-*")
    assert kind == "damaged" and aside.name in message and aside.read_bytes() == junk
    with ConversationStore(folder) as store:               # a new, empty, working database
        assert store.list() == []


def test_a_torn_database_is_found_at_open_and_its_states_go_aside_with_it(tmp_path, world_ckpt):
    from engine.service import EngineService

    folder = tmp_path / "data"
    svc = EngineService(folder)
    svc.call(C.LoadModel(str(world_ckpt)))
    svc.call(C.Send(C.NewConversation(), "Keep me"), 60)
    svc.shutdown()
    db = folder / "conversations.sqlite3"
    for extra in ("-wal", "-shm"):
        (folder / f"conversations.sqlite3{extra}").unlink(missing_ok=True)
    with open(db, "r+b") as f:                              # cut short and scribbled on, as after a crash
        f.seek(4096)
        f.write(os.urandom(4096))
        f.truncate(6000)
    answers = Answers("fresh")
    assert _open(folder, answers) is not None
    assert answers.asked[0][0] == "damaged"
    assert list(folder.glob("conversations.sqlite3.damaged-*")) and list(folder.glob("states.damaged-*"))


def test_another_folder_can_be_chosen_and_is_remembered(tmp_path):
    folder, other = tmp_path / "data", tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "conversations.sqlite3").write_bytes(b"not a database" * 100)
    answers = Answers("another", folder=other)
    opened = _open(folder, answers)
    assert opened is not None and opened[1] == other and answers.moved == [other]
    assert (other / "conversations.sqlite3").is_file()


def test_a_folder_that_cannot_be_written_asks_for_another_or_quits(tmp_path):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    answers = Answers("quit")
    assert _open(blocked / "data", answers) is None
    assert answers.asked[0][0] == "unwritable" and "cannot be written" in answers.asked[0][1]
    answers = Answers("another", folder=tmp_path / "fine")
    assert _open(blocked / "data", answers)[1] == tmp_path / "fine"


@pytest.mark.skipif(os.geteuid() == 0, reason="needs POSIX permissions, which root ignores")
def test_a_read_only_folder_asks_for_another(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        answers = Answers("quit")
        assert _open(folder, answers) is None and answers.asked[0][0] == "unwritable"
    finally:
        folder.chmod(0o700)


def test_the_dialog_offers_start_fresh_another_folder_and_quit(qapp, tmp_path):
    def click(text):
        def press():
            box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
            next(b for b in box.buttons() if b.text() == text).click()
        QTimer.singleShot(50, press)

    for text, answer in (("Start fresh", "fresh"), ("Choose another folder…", "another"), ("Quit", "quit")):
        click(text)
        assert qt_ask("damaged", tmp_path, "The database is damaged.") == answer
    click("Quit")
    assert qt_ask("unwritable", tmp_path, "Cannot be written.") == "quit"


def test_temp_files_of_interrupted_state_writes_are_swept(tmp_path):
    states = tmp_path / "states" / "7"
    states.mkdir(parents=True)
    old, new = states / ".3-40.safetensors.abc.tmp", states / ".4-41.safetensors.def.tmp"
    old.write_bytes(b"half a state")
    new.write_bytes(b"being written now")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    ConversationStore(tmp_path).close()
    assert not old.exists() and new.exists()


def test_damaged_settings_are_set_aside_and_the_defaults_used(tmp_path):
    (tmp_path / "settings.json").write_text("{not json")
    settings = Settings(tmp_path / "settings.json")
    assert settings.get("theme") is None
    [aside] = tmp_path.glob("settings.json.damaged-*")
    assert aside.read_text() == "{not json"
    settings.set("theme", "Dark")
    assert Settings(tmp_path / "settings.json").get("theme") == "Dark"
