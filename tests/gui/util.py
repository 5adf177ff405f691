"""Helpers the GUI tests share: run a coroutine on the session's loop, wait for a condition, chat."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt


def run(loop, coro, timeout=60):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def until(predicate, timeout=60):
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


def send(loop, win, text, qtbot):
    """Type ``text``, press Enter, and wait for the whole reply."""
    win.chat.input.setPlainText(text)
    qtbot.keyClick(win.chat.input, Qt.Key_Return)
    run(loop, until(lambda: win.chat.busy))
    run(loop, until(lambda: not win.chat.busy))


def endless_session(win):
    """A seeded session that cannot end its reply by itself (separators and end-of-text banned)."""
    from engine.text.chat import ChatSession
    from engine.text.sampling import SamplerSettings

    seps = [t for t in range(win.tokenizer.vocab_size) if b"\n" in win.tokenizer.token_bytes(t)]
    settings = SamplerSettings(seed=1, banned_tokens=tuple([0, *seps]))
    win.chat.session = ChatSession(win.model, win.tokenizer, settings=settings, max_tokens=100_000)


def start_endless_reply(loop, make_window, ckpt):
    """A window streaming a reply that only Stop can end, once its first text has arrived."""
    win = make_window()
    run(loop, win.load_model(str(ckpt)))
    endless_session(win)
    win.chat.input.setPlainText("Tell me a long story")
    win.chat.send()
    run(loop, until(lambda: win.chat.session is not None and len(win.chat.session.path()) == 2
                    and len(win.chat.session.path()[1].text) > 0))
    return win
