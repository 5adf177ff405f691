"""Formats reached from the window: Hugging Face folders in the library and through Open folder…,
and state-tuning files (official .pth, Ai00 .state) checked against the loaded model."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt
from safetensors.torch import save_file

import engine
from app.window import TUNING_FILTER
from engine.models.state import State
from tests.fixtures.checkpoints import make_rwkv7_state_dict
from tests.fixtures.hf_layouts import write_fla_rwkv7, write_transformers_rwkv4
from tests.fixtures.legacy_checkpoints import LegacySpec, make_legacy_state_dict, save_tensors
from tests.gui.util import run, send, until


def _info(path):
    import engine

    return engine.load(path).info


def _rows(win) -> dict[str, list[str]]:
    lib = win.models.library
    return {lib.topLevelItem(i).data(0, Qt.UserRole): [lib.topLevelItem(i).text(c) for c in range(7)]
            for i in range(lib.topLevelItemCount())}


def _time_states(info, value: float, layers: int | None = None, heads: int | None = None,
                 size: int | None = None) -> dict[str, torch.Tensor]:
    layers, heads, size = layers or info.n_layer, heads or info.n_head, size or info.head_size
    return {f"blocks.{n}.att.time_state": torch.full((heads, size, size), value) for n in range(layers)}


def test_hf_folders_are_one_library_row_each_and_load(loop, make_window, tmp_path):
    models = tmp_path / "models"
    fla = write_fla_rwkv7(models / "rwkv7-tiny-world",
                          make_rwkv7_state_dict(n_layer=2, n_embd=64, head_size=32, vocab_size=65536))
    pile = write_transformers_rwkv4(models / "rwkv-4-tiny-pile",
                                    make_legacy_state_dict(LegacySpec(4, n_layer=2, n_embd=64, vocab_size=50277)),
                                    shards=2)
    win = make_window()
    run(loop, win.models.add_folder(str(models)))
    rows = _rows(win)
    assert set(rows) == {str(fla), str(pile), *(p for p in rows if "demo" in p)}     # no shard has a row
    name, generation, params, precision, _, fits, _ = rows[str(fla)]
    assert (name, generation, precision) == ("rwkv7-tiny-world", "RWKV-7", "fp32") and params.endswith("M")
    assert fits.startswith("✓ CPU")
    assert rows[str(pile)][:2] == ["rwkv-4-tiny-pile", "RWKV-4"]

    lib = win.models.library

    def load(folder) -> set[str]:  # the precisions the hardware picker then offers
        lib.setCurrentItem(next(lib.topLevelItem(i) for i in range(lib.topLevelItemCount())
                                if lib.topLevelItem(i).data(0, Qt.UserRole) == str(folder)))
        assert run(loop, win.models.load_selected())
        return {win.hardware.itemData(i)[1] for i in range(win.hardware.count())}

    assert "int8" in load(fla)                    # int8 weights for every generation on the CPU
    assert "int8" in load(pile)
    assert win.state.model.generation == 4 and win.state.model.vocab_size == 50277
    assert "(loaded)" in lib.currentItem().text(0)


def test_open_folder_loads_a_hf_folder_and_refuses_a_plain_one(loop, make_window, tmp_path, monkeypatch):
    fla = write_fla_rwkv7(tmp_path / "rwkv7-tiny", make_rwkv7_state_dict(n_layer=2, n_embd=64, head_size=32,
                                                                          vocab_size=65536))
    win = make_window()
    chosen = [str(fla)]
    monkeypatch.setattr("app.window.QFileDialog.getExistingDirectory", lambda *a, **k: chosen[0])
    run(loop, win.open_model_folder_dialog())
    assert win.state.model is not None and win.state.model.generation == 7 and win.state.model.name == "rwkv7-tiny"

    empty = tmp_path / "holiday photos"
    empty.mkdir()
    chosen[0] = str(empty)
    run(loop, win.open_model_folder_dialog())
    run(loop, until(lambda: win.failure is not None))
    assert "holiday photos" in win.failure[1]
    assert win.state.model.path == str(fla)


def test_the_tuning_picker_offers_official_and_ai00_files(loop, make_window, world_ckpt, tmp_path, monkeypatch,
                                                          qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    ai00 = tmp_path / "role-play.state"
    save_file(_time_states(_info(world_ckpt), 0.2), str(ai00))
    offered = []

    def pick(*args, **kwargs):
        offered.append(args[3])
        return str(ai00), ""

    monkeypatch.setattr("app.window.QFileDialog.getOpenFileName", pick)
    run(loop, win.tuning_dialog())
    assert offered == [TUNING_FILTER] and "*.pth" in TUNING_FILTER and "*.state" in TUNING_FILTER
    assert win.state.tuning == "role-play.state" and "role-play.state" in win.header.text()
    send(loop, win, "Hi", qtbot)
    store = win.state.service.store
    started = State.load(store.states / store.get(win.state.conversation.id).initial_state, engine.load(world_ckpt))
    assert torch.equal(started.wkv[1], torch.full((2, 32, 32), 0.2))


@pytest.mark.parametrize("case", ["rwkv6 file on an rwkv7 model", "same-shape rwkv6 file on an rwkv7 model",
                                  "any file on an rwkv4 model"])
def test_a_tuning_file_for_another_generation_is_refused_clearly_and_nothing_changes(
        loop, make_window, world_ckpt, tmp_path, monkeypatch, case):
    win = make_window()
    if case.endswith("rwkv7 model"):
        run(loop, win.load_model(str(world_ckpt)))
        info = _info(world_ckpt)
        good = tmp_path / "good.pth"
        torch.save(_time_states(info, 0.1), good)
        assert run(loop, win.apply_tuning(str(good)))
        before = (win.state.tuning, win.header.text())
        if case.startswith("same-shape"):       # only its name can tell
            wrong = tmp_path / "rwkv-x060-tiny-state.pth"
            torch.save(_time_states(info, 0.5), wrong)
            expected = "is named for RWKV-6, but the loaded model is RWKV-7"
        else:                                   # an RWKV-6 1.6B's tuning: 24 layers of 32 heads of 64
            wrong = tmp_path / "rwkv-x060-world-1b6-state.pth"
            torch.save(_time_states(info, 0.5, layers=24, heads=32, size=64), wrong)
            expected = "tuned for another model"
    else:
        v4 = save_tensors(make_legacy_state_dict(LegacySpec(4, n_layer=2, n_embd=64, vocab_size=65536)),
                          tmp_path / "rwkv4-world", "pth")
        run(loop, win.load_model(str(v4)))
        before = (None, win.header.text())
        wrong = tmp_path / "rwkv-x070-state.pth"
        torch.save(_time_states(_info(v4), 0.5, layers=2, heads=1, size=64), wrong)
        expected = "RWKV-4 models have no matrix state"
    assert not run(loop, win.apply_tuning(str(wrong)))
    run(loop, until(lambda: win.failure is not None))
    title, text = win.failure
    assert title == "Could not use the state-tuning file"
    assert wrong.name in text and expected in text and "unchanged" in text
    assert (win.state.tuning, win.header.text()) == before
