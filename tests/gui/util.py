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


def path(win):
    """The open conversation's active branch, as the window has it."""
    return win.state.conversation.path() if win.state.conversation is not None else []


def endless_settings():
    """Seeded settings with which a reply cannot end by itself (separators and end-of-text banned)."""
    import engine
    from engine.service import ChatSettings
    from engine.text.sampling import SamplerSettings

    tok = engine.load_tokenizer("world")
    seps = [t for t in range(tok.vocab_size) if b"\n" in tok.token_bytes(t)]
    return ChatSettings(sampler=SamplerSettings(seed=1, banned_tokens=tuple([0, *seps])), max_tokens=65536)


def start_endless_reply(loop, make_window, ckpt, folder=None):
    """A window streaming a reply that only Stop can end, once its first text has arrived."""
    win = make_window() if folder is None else make_window(folder)
    run(loop, win.load_model(str(ckpt)))
    win.state.draft_settings = endless_settings()
    win.chat.input.setPlainText("Tell me a long story")
    win.chat.send()
    run(loop, until(lambda: len(path(win)) == 2 and len(win.state.text_of(path(win)[1].id)) > 0))
    return win


def block_layout(view) -> list[tuple[str, float, float, float]]:
    """Every block of a text view's page (table cells too) with where it is drawn: (text, x, y, height)."""
    layout, block, out = view.document().documentLayout(), view.document().begin(), []
    while block.isValid():
        r = layout.blockBoundingRect(block)
        out.append((block.text(), r.x(), r.y(), r.height()))
        block = block.next()
    return out
