"""The state library on the Models page: state-tuning files found on disk with the models they belong
to (by shape), applied to the loaded model through the engine's own check (the button for it on only when it can
be used), and downloaded from a mock Hub on 127.0.0.1 like models."""

from __future__ import annotations

import shutil

import pytest
import torch

from tests.e2e.mock_hub import MockHub
from tests.gui.test_models import _use_mirror
from tests.gui.util import run, until

# world_ckpt: 3 layers, n_embd 64, head size 32 -> 2 heads


def _state_file(path, n_layer=3, heads=2, size=32):
    torch.save({f"blocks.{n}.att.time_state": torch.full((heads, size, size), 0.1) for n in range(n_layer)}, path)
    return path


def _rows(win):
    view = win.models.state_library.view
    return {view.topLevelItem(i).text(0): [view.topLevelItem(i).text(c) for c in range(4)]
            for i in range(view.topLevelItemCount())}


@pytest.fixture
def mock_hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with MockHub() as server:
        yield server


def test_states_on_disk_are_listed_with_the_models_they_fit_and_applied_through_the_engine(
        loop, make_window, world_ckpt, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(world_ckpt, folder / "tiny-world.pth")
    _state_file(folder / "rwkv7-tiny-role.pth")
    _state_file(folder / "other-shape.state", n_layer=4)
    _state_file(folder / "rwkv-x060-named-for-v6.pth")
    win = make_window()
    run(loop, win.models.add_folder(str(folder)))
    run(loop, win.load_model(str(folder / "tiny-world.pth")))
    run(loop, win.models.rescan())
    rows = _rows(win)
    assert rows["rwkv7-tiny-role.pth"][1] == "RWKV-7, 3 layers × 64"
    assert rows["rwkv7-tiny-role.pth"][2] == "tiny-world (loaded)"
    assert rows["other-shape.state"][2] == "no model here has this shape"
    assert rows["rwkv-x060-named-for-v6.pth"][2] == "no model here has this shape"    # its name says RWKV-6
    assert not any("role" in name for name in (str(p) for p, _ in win.models.files))  # not a model row

    view = win.models.state_library.view
    view.setCurrentItem(next(view.topLevelItem(i) for i in range(view.topLevelItemCount())
                             if view.topLevelItem(i).text(0) == "other-shape.state"))
    assert not run(loop, win.models.state_library.apply_selected())     # the engine refuses it, with why
    assert win.state.tuning is None and "another model" in win.failure[1]
    view.setCurrentItem(next(view.topLevelItem(i) for i in range(view.topLevelItemCount())
                             if view.topLevelItem(i).text(0) == "rwkv7-tiny-role.pth"))
    win.models.state_library.apply_button.click()
    run(loop, until(lambda: win.state.tuning is not None))
    assert "rwkv7-tiny-role" in win.state.tuning and "state tuning" in win.header.text()


def test_a_state_found_on_the_hub_downloads_verified_and_load_applies_it(loop, make_window, world_ckpt, mock_hub,
                                                                         tmp_path):
    data = _state_file(tmp_path / "s.pth").read_bytes()
    mock_hub.add("someone/rwkv7-tiny-states", "rwkv7-tiny-pirate.pth", data)
    win = make_window()
    _use_mirror(win, mock_hub, [])
    run(loop, win.load_model(str(world_ckpt)))
    lib = win.models.state_library
    win.models.tabs_to_states()
    lib.search.query.setText("states")
    lib.search.search_button.click()
    run(loop, until(lambda: lib.search.results.topLevelItemCount() == 1))
    repo = lib.search.results.topLevelItem(0)
    repo.setExpanded(True)
    run(loop, until(lambda: repo.childCount() == 1))
    lib.search.results.setCurrentItem(repo.child(0))
    lib.search.download_button.click()
    row = win.models.downloads[("someone/rwkv7-tiny-states", "rwkv7-tiny-pirate.pth")]
    run(loop, until(lambda: row.download.state in ("done", "failed")))
    assert row.download.state == "done", row.info.text()
    run(loop, until(lambda: "rwkv7-tiny-pirate.pth" in _rows(win)))
    assert "(loaded)" in _rows(win)["rwkv7-tiny-pirate.pth"][2]
    row.load_button.click()
    run(loop, until(lambda: win.state.tuning is not None))
    assert "rwkv7-tiny-pirate" in win.state.tuning


def test_use_with_the_loaded_model_is_on_only_with_a_file_selected_and_a_model_loaded(loop, make_window, world_ckpt,
                                                                                     tmp_path):
    win = make_window()
    lib = win.models.state_library
    win.tabs.setCurrentWidget(win.models)
    win.models.tabs_to_states()
    assert lib.view.topLevelItemCount() == 0
    assert not lib.apply_button.isEnabled() and "Select" in lib.apply_button.toolTip()

    folder = tmp_path / "models"
    folder.mkdir()
    _state_file(folder / "rwkv7-tiny-role.pth")
    run(loop, win.models.add_folder(str(folder)))
    assert lib.view.topLevelItemCount() == 1
    lib.view.setCurrentItem(lib.view.topLevelItem(0))
    assert win.state.model is None                     # the window alone loads nothing
    assert not lib.apply_button.isEnabled() and "Load the model" in lib.apply_button.toolTip()
    run(loop, win.load_model(str(world_ckpt)))
    run(loop, until(lambda: lib.apply_button.isEnabled()))
    assert "New chats start from this state" in lib.apply_button.toolTip()
    lib.view.setCurrentItem(None)
    assert not lib.apply_button.isEnabled() and "Select" in lib.apply_button.toolTip()
