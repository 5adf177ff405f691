"""engine.load(precision="auto") on the CPU: the first of fp32, bf16, int8, q5, q4 that fits this machine's
memory, by engine.host.hardware's rule (the one the window uses for a model it never measured)."""

from __future__ import annotations

import logging

import pytest
import torch

import engine
from engine.host import hardware
from engine.tools.cli import build_parser

DIMS = dict(n_layer=2, n_embd=64, head_size=32, vocab_size=512)


@pytest.fixture(scope="module")
def small(rwkv7_checkpoint):
    path = rwkv7_checkpoint(**DIMS)
    n_params = sum(t.numel() for t in torch.load(path, weights_only=True).values())
    return path, n_params


def _memory(monkeypatch, total: int, free: int | None = None) -> None:
    """This machine has ``total`` bytes of RAM (``free`` of them available now)."""
    monkeypatch.setattr(hardware, "_ram", lambda: (total, total if free is None else free))


def _just_fits(n_params: int, precision: str) -> int:
    return hardware.needed_bytes(int(n_params * hardware.BYTES_PER_PARAM[precision]))


def test_auto_loads_fp32_when_fp32_fits(small, monkeypatch):
    path, n = small
    _memory(monkeypatch, _just_fits(n, "fp32"))
    model = engine.load(path, precision="auto")
    assert model.precision == "fp32" and model.dtype == torch.float32


@pytest.mark.parametrize("expected, room_for", [("bf16", "bf16"), ("int8", "int8"), ("q5", "q5"), ("q4", "q4")])
def test_auto_takes_the_first_smaller_precision_that_fits(small, monkeypatch, expected, room_for):
    path, n = small
    _memory(monkeypatch, _just_fits(n, room_for))          # fp32 (and everything before room_for) does not fit
    assert engine.load(path, precision="auto").precision == expected


def test_auto_is_the_windows_pick_for_an_unmeasured_model(small, monkeypatch):
    path, n = small
    for total in (_just_fits(n, "fp32") - 1, _just_fits(n, "int8"), 64 * hardware.GiB):
        _memory(monkeypatch, total)
        cpu = hardware.cpu()
        assert cpu.memory_bytes == total
        assert engine.load(path, precision="auto").precision == hardware.recommend(0, n, [cpu]).precision


def test_auto_with_nothing_that_fits_tries_q4_and_says_why(small, monkeypatch, caplog):
    path, n = small
    _memory(monkeypatch, _just_fits(n, "q4") - 1)
    with caplog.at_level(logging.WARNING, logger="engine.models.model"):
        assert engine.load(path, precision="auto").precision == "q4"
    assert "Too large for this machine" in caplog.text


def test_auto_warns_when_the_pick_does_not_fit_in_the_memory_free_now(small, monkeypatch, caplog):
    path, n = small
    _memory(monkeypatch, 64 * hardware.GiB, free=_just_fits(n, "fp32") - 1)
    with caplog.at_level(logging.WARNING, logger="engine.models.model"):
        assert engine.load(path, precision="auto").precision == "fp32"      # total memory decides, as in the window
    assert "close other programs first" in caplog.text


def test_auto_keeps_fp32_when_the_memory_cannot_be_read(small, monkeypatch):
    path, _ = small
    monkeypatch.setattr(hardware, "_ram", lambda: (0, None))      # as when neither /proc nor sysconf answered
    assert engine.load(path, precision="auto").precision == "fp32"


def test_a_named_precision_is_never_changed(small, monkeypatch):
    path, _ = small
    _memory(monkeypatch, 1)
    assert engine.load(path, precision="fp32").precision == "fp32"
    with pytest.raises(engine.errors.EngineError, match="Unknown precision 'fp8'"):
        engine.load(path, precision="fp8")


def test_the_command_lines_precision_help_says_what_auto_does():
    for command in ("chat", "generate", "serve"):
        sub = build_parser()._subparsers._group_actions[0].choices[command]
        (action,) = [a for a in sub._actions if "--precision" in a.option_strings]
        assert action.default == "auto"
        assert "first of fp32, bf16, int8, q5, q4 that fits" in " ".join(action.help.split()), command
